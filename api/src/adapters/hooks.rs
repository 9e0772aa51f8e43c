//! What every alert-source webhook shares: the secret in the URL, compared in constant
//! time, and the answer to handing the parsed events to the
//! [`AlertIntake`](crate::services::AlertIntake): 200 with the incident, or 202 when
//! they wait in the spool.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::Origin;
use crate::http::ApiError;
use crate::services::{AlertEvent, AlertIntake, SettingsService, Submitted};

/// Real payloads are a few KiB; a whole Alertmanager group stays well under this.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// What an alert-source webhook may use.
#[derive(Clone)]
pub struct HookState {
    pub intake: AlertIntake,
    pub settings: SettingsService,
}

/// 403 with no detail unless `secret` is the one in force for `source`.
pub async fn authenticate(hooks: &HookState, source: Origin, secret: &str) -> Result<(), ApiError> {
    let expected = hooks.settings.alert_source_secret(source).await?;
    if expected.matches(secret) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// Submits `events` and answers with the incident the last one concerned, or 202 when
/// they were queued.
pub async fn submit(hooks: &HookState, events: Vec<AlertEvent>) -> Result<Response, ApiError> {
    Ok(match hooks.intake.submit(events).await? {
        Submitted::Applied { incident } => {
            Json(json!({ "result": "ok", "incident": incident })).into_response()
        }
        Submitted::Queued => {
            (StatusCode::ACCEPTED, Json(json!({ "result": "queued" }))).into_response()
        }
    })
}
