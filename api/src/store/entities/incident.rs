use sea_orm::entity::prelude::*;

use crate::domain::{IncidentStatus, Origin, Severity};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incident")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub status: IncidentStatus,
    pub severity: Severity,
    pub title: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub summary: Option<String>,
    pub start_at: DateTimeUtc,
    pub end_at: Option<DateTimeUtc>,
    pub silent: bool,
    pub last_notified_status: Option<IncidentStatus>,
    pub notified_episode: i32,
    pub origin: Origin,
    pub auto_start: bool,
    pub slack_channel: Option<String>,
    pub slack_ts: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for crate::domain::Incident {
    fn from(row: Model) -> Self {
        Self {
            id: crate::domain::IncidentId(row.id),
            status: row.status,
            severity: row.severity,
            title: row.title,
            summary: row.summary,
            start: row.start_at,
            end: row.end_at,
            silent: row.silent,
            last_notified_status: row.last_notified_status,
            notified_episode: row.notified_episode,
            origin: row.origin,
            auto_start: row.auto_start,
            slack_channel: row.slack_channel,
            slack_ts: row.slack_ts,
            created: row.created_at,
            updated: row.updated_at,
        }
    }
}
