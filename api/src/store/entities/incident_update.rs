use sea_orm::entity::prelude::*;

use crate::domain::IncidentStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incident_update")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub incident_id: i64,
    pub created_at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    pub new_status: Option<IncidentStatus>,
    pub author: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
