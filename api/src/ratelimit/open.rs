//! Things held open at once per key (live sockets per client address), counted across
//! replicas. A replica that is killed cannot take back what it held, so each replica
//! keeps a lease on being alive and counts only under its own name: the counts of a
//! replica whose lease ran out are ignored and swept, and a live replica writes its
//! counts again with every renewal, which also mends them after Redis restarts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use super::shared::{Shared, millis};

/// How long a replica counts as alive after its last renewal; it renews three times
/// per lease, so only a dead (or cut-off) replica's counts are ever ignored.
pub const LEASE: Duration = Duration::from_secs(30);
/// Counts written back per call, so one renewal never holds Redis up for long.
const RENEW_BATCH: usize = 500;

/// KEYS: the key's hash (replica -> open count), the replicas' leases. ARGV: this
/// replica, the maximum, the lease in ms. Answers 1 when one more may open, else 0.
const ACQUIRE: &str = r"
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], now + lease, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local open = 0
local counts = redis.call('HGETALL', KEYS[1])
for i = 1, #counts, 2 do
  if redis.call('ZSCORE', KEYS[2], counts[i]) then
    open = open + tonumber(counts[i + 1])
  else
    redis.call('HDEL', KEYS[1], counts[i])
  end
end
if open >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], lease * 2)
return 1
";

const RELEASE: &str = r"
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
";

/// KEYS: the replicas' leases, then keys' hashes. ARGV: this replica, the lease in ms,
/// then this replica's count for each hash.
const RENEW: &str = r"
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
for i = 2, #KEYS do
  redis.call('HSET', KEYS[i], ARGV[1], ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], lease * 2)
end
return 1
";

/// At most `max` held open at once per key. Cheap to clone; clones count together.
#[derive(Clone)]
pub struct OpenLimit {
    inner: Arc<Inner>,
}

struct Inner {
    name: &'static str,
    max: usize,
    lease: Duration,
    /// This process's name in Redis.
    replica: String,
    /// What this process holds open, per key: the truth it renews into Redis, and the
    /// whole count while Redis is away or not configured.
    held: Mutex<HashMap<String, usize>>,
    shared: Option<Shared>,
    renewing: AtomicBool,
}

/// One thing held open; dropping it closes it in the count.
pub struct Held {
    inner: Arc<Inner>,
    key: String,
}

impl OpenLimit {
    pub(super) fn new(
        name: &'static str,
        max: usize,
        shared: Option<Shared>,
        lease: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                name,
                max,
                lease,
                replica: crate::secret::random_token(64),
                held: Mutex::default(),
                shared,
                renewing: AtomicBool::new(false),
            }),
        }
    }

    pub fn max(&self) -> usize {
        self.inner.max
    }

    /// One more open for `key`, or `None` when `key` already holds the maximum. With
    /// Redis, across all replicas; while Redis is away, this process's own count.
    pub async fn acquire(&self, key: &str) -> Option<Held> {
        let inner = &self.inner;
        let mut counted_in_redis = false;
        if let Some(shared) = &inner.shared {
            self.keep_renewing();
            let script = redis::Script::new(ACQUIRE);
            let mut acquire = script.key(shared.key(inner.name, key));
            acquire
                .key(inner.leases_key(shared))
                .arg(&inner.replica)
                .arg(inner.max)
                .arg(millis(inner.lease));
            let granted: Option<bool> = shared
                .run(|mut redis| async move { acquire.invoke_async(&mut redis).await })
                .await;
            match granted {
                Some(false) => return None,
                Some(true) => counted_in_redis = true,
                None => {}
            }
        }
        let mut held = inner.held.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(key.to_owned()).or_default();
        if !counted_in_redis && *count >= inner.max {
            if *count == 0 {
                held.remove(key);
            }
            return None;
        }
        *count += 1;
        Some(Held {
            inner: self.inner.clone(),
            key: key.to_owned(),
        })
    }

    /// Starts the renewals once per limit; they end when the last clone is dropped.
    fn keep_renewing(&self) {
        if self.inner.renewing.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.renewing.store(false, Ordering::Relaxed);
            return;
        };
        let inner: Weak<Inner> = Arc::downgrade(&self.inner);
        let every = self.inner.lease / 3;
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = inner.upgrade() else { break };
                inner.renew().await;
            }
        });
    }
}

impl Inner {
    fn leases_key(&self, shared: &Shared) -> String {
        shared.key("replicas", self.name)
    }

    async fn renew(&self) {
        let Some(shared) = &self.shared else { return };
        let held: Vec<(String, usize)> = self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(key, count)| (key.clone(), *count))
            .collect();
        let mut batches: Vec<&[(String, usize)]> = held.chunks(RENEW_BATCH).collect();
        if batches.is_empty() {
            batches.push(&[]);
        }
        for batch in batches {
            let script = redis::Script::new(RENEW);
            let mut renew = script.key(self.leases_key(shared));
            renew.arg(&self.replica).arg(millis(self.lease));
            for (key, count) in batch {
                renew.key(shared.key(self.name, key)).arg(*count);
            }
            let done: Option<i64> = shared
                .run(|mut redis| async move { renew.invoke_async(&mut redis).await })
                .await;
            if done.is_none() {
                return;
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let inner = &self.inner;
        {
            let mut held = inner.held.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(count) = held.get_mut(&self.key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    held.remove(&self.key);
                }
            }
        }
        let (Some(shared), Ok(runtime)) =
            (inner.shared.clone(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        // A release Redis misses is mended by the next renewal, which writes the count
        // this process really holds.
        let hash = shared.key(inner.name, &self.key);
        let replica = inner.replica.clone();
        runtime.spawn(async move {
            let script = redis::Script::new(RELEASE);
            let mut release = script.key(hash);
            release.arg(replica);
            let _: Option<i64> = shared
                .run(|mut redis| async move { release.invoke_async(&mut redis).await })
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_holds_at_most_its_maximum_and_a_closed_one_frees_a_place() {
        let limit = OpenLimit::new("test", 2, None, LEASE);
        let first = limit.acquire("a").await.expect("first");
        let _second = limit.acquire("a").await.expect("second");
        assert!(limit.acquire("a").await.is_none());
        assert!(limit.acquire("b").await.is_some(), "keys count apart");
        drop(first);
        assert!(limit.acquire("a").await.is_some());
        let held = limit
            .inner
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        assert_eq!(held.get("a"), Some(&1));
        assert!(
            !held.contains_key("b"),
            "a key with nothing open is forgotten"
        );
    }
}
