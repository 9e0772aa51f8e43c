//! The audit log: every change to an incident or a setting, in a human sentence.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};

use super::deps::Deps;
use super::views::AuditEntry;
use crate::domain::{Actor, IncidentId};
use crate::store::{self, audit_entry};

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

/// Reading the audit log, newest first.
#[derive(Clone)]
pub struct AuditLog {
    deps: Deps,
}

impl AuditLog {
    pub(super) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// The newest `first` entries, of one incident or of everything.
    pub async fn entries(
        &self,
        incident: Option<IncidentId>,
        first: u64,
    ) -> Result<Vec<AuditEntry>, DbErr> {
        let entries = store::audit::newest(&self.deps.db, incident, first.clamp(1, 500)).await?;
        Ok(entries.into_iter().map(AuditEntry::from).collect())
    }
}
