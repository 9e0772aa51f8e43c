//! How the alerts monitoring sent are found.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use super::entities::alert::{Column, Entity, Model};
use crate::domain::{IncidentId, Origin};

/// The alerts attached to an incident, oldest first.
pub async fn of_incident(conn: &impl ConnectionTrait, id: IncidentId) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::IncidentId.eq(id.0))
        .order_by_asc(Column::Id)
        .all(conn)
        .await
}

/// An alert by the source's own id of it.
pub async fn find(
    conn: &impl ConnectionTrait,
    source: Origin,
    external_id: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::Source.eq(source.as_str()))
        .filter(Column::ExternalId.eq(external_id))
        .one(conn)
        .await
}

/// How many of the incident's alerts monitoring has not closed.
pub async fn open_count(conn: &impl ConnectionTrait, id: IncidentId) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::IncidentId.eq(id.0))
        .filter(Column::ResolvedAt.is_null())
        .count(conn)
        .await
}
