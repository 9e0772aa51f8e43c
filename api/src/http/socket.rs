//! Live sockets on `/graphql`: who may open one, and the GraphQL protocol on it
//! (`graphql-transport-ws`, or the legacy `graphql-ws`) inside this server's limits.
//! Every socket is a task, a file descriptor and its buffers for as long as a page is
//! open, so each limit here bounds what one client, or all of them, can make a replica
//! hold: sockets per address and per replica, operations per socket, message size,
//! buffers, and time without a word from the client.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{WebSocket as GraphqlSocket, WebSocketProtocols as Protocols, WsMessage};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::stream::{SplitSink, poll_fn};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::{Instant, MissedTickBehavior};

use super::live_status::LiveStatus;
use crate::graphql::{Caller, Code, MonostatSchema, SocketToken};
use crate::public::PublicSnapshot;
use crate::ratelimit::{Held, OpenLimit};

/// A subscription message is a query and its variables, like a POST body.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Clients send `connection_init` right after the socket opens.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The page runs two or three operations on its socket; an API client watching a
/// handful of incidents a few more. Each one is a stream the server keeps polling.
pub const MAX_OPERATIONS: usize = 16;
/// An idle socket should cost little: 10,000 open pages in 200 MB leaves some 20 KiB
/// each for the task, the subscription and the buffers. tungstenite's default is a
/// 128 KiB buffer to read into, zeroed (so resident) before the first read. Client
/// messages are at most [`MAX_MESSAGE_BYTES`] and usually a few hundred bytes: the
/// read buffer grows for the rare large one, and 4 KiB is one page of memory.
/// Measured with 3,000 sockets that said hello: 9 KiB each, 133 KiB with the defaults.
/// A page's own `statusChanged` is served from the snapshot (`live_status.rs`) and
/// keeps no parsed query: 10.6 KiB per open page in all (`bench/live.sh`). Other
/// subscriptions cost more, as async-graphql keeps each one's parsed query.
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Every send is flushed at once, so a threshold for batching writes would only hold
/// bytes back; frames go to the kernel as they come.
const WRITE_BUFFER_BYTES: usize = 0;
/// Frames pile up past [`WRITE_BUFFER_BYTES`] only while the client does not read.
/// The largest answers (the page's status, a page of incidents) are tens of KiB;
/// one larger than this fails its socket rather than growing the buffer further.
const MAX_WRITE_BUFFER_BYTES: usize = 1024 * 1024;
/// When the replica is full: pages poll every 30 s meanwhile, so trying sooner only
/// adds load; another replica behind the balancer may take the retry.
const FULL_RETRY_AFTER_SECS: u64 = 30;
/// Sockets close when their pages close, which takes a while.
const ADDRESS_RETRY_AFTER_SECS: u64 = 60;

/// Who may open a live socket, and how it is kept alive.
#[derive(Clone)]
pub struct Sockets {
    per_address: OpenLimit,
    open: Arc<Semaphore>,
    max: usize,
    ping: Duration,
    snapshot: PublicSnapshot,
}

/// Why an upgrade is refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "your address already holds {0} live connections, the most one address may; close some pages and try again"
    )]
    AddressFull(usize),
    #[error(
        "this server already holds {0} live connections, the most it serves; the page updates itself every 30 seconds meanwhile, try again in a minute"
    )]
    ReplicaFull(usize),
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::AddressFull(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::ReplicaFull(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn retry_after_secs(&self) -> u64 {
        match self {
            Self::AddressFull(_) => ADDRESS_RETRY_AFTER_SECS,
            Self::ReplicaFull(_) => FULL_RETRY_AFTER_SECS,
        }
    }
}

/// The client offered no subprotocol we speak.
#[derive(Debug, thiserror::Error)]
#[error("use the graphql-transport-ws or graphql-ws subprotocol")]
pub struct NoProtocol;

/// A place for one socket, in both counts, until it is dropped.
pub struct Admission {
    _address: Held,
    _replica: OwnedSemaphorePermit,
    ping: Duration,
    snapshot: PublicSnapshot,
}

impl Sockets {
    /// `max` sockets on this replica; `per_address` counts each client's.
    /// `snapshot` serves the page's own subscription.
    pub fn new(
        per_address: OpenLimit,
        max: usize,
        ping: Duration,
        snapshot: PublicSnapshot,
    ) -> Self {
        Self {
            per_address,
            open: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
            max,
            ping,
            snapshot,
        }
    }

    /// A place for one more socket from `client`. The replica's own count comes first:
    /// it costs nothing, while the address's may ask Redis.
    pub async fn admit(&self, client: IpAddr) -> Result<Admission, Refusal> {
        let Ok(replica) = self.open.clone().try_acquire_owned() else {
            metrics::counter!("monostat_sockets_refused_total", "reason" => "replica").increment(1);
            return Err(Refusal::ReplicaFull(self.max));
        };
        let Some(address) = self.per_address.acquire(&client.to_string()).await else {
            metrics::counter!("monostat_sockets_refused_total", "reason" => "address").increment(1);
            return Err(Refusal::AddressFull(self.per_address.max()));
        };
        Ok(Admission {
            _address: address,
            _replica: replica,
            ping: self.ping,
            snapshot: self.snapshot.clone(),
        })
    }
}

/// Accepts the upgrade and serves the GraphQL protocol on it, holding `admission`
/// for the socket's life. `Err` when the client offered no protocol we speak.
pub fn accept(
    upgrade: WebSocketUpgrade,
    admission: Admission,
    schema: MonostatSchema,
) -> Result<Response, NoProtocol> {
    let upgrade = upgrade.protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS);
    // The protocol axum answers with is the one to speak.
    let Some(protocol) = upgrade
        .selected_protocol()
        .and_then(|p| p.to_str().ok())
        .and_then(|p| Protocols::from_str(p).ok())
    else {
        return Err(NoProtocol);
    };
    Ok(upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            let gauge = metrics::gauge!("monostat_sockets_open");
            gauge.increment(1.0);
            let live = LiveStatus::new(admission.snapshot.clone());
            serve(socket, schema, protocol, admission.ping, live).await;
            gauge.decrement(1.0);
            drop(admission);
        }))
}

/// What the client said, as far as the limits care.
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
}

/// What to do with a client message.
enum Verdict {
    Forward,
    /// Answered here (the page's own subscription); async-graphql never sees it.
    Answer(String),
    Drop,
    /// Refuse this operation alone, with this message; the others go on.
    Refuse(String),
    Close(u16, String),
}

/// The operations running on one socket, as the client and the server said.
struct Operations {
    protocol: Protocols,
    active: HashSet<String>,
    /// Ids the client completed: async-graphql answers each with a `complete` of its
    /// own, which must not end a new operation the client started under the same id.
    echoes: HashMap<String, usize>,
}

impl Operations {
    fn new(protocol: Protocols) -> Self {
        Self {
            protocol,
            active: HashSet::new(),
            echoes: HashMap::new(),
        }
    }

    fn client_said(&mut self, message: &Envelope) -> Verdict {
        let Some(id) = &message.id else {
            return Verdict::Forward;
        };
        match message.kind.as_str() {
            "subscribe" | "start" if self.active.contains(id) => match self.protocol {
                // graphql-transport-ws: "the server must close the socket immediately
                // with the event 4409". async-graphql would replace the running one.
                Protocols::GraphQLWS => {
                    Verdict::Close(4409, format!("Subscriber for {id} already exists"))
                }
                // The legacy protocol replaces the running operation, as async-graphql
                // does; the count stays the same.
                Protocols::SubscriptionsTransportWS => Verdict::Forward,
            },
            // A valid message the server will not run: not the 4400 of a malformed
            // one, which would end the page's other operations too, but the `error`
            // both protocols define for an operation refused before it runs.
            "subscribe" | "start" if self.active.len() >= MAX_OPERATIONS => {
                Verdict::Refuse(self.refusal(id))
            }
            "subscribe" | "start" => {
                self.active.insert(id.clone());
                Verdict::Forward
            }
            "complete" | "stop" => {
                if self.active.remove(id) {
                    *self.echoes.entry(id.clone()).or_default() += 1;
                }
                Verdict::Forward
            }
            _ => Verdict::Forward,
        }
    }

    fn is_active(&self, id: &str) -> bool {
        self.active.contains(id)
    }

    fn count(&self) -> usize {
        self.active.len()
    }

    fn server_said(&mut self, text: &str) {
        // Serde writes the tag first; only completions need reading.
        if !text.starts_with(r#"{"type":"complete""#) {
            return;
        }
        let Ok(Envelope { id: Some(id), .. }) = serde_json::from_str(text) else {
            return;
        };
        match self.echoes.get_mut(&id) {
            Some(count) if *count > 1 => *count -= 1,
            Some(_) => {
                self.echoes.remove(&id);
            }
            None => {
                self.active.remove(&id);
            }
        }
    }

    fn refusal(&self, id: &str) -> String {
        let error = json!({
            "message": format!(
                "this connection already runs {MAX_OPERATIONS} operations, the most one connection may; complete one before starting another"
            ),
            "extensions": { "code": Code::TooManyRequests.as_str() },
        });
        let payload = match self.protocol {
            Protocols::GraphQLWS => json!([error]),
            Protocols::SubscriptionsTransportWS => error,
        };
        json!({ "id": id, "type": "error", "payload": payload }).to_string()
    }
}

type ToClient = SplitSink<WebSocket, Message>;

/// Sends `message`, or says the client is gone: one that cannot take a message in
/// `within` is as good as gone, and waiting for it would hold the socket for ever.
async fn send(to_client: &mut ToClient, message: Message, within: Duration) -> bool {
    matches!(
        tokio::time::timeout(within, to_client.send(message)).await,
        Ok(Ok(()))
    )
}

async fn close(to_client: &mut ToClient, code: u16, reason: String, within: Duration) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    send(to_client, Message::Close(Some(frame)), within).await;
}

/// Runs the protocol until either side ends it. The socket closes with 4408 when no
/// `connection_init` came in time (a socket that never says hello is a held file
/// descriptor and nothing else), and with 3008 (async-graphql's keep-alive timeout)
/// when a `graphql-transport-ws` client answers nothing, not even the pings, for two
/// ping intervals. Legacy `graphql-ws` clients are sent `ka` but never asked for an
/// answer; a dead one is noticed when a send to it times out.
async fn serve(
    socket: WebSocket,
    schema: MonostatSchema,
    protocol: Protocols,
    ping: Duration,
    mut live: LiveStatus,
) {
    let (mut to_client, mut from_client) = socket.split();
    // Messages read here are inspected, then handed to async-graphql through this
    // channel; while it is full, nothing more is read, so a flood waits in TCP.
    let (to_graphql, mut for_graphql) = mpsc::channel::<Bytes>(4);
    let input = poll_fn(move |cx| for_graphql.poll_recv(cx));
    let graphql = GraphqlSocket::new(schema, input, protocol)
        .on_connection_init(|payload| async move {
            // Console subscriptions authenticate with {"token": "…"} in the
            // connection_init payload; public ones send nothing.
            let token = payload
                .get("token")
                .or_else(|| payload.get("Authorization"))
                .and_then(|v| v.as_str())
                .map(|t| t.trim_start_matches("Bearer ").to_owned());
            // Queries and mutations over the socket are anonymous: a token is checked per
            // request over HTTP, and here only by the console subscription, which ends
            // when the token does.
            let mut data = Data::default();
            data.insert(Caller::Anonymous);
            if let Some(token) = token {
                data.insert(SocketToken(token));
            }
            Ok(data)
        })
        // Any message resets it, the pong to our ping included.
        .keepalive_timeout((protocol == Protocols::GraphQLWS).then_some(ping * 2));
    tokio::pin!(graphql);
    let ping_message = match protocol {
        Protocols::GraphQLWS => r#"{"type":"ping"}"#,
        Protocols::SubscriptionsTransportWS => r#"{"type":"ka"}"#,
    };
    let mut pings = tokio::time::interval_at(Instant::now() + ping, ping);
    pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let send_within = ping * 2;
    let deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(deadline);
    let mut operations = Operations::new(protocol);
    let mut initialised = false;
    // The page's subscription is answered here only after async-graphql acknowledged
    // the connection, so no answer can overtake the acknowledgement.
    let mut acknowledged = false;
    let mut waiting_for_init = true;
    let mut pending: Option<Bytes> = None;
    loop {
        tokio::select! {
            said = graphql.next() => match said {
                Some(WsMessage::Text(text)) => {
                    acknowledged |= text.starts_with(r#"{"type":"connection_ack""#);
                    operations.server_said(&text);
                    if !send(&mut to_client, Message::Text(text.into()), send_within).await {
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    close(&mut to_client, code, reason, send_within).await;
                    break;
                }
                // The client ended the protocol, or its socket.
                None => break,
            },
            frame = from_client.next(), if pending.is_none() => {
                let data = match frame {
                    Some(Ok(Message::Text(text))) => Bytes::from(text),
                    Some(Ok(Message::Binary(data))) => data,
                    // axum answers pings itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                };
                let verdict = match serde_json::from_slice::<Envelope>(&data) {
                    Ok(message) => {
                        initialised |= message.kind == "connection_init";
                        let ours = acknowledged && protocol == Protocols::GraphQLWS;
                        match (message.kind.as_str(), message.id.as_deref()) {
                            ("subscribe", Some(id)) if live.is_running(id) => {
                                Verdict::Close(4409, format!("Subscriber for {id} already exists"))
                            }
                            ("subscribe", Some(id)) if live.running() && operations.count() + 1 >= MAX_OPERATIONS => {
                                Verdict::Refuse(operations.refusal(id))
                            }
                            ("subscribe", Some(id)) if ours && !live.running() && !operations.is_active(id)
                                && operations.count() < MAX_OPERATIONS
                                && LiveStatus::is_page_subscription(&data) =>
                            {
                                match live.start(id.to_owned()) {
                                    Some(first) => Verdict::Answer(first),
                                    // No snapshot yet: the resolvers answer.
                                    None => operations.client_said(&message),
                                }
                            }
                            ("complete", Some(id)) if live.is_running(id) => {
                                live.stop();
                                Verdict::Drop
                            }
                            _ => operations.client_said(&message),
                        }
                    }
                    // async-graphql closes on what it cannot read, with its own words.
                    Err(_) => Verdict::Forward,
                };
                match verdict {
                    Verdict::Forward => pending = Some(data),
                    Verdict::Drop => {}
                    Verdict::Answer(text) | Verdict::Refuse(text) => {
                        if !send(&mut to_client, Message::Text(text.into()), send_within).await {
                            break;
                        }
                    }
                    Verdict::Close(code, reason) => {
                        close(&mut to_client, code, reason, send_within).await;
                        break;
                    }
                }
            }
            room = to_graphql.reserve(), if pending.is_some() => match (room, pending.take()) {
                (Ok(room), Some(data)) => room.send(data),
                _ => break,
            },
            message = live.next(), if live.running() => {
                if !send(&mut to_client, Message::Text(message.into()), send_within).await {
                    break;
                }
            }
            _ = pings.tick(), if initialised => {
                if !send(&mut to_client, Message::Text(ping_message.into()), send_within).await {
                    break;
                }
            }
            () = &mut deadline, if waiting_for_init => {
                waiting_for_init = false;
                if !initialised {
                    close(&mut to_client, 4408, "Connection initialisation timeout".into(), send_within).await;
                    break;
                }
            }
        }
    }
}
