use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "slack_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub bot_token: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub signing_secret: Option<String>,
    pub channel_name: Option<String>,
    pub channel_id: Option<String>,
    /// Who may change the status page from Slack: `None`, the members of the channel;
    /// otherwise these Slack user ids, comma-separated.
    #[sea_orm(column_type = "Text", nullable)]
    pub allowed_user_ids: Option<String>,
    pub updated_at: DateTimeUtc,
}

// Written by hand so a stray `{:?}` can never put the token or secret into a log.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSettings")
            .field("bot_token", &self.bot_token.as_ref().map(|_| "<redacted>"))
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("channel_name", &self.channel_name)
            .field("channel_id", &self.channel_id)
            .field("allowed_user_ids", &self.allowed_user_ids)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
