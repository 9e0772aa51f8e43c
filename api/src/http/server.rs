//! The accept loop. `axum::serve` gives hyper no timer, so hyper's header-read timeout
//! never fires there and a client that sends half a request holds its connection (and
//! a file descriptor) for ever; twenty such clients cost nothing to send. This loop is
//! `axum::serve` with a timer, a cap on connections held at once, and a watch on each
//! connection: every request's headers must arrive within [`HEADER_READ_TIMEOUT`] (hyper
//! starts that clock as soon as an HTTP/1 connection waits for a request, so an idle
//! keep-alive connection is closed after it too), and a connection with no request in
//! flight for [`IDLE_TIMEOUT`] is closed whatever its protocol (HTTP/2 has no such
//! limit of its own). Stopping waits for requests in flight.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Real clients send their headers in the first packet; nginx allows 60 s, for
/// dial-up. Long enough for a slow phone, short enough that held sockets stay few.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may sit with no request in flight before it is closed; as
/// long as nginx's keep-alive, longer than any browser keeps an idle connection.
const IDLE_TIMEOUT: Duration = Duration::from_mins(1);
/// How long stopping waits for requests in flight before it drops them.
const DRAIN: Duration = Duration::from_secs(10);
/// Connections answered 503 at once; past this, a new one is closed unanswered rather
/// than spending yet another task on a flood.
const MAX_REFUSING: usize = 256;
/// Connections are short; a place frees up within seconds.
const FULL_RETRY_AFTER_SECS: u64 = 5;

/// Serves `router` on `listener` until `stop`, each request carrying its peer as
/// [`ConnectInfo`]`<SocketAddr>`, as `into_make_service_with_connect_info` would.
/// At most `max_connections` are served at once; past that a new connection is
/// answered 503. An upgraded connection (a live socket) stops counting here: the
/// sockets have their own limit.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    max_connections: usize,
    stop: CancellationToken,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let places = Arc::new(Semaphore::new(max_connections.min(Semaphore::MAX_PERMITS)));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
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
        let Ok(place) = places.clone().try_acquire_owned() else {
            metrics::counter!("monostat_connections_refused_total").increment(1);
            if let Ok(refusal) = refusing.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(refusal);
                });
            }
            continue;
        };
        let router = router.clone();
        let (requests, in_flight) = watch::channel(0usize);
        let requests = Arc::new(requests);
        let service = TowerToHyperService::new(tower::service_fn(
            move |mut request: Request<hyper::body::Incoming>| {
                let running = InFlight::start(requests.clone());
                request.extensions_mut().insert(ConnectInfo(peer));
                let router = router.clone();
                async move {
                    let request = request.map(axum::body::Body::new);
                    // Responses here are whole in memory, not streamed, so a request
                    // is done when its response is.
                    let response = router.oneshot(request).await;
                    drop(running);
                    response
                }
            },
        ));
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            tokio::select! {
                // A client that goes away mid-request is no error of ours.
                _ = connection => {}
                // Dropping the connection closes it.
                () = idle(in_flight) => {}
            }
            drop(place);
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

/// One request in flight on a connection, until dropped.
struct InFlight(Arc<watch::Sender<usize>>);

impl InFlight {
    fn start(requests: Arc<watch::Sender<usize>>) -> Self {
        requests.send_modify(|n| *n += 1);
        Self(requests)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Returns when the connection has had no request in flight for too long: until its
/// first request, [`HEADER_READ_TIMEOUT`] (hyper times out headers only once it knows
/// the protocol, so a client that sends nothing, or half of the first line, would
/// stall before), and [`IDLE_TIMEOUT`] after each.
async fn idle(mut in_flight: watch::Receiver<usize>) {
    let mut allowed = HEADER_READ_TIMEOUT;
    loop {
        let busy = *in_flight.borrow_and_update() > 0;
        let changed = if busy {
            in_flight.changed().await
        } else {
            match tokio::time::timeout(allowed, in_flight.changed()).await {
                Ok(changed) => changed,
                Err(_) => return,
            }
        };
        if changed.is_err() {
            // The connection is gone and so is its service; it ends by itself.
            std::future::pending::<()>().await;
        }
        allowed = IDLE_TIMEOUT;
    }
}

/// Answers a connection past the limit with a 503 it can read, then closes it.
async fn refuse(mut stream: TcpStream) {
    let body = "This server is handling as many connections as it can. Please try again in a few seconds.\n";
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nretry-after: {FULL_RETRY_AFTER_SECS}\r\ncache-control: no-store\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let answered = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        // Closing with the request still unread would reset the connection, and a
        // reset can discard the answer before the client reads it: read to its end.
        let mut discard = [0u8; 1024];
        while stream.read(&mut discard).await? > 0 {}
        Ok::<(), std::io::Error>(())
    };
    tokio::time::timeout(Duration::from_secs(2), answered)
        .await
        .ok();
}
