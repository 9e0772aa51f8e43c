//! Public surfaces served straight from the in-memory snapshot: the Statuspage v2 JSON
//! the feeds and the badge. No database access, ETag revalidation, pre-compressed gzip
//! and brotli.
//! Also the embeddable widget script.

use axum::Router;
use axum::extract::{FromRef, OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::ApiError;
use crate::public::{PublicSnapshot, Rendered};

/// For a CDN in front: fresh for a few seconds, then served stale while it revalidates,
/// and for a day if this server cannot answer — the status page must outlive it.
pub(super) const SNAPSHOT_CACHE: &str =
    "public, max-age=5, stale-while-revalidate=30, stale-if-error=86400";

/// What the public pages and surfaces read: the snapshot, and the database only to
/// look up an incident older than the snapshot's lists.
#[derive(Clone)]
pub struct PublicState {
    pub snapshot: PublicSnapshot,
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    PublicState: FromRef<S>,
{
    let mut router = Router::new();
    for path in [
        "/api/v2/summary.json",
        "/api/v2/status.json",
        "/api/v2/components.json",
        "/api/v2/incidents.json",
        "/api/v2/incidents/unresolved.json",
        "/api/v2/scheduled-maintenances.json",
        "/api/v2/scheduled-maintenances/upcoming.json",
        "/api/v2/scheduled-maintenances/active.json",
        "/badge.svg",
        "/feed/rss",
        "/feed/atom",
    ] {
        router = router.route(path, get(serve));
    }
    router.route("/widget.js", get(widget))
}

/// The embeddable banner script; it changes only with a new release.
async fn widget() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        include_str!("../public/widget.js"),
    )
        .into_response()
}

async fn serve(
    State(state): State<PublicState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let Some(snapshot) = state.snapshot.get() else {
        return ApiError::unavailable().into_response();
    };
    let Some(rendered) = snapshot.rendered.get(uri.path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = respond(rendered, &headers, StatusCode::OK, SNAPSHOT_CACHE);
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if snapshot.stale {
        response
            .headers_mut()
            .insert("x-monostat-stale", HeaderValue::from_static("true"));
    }
    response
}

/// A pre-rendered body with its ETag, revalidation (200 answers only) and gzip when the
/// client takes it.
pub(super) fn respond(
    rendered: &Rendered,
    headers: &HeaderMap,
    status: StatusCode,
    cache_control: &'static str,
) -> Response {
    let mut response_headers = HeaderMap::new();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(rendered.content_type),
    );
    response_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    response_headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(etag) = HeaderValue::from_str(&rendered.etag) {
        response_headers.insert(header::ETAG, etag);
    }
    let fresh = status == StatusCode::OK
        && headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == rendered.etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }
    let accepted = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accepts(accepted, "br") {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        return (status, response_headers, rendered.brotli().clone()).into_response();
    }
    if accepts(accepted, "gzip") {
        response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (status, response_headers, rendered.gzip().clone()).into_response();
    }
    (status, response_headers, rendered.body.clone()).into_response()
}

/// Whether an `Accept-Encoding` value takes `coding` (present and not `q=0`).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    accept_encoding.split(',').any(|entry| {
        let mut parts = entry.split(';').map(str::trim);
        parts
            .next()
            .is_some_and(|name| name.eq_ignore_ascii_case(coding))
            && !parts.any(|param| {
                param
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip;q=1.0, br;q=0.5", "br"));
        assert!(!accepts("gzip, br;q=0", "br"));
        assert!(!accepts("gzip", "br"));
        assert!(!accepts("", "gzip"));
        assert!(!accepts("x-gzip2", "gzip"));
    }
}
