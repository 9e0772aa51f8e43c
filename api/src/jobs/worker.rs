use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::handler::{JobError, JobHandler};
use super::lease::Lease;
use super::queue::Queue;
use crate::store::job;

/// Tells idle workers of this process that a job was just enqueued, so it starts now
/// instead of at the next poll. Workers of other replicas find it by polling.
#[derive(Clone, Default)]
pub struct JobWaker(Arc<Notify>);

impl JobWaker {
    pub fn wake(&self) {
        self.0.notify_waiters();
    }

    async fn woken(&self) {
        self.0.notified().await;
    }
}

/// A set of workers claiming jobs from the queue and running their handlers.
pub struct WorkerPool {
    queue: Queue,
    waker: JobWaker,
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    workers: usize,
    poll_interval: Duration,
    /// Prefix of every claim token of this pool, so its leases can be released at exit.
    pool_id: String,
}

impl WorkerPool {
    pub fn new(queue: Queue, waker: JobWaker, workers: usize) -> Self {
        Self {
            queue,
            waker,
            handlers: HashMap::new(),
            workers: workers.max(1),
            poll_interval: Duration::from_secs(1),
            pool_id: format!("pool-{}", crate::secret::random_token(64)),
        }
    }

    #[must_use]
    pub fn register(mut self, handler: impl JobHandler) -> Self {
        self.handlers.insert(handler.kind(), Arc::new(handler));
        self
    }

    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Runs until `stop` is cancelled, then lets running jobs finish for up to `grace`
    /// and hands the leases of any still running back to the queue.
    pub async fn run(self, stop: CancellationToken, grace: Duration) {
        // The id is what `job.locked_by` starts with: it tells an operator (and the
        // scale-out test) which process holds a job.
        tracing::info!(pool = %self.pool_id, workers = self.workers, "job worker pool started");
        let pool = Arc::new(self);
        let mut workers = JoinSet::new();
        for number in 0..pool.workers {
            let pool = pool.clone();
            let stop = stop.clone();
            workers.spawn(async move { pool.work(number, stop).await });
        }
        stop.cancelled().await;
        let finished = tokio::time::timeout(grace, async {
            while workers.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            workers.abort_all();
        }
        match pool.queue.release(&pool.pool_id).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "handed unfinished jobs back to the queue"),
            Err(error) => {
                tracing::warn!(%error, "could not release job leases; they expire by themselves");
            }
        }
    }

    async fn work(&self, number: usize, stop: CancellationToken) {
        let kinds: Vec<&str> = self.handlers.keys().copied().collect();
        let mut claims: u64 = 0;
        while !stop.is_cancelled() {
            claims += 1;
            let claim_token = format!("{}:{number}:{claims}", self.pool_id);
            match self.queue.claim(&kinds, &claim_token).await {
                Ok(Some(job)) => {
                    let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts);
                    self.execute(job, &claim_token).instrument(span).await;
                }
                Ok(None) => {
                    tokio::select! {
                        () = self.waker.woken() => {}
                        () = tokio::time::sleep(self.poll_interval) => {}
                        () = stop.cancelled() => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot claim jobs; the database may be away");
                    tokio::select! {
                        () = tokio::time::sleep(self.poll_interval) => {}
                        () = stop.cancelled() => {}
                    }
                }
            }
        }
    }

    async fn execute(&self, job: job::Model, claim_token: &str) {
        if job.attempts > job.max_attempts {
            // Its workers kept dying mid-run; running it again would only repeat that.
            let error = "gave up: the job was interrupted on every attempt";
            self.settle(&job, claim_token, Err(JobError::Permanent(error.into())))
                .await;
            return;
        }
        let Some(handler) = self.handlers.get(job.kind.as_str()).cloned() else {
            return;
        };
        let lease = Lease::granted(self.queue.lease());
        let _renewing = lease.keep_alive(self.queue.clone(), job.id, claim_token.to_owned());
        // A panicking handler must not take the worker down with it: run it as its own
        // task and treat a panic as a temporary failure.
        let mut running = {
            let (job, lease) = (job.clone(), lease.clone());
            tokio::spawn(async move { handler.run(&job, &lease).await })
        };
        let outcome = tokio::select! {
            outcome = &mut running => outcome,
            () = lease.lost() => {
                // Another worker runs it now; whatever this one would still do, that
                // one does too. Its outcome is that worker's to record.
                running.abort();
                return;
            }
        };
        let outcome = outcome.unwrap_or_else(|panic| {
            Err(JobError::Temporary(format!(
                "the job handler panicked: {panic}"
            )))
        });
        self.settle(&job, claim_token, outcome).await;
    }

    /// Records the outcome. While the database is unreachable it keeps trying (the
    /// lease is still being renewed meanwhile): an outcome dropped here would have the
    /// job run a second time once its lease ran out.
    async fn settle(&self, job: &job::Model, claim_token: &str, outcome: Result<(), JobError>) {
        match &outcome {
            Ok(()) => {
                metrics::counter!("monostat_jobs_completed_total", "kind" => job.kind.clone())
                    .increment(1);
            }
            Err(error) => {
                metrics::counter!("monostat_jobs_failed_total", "kind" => job.kind.clone())
                    .increment(1);
                tracing::warn!(%error, "job failed");
            }
        }
        let mut waited = false;
        loop {
            match self.record(job, claim_token, &outcome).await {
                Ok(()) => {
                    if waited {
                        tracing::info!("recorded the job's outcome now that the database is back");
                    }
                    return;
                }
                Err(error) if crate::store::is_unreachable(&error) => {
                    if !waited {
                        tracing::warn!(%error, "cannot record the job's outcome yet; the database may be away");
                    }
                    waited = true;
                    // Short: when the database is back, this worker should reach it
                    // before any other claims the job whose lease ran out meanwhile.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => {
                    // The lease runs out and the job is tried again; handlers are idempotent.
                    tracing::warn!(%error, "could not record the job's outcome");
                    return;
                }
            }
        }
    }

    async fn record(
        &self,
        job: &job::Model,
        claim_token: &str,
        outcome: &Result<(), JobError>,
    ) -> Result<(), sea_orm::DbErr> {
        match outcome {
            Ok(()) => self.queue.complete(job.id, claim_token).await.map(|still_ours| {
                if !still_ours {
                    tracing::warn!("job finished after its lease ran out; another worker may have run it too");
                }
            }),
            Err(error) => {
                let retry_at = match &error {
                    JobError::Temporary(_) => Some(self.queue.retry_at(job.attempts)),
                    JobError::RetryAfter { after, .. } => {
                        // Whatever the remote asked for, a date that overflows is no
                        // reason for a worker to panic: fall back to the back-off.
                        let now = chrono::Utc::now();
                        Some(
                            chrono::TimeDelta::from_std(*after)
                                .ok()
                                .and_then(|after| now.checked_add_signed(after))
                                .unwrap_or_else(|| self.queue.retry_at(job.attempts)),
                        )
                    }
                    JobError::Permanent(_) => None,
                };
                self.queue
                    .fail(job, claim_token, &error.to_string(), retry_at)
                    .await
            }
        }
    }
}
