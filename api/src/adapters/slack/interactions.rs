//! Events, clicks and the `/status` command (protocols.md §2.1, §2.2, §2.4). Each calls
//! the services and hands back what Slack must hear afterwards as jobs, which the
//! caller enqueues; nothing here writes to the queue itself. Every click that changes
//! something, and `/status new`, is checked first ([`SlackInbound::authorize`]).

use std::collections::HashMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::blocks::{Block, View};
use super::inbound::{SlackInbound, SlackUser, TeamRef};
use super::refusals::{DatabaseAway, explain, untrusted};
use super::submissions::ViewSubmission;
use super::trust::{Caller, Need, TrustError};
use super::{jobs, views};
use crate::domain::IncidentId;
use crate::jobs::NewJob;

// ----- Events API -----

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Envelope {
    UrlVerification {
        challenge: String,
    },
    EventCallback {
        event_id: String,
        event: Value,
        #[serde(default)]
        team_id: Option<String>,
        #[serde(default)]
        api_app_id: Option<String>,
    },
    #[serde(other)]
    Other,
}

/// The answer to an event, and the job it asks for. Events only ever show something,
/// so they need only come from our workspace and app.
pub(super) async fn event(slack: &SlackInbound, envelope: Envelope) -> (Response, Option<NewJob>) {
    match envelope {
        Envelope::UrlVerification { challenge } => (
            Json(json!({ "challenge": challenge })).into_response(),
            None,
        ),
        Envelope::EventCallback {
            event_id,
            event,
            team_id,
            api_app_id,
        } => {
            let kind = event.get("type").and_then(Value::as_str);
            let tab = event.get("tab").and_then(Value::as_str);
            let user = event.get("user").and_then(Value::as_str);
            if let Some(user) = user {
                let caller = Caller {
                    team: team_id.as_deref(),
                    app: api_app_id.as_deref(),
                    user,
                };
                if slack.authorize(caller, Need::Read).await.is_err() {
                    return (StatusCode::OK.into_response(), None);
                }
            }
            let job = match (kind, tab, user) {
                // Slack retries an event it thinks we missed; the event id makes the
                // retry enqueue nothing new.
                (Some("app_home_opened"), Some("home"), Some(user)) => {
                    Some(jobs::publish_home(user, Some(&event_id)))
                }
                _ => None,
            };
            (StatusCode::OK.into_response(), job)
        }
        Envelope::Other => (StatusCode::OK.into_response(), None),
    }
}

// ----- Interactivity -----

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Interaction {
    BlockActions(BlockActions),
    ViewSubmission(ViewSubmission),
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
pub(super) struct BlockActions {
    user: SlackUser,
    #[serde(default)]
    team: Option<TeamRef>,
    #[serde(default)]
    api_app_id: Option<String>,
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

fn incident_id(value: Option<&str>) -> Option<IncidentId> {
    value?.trim().parse().ok().map(IncidentId)
}

/// The message that tells the person who clicked why it did not work, in the channel
/// where they clicked (none for clicks in the Home tab).
fn tell(channel: Option<&str>, user: &str, text: &str) -> Vec<NewJob> {
    let Some(channel) = channel else {
        tracing::info!(text, "a Slack action failed in the Home tab");
        return Vec::new();
    };
    vec![jobs::ephemeral(channel, user, text)]
}

/// Tells the person who clicked that the database is away, through the click's
/// `response_url`: that needs neither the database nor the job queue, which a message
/// sent as a job would. Sent after the 200, so Slack gets its answer at once.
fn database_away(slack: &SlackInbound, click: &BlockActions) {
    let Some(url) = click.response_url.clone() else {
        tracing::warn!(
            "a Slack click failed while the database is away, and has no response_url to answer"
        );
        return;
    };
    let api = slack.api.clone();
    tokio::spawn(async move {
        if let Err(error) = api.respond(&url, DATABASE_AWAY).await {
            tracing::warn!(error = %error.explain(), "cannot answer a Slack click through its response_url");
        }
    });
}

impl BlockActions {
    fn caller(&self) -> Caller<'_> {
        Caller {
            team: self.team.as_ref().map(|t| t.id.as_str()),
            app: self.api_app_id.as_deref(),
            user: &self.user.id,
        }
    }

    /// Whether the click is on one of our buttons, each of which changes something or
    /// opens a form that does. Other clicks (links) change nothing and need no check.
    fn is_ours(&self) -> bool {
        self.actions.first().is_some_and(|action| {
            [
                views::CREATE,
                views::UPDATE,
                views::CONFIRM,
                views::DISMISS,
                views::START_MAINTENANCE,
            ]
            .contains(&action.action_id.as_str())
        })
    }
}

/// A notice in a modal, for a click in the Home tab: there is no message to answer
/// there, only the click's trigger id.
fn notice(text: &str) -> View {
    View::modal(
        "notice",
        "Status page",
        "OK",
        String::new(),
        vec![Block::section(text)],
    )
}

/// Tells the person who clicked that they may not: through the click's `response_url`
/// (sent after the 200), or in a modal for a click in the Home tab.
async fn refuse_click(slack: &SlackInbound, click: &BlockActions, error: &TrustError) {
    let text = match untrusted(error) {
        Ok(text) => text,
        Err(DatabaseAway) => return database_away(slack, click),
    };
    if let Some(url) = click.response_url.clone() {
        let api = slack.api.clone();
        tokio::spawn(async move {
            if let Err(error) = api.respond(&url, text).await {
                tracing::warn!(error = %error.explain(), "cannot tell a Slack user that they may not act");
            }
        });
    } else {
        slack.open_modal(&click.trigger_id, &notice(text)).await;
    }
}

/// Acts on a click; returns the messages to send afterwards. Slack is answered 200
/// whatever happens: what went wrong is told to the person who clicked.
pub(super) async fn block_actions(
    slack: &SlackInbound,
    click: BlockActions,
    deadline: Instant,
) -> Vec<NewJob> {
    if click.is_ours() {
        let trusted =
            tokio::time::timeout_at(deadline, slack.authorize(click.caller(), Need::Change))
                .await
                .unwrap_or_else(|_| Err(TrustError::SlackUnreachable("no answer in time".into())));
        if let Err(error) = trusted {
            refuse_click(slack, &click, &error).await;
            return Vec::new();
        }
    }
    match tokio::time::timeout_at(deadline, handle_click(slack, &click)).await {
        Ok(Clicked::Done(jobs)) => return jobs,
        Ok(Clicked::DatabaseAway) => database_away(slack, &click),
        Err(_) => {
            tracing::warn!("a Slack click timed out waiting for the database");
            database_away(slack, &click);
        }
    }
    Vec::new()
}

enum Clicked {
    Done(Vec<NewJob>),
    DatabaseAway,
}

async fn handle_click(slack: &SlackInbound, click: &BlockActions) -> Clicked {
    let Some(action) = click.actions.first() else {
        return Clicked::Done(Vec::new());
    };
    let actor = click.user.actor();
    let channel = click
        .channel
        .as_ref()
        .map(|c| c.id.clone())
        .or_else(|| click.container.as_ref().and_then(|c| c.channel_id.clone()));
    let from_home = click.container.as_ref().is_some_and(|c| c.kind == "view");
    let incidents = &slack.incidents;
    let id = incident_id(action.value.as_deref());
    let outcome = match (action.action_id.as_str(), id) {
        (views::CREATE, _) => {
            if slack
                .open_modal(&click.trigger_id, &views::create_modal())
                .await
            {
                return Clicked::Done(Vec::new());
            }
            return Clicked::Done(tell(channel.as_deref(), &click.user.id, MODAL_FAILED));
        }
        (views::UPDATE, Some(id)) => {
            let text = match incidents.get(id).await {
                Ok(incident) => {
                    let notify_maintenance = slack
                        .settings
                        .notifications()
                        .await
                        .is_ok_and(|n| n.notify_maintenance);
                    let view = views::update_modal(&incident, notify_maintenance);
                    if slack.open_modal(&click.trigger_id, &view).await {
                        return Clicked::Done(Vec::new());
                    }
                    MODAL_FAILED.to_owned()
                }
                Err(error) => match explain(&error) {
                    Ok(text) => text,
                    Err(DatabaseAway) => return Clicked::DatabaseAway,
                },
            };
            return Clicked::Done(tell(channel.as_deref(), &click.user.id, &text));
        }
        (views::CONFIRM, Some(id)) => incidents.confirm(id, &actor, false).await.map(|_| ()),
        (views::DISMISS, Some(id)) => incidents.dismiss(id, &actor).await.map(|_| ()),
        (views::START_MAINTENANCE, Some(id)) => incidents
            .start_maintenance(id, &actor, false)
            .await
            .map(|_| ()),
        // Buttons of other apps' messages, links, or a button without its incident.
        _ => return Clicked::Done(Vec::new()),
    };
    match outcome {
        Ok(()) if from_home => Clicked::Done(vec![jobs::publish_home(&click.user.id, None)]),
        Ok(()) => Clicked::Done(Vec::new()),
        Err(error) => match explain(&error) {
            Ok(text) => {
                let text = format!("That did not work. {text}");
                Clicked::Done(tell(channel.as_deref(), &click.user.id, &text))
            }
            Err(DatabaseAway) => Clicked::DatabaseAway,
        },
    }
}

// ----- Slash command -----

const NO_DATABASE: &str = "The status page cannot reach its database right now.";

/// `/status` and `/status new`.
pub(super) async fn command(slack: &SlackInbound, form: &HashMap<String, String>) -> Response {
    let text = form.get("text").map_or("", |t| t.trim());
    let creating = text.eq_ignore_ascii_case("new");
    let caller = Caller {
        team: form.get("team_id").map(String::as_str),
        app: form.get("api_app_id").map(String::as_str),
        user: form.get("user_id").map_or("", String::as_str),
    };
    let need = if creating { Need::Change } else { Need::Read };
    if let Err(error) = slack.authorize(caller, need).await {
        let text = match (need, untrusted(&error)) {
            (_, Err(DatabaseAway)) => NO_DATABASE,
            // Only another workspace or app is refused a read.
            (Need::Read, Ok(_)) => {
                "This Slack workspace is not the one the status page is connected to."
            }
            (Need::Change, Ok(text)) => text,
        };
        return ephemeral(text, &[]);
    }
    if creating {
        if let Some(trigger_id) = form.get("trigger_id")
            && !slack.open_modal(trigger_id, &views::create_modal()).await
        {
            return ephemeral("Slack did not open the form; please try again.", &[]);
        }
        return StatusCode::OK.into_response();
    }
    let open = match slack.incidents.open().await {
        Ok(open) => open,
        Err(error) => {
            tracing::warn!(%error, "cannot list open incidents for /status");
            return ephemeral(NO_DATABASE, &[]);
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

fn ephemeral(text: &str, blocks: &[Block]) -> Response {
    let mut body = json!({ "response_type": "ephemeral", "text": text });
    if !blocks.is_empty() {
        body["blocks"] = json!(blocks);
    }
    Json(body).into_response()
}
