//! A running job's lease, kept alive by its worker.
//!
//! A claimed job belongs to its worker until `locked_until`. The worker renews that
//! time every third of the lease while the handler runs, so a job of a dead worker is
//! taken over within one lease by any live worker, however long the job itself runs.
//! When a renewal finds the job no longer ours (another worker took it over after a
//! stall, or an operator intervened) the lease is *lost*; while renewals fail (the
//! database is away) it merely *runs out* at the last known end. Either way the handler
//! must stop before doing more work that someone else may be doing too.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::queue::Queue;

#[derive(Clone)]
pub struct Lease {
    inner: Arc<Inner>,
}

struct Inner {
    /// Cancelled when a renewal found the job taken over.
    lost: CancellationToken,
    /// The end of the lease as last confirmed by the database, by this process's clock.
    valid_until: Mutex<Instant>,
}

impl Lease {
    /// A lease that was just granted for `length`.
    pub fn granted(length: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                lost: CancellationToken::new(),
                valid_until: Mutex::new(Instant::now() + length),
            }),
        }
    }

    /// Whether the job is still this worker's: check before every step that must not
    /// happen twice (a mail, a message).
    pub fn held(&self) -> bool {
        !self.inner.lost.is_cancelled() && Instant::now() < self.valid_until()
    }

    /// Resolves when a renewal found the job taken over by someone else.
    pub async fn lost(&self) {
        self.inner.lost.cancelled().await;
    }

    fn valid_until(&self) -> Instant {
        *self
            .inner
            .valid_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn extend_to(&self, until: Instant) {
        *self
            .inner
            .valid_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = until;
    }

    /// Renews the lease of job `id` every third of its length until dropped (the
    /// returned guard aborts the task) or lost.
    pub(super) fn keep_alive(&self, queue: Queue, id: i64, claim_token: String) -> KeepAlive {
        let lease = self.clone();
        let length = queue.lease();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(Instant::now() + length / 3, length / 3);
            loop {
                ticks.tick().await;
                // Counted from before the request: the database's new end is later.
                let asked = Instant::now();
                match queue.renew(id, &claim_token).await {
                    Ok(true) => lease.extend_to(asked + length),
                    Ok(false) => {
                        tracing::warn!(
                            job_id = id,
                            "the job was taken over by another worker; stopping it here"
                        );
                        lease.inner.lost.cancel();
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(job_id = id, %error, "cannot renew the job's lease; retrying");
                    }
                }
            }
        });
        KeepAlive(task.abort_handle())
    }
}

/// Stops renewing when dropped.
pub(super) struct KeepAlive(tokio::task::AbortHandle);

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lease_runs_out_without_renewal_and_ends_when_lost() {
        let lease = Lease::granted(Duration::from_millis(200));
        assert!(lease.held());
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(!lease.held(), "ran out");
        lease.extend_to(Instant::now() + Duration::from_secs(30));
        assert!(lease.held(), "renewed");
        lease.inner.lost.cancel();
        assert!(!lease.held(), "taken over");
        lease.lost().await;
    }
}
