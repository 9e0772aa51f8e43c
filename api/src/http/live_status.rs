//! The page's own live subscription (`STATUS_SUBSCRIPTION`), served from the snapshot:
//! every open page gets the same pre-rendered answer, so 10,000 open pages cost one
//! rendering per change instead of 10,000 runs of the resolvers, and no parsed query
//! is kept per socket. Any other subscription, or this one in another layout with
//! variables or an operation name, goes to async-graphql as before.

use tokio::sync::watch;

use crate::public::{PublicSnapshot, STATUS_RESPONSE, STATUS_SUBSCRIPTION, normalise_query};

/// A client's `subscribe` message, as far as recognising the page's is concerned.
#[derive(serde::Deserialize)]
struct Subscribe {
    #[serde(rename = "type")]
    kind: String,
    payload: Payload,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    query: String,
    #[serde(default)]
    variables: Option<serde_json::Value>,
    #[serde(default)]
    operation_name: Option<String>,
}

/// The page's subscription on one socket, when the client started it.
pub struct LiveStatus {
    snapshot: PublicSnapshot,
    changes: watch::Receiver<u64>,
    /// The operation's id while it runs.
    id: Option<String>,
    /// The ETag of the status answer last sent.
    sent: Option<String>,
}

impl LiveStatus {
    pub fn new(snapshot: PublicSnapshot) -> Self {
        let changes = snapshot.watch();
        Self {
            snapshot,
            changes,
            id: None,
            sent: None,
        }
    }

    /// Whether the client message `data` subscribes to exactly the page's subscription.
    pub fn is_page_subscription(data: &[u8]) -> bool {
        let Ok(message) = serde_json::from_slice::<Subscribe>(data) else {
            return false;
        };
        let payload = &message.payload;
        message.kind == "subscribe"
            && payload.operation_name.is_none()
            && payload
                .variables
                .as_ref()
                .is_none_or(|v| v.is_null() || v.as_object().is_some_and(serde_json::Map::is_empty))
            && normalise_query(&payload.query) == STATUS_SUBSCRIPTION
    }

    pub fn is_running(&self, id: &str) -> bool {
        self.id.as_deref() == Some(id)
    }

    pub fn running(&self) -> bool {
        self.id.is_some()
    }

    /// Starts the subscription under `id`: the first `next` message, or `None` (and
    /// nothing started) before the first snapshot.
    pub fn start(&mut self, id: String) -> Option<String> {
        self.changes.mark_unchanged();
        let message = self.message(&id)?;
        self.id = Some(id);
        metrics::counter!("monostat_page_subscriptions_from_snapshot_total").increment(1);
        Some(message)
    }

    pub fn stop(&mut self) {
        self.id = None;
        self.sent = None;
    }

    /// The next `next` message: after a snapshot whose status differs from the last
    /// one sent. Waits for ever once the snapshot's keeper is gone.
    pub async fn next(&mut self) -> String {
        loop {
            if self.changes.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
            let Some(id) = self.id.clone() else { continue };
            if let Some(message) = self.message(&id) {
                return message;
            }
        }
    }

    /// The `next` message for `id` with the current status, unless it was sent.
    fn message(&mut self, id: &str) -> Option<String> {
        let snapshot = self.snapshot.get()?;
        let tag = &snapshot.rendered.get(STATUS_RESPONSE)?.etag;
        if self.sent.as_ref() == Some(tag) {
            return None;
        }
        self.sent = Some(tag.clone());
        let id = serde_json::to_string(id).ok()?;
        Some(format!(
            r#"{{"id":{id},"type":"next","payload":{}}}"#,
            snapshot.live_status
        ))
    }
}
