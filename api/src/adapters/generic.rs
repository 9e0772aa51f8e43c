//! A plain JSON webhook for monitoring tools monostat has no adapter for (a cron job, an
//! uptime checker, a script): `POST /integrations/generic/hook/{secret}` with
//!
//! ```json
//! {"id": "checkout-probe", "status": "firing", "message": "Checkout fails", "description": "…"}
//! ```
//!
//! `id` names the alert (the same id again refreshes it), `status` is `firing` (opens it,
//! the default) or `resolved` (closes it); `message` is required when firing,
//! `description` is optional. A list of such objects is taken too. The semantics are
//! OpsGenie's: the first firing alert opens a suspected incident, the last resolved one
//! of a suspected incident dismisses it.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, Path, State};
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;

use super::hooks::{self, HookState};
use crate::domain::Origin;
use crate::http::ApiError;
use crate::services::{AlertEvent, AlertReport};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    HookState: FromRef<S>,
{
    Router::new()
        .route("/integrations/generic/hook/{secret}", post(hook))
        .layer(DefaultBodyLimit::max(hooks::MAX_BODY_BYTES))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenericAlert {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Body {
    One(GenericAlert),
    Many(Vec<GenericAlert>),
}

pub fn parse(body: &[u8]) -> Result<Vec<AlertEvent>, String> {
    let alerts = match serde_json::from_slice(body) {
        Ok(Body::One(alert)) => vec![alert],
        Ok(Body::Many(alerts)) => alerts,
        Err(_) => {
            return Err(
                "send {\"id\": \"…\", \"status\": \"firing\" or \"resolved\", \"message\": \"…\"} \
                 (description optional), or a list of those"
                    .into(),
            );
        }
    };
    alerts
        .into_iter()
        .map(|alert| {
            let source = Origin::Generic;
            let external_id = alert.id.trim().to_owned();
            if external_id.is_empty() {
                return Err("\"id\" is empty; name the alert".to_owned());
            }
            match alert.status.as_deref().unwrap_or("firing") {
                "firing" => {
                    let message = alert
                        .message
                        .map(|m| m.trim().to_owned())
                        .filter(|m| !m.is_empty())
                        .ok_or_else(|| {
                            format!("alert {external_id} is firing without a \"message\"")
                        })?;
                    Ok(AlertEvent::Opened(AlertReport {
                        source,
                        external_id,
                        message,
                        description: alert.description.filter(|d| !d.trim().is_empty()),
                    }))
                }
                "resolved" => Ok(AlertEvent::Closed {
                    source,
                    external_id,
                }),
                other => Err(format!(
                    "alert {external_id} has status \"{other}\"; use \"firing\" or \"resolved\""
                )),
            }
        })
        .collect()
}

async fn hook(
    State(hooks): State<HookState>,
    Path(secret): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    hooks::authenticate(&hooks, Origin::Generic, &secret).await?;
    let events = parse(&body).map_err(ApiError::bad_request)?;
    hooks::submit(&hooks, events).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_or_many_alerts_and_clear_refusals() {
        let one = parse(br#"{"id":"probe","message":"Checkout fails"}"#).unwrap();
        assert!(
            matches!(&one[..], [AlertEvent::Opened(r)] if r.external_id == "probe" && r.message == "Checkout fails")
        );
        let many = parse(br#"[{"id":"a","status":"resolved"},{"id":"b","status":"firing","message":"m","description":"d"}]"#).unwrap();
        assert!(matches!(
            &many[..],
            [AlertEvent::Closed { .. }, AlertEvent::Opened(_)]
        ));
        assert_eq!(
            parse(br#"{"id":"a"}"#).unwrap_err(),
            "alert a is firing without a \"message\""
        );
        assert_eq!(
            parse(br#"{"id":" "}"#).unwrap_err(),
            "\"id\" is empty; name the alert"
        );
        assert!(
            parse(br#"{"id":"a","status":"open","message":"m"}"#)
                .unwrap_err()
                .contains("\"firing\" or \"resolved\"")
        );
        assert!(
            parse(br#"{"id":"a","mesage":"typo"}"#)
                .unwrap_err()
                .starts_with("send {")
        );
        assert!(parse(b"nonsense").is_err());
    }
}
