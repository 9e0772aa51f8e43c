//! How timeline entries (`incident_update` rows) are found and written.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::incident_update::{self, Column, Entity, Model};
use crate::domain::{IncidentId, IncidentStatus};

/// The timeline of an incident, oldest first.
pub async fn of_incident(conn: &impl ConnectionTrait, id: IncidentId) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::IncidentId.eq(id.0))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await
}

/// The timelines of several incidents with one query, each newest entry first.
pub async fn of_incidents(
    conn: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> Result<HashMap<i64, Vec<Model>>, DbErr> {
    let entries = Entity::find()
        .filter(Column::IncidentId.is_in(ids))
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .all(conn)
        .await?;
    let mut by_incident: HashMap<i64, Vec<Model>> = HashMap::new();
    for entry in entries {
        by_incident
            .entry(entry.incident_id)
            .or_default()
            .push(entry);
    }
    Ok(by_incident)
}

/// The statuses the incident's entries so far moved it to.
pub async fn statuses(
    conn: &impl ConnectionTrait,
    id: IncidentId,
) -> Result<Vec<IncidentStatus>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::NewStatus)
        .filter(Column::IncidentId.eq(id.0))
        .filter(Column::NewStatus.is_not_null())
        .into_tuple()
        .all(conn)
        .await
}

/// The text of the newest entry that moved the incident to `status`.
pub async fn announcing(
    conn: &impl ConnectionTrait,
    id: IncidentId,
    status: IncidentStatus,
) -> Result<Option<String>, DbErr> {
    Ok(Entity::find()
        .filter(Column::IncidentId.eq(id.0))
        .filter(Column::NewStatus.eq(status))
        .order_by_desc(Column::Id)
        .one(conn)
        .await?
        .map(|entry| entry.message))
}

pub async fn find(conn: &impl ConnectionTrait, entry_id: i64) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(entry_id).one(conn).await
}

/// How many entries the incident's timeline has.
pub async fn count(conn: &impl ConnectionTrait, id: IncidentId) -> Result<u64, DbErr> {
    Entity::find()
        .filter(Column::IncidentId.eq(id.0))
        .count(conn)
        .await
}

/// Writes one entry; `author` is the actor as the timeline names them.
pub async fn add(
    conn: &impl ConnectionTrait,
    incident: IncidentId,
    at: DateTime<Utc>,
    text: &str,
    new_status: Option<IncidentStatus>,
    author: String,
) -> Result<Model, DbErr> {
    incident_update::ActiveModel {
        incident_id: Set(incident.0),
        created_at: Set(at),
        message: Set(text.to_owned()),
        new_status: Set(new_status),
        author: Set(author),
        ..Default::default()
    }
    .insert(conn)
    .await
}

pub async fn set_message(
    conn: &impl ConnectionTrait,
    entry: Model,
    message: &str,
) -> Result<Model, DbErr> {
    let mut active = entry.into_active_model();
    active.message = Set(message.to_owned());
    active.update(conn).await
}

pub async fn delete(conn: &impl ConnectionTrait, entry_id: i64) -> Result<(), DbErr> {
    Entity::delete_by_id(entry_id).exec(conn).await?;
    Ok(())
}
