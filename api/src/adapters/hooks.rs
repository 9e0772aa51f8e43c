//! What every alert-source webhook shares: the secret in the URL, compared in constant
//! time, and applying the alert events in order — or, while the database is away,
//! writing them to the fsync'ed spool and answering 202, so nothing acknowledged is lost.

use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::Origin;
use crate::http::{ApiError, AppState};
use crate::services::AlertEvent;

/// Past this, the database counts as away for this request and the alert is spooled.
const APPLY_TIMEOUT: Duration = Duration::from_secs(3);

/// Real payloads are a few KiB; a whole Alertmanager group stays well under this.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// 403 with no detail unless `secret` is the one in force for `source`.
pub async fn authenticate(state: &AppState, source: Origin, secret: &str) -> Result<(), ApiError> {
    let expected = state.services.settings.alert_source_secret(source).await?;
    if expected.matches(secret) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// Applies `events` in order and answers with the incident the last one concerned.
/// When the database is away (or a backlog is waiting, so order holds), the remaining
/// events go to the spool and the answer is 202.
pub async fn apply(state: &AppState, events: Vec<AlertEvent>) -> Result<Response, ApiError> {
    let mut incident = None;
    let mut pending = events.into_iter().peekable();
    while !state.spool.has_backlog() {
        let Some(event) = pending.peek() else {
            return Ok(Json(json!({ "result": "ok", "incident": incident })).into_response());
        };
        match tokio::time::timeout(
            APPLY_TIMEOUT,
            state.services.incidents.apply_alert_event(event),
        )
        .await
        {
            Ok(Ok(applied)) => {
                incident = applied.or(incident);
                pending.next();
            }
            Ok(Err(error)) if !error.is_unavailable() => return Err(error.into()),
            Ok(Err(error)) => {
                tracing::warn!(%error, "database unreachable; spooling the alert");
                break;
            }
            Err(_) => {
                tracing::warn!("database too slow; spooling the alert");
                break;
            }
        }
    }
    for event in pending {
        state.spool.append(&event).await.map_err(|error| {
            tracing::error!(%error, "cannot write the alert spool");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot store the alert; try again",
            )
        })?;
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "result": "queued" }))).into_response())
}
