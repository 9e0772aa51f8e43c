//! Corrections from the console: fixing the record after the fact without going
//! through the lifecycle — a wrong title or start time, a typo in a timeline entry, an
//! incident that should never have existed. None of these notify subscribers or post
//! to Slack: they change history, not the present. Each is audited and publishes an
//! event so public pages follow.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};

use super::service::{IncidentError, IncidentService, TITLE_MAX_CHARS, invalid};
use super::transition::lock_incident;
use crate::domain::{Actor, Field, Incident, IncidentId, IncidentStatus, Severity};
use crate::services::audit;
use crate::services::tx;
use crate::services::views::TimelineEntry;
use crate::store::{incident_update, incidents, timeline};

/// Longest timeline entry the console accepts.
pub const ENTRY_MAX_CHARS: usize = 20_000;

/// Fields to correct; `None` keeps a value.
#[derive(Clone, Debug, Default)]
pub struct IncidentEdit {
    pub title: Option<String>,
    pub severity: Option<Severity>,
    /// `Some("")` removes the summary.
    pub summary: Option<String>,
    pub start: Option<DateTime<Utc>>,
    /// Only for resolved or dismissed incidents; open ones have no end.
    pub end: Option<DateTime<Utc>>,
    pub silent: Option<bool>,
    /// Planned maintenance only.
    pub auto_start: Option<bool>,
}

/// What the console's incident list shows; every part optional.
#[derive(Clone, Debug, Default)]
pub struct ConsoleFilter {
    pub statuses: Vec<IncidentStatus>,
    pub severities: Vec<Severity>,
    /// Incidents that overlap `[from, to)`.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Case-insensitive, in the title and summary.
    pub text: Option<String>,
}

/// One page of the console list, newest start first, with the total for paging.
#[derive(Clone, Debug)]
pub struct ConsolePage {
    pub incidents: Vec<Incident>,
    pub total: u64,
}

impl IncidentService {
    /// Corrects fields of any incident, including dismissed ones.
    pub async fn edit(
        &self,
        id: IncidentId,
        actor: &Actor,
        edit: IncidentEdit,
    ) -> Result<Incident, IncidentError> {
        let title = match edit.title.as_deref().map(str::trim) {
            Some("") => return Err(invalid(Field::Title, "give the incident a title")),
            Some(title) if title.chars().count() > TITLE_MAX_CHARS => {
                return Err(invalid(
                    Field::Title,
                    format!("keep it under {TITLE_MAX_CHARS} characters"),
                ));
            }
            other => other.map(str::to_owned),
        };
        let summary = edit
            .summary
            .as_deref()
            .map(|s| Some(s.trim().to_owned()).filter(|s| !s.is_empty()));
        let deps = &self.deps;
        let edited = tx::write_tx!(&deps.db, IncidentError, |txn| {
            let row = lock_incident(txn, id).await?;
            let before = Incident::from(row.clone());
            let start = edit.start.unwrap_or(before.start);
            let end = edit.end.or(before.end);
            if edit.end.is_some()
                && !matches!(
                    before.status,
                    IncidentStatus::Resolved | IncidentStatus::Dismissed
                )
            {
                return Err(invalid(
                    Field::End,
                    "only a resolved or dismissed incident has an end; resolve it first",
                ));
            }
            if end.is_some_and(|end| end < start) {
                return Err(invalid(Field::End, "the end must not be before the start"));
            }
            if edit.auto_start == Some(true) && before.status != IncidentStatus::Planned {
                return Err(invalid(
                    Field::AutoStart,
                    "only planned maintenance can start by itself",
                ));
            }
            let mut what = Vec::new();
            let mut active = row.into_active_model();
            if let Some(title) = title.clone().filter(|t| *t != before.title) {
                what.push(format!("title \u{201c}{title}\u{201d}"));
                active.title = Set(title);
            }
            if let Some(severity) = edit.severity.filter(|s| *s != before.severity) {
                what.push(format!("severity {} \u{2192} {severity}", before.severity));
                active.severity = Set(severity);
            }
            if let Some(summary) = summary.clone().filter(|s| *s != before.summary) {
                what.push("summary".to_owned());
                active.summary = Set(summary);
            }
            if start != before.start {
                what.push(format!("start {}", start.format("%Y-%m-%d %H:%M UTC")));
                active.start_at = Set(start);
            }
            if end != before.end {
                if let Some(end) = end {
                    what.push(format!("end {}", end.format("%Y-%m-%d %H:%M UTC")));
                }
                active.end_at = Set(end);
            }
            if let Some(silent) = edit.silent.filter(|s| *s != before.silent) {
                what.push(if silent { "silent" } else { "not silent" }.to_owned());
                active.silent = Set(silent);
            }
            if let Some(auto_start) = edit.auto_start {
                active.auto_start = Set(auto_start);
                what.push(
                    if auto_start {
                        "starts by itself"
                    } else {
                        "waits to be started"
                    }
                    .to_owned(),
                );
            }
            if what.is_empty() {
                return Ok(before);
            }
            active.updated_at = Set(Utc::now());
            let incident = Incident::from(active.update(txn).await?);
            audit::record(
                txn,
                actor,
                Some(id),
                format!("Corrected the incident: {}", what.join("; ")),
            )
            .await?;
            Ok(incident)
        })?;
        deps.changed(id);
        Ok(edited)
    }

    /// Rewrites the text of one timeline entry.
    pub async fn edit_entry(
        &self,
        entry_id: i64,
        actor: &Actor,
        message: &str,
    ) -> Result<TimelineEntry, IncidentError> {
        let message = message.trim();
        if message.is_empty() {
            return Err(invalid(
                Field::Message,
                "an entry needs words; delete it instead",
            ));
        }
        if message.chars().count() > ENTRY_MAX_CHARS {
            return Err(invalid(
                Field::Message,
                format!("keep it under {ENTRY_MAX_CHARS} characters"),
            ));
        }
        let deps = &self.deps;
        let (entry, incident) = tx::write_tx!(&deps.db, IncidentError, |txn| {
            let entry = find_entry(txn, entry_id).await?;
            let incident = IncidentId(entry.incident_id);
            lock_incident(txn, incident).await?;
            let entry = timeline::set_message(txn, entry, message).await?;
            audit::record(
                txn,
                actor,
                Some(incident),
                format!(
                    "Edited the timeline entry of {}",
                    entry.created_at.format("%Y-%m-%d %H:%M UTC")
                ),
            )
            .await?;
            Ok((entry, incident))
        })?;
        deps.changed(incident);
        Ok(entry.into())
    }

    /// Removes one timeline entry. The last one stays: an incident without any words
    /// would show an empty page.
    pub async fn delete_entry(&self, entry_id: i64, actor: &Actor) -> Result<(), IncidentError> {
        let deps = &self.deps;
        let incident = tx::write_tx!(&deps.db, IncidentError, |txn| {
            let entry = find_entry(txn, entry_id).await?;
            let incident = IncidentId(entry.incident_id);
            lock_incident(txn, incident).await?;
            let entries = timeline::count(txn, incident).await?;
            if entries <= 1 {
                return Err(invalid(
                    Field::Entry,
                    "this is the incident's only entry; edit it, or delete the incident",
                ));
            }
            timeline::delete(txn, entry_id).await?;
            audit::record(
                txn,
                actor,
                Some(incident),
                format!(
                    "Deleted the timeline entry of {}: \u{201c}{}\u{201d}",
                    entry.created_at.format("%Y-%m-%d %H:%M UTC"),
                    clip(&entry.message, 80)
                ),
            )
            .await?;
            Ok(incident)
        })?;
        deps.changed(incident);
        Ok(())
    }

    /// Deletes an incident with its timeline, alerts and deliveries. The audit log keeps
    /// a sentence naming it.
    pub async fn delete(&self, id: IncidentId, actor: &Actor) -> Result<(), IncidentError> {
        let deps = &self.deps;
        tx::write_tx!(&deps.db, IncidentError, |txn| {
            let row = lock_incident(txn, id).await?;
            audit::record(
                txn,
                actor,
                None,
                format!(
                    "Deleted incident {id} \u{201c}{}\u{201d} ({}, {}, started {})",
                    row.title,
                    row.status,
                    row.severity,
                    row.start_at.format("%Y-%m-%d %H:%M UTC")
                ),
            )
            .await?;
            incidents::delete(txn, id).await?;
            Ok(())
        })?;
        deps.changed(id);
        Ok(())
    }

    /// The console's list: every incident, dismissed ones included.
    pub async fn list(
        &self,
        filter: &ConsoleFilter,
        offset: u64,
        limit: u64,
    ) -> Result<ConsolePage, IncidentError> {
        let store_filter = incidents::Filter {
            statuses: &filter.statuses,
            severities: &filter.severities,
            from: filter.from,
            to: filter.to,
            text: filter.text.as_deref(),
        };
        let (rows, total) =
            incidents::console_page(&self.deps.db, &store_filter, offset, limit.clamp(1, 100))
                .await?;
        let incidents = rows.into_iter().map(Incident::from).collect();
        Ok(ConsolePage { incidents, total })
    }
}

async fn find_entry(
    txn: &sea_orm::DatabaseTransaction,
    entry_id: i64,
) -> Result<incident_update::Model, IncidentError> {
    timeline::find(txn, entry_id)
        .await?
        .ok_or(IncidentError::EntryNotFound(entry_id))
}

fn clip(text: &str, max_chars: usize) -> String {
    let mut clipped: String = text.chars().take(max_chars).collect();
    if clipped.len() < text.len() {
        clipped.push('\u{2026}');
    }
    clipped
}
