//! Rate limits as sliding windows. With Redis configured every replica counts in Redis,
//! so two replicas refuse the same attempt one replica alone would; without it (and
//! while Redis cannot be reached, so an outage of Redis never opens or closes the door
//! entirely) each process counts for itself.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::RedisConfig;

/// Past this many keys, expired ones are swept out.
const SWEEP_AT: usize = 10_000;
/// A limiter must not hold a login or a form post up for long when Redis is slow.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// Counting-only windows pass this as their maximum; Lua numbers are doubles.
const UNLIMITED: usize = 1_000_000_000;

/// Counts one hit unless the window is full. Time is Redis's own, so replicas with
/// drifting clocks still share one window. Answers -1, or the milliseconds until the
/// oldest hit leaves the window.
const TAKE: &str = r"
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, window - (now - tonumber(oldest[2])))
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return -1
";

/// The hits of a key still inside the window.
const COUNT: &str = r"
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
return redis.call('ZCARD', KEYS[1])
";

/// Where limits count; hands out the named windows.
#[derive(Clone, Default)]
pub struct Limits {
    shared: Option<Shared>,
}

#[derive(Clone)]
struct Shared {
    redis: ConnectionManager,
    prefix: String,
}

impl Limits {
    /// Every process counts for itself.
    pub fn in_process() -> Self {
        Self::default()
    }

    /// Counts in Redis when it is configured. Connects on first use, so a Redis that is
    /// down at start-up delays nothing.
    pub fn new(redis: Option<&RedisConfig>) -> Result<Self, redis::RedisError> {
        let Some(config) = redis else {
            return Ok(Self::in_process());
        };
        let client = redis::Client::open(config.url())?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1);
        Ok(Self {
            shared: Some(Shared {
                redis: ConnectionManager::new_lazy_with_config(client, manager)?,
                prefix: format!("{}:limit", config.prefix),
            }),
        })
    }

    /// At most `max` hits per key within `window`; `name` keeps windows apart.
    pub fn window(&self, name: &'static str, window: Duration, max: usize) -> Limit {
        Limit {
            name,
            local: SlidingWindow::new(window, max),
            shared: self.shared.clone(),
        }
    }

    /// A window that only counts, for decisions that grow with the count.
    pub fn counter(&self, name: &'static str, window: Duration) -> Limit {
        self.window(name, window, UNLIMITED)
    }
}

/// One named sliding window.
#[derive(Clone)]
pub struct Limit {
    name: &'static str,
    local: SlidingWindow,
    shared: Option<Shared>,
}

impl Limit {
    /// Counts one hit for `key`, or `Err(wait)` when it used up its hits (`wait` says
    /// when one frees up). Checked and counted in one step, so requests running at the
    /// same moment cannot all pass the check before any of them is counted.
    pub async fn take(&self, key: &str) -> Result<(), Duration> {
        if let Some(shared) = &self.shared {
            let mut redis = shared.redis.clone();
            let wait: Result<i64, _> = run(redis::Script::new(TAKE)
                .key(self.key(shared, key))
                .arg(millis(self.local.window))
                .arg(self.local.max.min(UNLIMITED))
                .arg(crate::secret::random_token(64))
                .invoke_async(&mut redis))
            .await;
            match wait {
                Ok(wait) => {
                    return match u64::try_from(wait) {
                        Ok(wait) => Err(Duration::from_millis(wait)),
                        Err(_) => Ok(()),
                    };
                }
                Err(error) => redis_unavailable(&error),
            }
        }
        self.local.take(key)
    }

    /// Takes back the newest hit of `key`: an attempt counted up front that succeeded.
    pub async fn give_back(&self, key: &str) {
        if let Some(shared) = &self.shared {
            let mut redis = shared.redis.clone();
            let popped: Result<redis::Value, _> = run(redis::cmd("ZPOPMAX")
                .arg(self.key(shared, key))
                .query_async(&mut redis))
            .await;
            match popped {
                Ok(_) => return,
                Err(error) => redis_unavailable(&error),
            }
        }
        self.local.give_back(key);
    }

    pub async fn forget(&self, key: &str) {
        if let Some(shared) = &self.shared {
            let mut redis = shared.redis.clone();
            let deleted: Result<i64, _> = run(redis::cmd("DEL")
                .arg(self.key(shared, key))
                .query_async(&mut redis))
            .await;
            match deleted {
                Ok(_) => return,
                Err(error) => redis_unavailable(&error),
            }
        }
        self.local.forget(key);
    }

    /// The hits of `key` inside the window now.
    pub async fn count(&self, key: &str) -> usize {
        if let Some(shared) = &self.shared {
            let mut redis = shared.redis.clone();
            let count: Result<usize, _> = run(redis::Script::new(COUNT)
                .key(self.key(shared, key))
                .arg(millis(self.local.window))
                .invoke_async(&mut redis))
            .await;
            match count {
                Ok(count) => return count,
                Err(error) => redis_unavailable(&error),
            }
        }
        self.local.count(key)
    }

    fn key(&self, shared: &Shared, key: &str) -> String {
        format!("{}:{}:{key}", shared.prefix, self.name)
    }
}

async fn run<T>(
    call: impl Future<Output = Result<T, redis::RedisError>>,
) -> Result<T, redis::RedisError> {
    tokio::time::timeout(REDIS_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from(std::io::Error::from(
                std::io::ErrorKind::TimedOut,
            )))
        })
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Once a minute at most: a Redis outage under a login flood must not flood the log.
fn redis_unavailable(error: &redis::RedisError) {
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

/// The in-process count: at most `max` hits per key within `window`.
#[derive(Clone)]
struct SlidingWindow {
    window: Duration,
    max: usize,
    hits: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

impl SlidingWindow {
    fn new(window: Duration, max: usize) -> Self {
        Self {
            window,
            max,
            hits: Arc::default(),
        }
    }

    /// Counts one hit for `key`, or `Err(wait)` when it used up its hits (`wait` says
    /// when one frees up). Checked and counted under one lock, so requests running
    /// at the same moment cannot all pass the check before any of them is counted.
    fn take(&self, key: &str) -> Result<(), Duration> {
        let mut hits = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        // Many distinct keys (addresses) must not grow the map for ever: now and then,
        // forget the keys whose hits have all expired.
        if hits.len() >= SWEEP_AT {
            let window = self.window;
            hits.retain(|_, times| times.back().is_some_and(|last| last.elapsed() <= window));
        }
        let times = hits.entry(key.to_owned()).or_default();
        while times.front().is_some_and(|t| t.elapsed() > self.window) {
            times.pop_front();
        }
        if times.len() >= self.max {
            return Err(times.front().map_or(self.window, |oldest| {
                self.window.saturating_sub(oldest.elapsed())
            }));
        }
        times.push_back(Instant::now());
        Ok(())
    }

    /// Takes back the newest hit of `key`: an attempt counted up front that succeeded.
    fn give_back(&self, key: &str) {
        let mut hits = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(times) = hits.get_mut(key) {
            times.pop_back();
            if times.is_empty() {
                hits.remove(key);
            }
        }
    }

    fn count(&self, key: &str) -> usize {
        let hits = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        hits.get(key).map_or(0, |times| {
            times.iter().filter(|t| t.elapsed() <= self.window).count()
        })
    }

    fn forget(&self, key: &str) {
        self.hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

/// Whole minutes to wait, at least one, for messages to people.
pub fn minutes(wait: Duration) -> u64 {
    wait.as_secs().div_ceil(60).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_after_its_hits_and_others_are_not() {
        let limiter = SlidingWindow::new(Duration::from_mins(1), 2);
        assert!(limiter.take("a").is_ok());
        assert!(limiter.take("a").is_ok());
        let wait = limiter.take("a").unwrap_err();
        assert!(wait <= Duration::from_mins(1));
        assert_eq!(minutes(wait), 1);
        assert!(limiter.take("b").is_ok());
        limiter.forget("a");
        assert!(limiter.take("a").is_ok());
        limiter.give_back("a");
        limiter.give_back("a");
        assert!(limiter.take("a").is_ok() && limiter.take("a").is_ok());
        assert!(limiter.take("a").is_err());
    }

    #[test]
    fn parallel_takes_never_exceed_the_limit() {
        let limiter = SlidingWindow::new(Duration::from_mins(1), 5);
        let granted: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..32)
                .map(|_| scope.spawn(|| usize::from(limiter.take("k").is_ok())))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        assert_eq!(granted, 5);
    }
}
