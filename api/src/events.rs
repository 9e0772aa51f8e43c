//! Domain events: what changed, told to everything that keeps state derived from the
//! database (the public snapshot, live GraphQL subscriptions, settings caches).
//!
//! Events are published after the transaction that caused them committed. Inside one
//! process they travel over a tokio broadcast channel. With Redis configured they are
//! also published on one Redis channel (`{MONOSTAT_REDIS_PREFIX}:events`), and every replica re-broadcasts what the others
//! published, so a change made on one replica reaches the open pages of all.
//!
//! Redis is a convenience, never a dependency: while it is away the replica keeps
//! working on its own events, and when the subscription comes back it broadcasts
//! [`DomainEvent::Resync`] so listeners rebuild whatever they may have missed.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::config::RedisConfig;
use crate::domain::IncidentId;

const LOCAL_CAPACITY: usize = 1024;
const OUTBOX_CAPACITY: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DomainEvent {
    /// Anything about an incident changed: its fields, timeline, alerts or Slack message.
    IncidentChanged { incident_id: IncidentId },
    /// An incident was deleted for good.
    IncidentDeleted { incident_id: IncidentId },
    /// A settings section changed; caches of it are stale.
    SettingsChanged { section: SettingsSection },
    /// Subscribers were added, confirmed or removed.
    SubscribersChanged,
    /// Events may have been missed (Redis reconnected): rebuild derived state.
    Resync,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingsSection {
    Site,
    Notifications,
    Slack,
    AlertSources,
    Users,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The replica that published it, so it does not hear its own events twice.
    origin: String,
    event: DomainEvent,
}

/// Cheap to clone; all clones share one channel.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

struct Inner {
    local: broadcast::Sender<DomainEvent>,
    outbox: Option<mpsc::Sender<DomainEvent>>,
}

impl EventBus {
    /// A bus that reaches this process only.
    pub fn in_process() -> Self {
        Self {
            inner: Arc::new(Inner {
                local: broadcast::channel(LOCAL_CAPACITY).0,
                outbox: None,
            }),
        }
    }

    /// A bus bridged to every other replica through Redis pub/sub. Returns at once; the
    /// connection is made, and remade after failures, in the background until `stop`.
    pub fn with_redis(
        config: &RedisConfig,
        stop: CancellationToken,
    ) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(config.url())?;
        let channel = config.events_channel();
        let local = broadcast::channel(LOCAL_CAPACITY).0;
        let (outbox, outbox_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let origin = crate::secret::random_token(96);
        tokio::spawn(publish_loop(
            client.clone(),
            channel.clone(),
            origin.clone(),
            outbox_rx,
            stop.clone(),
        ));
        tokio::spawn(subscribe_loop(client, channel, origin, local.clone(), stop));
        Ok(Self {
            inner: Arc::new(Inner {
                local,
                outbox: Some(outbox),
            }),
        })
    }

    /// Tells this process at once and, through Redis, the other replicas. Never blocks:
    /// when Redis has been away long enough to fill the outbox the event is dropped for
    /// the other replicas, who catch up on the [`DomainEvent::Resync`] after reconnecting.
    pub fn publish(&self, event: DomainEvent) {
        metrics::counter!("monostat_events_published_total").increment(1);
        // No receivers is fine: nobody is listening yet.
        let _ = self.inner.local.send(event.clone());
        if let Some(outbox) = &self.inner.outbox
            && outbox.try_send(event).is_err()
        {
            metrics::counter!("monostat_events_dropped_total").increment(1);
            tracing::warn!("event outbox to Redis is full; other replicas will resync later");
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.inner.local.subscribe()
    }
}

/// Back-off between reconnection attempts: quick at first, at most five seconds.
fn reconnect_delay(failures: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << failures.min(6))).min(Duration::from_secs(5))
}

async fn publish_loop(
    client: redis::Client,
    channel: String,
    origin: String,
    mut outbox: mpsc::Receiver<DomainEvent>,
    stop: CancellationToken,
) {
    let mut failures = 0;
    let mut pending: Option<String> = None;
    'connect: while !stop.is_cancelled() {
        let connection = tokio::time::timeout(
            Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await;
        let mut connection = match connection {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => {
                failures += 1;
                tracing::warn!(%error, "cannot connect to Redis to publish events; retrying");
                sleep_or_stop(reconnect_delay(failures), &stop).await;
                continue;
            }
            Err(_) => {
                failures += 1;
                tracing::warn!("connecting to Redis timed out; retrying");
                sleep_or_stop(reconnect_delay(failures), &stop).await;
                continue;
            }
        };
        failures = 0;
        loop {
            let payload = match pending.take() {
                Some(payload) => payload,
                None => {
                    let event = tokio::select! {
                        event = outbox.recv() => event,
                        () = stop.cancelled() => None,
                    };
                    let Some(event) = event else { return };
                    match serde_json::to_string(&Envelope {
                        origin: origin.clone(),
                        event,
                    }) {
                        Ok(payload) => payload,
                        Err(error) => {
                            tracing::error!(%error, "cannot serialise an event");
                            continue;
                        }
                    }
                }
            };
            let sent: Result<(), redis::RedisError> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(&payload)
                .query_async(&mut connection)
                .await;
            if let Err(error) = sent {
                tracing::warn!(%error, "publishing an event to Redis failed; reconnecting");
                pending = Some(payload);
                continue 'connect;
            }
        }
    }
}

async fn subscribe_loop(
    client: redis::Client,
    channel: String,
    origin: String,
    local: broadcast::Sender<DomainEvent>,
    stop: CancellationToken,
) {
    let mut failures = 0;
    let mut connected_before = false;
    while !stop.is_cancelled() {
        let pubsub = tokio::time::timeout(Duration::from_secs(5), async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        let pubsub = match pubsub {
            Ok(Ok(pubsub)) => pubsub,
            Ok(Err(error)) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(%error, "cannot subscribe to Redis; working alone until it is back");
                }
                sleep_or_stop(reconnect_delay(failures), &stop).await;
                continue;
            }
            Err(_) => {
                failures += 1;
                sleep_or_stop(reconnect_delay(failures), &stop).await;
                continue;
            }
        };
        if connected_before {
            tracing::info!("Redis subscription is back; resynchronising");
            let _ = local.send(DomainEvent::Resync);
        }
        connected_before = true;
        failures = 0;
        let mut messages = pubsub.into_on_message();
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                () = stop.cancelled() => return,
            };
            let Some(message) = message else { break };
            let envelope: Envelope = match serde_json::from_slice(message.get_payload_bytes()) {
                Ok(envelope) => envelope,
                Err(error) => {
                    tracing::warn!(%error, "ignoring an unreadable event from Redis");
                    continue;
                }
            };
            if envelope.origin != origin {
                let _ = local.send(envelope.event);
            }
        }
        tracing::warn!("lost the Redis subscription; reconnecting");
    }
}

async fn sleep_or_stop(delay: Duration, stop: &CancellationToken) {
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        () = stop.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_process_subscribers_hear_published_events() {
        let bus = EventBus::in_process();
        let mut receiver = bus.subscribe();
        bus.publish(DomainEvent::SubscribersChanged);
        assert_eq!(
            receiver.recv().await.ok(),
            Some(DomainEvent::SubscribersChanged)
        );
    }

    #[test]
    fn events_have_a_stable_wire_form() {
        let json = serde_json::to_string(&DomainEvent::IncidentChanged {
            incident_id: IncidentId(7),
        })
        .expect("serialisable");
        assert_eq!(json, r#"{"type":"incident_changed","incident_id":7}"#);
    }

    #[test]
    fn reconnects_back_off_up_to_five_seconds() {
        assert_eq!(reconnect_delay(1), Duration::from_millis(200));
        assert_eq!(reconnect_delay(30), Duration::from_secs(5));
    }
}
