//! Rate limits as sliding windows. With Redis configured every replica counts in Redis,
//! so two replicas refuse the same attempt one replica alone would; without it (and
//! while Redis cannot be reached, so an outage of Redis never opens or closes the door
//! entirely) each process counts for itself. Each process also keeps its own hits while
//! Redis answers, so an outage starts from what it saw rather than from nothing.

mod open;
mod shared;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use open::{Held, OpenLimit};
use shared::{Shared, millis};

use crate::config::RedisConfig;

/// Past this many keys, expired ones are swept out.
const SWEEP_AT: usize = 10_000;
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
        Ok(Self {
            shared: Some(Shared::new(config)?),
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

    /// At most `max` things open at once per key (sockets per address), counted
    /// across replicas; see [`OpenLimit`].
    pub fn open(&self, name: &'static str, max: usize) -> OpenLimit {
        self.open_with_lease(name, max, open::LEASE)
    }

    /// [`Limits::open`] with its own lease, for tests that kill a replica.
    pub fn open_with_lease(&self, name: &'static str, max: usize, lease: Duration) -> OpenLimit {
        OpenLimit::new(name, max, self.shared.clone(), lease)
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
            let script = redis::Script::new(TAKE);
            let mut take = script.key(self.key(shared, key));
            take.arg(millis(self.local.window))
                .arg(self.local.max.min(UNLIMITED))
                .arg(crate::secret::random_token(64));
            let wait: Option<i64> = shared
                .run(|mut redis| async move { take.invoke_async(&mut redis).await })
                .await;
            if let Some(wait) = wait {
                return match u64::try_from(wait) {
                    Ok(wait) => Err(Duration::from_millis(wait)),
                    Err(_) => {
                        // Remembered here too, so that while Redis is away this
                        // process still knows what it let through.
                        let _ = self.local.take(key);
                        Ok(())
                    }
                };
            }
        }
        self.local.take(key)
    }

    /// Takes back the newest hit of `key`: an attempt counted up front that succeeded.
    pub async fn give_back(&self, key: &str) {
        if let Some(shared) = &self.shared {
            let mut pop = redis::cmd("ZPOPMAX");
            pop.arg(self.key(shared, key));
            let _: Option<redis::Value> = shared
                .run(|mut redis| async move { pop.query_async(&mut redis).await })
                .await;
        }
        self.local.give_back(key);
    }

    pub async fn forget(&self, key: &str) {
        if let Some(shared) = &self.shared {
            let mut delete = redis::cmd("DEL");
            delete.arg(self.key(shared, key));
            let _: Option<i64> = shared
                .run(|mut redis| async move { delete.query_async(&mut redis).await })
                .await;
        }
        self.local.forget(key);
    }

    /// The hits of `key` inside the window now.
    pub async fn count(&self, key: &str) -> usize {
        if let Some(shared) = &self.shared {
            let script = redis::Script::new(COUNT);
            let mut count = script.key(self.key(shared, key));
            count.arg(millis(self.local.window));
            let counted: Option<usize> = shared
                .run(|mut redis| async move { count.invoke_async(&mut redis).await })
                .await;
            if let Some(counted) = counted {
                return counted;
            }
        }
        self.local.count(key)
    }

    fn key(&self, shared: &Shared, key: &str) -> String {
        shared.key(self.name, key)
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
