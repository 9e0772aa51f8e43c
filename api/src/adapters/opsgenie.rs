//! OpsGenie (and Jira Service Management) outgoing webhooks — protocols.md §1.
//!
//! `POST /integrations/opsgenie/hook/{secret}`. OpsGenie does not sign its webhooks and
//! does not retry them, so the secret lives in the URL, is compared in constant time,
//! and an alert that cannot be applied because the database is away is spooled to disk
//! and answered 202 rather than lost.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

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
        .route("/integrations/opsgenie/hook/{secret}", post(hook))
        .layer(DefaultBodyLimit::max(hooks::MAX_BODY_BYTES))
}

/// What a webhook body asks of us.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Apply(AlertEvent),
    /// An action monostat has no use for (priority, tags, escalation, custom actions…).
    Ignore {
        action: String,
    },
}

/// Reads a webhook body. Only `action` and `alert.alertId` are required; every other
/// field is optional and may come as a number or a numeric string.
pub fn parse(body: &[u8]) -> Result<Request, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|error| format!("the body is not JSON: {error}"))?;
    let action = value
        .get("action")
        .and_then(Value::as_str)
        .filter(|action| !action.is_empty())
        .ok_or("the body has no \"action\" string")?;
    let alert = value
        .get("alert")
        .filter(|alert| alert.is_object())
        .ok_or("the body has no \"alert\" object")?;
    let external_id = match alert.get("alertId") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_owned(),
        Some(Value::Number(id)) => id.to_string(),
        _ => return Err("the body has no \"alert.alertId\"".into()),
    };
    let text = |field: &str| {
        alert
            .get(field)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    // Who did it: the user for actions in the web UI, else the integration or tool.
    let actor = || {
        text("username")
            .or_else(|| {
                value
                    .pointer("/source/name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "OpsGenie".to_owned())
    };
    let source = Origin::Opsgenie;
    let event = match action {
        "Create" | "UpdateMessage" => AlertEvent::Opened(AlertReport {
            source,
            external_id,
            message: text("message").unwrap_or_default(),
            description: text("description"),
        }),
        // Deleting an alert in OpsGenie ends it just as closing does.
        "Close" | "Delete" => AlertEvent::Closed {
            source,
            external_id,
        },
        "UpdateDescription" => match text("description") {
            Some(description) => AlertEvent::DescriptionUpdated {
                source,
                external_id,
                description,
            },
            None => {
                return Ok(Request::Ignore {
                    action: action.to_owned(),
                });
            }
        },
        "Acknowledge" => AlertEvent::Activity {
            source,
            external_id,
            activity: AlertActivity::Acknowledged { by: actor() },
        },
        "AddNote" => match text("note") {
            Some(note) => AlertEvent::Activity {
                source,
                external_id,
                activity: AlertActivity::Note {
                    by: actor(),
                    text: note,
                },
            },
            None => {
                return Ok(Request::Ignore {
                    action: action.to_owned(),
                });
            }
        },
        other => {
            return Ok(Request::Ignore {
                action: other.to_owned(),
            });
        }
    };
    Ok(Request::Apply(event))
}

async fn hook(
    State(hooks): State<HookState>,
    Path(secret): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    hooks::authenticate(&hooks, Origin::Opsgenie, &secret).await?;
    match parse(&body).map_err(ApiError::bad_request)? {
        Request::Apply(event) => hooks::submit(&hooks, vec![event]).await,
        Request::Ignore { action } => {
            tracing::info!(%action, "ignoring an OpsGenie action monostat does not use");
            Ok(Json(json!({ "result": "ignored", "action": action })).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/opsgenie/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    const ALERT_ID: &str = "5b1d3d7e-8c2a-4f6e-9a51-2f1e0c9d4b77-1700000000000";

    #[test]
    fn create_in_both_shapes_opens_the_same_alert() {
        let modern = parse(&fixture("create.json")).unwrap();
        let legacy = parse(&fixture("create-legacy-string-numbers.json")).unwrap();
        let Request::Apply(AlertEvent::Opened(modern)) = modern else {
            panic!("{modern:?}")
        };
        let Request::Apply(AlertEvent::Opened(legacy)) = legacy else {
            panic!("{legacy:?}")
        };
        assert_eq!(modern.external_id, ALERT_ID);
        assert_eq!(legacy.external_id, ALERT_ID);
        assert_eq!(modern.message, legacy.message);
        assert!(modern.description.unwrap().starts_with("Uptime check"));
    }

    #[test]
    fn every_fixture_maps_to_what_the_spec_asks() {
        let expectations = [
            ("update-message.json", "opened"),
            ("close.json", "closed"),
            ("close-by-api.json", "closed"),
            ("delete.json", "closed"),
            ("update-description.json", "description"),
            ("acknowledge.json", "activity"),
            ("add-note.json", "activity"),
            ("unacknowledge.json", "ignored"),
            ("update-priority.json", "ignored"),
            ("add-tags.json", "ignored"),
            ("custom-action.json", "ignored"),
            ("escalate-minimal-alert.json", "ignored"),
            ("create-second-alert-no-description.json", "opened"),
        ];
        for (name, expected) in expectations {
            let kind = match parse(&fixture(name)).unwrap() {
                Request::Apply(AlertEvent::Opened(_)) => "opened",
                Request::Apply(AlertEvent::Closed { .. }) => "closed",
                Request::Apply(AlertEvent::DescriptionUpdated { .. }) => "description",
                Request::Apply(AlertEvent::Activity { .. }) => "activity",
                Request::Ignore { .. } => "ignored",
            };
            assert_eq!(kind, expected, "{name}");
        }
        let Request::Apply(AlertEvent::Activity { activity, .. }) =
            parse(&fixture("add-note.json")).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            activity,
            AlertActivity::Note {
                by: "jane.doe@example.com".into(),
                text:
                    "Load balancer health checks failing after deploy 2023-11-14.3, rolling back."
                        .into()
            }
        );
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        assert_eq!(
            parse(&fixture("invalid-missing-alert-id.json")).unwrap_err(),
            "the body has no \"alert.alertId\""
        );
        assert!(
            parse(&fixture("invalid-not-json.txt"))
                .unwrap_err()
                .starts_with("the body is not JSON")
        );
        assert_eq!(
            parse(br#"{"alert":{"alertId":"x"}}"#).unwrap_err(),
            "the body has no \"action\" string"
        );
        assert_eq!(
            parse(br#"{"action":"Create"}"#).unwrap_err(),
            "the body has no \"alert\" object"
        );
        assert_eq!(
            parse(br#"{"action":"Create","alert":{"alertId":"  "}}"#).unwrap_err(),
            "the body has no \"alert.alertId\""
        );
    }
}
