//! Incidents (SPEC §2): one [`IncidentService`] whose use cases are split by area —
//! [`alerts`] from monitoring, the human [`lifecycle`], planned [`maintenance`], and
//! [`corrections`] of the record after the fact. This file holds what they share: the
//! error, the reads, and the transaction machinery ([`apply`]) every transition runs.
//!
//! Each public method is one transaction that changes the incident, writes its timeline
//! entry and audit entry, decides about notifications, and enqueues the follow-up jobs.
//! Only after the commit is the domain event published and are local workers woken.

mod alerts;
mod corrections;
mod lifecycle;
mod maintenance;

pub use alerts::{AlertActivity, AlertEvent, AlertOutcome, AlertReport};
pub use corrections::{ConsoleFilter, ConsolePage, ENTRY_MAX_CHARS, IncidentEdit};
pub use lifecycle::{IncidentChange, NewIncident};

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction, DbErr, IntoActiveModel};

use super::deps::Deps;
use super::follow_up::{self, SlackNote};
use super::views::{self, TimelineEntry};
use super::{audit, tx};
use crate::domain::{
    Action, Actor, ClassifiedError, ErrorKind, Field, Incident, IncidentId, IncidentStatus,
    NotificationContext, Severity, TransitionError, decide_notification,
    update_entry_carries_status,
};
use crate::events::DomainEvent;
use crate::store::{self, incident, incidents, settings, timeline};

const TITLE_MAX_CHARS: usize = 200;

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

impl IncidentError {
    /// The database is away; the same request will work once it is back.
    pub fn is_unavailable(&self) -> bool {
        self.kind() == ErrorKind::Unavailable
    }
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

/// One transition, as the shared machinery applies it.
struct Transition {
    action: Action,
    severity: Option<Severity>,
    /// `None` keeps the summary, `Some(None)` removes it.
    #[allow(clippy::option_option)]
    summary: Option<Option<String>>,
    /// Timeline entry text; `None` writes no entry.
    entry: Option<String>,
    audit: String,
    do_not_notify: bool,
    /// The incident starts now (maintenance started before or after its planned time).
    restart: bool,
}

#[derive(Clone)]
pub struct IncidentService {
    pub(super) deps: Deps,
}

impl IncidentService {
    pub(super) fn new(deps: Deps) -> Self {
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

/// Applies one transition inside `txn`: checks it is allowed, changes the row, writes
/// the timeline and audit entries, notifies if the rule says so, and enqueues the Slack
/// sync with `slack_note` (by default a reply naming who did what).
async fn apply(
    txn: &DatabaseTransaction,
    row: incident::Model,
    actor: &Actor,
    transition: Transition,
    slack_note: Option<SlackNote>,
) -> Result<Incident, IncidentError> {
    let before = Incident::from(row.clone());
    let status = transition.action.apply(before.status)?;
    let now = Utc::now();
    let mut active = row.into_active_model();
    active.status = Set(status);
    if let Some(severity) = transition.severity {
        active.severity = Set(severity);
    }
    if let Some(summary) = transition.summary {
        active.summary = Set(summary);
    }
    if transition.restart {
        active.start_at = Set(now);
    }
    match status {
        // "Resolving sets end if it is empty": a corrected end time survives updates.
        IncidentStatus::Resolved | IncidentStatus::Dismissed => {
            active.end_at = Set(Some(before.end.unwrap_or(now)));
        }
        // Open again: whatever end it had no longer holds.
        _ => active.end_at = Set(None),
    }
    active.updated_at = Set(now);
    let incident = Incident::from(active.update(txn).await?);

    if let Some(text) = transition.entry {
        let earlier = timeline::statuses(txn, incident.id).await?;
        let carried =
            update_entry_carries_status(before.status, status, &earlier).then_some(status);
        add_entry(txn, incident.id, now, &text, carried, actor).await?;
    }
    audit::record(txn, actor, Some(incident.id), transition.audit.clone()).await?;
    let incident = notify_if_due(txn, incident, transition.do_not_notify).await?;
    let note = slack_note.unwrap_or(SlackNote::Changed {
        actor: actor.clone(),
        what: transition.audit,
    });
    follow_up::slack_sync(incident.id, Some(note))
        .enqueue(txn)
        .await?;
    Ok(incident)
}

/// Applies the notification rule; when it says yes, records the announced status and
/// enqueues the fan-out in the same transaction.
async fn notify_if_due(
    txn: &DatabaseTransaction,
    incident: Incident,
    do_not_notify: bool,
) -> Result<Incident, IncidentError> {
    let notify_maintenance = settings::notifications(txn)
        .await?
        .is_some_and(|settings| settings.notify_maintenance);
    let decision = decide_notification(NotificationContext {
        status: incident.status,
        severity: incident.severity,
        last_notified_status: incident.last_notified_status,
        notified_episode: incident.notified_episode,
        silent: incident.silent,
        do_not_notify,
        notify_maintenance,
    });
    let Some(announcement) = decision else {
        return Ok(incident);
    };
    let enqueued = follow_up::notify_subscribers(incident.id, incident.status, announcement)
        .enqueue(txn)
        .await?;
    if enqueued.is_none() {
        // This status was already announced in this episode (confirmed → watching →
        // confirmed): subscribers still know it, so nothing changes.
        return Ok(incident);
    }
    incidents::set_announced(txn, incident.id, incident.status, announcement.episode).await?;
    Ok(Incident {
        last_notified_status: Some(incident.status),
        notified_episode: announcement.episode,
        ..incident
    })
}

async fn add_entry(
    txn: &DatabaseTransaction,
    incident: IncidentId,
    at: DateTime<Utc>,
    text: &str,
    new_status: Option<IncidentStatus>,
    actor: &Actor,
) -> Result<(), DbErr> {
    timeline::add(txn, incident, at, text, new_status, actor.to_string()).await?;
    Ok(())
}

/// The incident, locked against concurrent changes until `txn` ends.
pub(super) async fn lock_incident(
    txn: &DatabaseTransaction,
    id: IncidentId,
) -> Result<incident::Model, IncidentError> {
    incidents::lock(txn, id)
        .await?
        .ok_or(IncidentError::NotFound(id))
}

impl Deps {
    /// After a commit: tell every replica, and start the jobs it enqueued.
    pub(super) fn changed(&self, incident_id: IncidentId) {
        self.events
            .publish(DomainEvent::IncidentChanged { incident_id });
        self.jobs.wake();
    }
}
