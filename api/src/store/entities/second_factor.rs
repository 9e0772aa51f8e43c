use sea_orm::entity::prelude::*;

use crate::domain::FactorKind;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "second_factor")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub kind: FactorKind,
    pub name: String,
    /// TOTP shared secret (base32), or the serialised WebAuthn credential.
    #[sea_orm(column_type = "Text")]
    pub secret: String,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    /// False while a TOTP enrolment waits for its first code; such a factor is never
    /// asked for at login.
    pub confirmed: bool,
    /// TOTP: the last time step whose code was accepted; older and equal steps are refused.
    pub last_step: Option<i64>,
    /// WebAuthn: the credential id (base64url), unique across all users.
    #[sea_orm(unique)]
    pub credential_id: Option<String>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactor")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("confirmed", &self.confirmed)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
