//! How the audit log is read.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::audit_entry::{Column, Entity, Model};
use crate::domain::IncidentId;

/// The newest `limit` entries, of one incident or of everything.
pub async fn newest(
    conn: &impl ConnectionTrait,
    incident: Option<IncidentId>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut query = Entity::find().order_by_desc(Column::Id).limit(limit);
    if let Some(incident) = incident {
        query = query.filter(Column::IncidentId.eq(incident.0));
    }
    query.all(conn).await
}
