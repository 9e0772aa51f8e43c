//! The replay cache: a signed request is good for five minutes (its timestamp may be
//! that far from our clock), so whoever copies one off the wire could send it again
//! within that window. Each (timestamp, signature) pair is let through once.
//!
//! Every replica remembers what it saw, in memory, bounded and swept as pairs expire.
//! With Redis configured (`MONOSTAT_REDIS_*`), the pairs are also claimed there with
//! `SET key NX PX`, so a copy sent to another replica is refused too; while Redis is
//! away, each replica's own memory still refuses what it saw.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::verify::MAX_CLOCK_SKEW_SECS;
use crate::config::RedisConfig;

/// How long a pair is remembered. A request is accepted while its timestamp is within
/// five minutes of our clock either way, so ten minutes after we first saw it, it is
/// refused as stale anyway.
const REMEMBER: Duration = Duration::from_secs(2 * MAX_CLOCK_SKEW_SECS.unsigned_abs());
/// Slack sends a few requests a second at most; far more than that many pairs within
/// ten minutes means something is wrong, and the oldest are forgotten first.
const MAX_REMEMBERED: usize = 100_000;
/// Redis shares the cache; it must not make Slack's three seconds longer.
const REDIS_DEADLINE: Duration = Duration::from_millis(300);
/// After Redis failed, this long with the in-memory cache alone before trying again.
const REDIS_PAUSE: Duration = Duration::from_secs(5);

/// Remembers the (timestamp, signature) pairs of the requests seen; cheap to clone.
#[derive(Clone)]
pub struct ReplayGuard {
    seen: Arc<Mutex<Seen>>,
    redis: Option<Arc<RedisLink>>,
}

#[derive(Default)]
struct Seen {
    /// Pair → when it may be forgotten.
    until: HashMap<String, Instant>,
    /// The same pairs in the order they came (each once), so expired ones are swept
    /// from the front.
    order: VecDeque<(Instant, String)>,
}

struct RedisLink {
    client: redis::Client,
    prefix: String,
    connection: tokio::sync::Mutex<Connection>,
}

enum Connection {
    None,
    Open(redis::aio::MultiplexedConnection),
    FailedAt(Instant),
}

impl ReplayGuard {
    /// `redis`: share the cache with the other replicas there.
    pub fn new(redis: Option<&RedisConfig>) -> Self {
        let redis = redis.and_then(|config| match redis::Client::open(config.url()) {
            Ok(client) => Some(Arc::new(RedisLink {
                client,
                prefix: config.prefix.clone(),
                connection: tokio::sync::Mutex::new(Connection::None),
            })),
            Err(error) => {
                tracing::warn!(%error, "the Slack replay cache stays in memory: invalid Redis settings");
                None
            }
        });
        Self {
            seen: Arc::default(),
            redis,
        }
    }

    /// Whether this is the first time the pair comes (and remembers it).
    pub async fn first_time(&self, timestamp: &str, signature: &str) -> bool {
        let key = format!("{}:{}", timestamp.trim(), signature.trim());
        if !self.remember_here(&key, Instant::now()) {
            return false;
        }
        match &self.redis {
            Some(redis) => redis.claim(&key).await.unwrap_or(true),
            None => true,
        }
    }

    /// Forgets a pair, so Slack's retry of a request we could not take (503) is taken.
    pub async fn forget(&self, timestamp: &str, signature: &str) {
        let key = format!("{}:{}", timestamp.trim(), signature.trim());
        {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            seen.until.remove(&key);
            // Rare (a request we could not take), so a linear pass is fine.
            seen.order.retain(|(_, k)| *k != key);
        }
        if let Some(redis) = &self.redis {
            redis.release(&key).await;
        }
    }

    fn remember_here(&self, key: &str, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.sweep(now);
        if seen.until.get(key).is_some_and(|until| *until > now) {
            return false;
        }
        if seen.order.len() >= MAX_REMEMBERED {
            tracing::warn!("the Slack replay cache is full; forgetting the oldest requests");
            seen.forget_oldest();
        }
        seen.until.insert(key.to_owned(), now + REMEMBER);
        seen.order.push_back((now + REMEMBER, key.to_owned()));
        true
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .order
            .len()
    }
}

impl Seen {
    fn sweep(&mut self, now: Instant) {
        while self.order.front().is_some_and(|(until, _)| *until <= now) {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((_, key)) = self.order.pop_front() {
            self.until.remove(&key);
        }
    }
}

impl RedisLink {
    fn key(&self, pair: &str) -> String {
        format!("{}:slack:replay:{pair}", self.prefix)
    }

    /// `Some(first time)`, or `None` when Redis cannot say.
    async fn claim(&self, pair: &str) -> Option<bool> {
        let mut connection = self.connection().await?;
        let ttl_ms = u64::try_from(REMEMBER.as_millis()).unwrap_or(u64::MAX);
        let mut command = redis::cmd("SET");
        command
            .arg(self.key(pair))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms);
        let set = command.query_async::<Option<String>>(&mut connection);
        match tokio::time::timeout(REDIS_DEADLINE, set).await {
            // `OK`: ours; nil: another replica (or we) saw it first.
            Ok(Ok(answer)) => Some(answer.is_some()),
            Ok(Err(error)) => {
                tracing::warn!(%error, "the Slack replay cache cannot use Redis");
                self.failed().await;
                None
            }
            Err(_) => {
                tracing::warn!("the Slack replay cache timed out on Redis");
                self.failed().await;
                None
            }
        }
    }

    async fn release(&self, pair: &str) {
        let Some(mut connection) = self.connection().await else {
            return;
        };
        let mut command = redis::cmd("DEL");
        command.arg(self.key(pair));
        let del = command.query_async::<i64>(&mut connection);
        if !matches!(tokio::time::timeout(REDIS_DEADLINE, del).await, Ok(Ok(_))) {
            self.failed().await;
        }
    }

    /// The shared connection, opened on first use; `None` while Redis is away.
    async fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        let mut slot = self.connection.lock().await;
        match &*slot {
            Connection::Open(connection) => return Some(connection.clone()),
            Connection::FailedAt(at) if at.elapsed() < REDIS_PAUSE => return None,
            Connection::FailedAt(_) | Connection::None => {}
        }
        let opened = tokio::time::timeout(
            REDIS_DEADLINE,
            self.client.get_multiplexed_async_connection(),
        )
        .await;
        if let Ok(Ok(connection)) = opened {
            *slot = Connection::Open(connection.clone());
            Some(connection)
        } else {
            tracing::warn!("the Slack replay cache cannot reach Redis; using memory alone for now");
            *slot = Connection::FailedAt(Instant::now());
            None
        }
    }

    async fn failed(&self) {
        *self.connection.lock().await = Connection::FailedAt(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pair_passes_once_until_it_expires() {
        let guard = ReplayGuard::new(None);
        assert!(guard.first_time("1700000000", "v0=aa").await);
        assert!(!guard.first_time("1700000000", "v0=aa").await);
        assert!(guard.first_time("1700000000", "v0=bb").await);
        guard.forget("1700000000", "v0=bb").await;
        assert!(guard.first_time("1700000000", "v0=bb").await, "forgotten");

        let later = Instant::now() + REMEMBER + Duration::from_secs(1);
        assert!(guard.remember_here("1700000001:v0=cc", later));
        assert_eq!(guard.remembered(), 1, "expired pairs are swept");
        assert!(guard.remember_here("1700000000:v0=aa", later));
    }
}
