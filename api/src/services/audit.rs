//! The audit log: every change to an incident or a setting, in a human sentence.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};

use crate::domain::{Actor, IncidentId};
use crate::store::audit_entry;

/// Writes one entry through `conn`, the transaction of the change it describes.
pub async fn record(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    incident: Option<IncidentId>,
    message: impl Into<String>,
) -> Result<(), DbErr> {
    audit_entry::ActiveModel {
        at: Set(Utc::now()),
        actor_kind: Set(actor.kind().to_owned()),
        actor_name: Set(actor.name().to_owned()),
        incident_id: Set(incident.map(|id| id.0)),
        message: Set(message.into()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}
