//! The incident service itself: its error, its reads, and the checks every area shares.
//! The areas' files each add their use cases to [`IncidentService`]; they import it
//! from here, not through `incidents/mod.rs`, so no file imports its parent back.

use sea_orm::DbErr;

use crate::domain::{Field, Incident, IncidentId, TransitionError};
use crate::services::deps::Deps;
use crate::services::tx;
use crate::services::views::{self, TimelineEntry};
use crate::store::{self, incidents, timeline};

pub(super) const TITLE_MAX_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("incident {0} does not exist")]
    NotFound(IncidentId),
    #[error("timeline entry {0} does not exist")]
    EntryNotFound(i64),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("{field}: {message}")]
    Invalid { field: Field, message: String },
    #[error("nothing to update: give a new status, an update text, a severity or a summary")]
    NothingToUpdate,
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl tx::DbError for IncidentError {
    fn db_error(&self) -> Option<&DbErr> {
        match self {
            Self::Database(error) => Some(error),
            _ => None,
        }
    }
}

pub(super) fn invalid(field: Field, message: impl Into<String>) -> IncidentError {
    IncidentError::Invalid {
        field,
        message: message.into(),
    }
}

#[derive(Clone)]
pub struct IncidentService {
    pub(super) deps: Deps,
}

impl IncidentService {
    pub(in crate::services) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    pub async fn get(&self, id: IncidentId) -> Result<Incident, IncidentError> {
        let row = incidents::find(&self.deps.db, id)
            .await?
            .ok_or(IncidentError::NotFound(id))?;
        Ok(Incident::from(row))
    }

    /// The timeline of an incident, oldest first.
    pub async fn timeline(&self, id: IncidentId) -> Result<Vec<TimelineEntry>, IncidentError> {
        let entries = timeline::of_incident(&self.deps.db, id).await?;
        Ok(entries.into_iter().map(TimelineEntry::from).collect())
    }

    pub async fn alerts(&self, id: IncidentId) -> Result<Vec<views::Alert>, IncidentError> {
        let alerts = store::alerts::of_incident(&self.deps.db, id).await?;
        Ok(alerts.into_iter().map(views::Alert::from).collect())
    }

    /// Incidents the team still has to deal with: suspected, confirmed, watching and
    /// planned; oldest start first.
    pub async fn open(&self) -> Result<Vec<Incident>, IncidentError> {
        let rows = incidents::open(&self.deps.db).await?;
        Ok(rows.into_iter().map(Incident::from).collect())
    }

    /// Remembers where the incident's Slack parent message is, so later changes update
    /// it instead of posting another. Bookkeeping of the Slack adapter: no audit entry.
    pub async fn record_slack_message(
        &self,
        id: IncidentId,
        channel: &str,
        ts: &str,
    ) -> Result<(), IncidentError> {
        Ok(incidents::set_slack_message(&self.deps.db, id, channel, ts).await?)
    }
}
