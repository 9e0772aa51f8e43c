//! Domain events crossing process boundaries through Redis, and surviving its absence.

use std::time::Duration;

use monostat::config::RedisConfig;
use monostat::domain::IncidentId;
use monostat::events::{DomainEvent, EventBus};
use tokio::sync::broadcast::Receiver;
use tokio_util::sync::CancellationToken;

use crate::common::chaos::ChaosProxy;
use crate::common::{REDIS_HOST, services_required};

pub async fn redis_available() -> bool {
    let client = redis::Client::open(format!("redis://{REDIS_HOST}:6379/")).unwrap();
    match client.get_multiplexed_async_connection().await {
        Ok(_) => true,
        Err(error) => {
            assert!(!services_required(), "Redis is required in CI: {error}");
            eprintln!("skipping: Redis at {REDIS_HOST}:6379 is not reachable ({error})");
            false
        }
    }
}

fn redis_config(port: u16, prefix: &str) -> RedisConfig {
    RedisConfig {
        host: REDIS_HOST.into(),
        port,
        password: None,
        prefix: prefix.into(),
    }
}

fn unique_prefix() -> String {
    format!("test-{}", monostat::secret::random_token(64))
}

fn unique_event() -> DomainEvent {
    DomainEvent::IncidentChanged {
        incident_id: IncidentId(rand::random::<i64>().abs()),
    }
}

/// Publishes fresh events on `from` until `to` receives one (subscriptions take a moment
/// to be established), then returns the event that arrived.
async fn wait_until_connected(from: &EventBus, to: &mut Receiver<DomainEvent>) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = unique_event();
            from.publish(event.clone());
            let deadline = tokio::time::sleep(Duration::from_millis(100));
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    received = to.recv() => if received.ok() == Some(event.clone()) { return; },
                    () = &mut deadline => break,
                }
            }
        }
    })
    .await
    .expect("the two buses never connected through Redis");
}

async fn receive(receiver: &mut Receiver<DomainEvent>, expected: &DomainEvent) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(event) = receiver.recv().await {
            if &event == expected {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{expected:?} never arrived"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_another_process_through_redis() {
    if !redis_available().await {
        return;
    }
    let stop = CancellationToken::new();
    let prefix = unique_prefix();
    // B reaches Redis through a proxy the test can cut: an outage of B's own
    // connections, not of everyone's who shares this Redis.
    let to_redis = ChaosProxy::start(format!("{REDIS_HOST}:6379").parse().unwrap()).await;
    let replica_a = EventBus::with_redis(&redis_config(6379, &prefix), stop.clone()).unwrap();
    let replica_b = EventBus::with_redis(
        &redis_config(to_redis.address.port(), &prefix),
        stop.clone(),
    )
    .unwrap();
    // A deployment with another prefix on the same Redis hears nothing of theirs.
    let strangers = unique_prefix();
    let stranger = EventBus::with_redis(&redis_config(6379, &strangers), stop.clone()).unwrap();
    let strangers_peer =
        EventBus::with_redis(&redis_config(6379, &strangers), stop.clone()).unwrap();
    let mut heard_by_stranger = stranger.subscribe();
    wait_until_connected(&strangers_peer, &mut heard_by_stranger).await;
    while heard_by_stranger.try_recv().is_ok() {}
    let mut heard_by_a = replica_a.subscribe();
    let mut heard_by_b = replica_b.subscribe();
    wait_until_connected(&replica_a, &mut heard_by_b).await;

    let event = unique_event();
    replica_a.publish(event.clone());
    receive(&mut heard_by_b, &event).await;
    // The publisher hears its own event once, locally, not a second time via Redis.
    let mut own = Vec::new();
    while let Ok(Ok(received)) =
        tokio::time::timeout(Duration::from_millis(300), heard_by_a.recv()).await
    {
        own.push(received);
    }
    assert_eq!(own.iter().filter(|e| **e == event).count(), 1);

    assert!(
        !std::iter::from_fn(|| heard_by_stranger.try_recv().ok()).any(|heard| heard == event),
        "a deployment with another prefix heard this one's event"
    );

    // Cut B's connections: B reconnects by itself and tells its listeners to
    // resynchronise, then events flow again.
    to_redis.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    to_redis.restore();
    receive(&mut heard_by_b, &DomainEvent::Resync).await;
    wait_until_connected(&replica_a, &mut heard_by_b).await;
    stop.cancel();
}

#[tokio::test]
async fn the_bus_keeps_working_without_redis() {
    let stop = CancellationToken::new();
    // Nothing listens on port 1.
    let lonely = EventBus::with_redis(&redis_config(1, &unique_prefix()), stop.clone()).unwrap();
    let mut receiver = lonely.subscribe();
    for _ in 0..2000 {
        lonely.publish(DomainEvent::SubscribersChanged);
        assert_eq!(
            receiver.try_recv().ok(),
            Some(DomainEvent::SubscribersChanged)
        );
    }
    stop.cancel();
}
