//! `/logo`: the uploaded site logo, from the public snapshot (no database access).
//! The page links it as `/logo?v={hash}`, so a versioned request may be cached for good.

use axum::Router;
use axum::extract::{FromRef, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::ApiError;
use super::public::PublicState;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    PublicState: FromRef<S>,
{
    Router::new().route("/logo", get(logo))
}

#[derive(Deserialize)]
struct Version {
    v: Option<String>,
}

async fn logo(State(state): State<PublicState>, Query(version): Query<Version>) -> Response {
    let Some(snapshot) = state.snapshot.get() else {
        return ApiError::unavailable().into_response();
    };
    let Some(logo) = snapshot.view.site.logo.clone() else {
        return (StatusCode::NOT_FOUND, "no logo has been uploaded").into_response();
    };
    let cache = if version.v.as_deref() == Some(logo.version.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=60"
    };
    let content_type = HeaderValue::from_str(&logo.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            // An SVG opened on its own must not run scripts in our origin.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
            ),
        ],
        axum::body::Bytes::from_owner(logo.data),
    )
        .into_response()
}
