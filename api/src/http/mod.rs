//! The HTTP edge: the health and metrics endpoints, request metrics, the public pages
//! and surfaces, `/graphql`, and [`ApiError`], the one mapping of service errors to
//! HTTP. Each area's `routes()` asks only for its own small state (`OpsState`,
//! `PublicState`, `GraphqlState`); `app.rs` puts the router together. Handlers
//! translate between HTTP and the service layer; they hold no business rules.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{FromRef, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::DatabaseConnection;
use serde_json::json;

pub use error::ApiError;
pub use server::serve;

use crate::jobs::Queue;
use crate::secret::Secret;

mod error;
pub mod graphql;
mod live_status;
pub mod logo;
mod memo;
pub mod public;
mod ready;
mod server;
pub mod socket;
pub mod web;

/// What the health and metrics endpoints read.
#[derive(Clone)]
pub struct OpsState {
    pub db: DatabaseConnection,
    pub queue: Queue,
    pub metrics: PrometheusHandle,
    /// Required as a bearer token on `/metrics` when set.
    pub metrics_token: Option<Secret>,
}

/// How often recorded histogram samples are folded into their summaries.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process-wide Prometheus recorder, installed on first use.
///
/// Every histogram sample is kept raw until upkeep folds it into a fixed-size summary.
/// Rendering does that too, so without upkeep of its own memory would grow with every
/// request for as long as nobody scrapes `/metrics` (about 20 bytes a request).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed, and then ours just stays unused.
            let _ = metrics::set_global_recorder(recorder);
            keep_metrics_bounded(handle.clone(), METRICS_UPKEEP_INTERVAL);
            handle
        })
        .clone()
}

/// Runs the recorder's upkeep every `interval`, whether or not anyone scrapes.
///
/// A thread, not a task: the recorder outlives any one runtime (tests start many), and
/// upkeep takes microseconds, so keeping it apart costs nothing.
pub fn keep_metrics_bounded(handle: PrometheusHandle, interval: Duration) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                handle.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start metrics upkeep; memory grows until /metrics is read");
    }
}

/// `/healthz`, `/readyz` and `/metrics`.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    OpsState: FromRef<S>,
{
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the database answers. The public side keeps serving when it does not; this
/// tells the load balancer and the operator that writes are being spooled or refused.
async fn readyz(State(state): State<OpsState>) -> Response {
    let ping = tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await;
    match ping {
        Ok(Ok(())) => Json(json!({ "status": "ready", "database": "reachable" })).into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "degraded", "database": "unreachable" })),
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "degraded", "database": "timeout" })),
        )
            .into_response(),
    }
}

async fn metrics_text(State(state): State<OpsState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics_token {
        let offered = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        if !offered.is_some_and(|offered| token.matches(offered.trim())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "send the metrics token (MONOSTAT_METRICS_TOKEN) as `Authorization: Bearer <token>`\n",
            )
                .into_response();
        }
    }
    if let Ok(Ok(counts)) = tokio::time::timeout(Duration::from_secs(2), state.queue.counts()).await
    {
        for (status, count) in counts.0 {
            #[allow(clippy::cast_precision_loss)] // job counts stay far below 2^52
            metrics::gauge!("monostat_jobs", "state" => status).set(count as f64);
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// The method as a metrics label, from a fixed set: any client may invent methods, and
/// each new label value would be a new series kept for ever.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// Counts requests by route pattern (never the raw path, which may hold secrets) and status.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("monostat_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("monostat_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for invented in ["PURGE", "X1", "BREW"] {
            assert_eq!(
                method_label(&Method::from_bytes(invented.as_bytes()).unwrap()),
                "OTHER"
            );
        }
    }
}
