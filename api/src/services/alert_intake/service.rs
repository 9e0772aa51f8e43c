//! [`AlertIntake`], the door of alert intake: applies events in order or hands them
//! to the [`super::spool`], and replays the spool. Kept out of `alert_intake/mod.rs`,
//! which only re-exports, so that no file imports its parent back.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::spool::AlertSpool;
use crate::domain::{ClassifiedError, IncidentId};
use crate::services::incidents::alerts::AlertEvent;
use crate::services::incidents::service::{IncidentError, IncidentService};

/// Past this, the database counts as away for this request and the events are spooled.
const APPLY_TIMEOUT: Duration = Duration::from_secs(3);
const REPLAY_INTERVAL: Duration = Duration::from_millis(500);

/// What became of submitted events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// Every event was applied; `incident` is the one the last event concerned.
    Applied { incident: Option<IncidentId> },
    /// Some were applied and the rest wait in the spool, in order.
    Queued,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The database refused an event for good (e.g. an alert id that is too long).
    #[error(transparent)]
    Refused(IncidentError),
    /// The database is away and the spool cannot be written either.
    #[error("cannot store the alert: {0}")]
    SpoolUnwritable(#[source] std::io::Error),
}

/// Cheap to clone; all clones share the spool.
#[derive(Clone)]
pub struct AlertIntake {
    incidents: IncidentService,
    spool: AlertSpool,
}

impl AlertIntake {
    pub fn new(incidents: IncidentService, spool: AlertSpool) -> Self {
        Self { incidents, spool }
    }

    /// Applies `events` in order. When the database is away (or a backlog is waiting,
    /// so order holds), the remaining events go to the spool.
    pub async fn submit(&self, events: Vec<AlertEvent>) -> Result<Submitted, IntakeError> {
        let mut incident = None;
        let mut pending = events.into_iter().peekable();
        while !self.spool.has_backlog() {
            let Some(event) = pending.peek() else {
                return Ok(Submitted::Applied { incident });
            };
            match tokio::time::timeout(APPLY_TIMEOUT, self.incidents.apply_alert_event(event)).await
            {
                Ok(Ok(applied)) => {
                    incident = applied.or(incident);
                    pending.next();
                }
                Ok(Err(error)) if !error.is_unavailable() => {
                    return Err(IntakeError::Refused(error));
                }
                Ok(Err(error)) => {
                    tracing::warn!(%error, "database unreachable; spooling the alert");
                    break;
                }
                Err(_) => {
                    tracing::warn!("database too slow; spooling the alert");
                    break;
                }
            }
        }
        for event in pending {
            self.spool.append(&event).await.map_err(|error| {
                tracing::error!(%error, "cannot write the alert spool");
                IntakeError::SpoolUnwritable(error)
            })?;
        }
        Ok(Submitted::Queued)
    }

    /// Applies spooled events whenever there are some, until `stop`.
    pub async fn replay_until(self, stop: CancellationToken) {
        let mut interval = tokio::time::interval(REPLAY_INTERVAL);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                () = stop.cancelled() => return,
            }
            if !self.spool.has_backlog() {
                continue;
            }
            match self.spool.replay(&self.incidents).await {
                Ok(report) if report.applied + report.rejected > 0 => {
                    tracing::info!(
                        applied = report.applied,
                        rejected = report.rejected,
                        "replayed spooled alerts"
                    );
                }
                Ok(_) => {}
                Err(error) => tracing::error!(%error, "cannot read the alert spool"),
            }
        }
    }
}
