//! The accept loop. `axum::serve` gives hyper no timer, so hyper's header-read timeout
//! never fires there and a client that sends half a request holds its connection (and
//! a file descriptor) for ever; twenty such clients cost nothing to send. This loop is
//! `axum::serve` with a timer, and a watch on each connection until its first request:
//! every request's headers must arrive within [`HEADER_READ_TIMEOUT`] (an idle
//! keep-alive connection is closed after it too), and stopping waits for requests in
//! flight.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Real clients send their headers in the first packet; nginx allows 60 s, for
/// dial-up. Long enough for a slow phone, short enough that held sockets stay few.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long stopping waits for requests in flight before it drops them.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `stop`, each request carrying its peer as
/// [`ConnectInfo`]`<SocketAddr>`, as `into_make_service_with_connect_info` would.
pub async fn serve(listener: TcpListener, router: Router, stop: CancellationToken) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, usually: wait for some to close rather
                    // than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        let router = router.clone();
        // hyper times out headers only once it knows the protocol; a client that sends
        // nothing, or half of the first line, would stall before. Until the first
        // request arrives, this watch does it.
        let first_request = Arc::new(Notify::new());
        let arrived = first_request.clone();
        let service = TowerToHyperService::new(tower::service_fn(
            move |mut request: Request<hyper::body::Incoming>| {
                arrived.notify_one();
                request.extensions_mut().insert(ConnectInfo(peer));
                let router = router.clone();
                async move {
                    let request = request.map(axum::body::Body::new);
                    router.oneshot(request).await
                }
            },
        ));
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let first_request_late = async {
                if tokio::time::timeout(HEADER_READ_TIMEOUT, first_request.notified())
                    .await
                    .is_ok()
                {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                // A client that goes away mid-request is no error of ours.
                _ = connection => {}
                // Dropping the connection closes it.
                () = first_request_late => {}
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {DRAIN:?}; dropping them");
    }
}
