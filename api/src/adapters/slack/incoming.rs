//! What Slack sends us (protocols.md §2.1–2.4): events, clicks, modal submissions and
//! the `/status` command, on two URLs. Routing follows Bolt: JSON is the Events API, a
//! form with `payload=` is interactivity, a form with `command=` a slash command,
//! `ssl_check=1` Slack testing TLS. Everything but `ssl_check` must carry a valid
//! signature, checked over the raw bytes before anything reads them, and may come only
//! once ([`replay`](super::replay)); who sent it is checked before anything changes
//! ([`trust`](super::trust)). [`interactions`](super::interactions) and
//! [`submissions`](super::submissions) decide the answers; what Slack must hear after
//! the answer comes back as jobs, enqueued here through the job service.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::json;
use tokio::time::Instant;

use super::inbound::SlackInbound;
use super::interactions::{self, Envelope, Interaction};
use super::submissions::view_submission;
use super::verify::{self, SignatureError};
use crate::jobs::NewJob;
use crate::services::JobService;

/// Interactivity payloads carry whole messages and views; a few hundred KiB at most.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// What a click may spend, from its arrival to the messages it asks for being queued:
/// Slack wants the whole answer within 3 s, and a database that is away may take much
/// longer than that to fail.
const CLICK_DEADLINE: Duration = Duration::from_millis(1800);

/// What Slack's two URLs use.
#[derive(Clone)]
pub struct SlackState {
    pub inbound: SlackInbound,
    pub jobs: JobService,
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    SlackState: FromRef<S>,
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

/// Slack testing the certificate of a slash command URL, unsigned (Bolt answers it
/// before verifying). Asked only of a request without signature headers, which is
/// refused unless it is exactly that; a signed one is answered after verifying.
fn is_ssl_check(headers: &HeaderMap, body: &[u8]) -> bool {
    !is_json(headers)
        && serde_urlencoded::from_bytes::<HashMap<String, String>>(body)
            .is_ok_and(|form| form.get("ssl_check").is_some_and(|v| v == "1"))
}

async fn receive(State(slack): State<SlackState>, headers: HeaderMap, body: Bytes) -> Response {
    let deadline = Instant::now() + CLICK_DEADLINE;
    let json = is_json(&headers);
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (timestamp, signature) = (
        header_text("x-slack-request-timestamp"),
        header_text("x-slack-signature"),
    );
    if timestamp.is_none() && signature.is_none() && is_ssl_check(&headers, &body) {
        return StatusCode::OK.into_response();
    }
    // Reading the secret is the one database read before the signature is checked; it
    // does not depend on the request.
    let secret = match slack.inbound.signing_secret().await {
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
    if let Err(error) = verify::verify(
        secret.expose().as_bytes(),
        timestamp,
        signature,
        &body,
        Utc::now().timestamp(),
    ) {
        if error != SignatureError::Missing {
            tracing::warn!(%error, "refused a Slack request");
        }
        return unauthorized();
    }
    // Both are there: the signature verified.
    let (timestamp, signature) = (timestamp.unwrap_or_default(), signature.unwrap_or_default());
    if !slack.inbound.replay.first_time(timestamp, signature).await {
        tracing::warn!("refused a Slack request sent a second time");
        return unauthorized();
    }

    // Only a signed request learns what was wrong with its body.
    let form: HashMap<String, String> = if json {
        HashMap::new()
    } else {
        match serde_urlencoded::from_bytes(&body) {
            Ok(form) => form,
            Err(error) => return bad_request(format!("the body is not form-encoded: {error}")),
        }
    };
    if json {
        return match serde_json::from_slice::<Envelope>(&body) {
            Ok(envelope) => {
                let (response, job) = interactions::event(&slack.inbound, envelope).await;
                if let Err(error) = slack.jobs.enqueue(job.into_iter().collect()).await {
                    tracing::warn!(%error, "cannot enqueue the App Home update");
                    // Slack retries an event it got no 2xx for; let the retry in.
                    slack.inbound.replay.forget(timestamp, signature).await;
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                response
            }
            Err(error) => bad_request(format!("unreadable event: {error}")),
        };
    }
    if let Some(payload) = form.get("payload") {
        return match serde_json::from_str::<Interaction>(payload) {
            Ok(Interaction::BlockActions(click)) => {
                let messages = interactions::block_actions(&slack.inbound, click, deadline).await;
                enqueue_messages(&slack.jobs, messages, deadline).await;
                StatusCode::OK.into_response()
            }
            Ok(Interaction::ViewSubmission(submission)) => {
                view_submission(&slack.inbound, submission).await
            }
            Ok(Interaction::Other) => StatusCode::OK.into_response(),
            Err(error) => bad_request(format!("unreadable interaction payload: {error}")),
        };
    }
    if form.get("ssl_check").is_some_and(|v| v == "1") {
        return StatusCode::OK.into_response();
    }
    if form.contains_key("command") {
        return interactions::command(&slack.inbound, &form).await;
    }
    bad_request("neither an event, an interaction nor a command")
}

/// Enqueues the messages a click asks for, within what is left of its deadline. A click
/// is answered 200 whatever happens, so a message that cannot be queued is only logged.
async fn enqueue_messages(jobs: &JobService, messages: Vec<NewJob>, deadline: Instant) {
    match tokio::time::timeout_at(deadline, jobs.enqueue(messages)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "cannot enqueue a Slack message"),
        Err(_) => tracing::warn!("enqueueing a Slack message timed out"),
    }
}
