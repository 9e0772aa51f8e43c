//! Alerts from monitoring: a new alert opens a suspected incident or joins an open one;
//! when an incident's last open alert closes, a suspected incident is dismissed and a
//! confirmed or watching one gets a reminder in Slack; descriptions and activity
//! (acknowledgements, notes) pass on to Slack. [`IncidentService::apply_alert_event`]
//! is the one entry the hooks and the spool replay use.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction, IntoActiveModel};
use serde::{Deserialize, Serialize};

use super::service::{IncidentError, IncidentService, invalid};
use super::transition::{Transition, add_entry, apply, lock_incident};
use crate::domain::{Action, Actor, Field, IncidentId, IncidentStatus, Origin, Severity};
use crate::services::audit;
use crate::services::follow_up::{self, SlackNote};
use crate::services::tx;
use crate::store::{alert, alerts, incident, incidents};

const EXTERNAL_ID_MAX_CHARS: usize = 255;
const ALERT_TEXT_MAX_CHARS: usize = 10_000;

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

impl IncidentService {
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
                Field::AlertId,
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
            if let Some(known) = alerts::find(txn, source, external_id).await? {
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

            let (incident_id, opened_incident) = match incidents::alert_target(txn).await? {
                Some(target) => {
                    let id = IncidentId(target.id);
                    incidents::touch(txn, target, now).await?;
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
            let Some(known) = alerts::find(txn, source, external_id).await? else {
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

            let still_open = alerts::open_count(txn, incident_id).await?;
            let incident = lock_incident(txn, incident_id).await?;
            let status = incident.status;
            if still_open > 0 {
                incidents::touch(txn, incident, now).await?;
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
                incidents::touch(txn, incident, now).await?;
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
            let Some(known) = alerts::find(txn, source, external_id).await? else {
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
            let Some(known) = alerts::find(txn, source, external_id).await? else {
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
}

async fn open_suspected_incident(
    txn: &DatabaseTransaction,
    source: Origin,
    now: DateTime<Utc>,
) -> Result<IncidentId, IncidentError> {
    let row = incident::ActiveModel {
        status: Set(IncidentStatus::Suspected),
        severity: Set(Severity::Outage),
        title: Set("Outage".to_owned()),
        summary: Set(None),
        start_at: Set(now),
        end_at: Set(None),
        silent: Set(false),
        last_notified_status: Set(None),
        origin: Set(source),
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

fn clip(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
