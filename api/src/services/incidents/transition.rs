//! The transaction machinery every transition of an incident runs ([`apply`]): the
//! row, the timeline and audit entries, the notification decision and the Slack sync,
//! all in the caller's transaction; and what follows the commit ([`Deps::changed`]).
//! Shared by the areas' files, so it is a file of its own rather than part of
//! `incidents/mod.rs`, which they would otherwise import back.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction, DbErr, IntoActiveModel};

use super::service::IncidentError;
use crate::domain::{
    Action, Actor, Incident, IncidentId, IncidentStatus, NotificationContext, Severity,
    decide_notification, update_entry_carries_status,
};
use crate::events::DomainEvent;
use crate::services::audit;
use crate::services::deps::Deps;
use crate::services::follow_up::{self, SlackNote};
use crate::store::{incident, incidents, settings, timeline};

/// One transition, as the shared machinery applies it.
pub(super) struct Transition {
    pub(super) action: Action,
    pub(super) severity: Option<Severity>,
    /// `None` keeps the summary, `Some(None)` removes it.
    #[allow(clippy::option_option)]
    pub(super) summary: Option<Option<String>>,
    /// Timeline entry text; `None` writes no entry.
    pub(super) entry: Option<String>,
    pub(super) audit: String,
    pub(super) do_not_notify: bool,
    /// The incident starts now (maintenance started before or after its planned time).
    pub(super) restart: bool,
}

/// Applies one transition inside `txn`: checks it is allowed, changes the row, writes
/// the timeline and audit entries, notifies if the rule says so, and enqueues the Slack
/// sync with `slack_note` (by default a reply naming who did what).
pub(super) async fn apply(
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
pub(super) async fn notify_if_due(
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

pub(super) async fn add_entry(
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
