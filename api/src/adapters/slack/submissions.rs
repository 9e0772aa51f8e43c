//! Modal submissions (protocols.md §2.3), validated and answered inline
//! (`response_action: errors`):
//! - create: a title is required, and a severity; an empty start means now;
//! - update: at least one of status, text, severity or summary must change; resolving
//!   a planned maintenance that never started (calling it off) needs a text saying why.
//!
//! The update modal comes with the current summary filled in, so a summary that comes
//! back empty was cleared on purpose and removes the summary.
//!
//! A submission changes the status page, so its sender is checked first
//! ([`SlackInbound::authorize`]); a refusal shows in the modal, and nothing changes.

use std::collections::HashMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::inbound::{SlackInbound, SlackUser, TeamRef};
use super::refusals::{DatabaseAway, explain, untrusted};
use super::trust::{Caller, Need};
use super::views;
use crate::domain::{
    Actor, ClassifiedError, ErrorKind, Field, IncidentId, IncidentStatus, Severity,
};
use crate::services::{IncidentChange, NewIncident};

#[derive(Deserialize)]
pub(super) struct ViewSubmission {
    user: SlackUser,
    #[serde(default)]
    team: Option<TeamRef>,
    #[serde(default)]
    api_app_id: Option<String>,
    view: SubmittedView,
}

#[derive(Deserialize)]
struct SubmittedView {
    #[serde(default)]
    callback_id: String,
    #[serde(default)]
    private_metadata: String,
    state: ViewState,
}

#[derive(Deserialize)]
struct ViewState {
    #[serde(default)]
    values: HashMap<String, HashMap<String, InputValue>>,
}

#[derive(Default, Deserialize)]
struct InputValue {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    selected_option: Option<Selected>,
    #[serde(default)]
    selected_date_time: Option<i64>,
}

#[derive(Deserialize)]
struct Selected {
    value: String,
}

impl ViewState {
    fn input(&self, block_id: &str) -> Option<&InputValue> {
        self.values.get(block_id)?.values().next()
    }

    fn text(&self, block_id: &str) -> Option<String> {
        self.input(block_id)?
            .value
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    }

    fn selected(&self, block_id: &str) -> Option<&str> {
        self.input(block_id)?
            .selected_option
            .as_ref()
            .map(|s| s.value.as_str())
    }

    fn date_time(&self, block_id: &str) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.input(block_id)?.selected_date_time?, 0)
    }
}

/// Keeps the modal open and shows `message` under the input block `block_id`.
fn modal_errors(errors: &[(&str, String)]) -> Response {
    let errors: serde_json::Map<String, Value> = errors
        .iter()
        .map(|(block, message)| ((*block).to_owned(), Value::String(message.clone())))
        .collect();
    Json(json!({ "response_action": "errors", "errors": errors })).into_response()
}

/// Reads a select's value; an unknown one is a tampered or outdated modal.
fn parse_choice<T: std::str::FromStr>(
    state: &ViewState,
    block: &'static str,
) -> Result<Option<T>, (&'static str, String)> {
    state
        .selected(block)
        .map(|v| {
            v.parse()
                .map_err(|_| (block, format!("\u{201c}{v}\u{201d} is not a choice here")))
        })
        .transpose()
}

pub(super) async fn view_submission(slack: &SlackInbound, submission: ViewSubmission) -> Response {
    // The input block a refusal is shown under.
    let first_block = match submission.view.callback_id.as_str() {
        views::UPDATE_MODAL => "new_status",
        views::CREATE_MODAL => "title",
        _ => return StatusCode::OK.into_response(),
    };
    let caller = Caller {
        team: submission.team.as_ref().map(|t| t.id.as_str()),
        app: submission.api_app_id.as_deref(),
        user: &submission.user.id,
    };
    if let Err(error) = slack.authorize(caller, Need::Change).await {
        let text =
            untrusted(&error).map_or_else(|DatabaseAway| DATABASE_AWAY.to_owned(), str::to_owned);
        return modal_errors(&[(first_block, text)]);
    }
    let actor = submission.user.actor();
    let view = submission.view;
    match view.callback_id.as_str() {
        views::UPDATE_MODAL => {
            let Some((id, prefilled)) = views::parse_update_modal_metadata(&view.private_metadata)
            else {
                return modal_errors(&[("new_status", "This modal lost its incident; close it and click \u{201c}Update incident\u{201d} again.".into())]);
            };
            submit_update(slack, id, prefilled, &actor, &view.state).await
        }
        views::CREATE_MODAL => submit_create(slack, &actor, &view.state).await,
        _ => StatusCode::OK.into_response(),
    }
}

async fn submit_update(
    slack: &SlackInbound,
    id: IncidentId,
    prefilled_summary: Option<&str>,
    actor: &Actor,
    state: &ViewState,
) -> Response {
    let incidents = &slack.incidents;
    let choices = (
        parse_choice::<IncidentStatus>(state, "new_status"),
        parse_choice::<Severity>(state, "new_severity"),
    );
    let (new_status, severity) = match choices {
        (Ok(status), Ok(severity)) => (status, severity),
        (Err(error), _) | (_, Err(error)) => return modal_errors(&[error]),
    };
    let current = match incidents.get(id).await {
        Ok(incident) => incident,
        Err(error) => return modal_errors(&[("new_status", explain_here(&error))]),
    };
    let untouched =
        |text: &str| prefilled_summary == Some(views::summary_fingerprint(text).as_str());
    let summary = match state.text("new_summary") {
        // Still what the modal showed: keep the stored summary as it is.
        Some(summary) if untouched(&summary) => None,
        Some(summary) => Some(summary),
        // The field came pre-filled: empty now means the person cleared it.
        None if current.summary.is_some() && !untouched("") => Some(String::new()),
        None => None,
    };
    let change = IncidentChange {
        new_status,
        text: state.text("update_text"),
        severity,
        summary,
        do_not_notify: false,
    };
    match incidents.update(id, actor, change).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(error) => {
            let text = match error.kind() {
                // The only request this form can get wrong without naming a field.
                ErrorKind::Invalid { field: None } => NOTHING_CHANGED.to_owned(),
                _ => explain_here(&error),
            };
            let block = match error.kind() {
                ErrorKind::Invalid {
                    field: Some(Field::Text) | None,
                } => "update_text",
                _ => "new_status",
            };
            modal_errors(&[(block, text)])
        }
    }
}

const NOTHING_CHANGED: &str =
    "Choose a new status, write an update, or change the severity or summary.";

const DATABASE_AWAY: &str = "The status page cannot reach its database; try again in a minute.";

/// What a modal shows under one of its inputs when the change was refused.
fn explain_here(error: &impl ClassifiedError) -> String {
    explain(error).unwrap_or_else(|DatabaseAway| DATABASE_AWAY.to_owned())
}

async fn submit_create(slack: &SlackInbound, actor: &Actor, state: &ViewState) -> Response {
    let mut errors = Vec::new();
    let title = state.text("title").unwrap_or_default();
    if title.is_empty() {
        errors.push(("title", "Please enter a title.".to_owned()));
    }
    let status = match parse_choice::<IncidentStatus>(state, "status") {
        Ok(Some(status)) => Some(status),
        Ok(None) => {
            errors.push(("status", "Choose a status.".to_owned()));
            None
        }
        Err(error) => {
            errors.push(error);
            None
        }
    };
    let severity = match parse_choice::<Severity>(state, "severity") {
        Ok(Some(severity)) => Some(severity),
        Ok(None) => {
            errors.push(("severity", "Choose a severity.".to_owned()));
            None
        }
        Err(error) => {
            errors.push(error);
            None
        }
    };
    let (Some(status), Some(severity), true) = (status, severity, errors.is_empty()) else {
        return modal_errors(&errors);
    };
    let new = NewIncident {
        title,
        status,
        severity,
        start: state.date_time("start"),
        text: state.text("update_text"),
        summary: state.text("summary"),
        silent: false,
        auto_start: false,
        do_not_notify: false,
    };
    match slack.incidents.create(actor, new).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(error) => {
            let block = match error.kind() {
                ErrorKind::Invalid { field: Some(field) } => match field {
                    Field::Status => "status",
                    Field::AutoStart => "start",
                    Field::Text => "update_text",
                    _ => "title",
                },
                _ => "title",
            };
            modal_errors(&[(block, explain_here(&error))])
        }
    }
}
