//! A sliding-window limiter kept in memory, per replica: for login failures and public
//! subscribe requests, where an exact count across replicas is not worth a round trip.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Past this many keys, expired ones are swept out.
const SWEEP_AT: usize = 10_000;

/// At most `max` hits per key within `window`.
#[derive(Clone)]
pub struct SlidingWindow {
    window: Duration,
    max: usize,
    hits: Arc<Mutex<HashMap<String, VecDeque<Instant>>>>,
}

impl SlidingWindow {
    pub fn new(window: Duration, max: usize) -> Self {
        Self {
            window,
            max,
            hits: Arc::default(),
        }
    }

    /// Counts one hit for `key`, or `Err(wait)` when it used up its hits (`wait` says
    /// when one frees up). Checked and counted under one lock, so requests running
    /// at the same moment cannot all pass the check before any of them is counted.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
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
    pub fn give_back(&self, key: &str) {
        let mut hits = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(times) = hits.get_mut(key) {
            times.pop_back();
            if times.is_empty() {
                hits.remove(key);
            }
        }
    }

    pub fn forget(&self, key: &str) {
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
