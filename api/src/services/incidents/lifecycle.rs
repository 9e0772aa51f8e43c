//! The human transitions of SPEC §2: create, update, confirm, dismiss, reopen and
//! resolve (an update to resolved). Each is one transaction through [`super::transition::apply`].

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use super::service::{IncidentError, IncidentService, TITLE_MAX_CHARS, invalid};
use super::transition::{Transition, add_entry, apply, lock_incident, notify_if_due};
use crate::domain::{Action, Actor, Field, Incident, IncidentId, IncidentStatus, Origin, Severity};
use crate::services::audit;
use crate::services::follow_up::{self, SlackNote};
use crate::services::tx;
use crate::store::incident;

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

impl IncidentService {
    /// A human opens an incident or plans a maintenance.
    pub async fn create(&self, actor: &Actor, new: NewIncident) -> Result<Incident, IncidentError> {
        let title = new.title.trim();
        if title.is_empty() {
            return Err(invalid(Field::Title, "give the incident a title"));
        }
        if title.chars().count() > TITLE_MAX_CHARS {
            return Err(invalid(
                Field::Title,
                format!("keep it under {TITLE_MAX_CHARS} characters"),
            ));
        }
        if !matches!(
            new.status,
            IncidentStatus::Planned | IncidentStatus::Confirmed | IncidentStatus::Watching
        ) {
            return Err(invalid(
                Field::Status,
                "a new incident is planned, confirmed or watching",
            ));
        }
        if new.auto_start && new.status != IncidentStatus::Planned {
            return Err(invalid(
                Field::AutoStart,
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
                status: Set(new.status),
                severity: Set(new.severity),
                title: Set(title.to_owned()),
                summary: Set(summary.clone()),
                start_at: Set(new.start.unwrap_or(now)),
                end_at: Set(None),
                silent: Set(new.silent),
                last_notified_status: Set(None),
                origin: Set(Origin::Manual),
                auto_start: Set(new.auto_start),
                slack_channel: Set(None),
                slack_ts: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            let incident = Incident::from(row);
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
            let before = Incident::from(row.clone());
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
                    Field::Text,
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

    pub(super) async fn transition(
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
