//! The replay cache: a signed request is good for five minutes (its timestamp may be
//! that far from our clock), so whoever copies one off the wire could send it again
//! within that window. Each (timestamp, signature) pair is let through once: a window
//! of one hit per pair in the rate limits ([`crate::ratelimit`]), so with Redis
//! configured every replica refuses a copy sent to another, and while Redis is away
//! each replica still refuses what it saw.

use std::time::Duration;

use super::verify::MAX_CLOCK_SKEW_SECS;
use crate::ratelimit::{Limit, Limits};

/// How long a pair is remembered. A request is accepted while its timestamp is within
/// five minutes of our clock either way, so ten minutes after we first saw it, it is
/// refused as stale anyway.
const REMEMBER: Duration = Duration::from_secs(2 * MAX_CLOCK_SKEW_SECS.unsigned_abs());

/// Remembers the (timestamp, signature) pairs of the requests seen; cheap to clone.
#[derive(Clone)]
pub struct ReplayGuard {
    seen: Limit,
}

impl ReplayGuard {
    pub fn new(limits: &Limits) -> Self {
        Self {
            seen: limits.window("slack-replay", REMEMBER, 1),
        }
    }

    /// Whether this is the first time the pair comes (and remembers it).
    pub async fn first_time(&self, timestamp: &str, signature: &str) -> bool {
        self.seen.take(&key(timestamp, signature)).await.is_ok()
    }

    /// Forgets a pair, so Slack's retry of a request we could not take (503) is taken.
    pub async fn forget(&self, timestamp: &str, signature: &str) {
        self.seen.forget(&key(timestamp, signature)).await;
    }
}

fn key(timestamp: &str, signature: &str) -> String {
    format!("{}:{}", timestamp.trim(), signature.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pair_passes_once_until_forgotten() {
        let guard = ReplayGuard::new(&Limits::in_process());
        assert!(guard.first_time("1700000000", "v0=aa").await);
        assert!(!guard.first_time("1700000000", "v0=aa").await);
        assert!(guard.first_time("1700000000", "v0=bb").await);
        guard.forget("1700000000", "v0=bb").await;
        assert!(guard.first_time("1700000000", "v0=bb").await, "forgotten");
    }
}
