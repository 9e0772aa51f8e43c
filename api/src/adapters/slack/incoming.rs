//! What Slack sends us (protocols.md §2.1–2.4): events, clicks, modal submissions and
//! the `/status` command. Routing follows Bolt: JSON is the Events API, a form with
//! `payload=` is interactivity, a form with `command=` a slash command, `ssl_check=1`
//! Slack testing TLS. Everything but `ssl_check` must carry a valid signature.
//! Modal submissions are answered in [`submissions`](super::submissions).

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::refusals::{DatabaseAway, explain};
use super::submissions::{ViewSubmission, view_submission};
use super::verify::{self, SignatureError};
use super::{Slack, jobs, views};
use crate::domain::{Actor, IncidentId};

/// Interactivity payloads carry whole messages and views; a few hundred KiB at most.
const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Slack: FromRef<S>,
{
    Router::new()
        .route("/integrations/slack/events", post(receive))
        .route("/integrations/slack/commands", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "invalid request" })),
    )
        .into_response()
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.into() })),
    )
        .into_response()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

async fn receive(State(slack): State<Slack>, headers: HeaderMap, body: Bytes) -> Response {
    let json = is_json(&headers);
    let form: Result<HashMap<String, String>, _> = if json {
        Ok(HashMap::new())
    } else {
        serde_urlencoded::from_bytes(&body)
    };
    // Slack testing the certificate of a slash command URL; Bolt answers it unsigned.
    if form
        .as_ref()
        .is_ok_and(|form| form.get("ssl_check").is_some_and(|v| v == "1"))
    {
        return StatusCode::OK.into_response();
    }
    let slack = &slack;
    let secret = match slack.signing_secret().await {
        Ok(secret) => secret,
        Err(error) => {
            tracing::warn!(%error, "cannot read the Slack settings");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let Some(secret) = secret.filter(|s| !s.expose().is_empty()) else {
        tracing::warn!("a Slack request arrived, but no signing secret is set");
        return unauthorized();
    };
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(error) = verify::verify(
        secret.expose().as_bytes(),
        header_text("x-slack-request-timestamp"),
        header_text("x-slack-signature"),
        &body,
        Utc::now().timestamp(),
    ) {
        if error != SignatureError::Missing {
            tracing::warn!(%error, "refused a Slack request");
        }
        return unauthorized();
    }

    // Only a signed request learns what was wrong with its body.
    let form = match form {
        Ok(form) => form,
        Err(error) => return bad_request(format!("the body is not form-encoded: {error}")),
    };
    if json {
        return match serde_json::from_slice::<Envelope>(&body) {
            Ok(envelope) => event(slack, envelope).await,
            Err(error) => bad_request(format!("unreadable event: {error}")),
        };
    }
    if let Some(payload) = form.get("payload") {
        return match serde_json::from_str::<Interaction>(payload) {
            Ok(Interaction::BlockActions(click)) => block_actions(slack, click).await,
            Ok(Interaction::ViewSubmission(submission)) => view_submission(slack, submission).await,
            Ok(Interaction::Other) => StatusCode::OK.into_response(),
            Err(error) => bad_request(format!("unreadable interaction payload: {error}")),
        };
    }
    if form.contains_key("command") {
        return command(slack, &form).await;
    }
    bad_request("neither an event, an interaction nor a command")
}

// ----- Events API -----

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Envelope {
    UrlVerification {
        challenge: String,
    },
    EventCallback {
        event_id: String,
        event: Value,
    },
    #[serde(other)]
    Other,
}

async fn event(slack: &Slack, envelope: Envelope) -> Response {
    match envelope {
        Envelope::UrlVerification { challenge } => {
            Json(json!({ "challenge": challenge })).into_response()
        }
        Envelope::EventCallback { event_id, event } => {
            let kind = event.get("type").and_then(Value::as_str);
            let tab = event.get("tab").and_then(Value::as_str);
            let user = event.get("user").and_then(Value::as_str);
            if let (Some("app_home_opened"), Some("home"), Some(user)) = (kind, tab, user) {
                // Slack retries an event it thinks we missed; the event id makes the
                // retry enqueue nothing new.
                if let Err(error) = slack
                    .enqueue(jobs::publish_home(user, Some(&event_id)))
                    .await
                {
                    tracing::warn!(%error, "cannot enqueue the App Home update");
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
            }
            StatusCode::OK.into_response()
        }
        Envelope::Other => StatusCode::OK.into_response(),
    }
}

// ----- Interactivity -----

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Interaction {
    BlockActions(BlockActions),
    ViewSubmission(ViewSubmission),
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
pub(super) struct SlackUser {
    id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl SlackUser {
    pub(super) fn actor(&self) -> Actor {
        let name = self
            .username
            .as_deref()
            .or(self.name.as_deref())
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.id);
        Actor::Slack(name.to_owned())
    }
}

#[derive(Deserialize)]
struct BlockActions {
    user: SlackUser,
    trigger_id: String,
    /// Where an answer to this click can go for 30 minutes; absent for Home tab clicks.
    #[serde(default)]
    response_url: Option<String>,
    #[serde(default)]
    container: Option<Container>,
    #[serde(default)]
    channel: Option<ChannelRef>,
    actions: Vec<ActionItem>,
}

#[derive(Deserialize)]
struct Container {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    channel_id: Option<String>,
}

#[derive(Deserialize)]
struct ChannelRef {
    id: String,
}

#[derive(Deserialize)]
struct ActionItem {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

const MODAL_FAILED: &str = "Slack did not open the form in time; please click again.";
const DATABASE_AWAY: &str = "The status page cannot save changes right now; try again in a minute.";
/// What a click may spend on the database: Slack wants the whole answer in 3 s, and a
/// database that is away may take much longer than that to fail.
const CLICK_DEADLINE: Duration = Duration::from_millis(1800);

fn incident_id(value: Option<&str>) -> Option<IncidentId> {
    value?.trim().parse().ok().map(IncidentId)
}

/// Tells the person who clicked why it did not work, in the channel where they
/// clicked (or nowhere, for clicks in the Home tab).
async fn tell(slack: &Slack, channel: Option<&str>, user: &str, text: &str) {
    let Some(channel) = channel else {
        tracing::info!(text, "a Slack action failed in the Home tab");
        return;
    };
    if let Err(error) = slack.enqueue(jobs::ephemeral(channel, user, text)).await {
        tracing::warn!(%error, "cannot enqueue a Slack ephemeral message");
    }
}

/// Tells the person who clicked that the database is away, through the click's
/// `response_url`: that needs neither the database nor the job queue, which a message
/// sent as a job would. Sent after the 200, so Slack gets its answer at once.
fn database_away(slack: &Slack, click: &BlockActions) {
    let Some(url) = click.response_url.clone() else {
        tracing::warn!(
            "a Slack click failed while the database is away, and has no response_url to answer"
        );
        return;
    };
    let api = slack.api().clone();
    tokio::spawn(async move {
        if let Err(error) = api.respond(&url, DATABASE_AWAY).await {
            tracing::warn!(error = %error.explain(), "cannot answer a Slack click through its response_url");
        }
    });
}

async fn block_actions(slack: &Slack, click: BlockActions) -> Response {
    match tokio::time::timeout(CLICK_DEADLINE, handle_click(slack, &click)).await {
        Ok(Clicked::Done) => {}
        Ok(Clicked::DatabaseAway) => database_away(slack, &click),
        Err(_) => {
            tracing::warn!("a Slack click timed out waiting for the database");
            database_away(slack, &click);
        }
    }
    StatusCode::OK.into_response()
}

enum Clicked {
    Done,
    DatabaseAway,
}

async fn handle_click(slack: &Slack, click: &BlockActions) -> Clicked {
    let Some(action) = click.actions.first() else {
        return Clicked::Done;
    };
    let actor = click.user.actor();
    let channel = click
        .channel
        .as_ref()
        .map(|c| c.id.clone())
        .or_else(|| click.container.as_ref().and_then(|c| c.channel_id.clone()));
    let from_home = click.container.as_ref().is_some_and(|c| c.kind == "view");
    let incidents = &slack.services().incidents;
    let id = incident_id(action.value.as_deref());
    let outcome = match (action.action_id.as_str(), id) {
        (views::CREATE, _) => {
            if !slack
                .open_modal(&click.trigger_id, &views::create_modal())
                .await
            {
                tell(slack, channel.as_deref(), &click.user.id, MODAL_FAILED).await;
            }
            return Clicked::Done;
        }
        (views::UPDATE, Some(id)) => {
            match incidents.get(id).await {
                Ok(incident) => {
                    let notify_maintenance = slack
                        .services()
                        .settings
                        .notifications()
                        .await
                        .is_ok_and(|n| n.notify_maintenance);
                    let view = views::update_modal(&incident, notify_maintenance);
                    if !slack.open_modal(&click.trigger_id, &view).await {
                        tell(slack, channel.as_deref(), &click.user.id, MODAL_FAILED).await;
                    }
                }
                Err(error) => match explain(&error) {
                    Ok(text) => tell(slack, channel.as_deref(), &click.user.id, &text).await,
                    Err(DatabaseAway) => return Clicked::DatabaseAway,
                },
            }
            return Clicked::Done;
        }
        (views::CONFIRM, Some(id)) => incidents.confirm(id, &actor, false).await.map(|_| ()),
        (views::DISMISS, Some(id)) => incidents.dismiss(id, &actor).await.map(|_| ()),
        (views::START_MAINTENANCE, Some(id)) => incidents
            .start_maintenance(id, &actor, false)
            .await
            .map(|_| ()),
        // Buttons of other apps' messages, links, or a button without its incident.
        _ => return Clicked::Done,
    };
    match outcome {
        Ok(()) if from_home => {
            if let Err(error) = slack
                .enqueue(jobs::publish_home(&click.user.id, None))
                .await
            {
                tracing::warn!(%error, "cannot enqueue the App Home update");
            }
        }
        Ok(()) => {}
        Err(error) => match explain(&error) {
            Ok(text) => {
                let text = format!("That did not work. {text}");
                tell(slack, channel.as_deref(), &click.user.id, &text).await;
            }
            Err(DatabaseAway) => return Clicked::DatabaseAway,
        },
    }
    Clicked::Done
}

// ----- Slash command -----

async fn command(slack: &Slack, form: &HashMap<String, String>) -> Response {
    let text = form.get("text").map_or("", |t| t.trim());
    if text.eq_ignore_ascii_case("new") {
        if let Some(trigger_id) = form.get("trigger_id")
            && !slack.open_modal(trigger_id, &views::create_modal()).await
        {
            return ephemeral("Slack did not open the form; please try again.", &[]);
        }
        return StatusCode::OK.into_response();
    }
    let open = match slack.services().incidents.open().await {
        Ok(open) => open,
        Err(error) => {
            tracing::warn!(%error, "cannot list open incidents for /status");
            return ephemeral("The status page cannot reach its database right now.", &[]);
        }
    };
    let summary = views::status_summary(&open, &slack.links());
    let text = if text.is_empty() {
        summary.text
    } else {
        format!(
            "Usage: `/status` shows the open incidents, `/status new` creates one.\n{}",
            summary.text
        )
    };
    ephemeral(&text, &summary.blocks)
}

fn ephemeral(text: &str, blocks: &[super::blocks::Block]) -> Response {
    let mut body = json!({ "response_type": "ephemeral", "text": text });
    if !blocks.is_empty() {
        body["blocks"] = json!(blocks);
    }
    Json(body).into_response()
}
