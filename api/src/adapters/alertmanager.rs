//! Prometheus Alertmanager and Grafana alerting webhooks — protocols.md §4.1 and §4.2.
//!
//! `POST /integrations/alertmanager/hook/{secret}` and `/integrations/grafana/hook/{secret}`.
//! Both send a whole alert group per notification (Grafana adds fields to Alertmanager's
//! shape), firing and recently resolved alerts together, again every repeat interval.
//! Each alert is identified by its `fingerprint`; a firing one opens (or refreshes) it,
//! a resolved one closes it — the same semantics as OpsGenie, and idempotent, so
//! repeats change nothing. Neither signs its body by default, so the secret lives in the
//! URL like OpsGenie's.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, Path, State};
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use sha2::{Digest, Sha256};

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
        .route(
            "/integrations/alertmanager/hook/{secret}",
            post(alertmanager),
        )
        .route("/integrations/grafana/hook/{secret}", post(grafana))
        .layer(DefaultBodyLimit::max(hooks::MAX_BODY_BYTES))
}

#[derive(Deserialize)]
struct Group {
    alerts: Vec<Alert>,
}

#[derive(Deserialize)]
struct Alert {
    status: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

impl Alert {
    /// The fingerprint, or for senders too old to send one, a hash of the labels (which
    /// is what Alertmanager's fingerprint is derived from).
    fn external_id(&self) -> String {
        match self.fingerprint.as_deref().map(str::trim) {
            Some(fingerprint) if !fingerprint.is_empty() => fingerprint.to_owned(),
            _ => {
                let mut hash = Sha256::new();
                for (name, value) in &self.labels {
                    hash.update(name.as_bytes());
                    hash.update([0]);
                    hash.update(value.as_bytes());
                    hash.update([0]);
                }
                hex::encode(&hash.finalize()[..8])
            }
        }
    }

    /// What the team reads first: the summary annotation, else the alert's name and
    /// where it fired.
    fn message(&self) -> String {
        let annotation = |name: &str| {
            self.annotations
                .get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        if let Some(summary) = annotation("summary").or_else(|| annotation("title")) {
            return summary.to_owned();
        }
        let name = self.labels.get("alertname").map_or("Alert", String::as_str);
        match self.labels.get("instance") {
            Some(instance) => format!("{name} on {instance}"),
            None => name.to_owned(),
        }
    }
}

/// Reads a group notification into alert events, firing and resolved alike, in the
/// order they came.
pub fn parse(source: Origin, body: &[u8]) -> Result<Vec<AlertEvent>, String> {
    let group: Group = serde_json::from_slice(body).map_err(|error| {
        format!("the body is not an alert group (JSON with an \"alerts\" list): {error}")
    })?;
    group
        .alerts
        .into_iter()
        .map(|alert| {
            let external_id = alert.external_id();
            match alert.status.as_str() {
                "firing" => Ok(AlertEvent::Opened(AlertReport {
                    source,
                    message: alert.message(),
                    description: alert
                        .annotations
                        .get("description")
                        .map(|d| d.trim().to_owned())
                        .filter(|d| !d.is_empty()),
                    external_id,
                })),
                "resolved" => Ok(AlertEvent::Closed {
                    source,
                    external_id,
                }),
                other => Err(format!(
                    "alert {external_id} has status \"{other}\"; expected \"firing\" or \"resolved\""
                )),
            }
        })
        .collect()
}

async fn alertmanager(
    State(hooks): State<HookState>,
    Path(secret): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    receive(&hooks, Origin::Alertmanager, &secret, &body).await
}

async fn grafana(
    State(hooks): State<HookState>,
    Path(secret): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    receive(&hooks, Origin::Grafana, &secret, &body).await
}

async fn receive(
    hooks: &HookState,
    source: Origin,
    secret: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    hooks::authenticate(hooks, source, secret).await?;
    let events = parse(source, body).map_err(ApiError::bad_request)?;
    hooks::submit(hooks, events).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn a_group_becomes_one_event_per_alert() {
        let events = parse(
            Origin::Alertmanager,
            &fixture("alertmanager/firing-one-resolved.json"),
        )
        .unwrap();
        assert_eq!(
            events,
            vec![
                AlertEvent::Opened(AlertReport {
                    source: Origin::Alertmanager,
                    external_id: "c2e4e9a3b1f07d56".into(),
                    message: "app.example.com health check failing".into(),
                    description: Some("Blackbox probe to https://app.example.com/healthz has failed for 2 minutes.".into()),
                }),
                AlertEvent::Closed { source: Origin::Alertmanager, external_id: "5f3a9c0d8e2b4a71".into() },
            ]
        );
        for name in [
            "alertmanager/firing.json",
            "alertmanager/resolved.json",
            "alertmanager/firing-v0.34.json",
            "grafana/firing.json",
            "grafana/resolved.json",
        ] {
            assert!(
                !parse(Origin::Grafana, &fixture(name)).unwrap().is_empty(),
                "{name}"
            );
        }
    }

    #[test]
    fn alerts_without_fingerprint_or_summary_still_have_an_identity_and_words() {
        let body = br#"{"alerts":[{"status":"firing","labels":{"alertname":"DiskFull","instance":"db1"}}]}"#;
        let events = parse(Origin::Alertmanager, body).unwrap();
        let [AlertEvent::Opened(report)] = &events[..] else {
            panic!("{events:?}")
        };
        let report = report.clone();
        assert_eq!(report.message, "DiskFull on db1");
        assert_eq!(report.external_id.len(), 16);
        let again = parse(Origin::Alertmanager, body).unwrap();
        assert_eq!(
            again[0],
            AlertEvent::Opened(report),
            "the same labels, the same alert"
        );
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        assert!(
            parse(Origin::Alertmanager, b"not json")
                .unwrap_err()
                .contains("\"alerts\" list")
        );
        assert!(parse(Origin::Alertmanager, br#"{"status":"firing"}"#).is_err());
        let weird = parse(
            Origin::Alertmanager,
            br#"{"alerts":[{"status":"pending","fingerprint":"ab"}]}"#,
        );
        assert_eq!(
            weird.unwrap_err(),
            "alert ab has status \"pending\"; expected \"firing\" or \"resolved\""
        );
    }
}
