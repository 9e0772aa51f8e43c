//! A sliding-window limiter kept in memory, per replica: for login failures and public
//! subscribe requests, where an exact count across replicas is not worth a round trip.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

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

    /// `Err(wait)` when `key` used up its hits; `wait` says when one frees up.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let mut hits = self.hits.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(times) = hits.get_mut(key) else {
            return Ok(());
        };
        while times.front().is_some_and(|t| t.elapsed() > self.window) {
            times.pop_front();
        }
        if times.is_empty() {
            hits.remove(key);
            return Ok(());
        }
        if times.len() < self.max {
            return Ok(());
        }
        Err(times.front().map_or(self.window, |oldest| {
            self.window.saturating_sub(oldest.elapsed())
        }))
    }

    pub fn hit(&self, key: &str) {
        self.hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.to_owned())
            .or_default()
            .push_back(Instant::now());
    }

    /// Checks and, when allowed, counts one hit.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        self.check(key)?;
        self.hit(key);
        Ok(())
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
    }
}
