//! The public pages of the web frontend: every page URL of SPEC §3 answers the
//! snapshot's pre-rendered `index.html` (state inlined, no database), the frontend's
//! hashed assets are cached for ever, and anything else is a real 404 — with the same
//! page, which shows its "not found" view.
//!
//! Only `/{date}/{id}` may read the database: an incident that is not in the snapshot
//! (older than its lists) is looked up to tell a wrong date from a right one.

use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;

use super::public::{PublicState, respond};
use crate::domain::IncidentId;

/// Pages change with every snapshot; a CDN may hold them as briefly as the JSON.
const PAGE_CACHE: &str = super::public::SNAPSHOT_CACHE;
const ASSET_CACHE: &str = "public, max-age=31536000, immutable";
/// The page talks only to its own origin; Markdown HTML is sanitised on the server
/// as well.
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    PublicState: FromRef<S>,
{
    Router::new()
        .route("/", get(status_page))
        .route("/history", get(status_page))
        .route("/subscribe", get(subscribe_page))
        .route("/{date}", get(day_page))
        .route("/{date}/{id}", get(incident_page))
        .route("/assets/{*file}", get(asset))
        .route("/admin", get(console_page))
        .route("/admin/", get(console_page))
        .route("/admin/{*path}", get(console_page))
}

/// The console never caches: a stale page after an upgrade would talk to a changed
/// API, and it holds nothing worth a round trip saved.
const CONSOLE_CACHE: &str = "no-store";
/// Like the public page, plus `blob:` images for the logo preview before upload.
const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Every console URL answers the console's page; its own router picks the view.
async fn console_page(State(state): State<PublicState>, headers: HeaderMap) -> Response {
    let web = state.snapshot.web();
    let Some(rendered) = web.admin.as_ref() else {
        return (
            StatusCode::NOT_FOUND,
            "MONOSTAT_WEB_DIR names a build without the admin console: run `npm --prefix web ci && npm --prefix web run build` and restart.\n",
        )
            .into_response();
    };
    let response = respond(rendered, &headers, StatusCode::OK, CONSOLE_CACHE);
    with_document_headers(response, CONSOLE_CSP, "no-referrer")
}

/// GraphiQL, for a browser opening `/graphql` (`graphql.rs` decides when): our own
/// build of it, under the console's policy and headers. It talks only to `/graphql` on
/// this origin; the headers a user types in (a console token) must not leak as a
/// referrer, nor the page be cached, exactly as for the console.
pub(super) fn graphiql_page(
    snapshot: &crate::public::PublicSnapshot,
    headers: &HeaderMap,
) -> Response {
    let web = snapshot.web();
    let Some(rendered) = web.graphiql.as_ref() else {
        return (
            StatusCode::NOT_FOUND,
            "MONOSTAT_WEB_DIR names a build without GraphiQL: run `npm --prefix web ci && npm --prefix web run build` and restart. The API itself answers POST /graphql.\n",
        )
            .into_response();
    };
    let response = respond(rendered, headers, StatusCode::OK, CONSOLE_CACHE);
    with_document_headers(response, CONSOLE_CSP, "no-referrer")
}

/// Everything no route claims: the page's "not found" view, with a 404.
pub async fn not_found(State(state): State<PublicState>, headers: HeaderMap) -> Response {
    page(&state, &headers, StatusCode::NOT_FOUND)
}

async fn status_page(State(state): State<PublicState>, headers: HeaderMap) -> Response {
    page(&state, &headers, StatusCode::OK)
}

/// The form exists only while the site takes subscriptions.
async fn subscribe_page(State(state): State<PublicState>, headers: HeaderMap) -> Response {
    let open = state
        .snapshot
        .get()
        .is_none_or(|snapshot| snapshot.view.site.subscriptions_open);
    page(
        &state,
        &headers,
        if open {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        },
    )
}

async fn day_page(
    State(state): State<PublicState>,
    Path(date): Path<String>,
    headers: HeaderMap,
) -> Response {
    let status = if parse_date(&date).is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    page(&state, &headers, status)
}

async fn incident_page(
    State(state): State<PublicState>,
    Path((date, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (Some(date), Ok(id)) = (parse_date(&date), id.parse::<i64>()) else {
        return page(&state, &headers, StatusCode::NOT_FOUND);
    };
    let id = IncidentId(id);
    let start = match state.snapshot.incident(id).await {
        Ok(found) => found.map(|public| public.incident.start.date_naive()),
        // Cannot tell while the database is away: let the page decide.
        Err(_) => Some(date),
    };
    let status = if start == Some(date) {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    page(&state, &headers, status)
}

/// `YYYY-MM-DD` exactly; `2026-1-5` or `2026-02-30` are not dates of this site.
fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn page(state: &PublicState, headers: &HeaderMap, status: StatusCode) -> Response {
    let snapshot = state.snapshot.get();
    let rendered = snapshot
        .as_ref()
        .and_then(|snapshot| snapshot.rendered.get("/"))
        .unwrap_or_else(|| state.snapshot.bare_page());
    let response = respond(rendered, headers, status, PAGE_CACHE);
    with_document_headers(response, PAGE_CSP, "strict-origin-when-cross-origin")
}

/// The headers every HTML document of ours carries: its content policy, no type
/// sniffing, and how much of its URL travels on as the referrer.
fn with_document_headers(
    mut response: Response,
    csp: &'static str,
    referrer_policy: &'static str,
) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static(referrer_policy),
    );
    response
}

async fn asset(
    State(state): State<PublicState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    match state.snapshot.web().assets.get(&format!("/assets/{file}")) {
        Some(rendered) => respond(rendered, &headers, StatusCode::OK, ASSET_CACHE),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

/// The uploaded logo, from the snapshot. An SVG must not run scripts when opened on
/// its own, hence the strict policy.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_dates_are_dates() {
        assert!(parse_date("2026-11-28").is_some());
        assert!(parse_date("2026-1-5").is_none());
        assert!(parse_date("2026-02-30").is_none());
        assert!(parse_date("favicon.ico").is_none());
    }
}
