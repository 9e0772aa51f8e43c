//! The connection to Redis that every limit counts through, and what happens when Redis
//! is slow or away: the limits fall back to each process's own counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::RedisConfig;

/// A limiter must not hold a login or a form post up for long when Redis is slow.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// After Redis failed, this long with the in-process counts alone before trying again.
const REDIS_PAUSE_MILLIS: i64 = 5_000;

#[derive(Clone)]
pub struct Shared {
    redis: ConnectionManager,
    prefix: String,
    /// When a call last failed (Unix milliseconds), shared by every limit.
    failed_at: Arc<AtomicI64>,
}

impl Shared {
    /// Connects on first use, so a Redis that is down at start-up delays nothing.
    pub fn new(config: &RedisConfig) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(config.url())?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        Ok(Self {
            redis: ConnectionManager::new_lazy_with_config(client, manager)?,
            prefix: format!("{}:limit", config.prefix),
            failed_at: Arc::default(),
        })
    }

    /// The Redis key of `key` in the limit called `name`.
    pub fn key(&self, name: &str, key: &str) -> String {
        format!("{}:{name}:{key}", self.prefix)
    }

    /// The answer of Redis, or `None` when it fails or is slow; for five seconds after
    /// a failure, `None` at once, so an outage of Redis costs each request nothing
    /// rather than a timeout.
    pub async fn run<T, F, Fut>(&self, call: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let now = chrono::Utc::now().timestamp_millis();
        if now - self.failed_at.load(Ordering::Relaxed) < REDIS_PAUSE_MILLIS {
            return None;
        }
        let failure = match tokio::time::timeout(REDIS_TIMEOUT, call(self.redis.clone())).await {
            Ok(Ok(answer)) => return Some(answer),
            Ok(Err(error)) => error.to_string(),
            Err(_) => "no answer in time".to_owned(),
        };
        self.failed_at.store(now, Ordering::Relaxed);
        redis_unavailable(&failure);
        None
    }
}

pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Once a minute at most: a Redis outage under a login flood must not flood the log.
fn redis_unavailable(error: &str) {
    static LAST_WARNING: AtomicI64 = AtomicI64::new(0);
    metrics::counter!("monostat_ratelimit_redis_errors_total").increment(1);
    let now = chrono::Utc::now().timestamp();
    let last = LAST_WARNING.load(Ordering::Relaxed);
    if now - last >= 60
        && LAST_WARNING
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(%error, "rate limits cannot reach Redis; each replica counts alone until it is back");
    }
}
