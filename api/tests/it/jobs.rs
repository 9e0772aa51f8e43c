//! The durable job queue: claims, leases, retries, back-off, dead jobs, ordering.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::Utc;
use monostat::jobs::{
    JobError, JobHandler, JobWaker, Lease, NewJob, Queue, RetryPolicy, WorkerPool,
};
use monostat::store::job;
use sea_orm::EntityTrait;
use tokio_util::sync::CancellationToken;

use crate::common::{TestDb, both_databases};

fn queue(db: &TestDb, lease: Duration) -> Queue {
    Queue::new(
        db.conn.clone(),
        lease,
        RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(400),
        },
    )
}

async fn load(db: &TestDb, id: i64) -> job::Model {
    job::Entity::find_by_id(id)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap()
}

/// Fails with `failure` for the first `failures` runs, then succeeds.
struct Flaky {
    runs: Arc<AtomicU32>,
    failures: u32,
    failure: fn() -> JobError,
}

#[async_trait::async_trait]
impl JobHandler for Flaky {
    fn kind(&self) -> &'static str {
        "test.flaky"
    }

    async fn run(&self, _job: &job::Model, _lease: &Lease) -> Result<(), JobError> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        if run <= self.failures {
            Err((self.failure)())
        } else {
            Ok(())
        }
    }
}

/// Never finishes by itself: stands for a job still running when the process stops.
struct Stuck;

#[async_trait::async_trait]
impl JobHandler for Stuck {
    fn kind(&self) -> &'static str {
        "test.stuck"
    }

    async fn run(&self, _job: &job::Model, _lease: &Lease) -> Result<(), JobError> {
        std::future::pending().await
    }
}

/// A long job of many steps, each done only while the lease is held; counts the runs
/// and the steps taken.
struct StepByStep {
    runs: Arc<AtomicU32>,
    steps: Arc<AtomicU32>,
    count: u32,
}

#[async_trait::async_trait]
impl JobHandler for StepByStep {
    fn kind(&self) -> &'static str {
        "test.steps"
    }

    async fn run(&self, _job: &job::Model, lease: &Lease) -> Result<(), JobError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        for _ in 0..self.count {
            if !lease.held() {
                return Err(JobError::Temporary("lease lost".into()));
            }
            self.steps.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

fn start_steps_pool(
    db: &TestDb,
    lease: Duration,
    handler: StepByStep,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let pool = WorkerPool::new(queue(db, lease), JobWaker::default(), 2)
        .register(handler)
        .poll_interval(Duration::from_millis(20));
    let stop = CancellationToken::new();
    let handle = tokio::spawn(pool.run(stop.clone(), Duration::from_millis(100)));
    (stop, handle)
}

async fn wait_for_status(db: &TestDb, id: i64, status: &str) -> job::Model {
    wait_for_status_within(db, id, status, Duration::from_secs(5)).await
}

async fn wait_for_status_within(
    db: &TestDb,
    id: i64,
    status: &str,
    within: Duration,
) -> job::Model {
    crate::common::eventually(&format!("job {id} to become {status}"), within, || async {
        Some(load(db, id).await).filter(|job| job.status.as_str() == status)
    })
    .await
}

fn start_pool(
    db: &TestDb,
    handler: Flaky,
) -> (CancellationToken, tokio::task::JoinHandle<()>, JobWaker) {
    let waker = JobWaker::default();
    let pool = WorkerPool::new(queue(db, Duration::from_secs(30)), waker.clone(), 2)
        .register(handler)
        .poll_interval(Duration::from_millis(50));
    let stop = CancellationToken::new();
    let handle = tokio::spawn(pool.run(stop.clone(), Duration::from_secs(1)));
    (stop, handle, waker)
}

both_databases! {
    async fn temporary_failures_retry_with_back_off_until_done(db: TestDb) {
        let runs = Arc::new(AtomicU32::new(0));
        let id = NewJob::new("test.flaky", &"payload").enqueue(&db.conn).await.unwrap().unwrap();
        let (stop, handle, _) = start_pool(&db, Flaky { runs: runs.clone(), failures: 2, failure: || JobError::Temporary("smtp 451".into()) });
        let done = wait_for_status(&db, id, "done").await;
        assert_eq!(done.attempts, 3);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert!(done.last_error.is_none());
        // Two back-offs of at least 50 ms and 100 ms (half of 100 ms and 200 ms).
        assert!(done.finished_at.unwrap() - done.created_at >= chrono::TimeDelta::milliseconds(150));
        stop.cancel();
        handle.await.unwrap();
    }

    async fn jobs_out_of_attempts_or_permanently_failed_are_dead(db: TestDb) {
        db.expect_dead_jobs();
        db.expect_error_log("job is dead");
        let runs = Arc::new(AtomicU32::new(0));
        let tired = NewJob::new("test.flaky", &1).max_attempts(2).enqueue(&db.conn).await.unwrap().unwrap();
        let (stop, handle, _) = start_pool(&db, Flaky { runs: runs.clone(), failures: 100, failure: || JobError::Temporary("timeout".into()) });
        let dead = wait_for_status(&db, tired, "dead").await;
        assert_eq!(dead.attempts, 2);
        assert_eq!(dead.last_error.as_deref(), Some("timeout"));
        stop.cancel();
        handle.await.unwrap();

        let runs = Arc::new(AtomicU32::new(0));
        let doomed = NewJob::new("test.flaky", &2).enqueue(&db.conn).await.unwrap().unwrap();
        let (stop, handle, _) = start_pool(&db, Flaky { runs: runs.clone(), failures: 100, failure: || JobError::Permanent("channel_not_found".into()) });
        let dead = wait_for_status(&db, doomed, "dead").await;
        assert_eq!(dead.attempts, 1, "a permanent failure is not retried");
        assert_eq!(runs.load(Ordering::SeqCst), 1);

        // Retrying a dead job gives it a fresh set of attempts.
        assert!(queue(&db, Duration::from_secs(30)).retry_dead(doomed).await.unwrap());
        wait_for_status(&db, doomed, "dead").await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        stop.cancel();
        handle.await.unwrap();
        let counts = queue(&db, Duration::from_secs(30)).counts().await.unwrap();
        assert_eq!(counts.0["dead"], 2);
    }

    async fn retry_after_is_honoured(db: TestDb) {
        let queue = queue(&db, Duration::from_secs(30));
        let id = NewJob::new("test.flaky", &3).enqueue(&db.conn).await.unwrap().unwrap();
        let job = queue.claim(&["test.flaky"], "w1:1").await.unwrap().unwrap();
        let retry_at = Utc::now() + chrono::TimeDelta::seconds(30);
        queue.fail(&job, "w1:1", "ratelimited", Some(retry_at)).await.unwrap();
        let waiting = load(&db, id).await;
        assert_eq!(waiting.status.as_str(), "pending");
        assert!(waiting.run_at >= retry_at - chrono::TimeDelta::milliseconds(1));
        assert!(queue.claim(&["test.flaky"], "w1:2").await.unwrap().is_none(), "not before its time");
    }

    async fn an_expired_lease_lets_another_worker_take_over(db: TestDb) {
        let short = queue(&db, Duration::from_millis(300));
        let id = NewJob::new("test.flaky", &4).enqueue(&db.conn).await.unwrap().unwrap();
        let first = short.claim(&["test.flaky"], "dead-worker:1").await.unwrap().unwrap();
        assert_eq!(first.id, id);
        assert!(short.claim(&["test.flaky"], "other:1").await.unwrap().is_none(), "leased");
        tokio::time::sleep(Duration::from_millis(400)).await;
        let second = short.claim(&["test.flaky"], "other:2").await.unwrap().unwrap();
        assert_eq!((second.id, second.attempts), (id, 2));
        assert!(!short.complete(id, "dead-worker:1").await.unwrap(), "the old lease no longer counts");
        assert!(short.complete(id, "other:2").await.unwrap());
        assert_eq!(load(&db, id).await.status.as_str(), "done");
    }

    async fn stopping_hands_running_jobs_back_after_the_grace_period(db: TestDb) {
        let queue = queue(&db, Duration::from_hours(1));
        let id = NewJob::new("test.stuck", &()).enqueue(&db.conn).await.unwrap().unwrap();
        let pool = WorkerPool::new(queue.clone(), JobWaker::default(), 1)
            .register(Stuck)
            .poll_interval(Duration::from_millis(20));
        let stop = CancellationToken::new();
        let running = tokio::spawn(pool.run(stop.clone(), Duration::from_millis(200)));
        let claimed = wait_for_status(&db, id, "running").await;
        assert!(claimed.locked_by.is_some());
        stop.cancel();
        running.await.unwrap();
        // Not an hour-long lease to wait out: the next worker can take it at once.
        let released = load(&db, id).await;
        assert_eq!((released.status.as_str(), released.locked_by), ("pending", None));
        assert!(queue.claim(&["test.stuck"], "pool-b:0:1").await.unwrap().is_some());
    }

    async fn release_matches_pool_ids_with_like_wildcards_literally(db: TestDb) {
        // Pool ids are random base64url: `_` must not act as LIKE's "any character".
        let queue = queue(&db, Duration::from_mins(5));
        for _ in 0..2 {
            NewJob::new("test.flaky", &5).enqueue(&db.conn).await.unwrap();
        }
        queue.claim(&["test.flaky"], "pool-a_b:0:1").await.unwrap().unwrap();
        queue.claim(&["test.flaky"], "pool-aXb:0:1").await.unwrap().unwrap();
        assert_eq!(queue.release("pool-a_b").await.unwrap(), 1);
        assert_eq!(queue.release("pool-a%").await.unwrap(), 0);
        assert_eq!(queue.release("pool-aXb").await.unwrap(), 1);
    }

    async fn released_leases_are_claimable_at_once(db: TestDb) {
        let queue = queue(&db, Duration::from_mins(5));
        let id = NewJob::new("test.flaky", &5).enqueue(&db.conn).await.unwrap().unwrap();
        queue.claim(&["test.flaky"], "pool-a:0:1").await.unwrap().unwrap();
        assert_eq!(queue.release("pool-a").await.unwrap(), 1);
        let job = load(&db, id).await;
        assert_eq!((job.status.as_str(), job.attempts), ("pending", 0));
        assert!(queue.claim(&["test.flaky"], "pool-b:0:1").await.unwrap().is_some());
    }

    async fn serial_jobs_run_in_order_and_dedupe_keys_enqueue_once(db: TestDb) {
        let queue = queue(&db, Duration::from_secs(30));
        let first = NewJob::new("test.flaky", &"parent").serial("slack:1").enqueue(&db.conn).await.unwrap().unwrap();
        let second = NewJob::new("test.flaky", &"reply").serial("slack:1").enqueue(&db.conn).await.unwrap().unwrap();
        let other = NewJob::new("test.flaky", &"other").serial("slack:2").enqueue(&db.conn).await.unwrap().unwrap();

        assert_eq!(queue.claim(&["test.flaky"], "w:1").await.unwrap().unwrap().id, first);
        // The reply waits for its parent; another incident's job does not.
        assert_eq!(queue.claim(&["test.flaky"], "w:2").await.unwrap().unwrap().id, other);
        assert!(queue.claim(&["test.flaky"], "w:3").await.unwrap().is_none());
        queue.complete(first, "w:1").await.unwrap();
        assert_eq!(queue.claim(&["test.flaky"], "w:4").await.unwrap().unwrap().id, second);

        assert!(NewJob::new("test.flaky", &1).dedupe("notify:1:confirmed").enqueue(&db.conn).await.unwrap().is_some());
        assert!(NewJob::new("test.flaky", &1).dedupe("notify:1:confirmed").enqueue(&db.conn).await.unwrap().is_none());
        // Workers leave kinds they do not know alone.
        assert!(queue.claim(&["test.other"], "w:5").await.unwrap().is_none());
    }

    async fn a_running_job_keeps_its_lease_for_as_long_as_it_runs(db: TestDb) {
        // The job runs 2 s, more than three times its 600 ms lease: renewals keep the
        // other pool (a second replica) from taking it over.
        let (runs, steps) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        let id = NewJob::new("test.steps", &()).enqueue(&db.conn).await.unwrap().unwrap();
        let lease = Duration::from_millis(600);
        let (stop_a, a) = start_steps_pool(&db, lease, StepByStep { runs: runs.clone(), steps: steps.clone(), count: 40 });
        let (stop_b, b) = start_steps_pool(&db, lease, StepByStep { runs: runs.clone(), steps: steps.clone(), count: 40 });
        let done = wait_for_status_within(&db, id, "done", Duration::from_secs(10)).await;
        stop_a.cancel();
        stop_b.cancel();
        a.await.unwrap();
        b.await.unwrap();
        assert_eq!((runs.load(Ordering::SeqCst), steps.load(Ordering::SeqCst), done.attempts), (1, 40, 1));
    }

    async fn a_worker_whose_job_was_taken_over_stops_at_once(db: TestDb) {
        let (runs, steps) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        let id = NewJob::new("test.steps", &()).enqueue(&db.conn).await.unwrap().unwrap();
        let (stop, pool) = start_steps_pool(&db, Duration::from_millis(600), StepByStep { runs: runs.clone(), steps: steps.clone(), count: 1000 });
        wait_for_status(&db, id, "running").await;
        // Another worker's claim, as after a stall longer than the lease.
        let mut taken: job::ActiveModel = load(&db, id).await.into();
        taken.locked_by = sea_orm::ActiveValue::Set(Some("pool-other:0:1".into()));
        taken.locked_until = sea_orm::ActiveValue::Set(Some(Utc::now() + chrono::TimeDelta::hours(1)));
        sea_orm::ActiveModelTrait::update(taken, &db.conn).await.unwrap();
        // The next renewal (within 200 ms) finds it gone and the handler is stopped.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let after_loss = steps.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(steps.load(Ordering::SeqCst), after_loss, "kept working on a job that is not its own");
        let job = load(&db, id).await;
        assert_eq!((job.status.as_str(), job.locked_by.as_deref()), ("running", Some("pool-other:0:1")), "the new owner's claim stands");
        stop.cancel();
        pool.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    async fn a_busy_queue_runs_every_job_exactly_once(db: TestDb) {
        let runs = Arc::new(AtomicU32::new(0));
        for n in 0..40 {
            NewJob::new("test.flaky", &n).enqueue(&db.conn).await.unwrap();
        }
        // Two pools (think: two replicas) of two workers each, on the same queue.
        let (stop_a, a, _) = start_pool(&db, Flaky { runs: runs.clone(), failures: 0, failure: || JobError::Permanent(String::new()) });
        let (stop_b, b, _) = start_pool(&db, Flaky { runs: runs.clone(), failures: 0, failure: || JobError::Permanent(String::new()) });
        for _ in 0..400 {
            if queue(&db, Duration::from_secs(1)).counts().await.unwrap().0["done"] == 40 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        stop_a.cancel();
        stop_b.cancel();
        a.await.unwrap();
        b.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 40);
    }
}
