//! PagerDuty v3 webhooks — protocols.md §4.3.
//!
//! `POST /integrations/pagerduty/hook/{secret}`, one event per request. A triggered or
//! reopened PagerDuty incident opens an alert (its id is the alert's), a resolved one
//! closes it, acknowledgements and notes go to the team's Slack thread. Other event
//! types are answered 200 and ignored. PagerDuty retries for up to 48 hours and
//! delivers at least once; alert events are idempotent, so a repeat changes nothing.
//!
//! The secret in the URL authenticates the sender, like every alert source here. When
//! PagerDuty's own signing secret is configured (`MONOSTAT_PAGERDUTY_SIGNING_SECRET`),
//! `X-PagerDuty-Signature` must match as well (any of the comma-separated `v1=`
//! values, which PagerDuty sends several of while a secret is being rotated).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::hooks::{self, HookState};
use crate::domain::Origin;
use crate::http::ApiError;
use crate::services::{AlertActivity, AlertEvent, AlertReport};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    HookState: FromRef<S>,
{
    Router::new()
        .route("/integrations/pagerduty/hook/{secret}", post(hook))
        .layer(DefaultBodyLimit::max(hooks::MAX_BODY_BYTES))
}

/// Whether `header` (`v1=<hex>[,v1=<hex>…]`) carries a valid HMAC-SHA256 of `body`.
pub fn signature_matches(secret: &str, body: &[u8], header: &str) -> bool {
    header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .any(|hex_value| {
            let Ok(expected) = hex::decode(hex_value) else {
                return false;
            };
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
                return false;
            };
            mac.update(body);
            // Constant time.
            mac.verify_slice(&expected).is_ok()
        })
}

/// What an event asks of us; `None` for event types monostat has no use for.
pub fn parse(body: &[u8]) -> Result<Option<AlertEvent>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| format!("the body is not JSON: {error}"))?;
    let event = value
        .get("event")
        .ok_or("the body has no \"event\" object")?;
    let event_type = event
        .get("event_type")
        .and_then(Value::as_str)
        .ok_or("the body has no \"event.event_type\"")?;
    let data = event.get("data").ok_or("the body has no \"event.data\"")?;
    let text = |value: &Value, pointer: &str| {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    // Notes carry the incident as a reference; incident events are the incident.
    let incident_id = if event_type == "incident.annotated" {
        text(data, "/incident/id")
    } else {
        text(data, "/id")
    }
    .ok_or("the event names no PagerDuty incident id")?;
    let source = Origin::Pagerduty;
    let by = || text(event, "/agent/summary").unwrap_or_else(|| "PagerDuty".to_owned());
    Ok(match event_type {
        "incident.triggered" | "incident.reopened" => Some(AlertEvent::Opened(AlertReport {
            source,
            external_id: incident_id,
            message: text(data, "/title").unwrap_or_else(|| "PagerDuty incident".to_owned()),
            description: text(data, "/service/summary")
                .map(|service| format!("Service: {service}")),
        })),
        "incident.resolved" => Some(AlertEvent::Closed {
            source,
            external_id: incident_id,
        }),
        "incident.acknowledged" => Some(AlertEvent::Activity {
            source,
            external_id: incident_id,
            activity: AlertActivity::Acknowledged { by: by() },
        }),
        "incident.annotated" => text(data, "/content").map(|note| AlertEvent::Activity {
            source,
            external_id: incident_id,
            activity: AlertActivity::Note {
                by: by(),
                text: note,
            },
        }),
        _ => None,
    })
}

async fn hook(
    State(hooks): State<HookState>,
    Path(secret): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    hooks::authenticate(&hooks, Origin::Pagerduty, &secret).await?;
    if let Some(signing_secret) = &hooks.settings.pagerduty_signing_secret() {
        let signature = headers
            .get("x-pagerduty-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !signature_matches(signing_secret.expose(), &body, signature) {
            return Err(ApiError::forbidden());
        }
    }
    match parse(&body).map_err(ApiError::bad_request)? {
        Some(event) => hooks::submit(&hooks, vec![event]).await,
        None => Ok(Json(json!({ "result": "ignored" })).into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/pagerduty/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn signatures_from_the_fixtures_verify_also_during_rotation() {
        let secret = "pd-fake-webhook-secret-0123456789abcdefABCDEF0123456789";
        let body = fixture("incident.triggered.json");
        assert!(signature_matches(
            secret,
            &body,
            "v1=f67b7a564d3b9da21ea1f3062604c42bdd3ed51bbfb7db45ca50f17cd08d469b"
        ));
        assert!(signature_matches(
            secret,
            &body,
            "v1=dc6028408753f06397fb43bb6129384c04356628aab7e2111fb1362f6f263465,v1=f67b7a564d3b9da21ea1f3062604c42bdd3ed51bbfb7db45ca50f17cd08d469b"
        ));
        assert!(!signature_matches(secret, &body, "v1=00"));
        assert!(!signature_matches(
            secret,
            b"{}",
            "v1=f67b7a564d3b9da21ea1f3062604c42bdd3ed51bbfb7db45ca50f17cd08d469b"
        ));
        assert!(!signature_matches(secret, &body, ""));
    }

    #[test]
    fn every_fixture_maps_to_what_the_spec_asks() {
        let Some(AlertEvent::Opened(report)) = parse(&fixture("incident.triggered.json")).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (report.external_id.as_str(), report.message.as_str()),
            ("Q1ABCDEF2GHIJK", "app.example.com health check failing")
        );
        assert!(matches!(
            parse(&fixture("incident.acknowledged.json")).unwrap(),
            Some(AlertEvent::Activity { activity: AlertActivity::Acknowledged { by }, .. }) if by == "Jane Doe"
        ));
        assert!(matches!(
            parse(&fixture("incident.annotated.json")).unwrap(),
            Some(AlertEvent::Activity { activity: AlertActivity::Note { text, .. }, external_id, .. })
                if text == "Rolling back deploy 2023-11-14.3" && external_id == "Q1ABCDEF2GHIJK"
        ));
        assert!(matches!(
            parse(&fixture("incident.resolved.json")).unwrap(),
            Some(AlertEvent::Closed { .. })
        ));
        assert_eq!(
            parse(br#"{"event":{"event_type":"service.updated","data":{"id":"S1"}}}"#).unwrap(),
            None
        );
        assert!(parse(b"{}").unwrap_err().contains("\"event\""));
    }
}
