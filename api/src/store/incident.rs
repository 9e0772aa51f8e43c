use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incident")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub status: String,
    pub severity: String,
    pub title: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub summary: Option<String>,
    pub start_at: DateTimeUtc,
    pub end_at: Option<DateTimeUtc>,
    pub silent: bool,
    pub last_notified_status: Option<String>,
    pub notified_episode: i32,
    pub origin: String,
    pub auto_start: bool,
    pub slack_channel: Option<String>,
    pub slack_ts: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl TryFrom<Model> for crate::domain::Incident {
    type Error = crate::domain::ParseEnumError;

    fn try_from(row: Model) -> Result<Self, Self::Error> {
        Ok(Self {
            id: crate::domain::IncidentId(row.id),
            status: row.status.parse()?,
            severity: row.severity.parse()?,
            title: row.title,
            summary: row.summary,
            start: row.start_at,
            end: row.end_at,
            silent: row.silent,
            last_notified_status: row
                .last_notified_status
                .as_deref()
                .map(str::parse)
                .transpose()?,
            notified_episode: row.notified_episode,
            origin: row.origin.parse()?,
            auto_start: row.auto_start,
            slack_channel: row.slack_channel,
            slack_ts: row.slack_ts,
            created: row.created_at,
            updated: row.updated_at,
        })
    }
}
