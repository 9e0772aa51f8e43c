//! The one place where service errors become HTTP statuses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::services::{IncidentError, SettingsError, SubscriberError};

/// An error answer: a status and a sentence a person can act on, as JSON.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// Details would only help someone guessing secrets.
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden")
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is unreachable; try again shortly",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, message = %self.message, "request failed");
        }
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

impl From<IncidentError> for ApiError {
    fn from(error: IncidentError) -> Self {
        let status = match &error {
            IncidentError::NotFound(_) | IncidentError::EntryNotFound(_) => StatusCode::NOT_FOUND,
            IncidentError::Transition(_) => StatusCode::CONFLICT,
            IncidentError::Invalid { .. } | IncidentError::NothingToUpdate => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            IncidentError::Database(_) if error.is_unavailable() => return Self::unavailable(),
            IncidentError::Database(_) => {
                tracing::error!(%error, "internal error");
                return Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
        };
        Self::new(status, error.to_string())
    }
}

impl From<SettingsError> for ApiError {
    fn from(error: SettingsError) -> Self {
        match &error {
            SettingsError::SetByEnvironment(_) | SettingsError::SlackSetByEnvironment { .. } => {
                Self::new(StatusCode::CONFLICT, error.to_string())
            }
            SettingsError::Invalid { .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
            }
            SettingsError::NotAnAlertSource(_) => {
                Self::new(StatusCode::NOT_FOUND, error.to_string())
            }
            SettingsError::Database(db) if crate::store::is_unreachable(db) => Self::unavailable(),
            SettingsError::Database(_) => {
                tracing::error!(%error, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

impl From<SubscriberError> for ApiError {
    fn from(error: SubscriberError) -> Self {
        let status = match &error {
            // Closed is a decision of the site, not a mistake in the request.
            SubscriberError::SubscriptionsClosed => StatusCode::FORBIDDEN,
            SubscriberError::InvalidEmail(_) => StatusCode::UNPROCESSABLE_ENTITY,
            SubscriberError::AlreadySubscribed(_) => StatusCode::CONFLICT,
            SubscriberError::NotFound(_) => StatusCode::NOT_FOUND,
            SubscriberError::Database(_) if error.is_unavailable() => return Self::unavailable(),
            SubscriberError::Database(_) => {
                tracing::error!(%error, "internal error");
                return Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
        };
        Self::new(status, error.to_string())
    }
}
