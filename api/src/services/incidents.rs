//! The incident lifecycle of SPEC §2: alerts opening and closing incidents, and every
//! human transition (confirm, dismiss, update, create, reopen, start maintenance).
//!
//! Each public method is one transaction that changes the incident, writes its timeline
//! entry and audit entry, decides about notifications, and enqueues the follow-up jobs.
//! Only after the commit is the domain event published and are local workers woken.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use super::follow_up::{self, SlackNote};
use super::{Deps, audit, tx};
use crate::domain::{
    Action, Actor, Incident, IncidentId, IncidentStatus, NotificationContext, Origin,
    ParseEnumError, Severity, TransitionError, decide_notification, update_entry_carries_status,
};
use crate::events::DomainEvent;
use crate::store::{alert, incident, incident_update, notification_settings};

pub(super) const TITLE_MAX_CHARS: usize = 200;
const EXTERNAL_ID_MAX_CHARS: usize = 255;
const ALERT_TEXT_MAX_CHARS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("incident {0} does not exist")]
    NotFound(IncidentId),
    #[error("timeline entry {0} does not exist")]
    EntryNotFound(i64),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("nothing to update: give a new status, an update text, a severity or a summary")]
    NothingToUpdate,
    #[error("stored data is unreadable: {0}")]
    Corrupt(#[from] ParseEnumError),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl IncidentError {
    /// The database is away; the same request will work once it is back.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Database(error) if crate::store::is_unreachable(error))
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

pub(super) fn invalid(field: &'static str, message: impl Into<String>) -> IncidentError {
    IncidentError::Invalid {
        field,
        message: message.into(),
    }
}

/// An alert fired, or its message changed, in a monitoring source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertReport {
    pub source: Origin,
    /// The source's id of the alert (OpsGenie `alertId`); unique per source.
    pub external_id: String,
    pub message: String,
    /// `None` keeps the description stored before.
    pub description: Option<String>,
}

/// What became of a reported alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlertOutcome {
    pub incident_id: IncidentId,
    /// A new suspected incident was opened for it.
    pub opened_incident: bool,
    /// The alert was not known before (false for a repeated delivery).
    pub new_alert: bool,
}

/// Activity on an alert in the monitoring tool, passed on to the team in Slack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlertActivity {
    Acknowledged { by: String },
    Note { by: String, text: String },
}

/// Everything an alert source can tell us, as every adapter (OpsGenie, Alertmanager, …)
/// translates it. Serialisable so it can wait in the spool while the database is away.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlertEvent {
    Opened(AlertReport),
    Closed {
        source: Origin,
        external_id: String,
    },
    DescriptionUpdated {
        source: Origin,
        external_id: String,
        description: String,
    },
    Activity {
        source: Origin,
        external_id: String,
        activity: AlertActivity,
    },
}

/// A manually created incident or planned maintenance.
#[derive(Clone, Debug)]
pub struct NewIncident {
    pub title: String,
    /// planned, confirmed or watching.
    pub status: IncidentStatus,
    pub severity: Severity,
    /// Defaults to now.
    pub start: Option<DateTime<Utc>>,
    /// The first timeline entry; a sentence fitting the status when empty.
    pub text: Option<String>,
    pub summary: Option<String>,
    pub silent: bool,
    /// Planned maintenance only: start by itself at `start`.
    pub auto_start: bool,
    pub do_not_notify: bool,
}

/// An update of an open or resolved incident; every part is optional.
#[derive(Clone, Debug, Default)]
pub struct IncidentChange {
    pub new_status: Option<IncidentStatus>,
    pub text: Option<String>,
    pub severity: Option<Severity>,
    /// `Some("")` removes the summary.
    pub summary: Option<String>,
    pub do_not_notify: bool,
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
        let row = incident::Entity::find_by_id(id.0)
            .one(&self.deps.db)
            .await?
            .ok_or(IncidentError::NotFound(id))?;
        Ok(Incident::try_from(row)?)
    }

    /// The timeline of an incident, oldest first.
    pub async fn timeline(
        &self,
        id: IncidentId,
    ) -> Result<Vec<incident_update::Model>, IncidentError> {
        Ok(incident_update::Entity::find()
            .filter(incident_update::Column::IncidentId.eq(id.0))
            .order_by_asc(incident_update::Column::CreatedAt)
            .order_by_asc(incident_update::Column::Id)
            .all(&self.deps.db)
            .await?)
    }

    pub async fn alerts(&self, id: IncidentId) -> Result<Vec<alert::Model>, IncidentError> {
        Ok(alert::Entity::find()
            .filter(alert::Column::IncidentId.eq(id.0))
            .order_by_asc(alert::Column::Id)
            .all(&self.deps.db)
            .await?)
    }

    /// Applies what an alert source reported. Idempotent: applying the same event
    /// again changes nothing, which is what makes replaying the spool safe. Returns the
    /// incident concerned, if the alert is known.
    pub async fn apply_alert_event(
        &self,
        event: &AlertEvent,
    ) -> Result<Option<IncidentId>, IncidentError> {
        match event {
            AlertEvent::Opened(report) => {
                Ok(Some(self.alert_opened(report.clone()).await?.incident_id))
            }
            AlertEvent::Closed {
                source,
                external_id,
            } => Ok(self
                .alert_closed(*source, external_id)
                .await?
                .map(|o| o.incident_id)),
            AlertEvent::DescriptionUpdated {
                source,
                external_id,
                description,
            } => {
                self.alert_description_updated(*source, external_id, description)
                    .await
            }
            AlertEvent::Activity {
                source,
                external_id,
                activity,
            } => {
                self.alert_activity(*source, external_id, activity.clone())
                    .await
            }
        }
    }

    /// An alert fired (OpsGenie `Create`) or its message changed (`UpdateMessage`).
    ///
    /// A known alert is updated in place, so a repeated delivery changes nothing. A new
    /// alert joins the open incident that collects alerts, or opens a suspected one.
    /// Two alerts arriving together cannot open two incidents: the database admits a
    /// single suspected incident, and the loser of that race retries and joins it.
    pub async fn alert_opened(&self, report: AlertReport) -> Result<AlertOutcome, IncidentError> {
        let external_id = report.external_id.trim();
        if external_id.is_empty() || external_id.chars().count() > EXTERNAL_ID_MAX_CHARS {
            return Err(invalid(
                "alert id",
                format!("must be 1 to {EXTERNAL_ID_MAX_CHARS} characters"),
            ));
        }
        let message = clip(report.message.trim(), ALERT_TEXT_MAX_CHARS);
        let message = if message.is_empty() {
            "(alert without message)".to_owned()
        } else {
            message
        };
        let description = report
            .description
            .as_deref()
            .map(|text| clip(text.trim(), ALERT_TEXT_MAX_CHARS));
        let source = report.source;
        let actor = Actor::AlertSource(source.as_str().to_owned());

        let outcome = tx::write_tx!(&self.deps.db, IncidentError, |txn| {
            let now = Utc::now();
            if let Some(known) = find_alert(txn, source, external_id).await? {
                let incident_id = IncidentId(known.incident_id);
                let changed = known.message != message
                    || (description.is_some() && known.description != description);
                if changed {
                    let mut row = known.into_active_model();
                    row.message = Set(message.clone());
                    if description.is_some() {
                        row.description = Set(description.clone());
                    }
                    row.updated_at = Set(now);
                    row.update(txn).await?;
                }
                return Ok((
                    AlertOutcome {
                        incident_id,
                        opened_incident: false,
                        new_alert: false,
                    },
                    changed,
                ));
            }

            let (incident_id, opened_incident) = match alert_target(txn).await? {
                Some(target) => {
                    let id = IncidentId(target.id);
                    touch(txn, target, now).await?;
                    audit::record(
                        txn,
                        &actor,
                        Some(id),
                        format!("Alert \u{201c}{message}\u{201d} joined the incident"),
                    )
                    .await?;
                    follow_up::slack_sync(
                        id,
                        Some(SlackNote::AlertAttached {
                            source,
                            message: message.clone(),
                        }),
                    )
                    .enqueue(txn)
                    .await?;
                    (id, false)
                }
                None => {
                    let id = open_suspected_incident(txn, source, now).await?;
                    audit::record(
                        txn,
                        &actor,
                        Some(id),
                        format!("Opened a suspected incident for alert \u{201c}{message}\u{201d}"),
                    )
                    .await?;
                    follow_up::slack_sync(id, Some(SlackNote::Opened))
                        .enqueue(txn)
                        .await?;
                    (id, true)
                }
            };
            alert::ActiveModel {
                incident_id: Set(incident_id.0),
                source: Set(source.as_str().to_owned()),
                external_id: Set(external_id.to_owned()),
                message: Set(message.clone()),
                description: Set(description.clone()),
                created_at: Set(now),
                updated_at: Set(now),
                resolved_at: Set(None),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            Ok((
                AlertOutcome {
                    incident_id,
                    opened_incident,
                    new_alert: true,
                },
                true,
            ))
        });
        let (outcome, changed) = outcome?;
        if changed {
            self.deps.changed(outcome.incident_id);
        }
        Ok(outcome)
    }

    /// An alert closed (OpsGenie `Close`). When it was the incident's last open alert, a
    /// suspected incident is dismissed by itself and a confirmed or watching one gets a
    /// reminder in Slack. Unknown and already closed alerts change nothing.
    pub async fn alert_closed(
        &self,
        source: Origin,
        external_id: &str,
    ) -> Result<Option<AlertOutcome>, IncidentError> {
        let outcome = tx::write_tx!(&self.deps.db, IncidentError, |txn| {
            let Some(known) = find_alert(txn, source, external_id).await? else {
                return Ok(None);
            };
            let incident_id = IncidentId(known.incident_id);
            let outcome = AlertOutcome {
                incident_id,
                opened_incident: false,
                new_alert: false,
            };
            if known.resolved_at.is_some() {
                return Ok(Some((outcome, false)));
            }
            let now = Utc::now();
            let message = known.message.clone();
            let mut row = known.into_active_model();
            row.resolved_at = Set(Some(now));
            row.updated_at = Set(now);
            row.update(txn).await?;
            let actor = Actor::AlertSource(source.as_str().to_owned());
            audit::record(
                txn,
                &actor,
                Some(incident_id),
                format!("Alert \u{201c}{message}\u{201d} closed"),
            )
            .await?;

            let still_open = alert::Entity::find()
                .filter(alert::Column::IncidentId.eq(incident_id.0))
                .filter(alert::Column::ResolvedAt.is_null())
                .count(txn)
                .await?;
            let incident = lock_incident(txn, incident_id).await?;
            let status: IncidentStatus = incident.status.parse()?;
            if still_open > 0 {
                touch(txn, incident, now).await?;
            } else if status == IncidentStatus::Suspected {
                apply(
                    txn,
                    incident,
                    &Actor::System,
                    Transition {
                        action: Action::Dismiss,
                        severity: None,
                        summary: None,
                        entry: Some(
                            "Every alert closed before anyone confirmed the problem; \
                             dismissed automatically."
                                .into(),
                        ),
                        audit: "Dismissed automatically: every alert closed".into(),
                        do_not_notify: false,
                        restart: false,
                    },
                    Some(SlackNote::AutoDismissed),
                )
                .await?;
            } else {
                touch(txn, incident, now).await?;
                if status.is_open() {
                    follow_up::slack_sync(incident_id, Some(SlackNote::AlertsClosed))
                        .enqueue(txn)
                        .await?;
                }
            }
            Ok(Some((outcome, true)))
        })?;
        Ok(outcome.map(|(outcome, changed)| {
            if changed {
                self.deps.changed(outcome.incident_id);
            }
            outcome
        }))
    }

    /// The alert's description changed in the monitoring tool. An unknown alert is
    /// ignored (`None`).
    pub async fn alert_description_updated(
        &self,
        source: Origin,
        external_id: &str,
        description: &str,
    ) -> Result<Option<IncidentId>, IncidentError> {
        let description = clip(description.trim(), ALERT_TEXT_MAX_CHARS);
        let updated = tx::write_tx!(&self.deps.db, IncidentError, |txn| {
            let Some(known) = find_alert(txn, source, external_id).await? else {
                return Ok(None);
            };
            let incident_id = IncidentId(known.incident_id);
            if known.description.as_deref() != Some(description.as_str()) {
                let mut row = known.into_active_model();
                row.description = Set(Some(description.clone()));
                row.updated_at = Set(Utc::now());
                row.update(txn).await?;
            }
            Ok(Some(incident_id))
        })?;
        if let Some(id) = updated {
            self.deps.changed(id);
        }
        Ok(updated)
    }

    /// Someone acknowledged an alert or added a note in the monitoring tool; the team
    /// hears of it in the incident's Slack thread. An unknown alert is ignored.
    pub async fn alert_activity(
        &self,
        source: Origin,
        external_id: &str,
        activity: AlertActivity,
    ) -> Result<Option<IncidentId>, IncidentError> {
        let (by, what) = match activity {
            AlertActivity::Acknowledged { by } => (by, "acknowledged the alert".to_owned()),
            AlertActivity::Note { by, text } => {
                (by, format!("added a note: {}", clip(text.trim(), 2_000)))
            }
        };
        let incident = tx::write_tx!(&self.deps.db, IncidentError, |txn| {
            let Some(known) = find_alert(txn, source, external_id).await? else {
                return Ok(None);
            };
            let incident_id = IncidentId(known.incident_id);
            follow_up::slack_sync(
                incident_id,
                Some(SlackNote::AlertActivity {
                    source,
                    by: by.clone(),
                    what: what.clone(),
                }),
            )
            .enqueue(txn)
            .await?;
            Ok(Some(incident_id))
        })?;
        if incident.is_some() {
            self.deps.jobs.wake();
        }
        Ok(incident)
    }

    /// A human confirms that a suspected incident is real; subscribers hear of it.
    pub async fn confirm(
        &self,
        id: IncidentId,
        actor: &Actor,
        do_not_notify: bool,
    ) -> Result<Incident, IncidentError> {
        self.transition(id, actor, || Transition {
            action: Action::Confirm,
            severity: None,
            summary: None,
            entry: Some("The team has confirmed the problem and is working on it.".into()),
            audit: "Confirmed the incident".into(),
            do_not_notify,
            restart: false,
        })
        .await
    }

    /// A human says a suspected incident was a false alarm; it leaves every public view.
    pub async fn dismiss(&self, id: IncidentId, actor: &Actor) -> Result<Incident, IncidentError> {
        self.transition(id, actor, || Transition {
            action: Action::Dismiss,
            severity: None,
            summary: None,
            entry: Some(format!("Dismissed by {actor} as a false alarm.")),
            audit: "Dismissed the incident as a false alarm".into(),
            do_not_notify: false,
            restart: false,
        })
        .await
    }

    /// A resolved or dismissed incident is open again, as confirmed.
    pub async fn reopen(
        &self,
        id: IncidentId,
        actor: &Actor,
        do_not_notify: bool,
    ) -> Result<Incident, IncidentError> {
        self.transition(id, actor, || Transition {
            action: Action::Reopen,
            severity: None,
            summary: None,
            entry: Some("This incident has been reopened.".into()),
            audit: "Reopened the incident".into(),
            do_not_notify,
            restart: false,
        })
        .await
    }

    /// Planned maintenance begins: confirmed, severity maintenance, starting now.
    pub async fn start_maintenance(
        &self,
        id: IncidentId,
        actor: &Actor,
        do_not_notify: bool,
    ) -> Result<Incident, IncidentError> {
        self.transition(id, actor, || Transition {
            action: Action::StartMaintenance,
            severity: Some(Severity::Maintenance),
            summary: None,
            entry: Some("The maintenance has started.".into()),
            audit: "Started the maintenance".into(),
            do_not_notify,
            restart: true,
        })
        .await
    }

    /// Starts every planned maintenance set to start by itself whose time has come.
    pub async fn start_due_maintenance(&self) -> Result<Vec<IncidentId>, IncidentError> {
        let due: Vec<i64> = incident::Entity::find()
            .select_only()
            .column(incident::Column::Id)
            .filter(incident::Column::Status.eq(IncidentStatus::Planned.as_str()))
            .filter(incident::Column::AutoStart.eq(true))
            .filter(incident::Column::StartAt.lte(Utc::now()))
            .into_tuple()
            .all(&self.deps.db)
            .await?;
        let mut started = Vec::new();
        for id in due.into_iter().map(IncidentId) {
            match self.start_maintenance(id, &Actor::System, false).await {
                Ok(_) => started.push(id),
                // Someone started or cancelled it in the meantime.
                Err(IncidentError::Transition(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(started)
    }

    /// Incidents the team still has to deal with: suspected, confirmed, watching and
    /// planned; oldest start first.
    pub async fn open(&self) -> Result<Vec<Incident>, IncidentError> {
        let rows = incident::Entity::find()
            .filter(incident::Column::Status.is_in([
                IncidentStatus::Suspected.as_str(),
                IncidentStatus::Confirmed.as_str(),
                IncidentStatus::Watching.as_str(),
                IncidentStatus::Planned.as_str(),
            ]))
            .order_by_asc(incident::Column::StartAt)
            .order_by_asc(incident::Column::Id)
            .all(&self.deps.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(Incident::try_from)
            .collect::<Result<_, _>>()?)
    }

    /// Remembers where the incident's Slack parent message is, so later changes update
    /// it instead of posting another. Bookkeeping of the Slack adapter: no audit entry.
    pub async fn record_slack_message(
        &self,
        id: IncidentId,
        channel: &str,
        ts: &str,
    ) -> Result<(), IncidentError> {
        incident::ActiveModel {
            id: Set(id.0),
            slack_channel: Set(Some(channel.to_owned())),
            slack_ts: Set(Some(ts.to_owned())),
            ..Default::default()
        }
        .update(&self.deps.db)
        .await?;
        Ok(())
    }

    /// Asks the team in Slack, once per planned start time, whether to start each
    /// planned maintenance whose time has come and that does not start by itself.
    /// Returns how many prompts were enqueued (0 when all were asked before).
    pub async fn prompt_due_maintenance(&self) -> Result<usize, IncidentError> {
        let due: Vec<(i64, DateTime<Utc>)> = incident::Entity::find()
            .select_only()
            .column(incident::Column::Id)
            .column(incident::Column::StartAt)
            .filter(incident::Column::Status.eq(IncidentStatus::Planned.as_str()))
            .filter(incident::Column::AutoStart.eq(false))
            .filter(incident::Column::StartAt.lte(Utc::now()))
            .into_tuple()
            .all(&self.deps.db)
            .await?;
        let mut prompted = 0;
        for (id, start) in due {
            let job = follow_up::slack_sync(IncidentId(id), Some(SlackNote::MaintenanceDue))
                .dedupe(format!("maintenance-due:{id}:{}", start.timestamp()));
            if job.enqueue(&self.deps.db).await?.is_some() {
                prompted += 1;
            }
        }
        if prompted > 0 {
            self.deps.jobs.wake();
        }
        Ok(prompted)
    }

    /// A status change, update text, new severity and/or summary for an incident that
    /// is neither suspected nor dismissed.
    pub async fn update(
        &self,
        id: IncidentId,
        actor: &Actor,
        change: IncidentChange,
    ) -> Result<Incident, IncidentError> {
        let text = change
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        if change.new_status.is_none()
            && text.is_none()
            && change.severity.is_none()
            && change.summary.is_none()
        {
            return Err(IncidentError::NothingToUpdate);
        }
        let summary = change
            .summary
            .as_deref()
            .map(|s| Some(s.trim().to_owned()).filter(|s| !s.is_empty()));
        let deps = &self.deps;
        let updated = tx::write_tx!(&deps.db, IncidentError, |txn| {
            let row = lock_incident(txn, id).await?;
            let before = Incident::try_from(row.clone())?;
            let after = Action::Update {
                new_status: change.new_status,
            }
            .apply(before.status)?;
            // Calling off a maintenance that never started is news to the public
            // page; a generic sentence would not say why, so ask for one.
            if before.status == IncidentStatus::Planned
                && after == IncidentStatus::Resolved
                && text.is_none()
            {
                return Err(invalid(
                    "text",
                    "say why the planned maintenance is called off",
                ));
            }
            let entry = match (text, after != before.status) {
                (Some(text), _) => Some(text.to_owned()),
                (None, true) => Some(default_status_text(after).to_owned()),
                (None, false) => None,
            };
            let mut what = Vec::new();
            if after != before.status {
                what.push(format!("status {} \u{2192} {after}", before.status));
            }
            if let Some(severity) = change.severity.filter(|s| *s != before.severity) {
                what.push(format!("severity {} \u{2192} {severity}", before.severity));
            }
            if summary.as_ref().is_some_and(|s| *s != before.summary) {
                what.push("summary changed".into());
            }
            if text.is_some() {
                what.push("posted an update".into());
            }
            let audit_text = if what.is_empty() {
                "Updated the incident (no changes)".to_owned()
            } else {
                format!("Updated the incident: {}", what.join("; "))
            };
            apply(
                txn,
                row,
                actor,
                Transition {
                    action: Action::Update {
                        new_status: change.new_status,
                    },
                    severity: change.severity,
                    summary: summary.clone(),
                    entry,
                    audit: audit_text,
                    do_not_notify: change.do_not_notify,
                    restart: false,
                },
                None,
            )
            .await
        })?;
        deps.changed(updated.id);
        Ok(updated)
    }

    /// A human opens an incident or plans a maintenance.
    pub async fn create(&self, actor: &Actor, new: NewIncident) -> Result<Incident, IncidentError> {
        let title = new.title.trim();
        if title.is_empty() {
            return Err(invalid("title", "give the incident a title"));
        }
        if title.chars().count() > TITLE_MAX_CHARS {
            return Err(invalid(
                "title",
                format!("keep it under {TITLE_MAX_CHARS} characters"),
            ));
        }
        if !matches!(
            new.status,
            IncidentStatus::Planned | IncidentStatus::Confirmed | IncidentStatus::Watching
        ) {
            return Err(invalid(
                "status",
                "a new incident is planned, confirmed or watching",
            ));
        }
        if new.auto_start && new.status != IncidentStatus::Planned {
            return Err(invalid(
                "auto start",
                "only planned maintenance can start by itself",
            ));
        }
        let text = new
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| default_status_text(new.status))
            .to_owned();
        let summary = new
            .summary
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let deps = &self.deps;
        let created = tx::write_tx!(&deps.db, IncidentError, |txn| {
            let now = Utc::now();
            let row = incident::ActiveModel {
                status: Set(new.status.as_str().to_owned()),
                severity: Set(new.severity.as_str().to_owned()),
                title: Set(title.to_owned()),
                summary: Set(summary.clone()),
                start_at: Set(new.start.unwrap_or(now)),
                end_at: Set(None),
                silent: Set(new.silent),
                last_notified_status: Set(None),
                origin: Set(Origin::Manual.as_str().to_owned()),
                auto_start: Set(new.auto_start),
                slack_channel: Set(None),
                slack_ts: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            let incident = Incident::try_from(row)?;
            add_entry(txn, incident.id, now, &text, Some(incident.status), actor).await?;
            audit::record(
                txn,
                actor,
                Some(incident.id),
                format!(
                    "Created the incident \u{201c}{}\u{201d} ({}, {})",
                    incident.title, incident.status, incident.severity
                ),
            )
            .await?;
            let incident = notify_if_due(txn, incident, new.do_not_notify).await?;
            follow_up::slack_sync(incident.id, Some(SlackNote::Opened))
                .enqueue(txn)
                .await?;
            Ok(incident)
        })?;
        deps.changed(created.id);
        Ok(created)
    }

    async fn transition(
        &self,
        id: IncidentId,
        actor: &Actor,
        transition: impl Fn() -> Transition,
    ) -> Result<Incident, IncidentError> {
        let incident = tx::write_tx!(&self.deps.db, IncidentError, |txn| {
            let row = lock_incident(txn, id).await?;
            apply(txn, row, actor, transition(), None).await
        })?;
        self.deps.changed(incident.id);
        Ok(incident)
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
    let before = Incident::try_from(row.clone())?;
    let status = transition.action.apply(before.status)?;
    let now = Utc::now();
    let mut active = row.into_active_model();
    active.status = Set(status.as_str().to_owned());
    if let Some(severity) = transition.severity {
        active.severity = Set(severity.as_str().to_owned());
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
    let incident = Incident::try_from(active.update(txn).await?)?;

    if let Some(text) = transition.entry {
        let earlier: Vec<Option<String>> = incident_update::Entity::find()
            .select_only()
            .column(incident_update::Column::NewStatus)
            .filter(incident_update::Column::IncidentId.eq(incident.id.0))
            .filter(incident_update::Column::NewStatus.is_not_null())
            .into_tuple()
            .all(txn)
            .await?;
        let earlier: Vec<IncidentStatus> = earlier
            .iter()
            .flatten()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()?;
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
    let notify_maintenance = notification_settings::Entity::find_by_id(1)
        .one(txn)
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
    incident::ActiveModel {
        id: Set(incident.id.0),
        last_notified_status: Set(Some(incident.status.as_str().to_owned())),
        notified_episode: Set(announcement.episode),
        ..Default::default()
    }
    .update(txn)
    .await?;
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
    incident_update::ActiveModel {
        incident_id: Set(incident.0),
        created_at: Set(at),
        message: Set(text.to_owned()),
        new_status: Set(new_status.map(|s| s.as_str().to_owned())),
        author: Set(actor.to_string()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// The incident, locked against concurrent changes until `txn` ends (PostgreSQL row
/// lock; SQLite's immediate transaction already holds the database's write lock).
pub(super) async fn lock_incident(
    txn: &DatabaseTransaction,
    id: IncidentId,
) -> Result<incident::Model, IncidentError> {
    incident::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or(IncidentError::NotFound(id))
}

async fn touch(
    txn: &DatabaseTransaction,
    row: incident::Model,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut active = row.into_active_model();
    active.updated_at = Set(now);
    active.update(txn).await?;
    Ok(())
}

async fn find_alert(
    txn: &DatabaseTransaction,
    source: Origin,
    external_id: &str,
) -> Result<Option<alert::Model>, DbErr> {
    alert::Entity::find()
        .filter(alert::Column::Source.eq(source.as_str()))
        .filter(alert::Column::ExternalId.eq(external_id))
        .one(txn)
        .await
}

/// The open incident a new alert joins: the suspected one if there is one, else the
/// newest confirmed or watching partial outage or outage. Locked, so it cannot be
/// closed while the alert joins it.
async fn alert_target(txn: &DatabaseTransaction) -> Result<Option<incident::Model>, DbErr> {
    let suspected = incident::Entity::find()
        .filter(incident::Column::Status.eq(IncidentStatus::Suspected.as_str()))
        .lock_exclusive()
        .one(txn)
        .await?;
    if suspected.is_some() {
        return Ok(suspected);
    }
    incident::Entity::find()
        .filter(incident::Column::Status.is_in([
            IncidentStatus::Confirmed.as_str(),
            IncidentStatus::Watching.as_str(),
        ]))
        .filter(
            incident::Column::Severity
                .is_in([Severity::Partial.as_str(), Severity::Outage.as_str()]),
        )
        .order_by_desc(incident::Column::StartAt)
        .order_by_desc(incident::Column::Id)
        .lock_exclusive()
        .one(txn)
        .await
}

async fn open_suspected_incident(
    txn: &DatabaseTransaction,
    source: Origin,
    now: DateTime<Utc>,
) -> Result<IncidentId, IncidentError> {
    let row = incident::ActiveModel {
        status: Set(IncidentStatus::Suspected.as_str().to_owned()),
        severity: Set(Severity::Outage.as_str().to_owned()),
        title: Set("Outage".to_owned()),
        summary: Set(None),
        start_at: Set(now),
        end_at: Set(None),
        silent: Set(false),
        last_notified_status: Set(None),
        origin: Set(source.as_str().to_owned()),
        auto_start: Set(false),
        slack_channel: Set(None),
        slack_ts: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let id = IncidentId(row.id);
    add_entry(
        txn,
        id,
        now,
        "Our monitoring detected a problem and the team has been alerted. \
         We will confirm as soon as we know more.",
        Some(IncidentStatus::Suspected),
        &Actor::System,
    )
    .await?;
    Ok(id)
}

/// The timeline sentence for a status change that came without words.
fn default_status_text(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Planned => "Maintenance is scheduled.",
        IncidentStatus::Suspected => "We are looking into a possible problem.",
        IncidentStatus::Confirmed => "We are aware of the problem and working on it.",
        IncidentStatus::Watching => "A fix has been applied and we are monitoring the results.",
        IncidentStatus::Resolved => "This incident has been resolved.",
        IncidentStatus::Dismissed => "This was a false alarm.",
    }
}

fn clip(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

impl Deps {
    /// After a commit: tell every replica, and start the jobs it enqueued.
    pub(super) fn changed(&self, incident_id: IncidentId) {
        self.events
            .publish(DomainEvent::IncidentChanged { incident_id });
        self.jobs.wake();
    }
}
