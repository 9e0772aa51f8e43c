//! The durable job queue: work that must happen after a change (Slack messages, e-mail
//! fan-out) and must survive crashes, outages and restarts.
//!
//! Jobs are rows in the `job` table, inserted in the same transaction as the change that
//! needs them, so a change is never committed without its follow-up work or vice versa.
//! Workers claim a job with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite
//! serialises writers anyway), renew the lease while it runs ([`Lease`]), and mark it
//! done. A failed job is retried with
//! exponential back-off and jitter, or at the time the remote asked for (Slack's
//! Retry-After); after `max_attempts` it is parked as `dead`, visible in the console,
//! until someone retries it. A job whose worker died is claimed again when its lease
//! runs out — within one lease, as nobody renews it any more — so handlers must be
//! idempotent (every handler in monostat is) and long ones must check that they still
//! hold the lease before each step.
//!
//! Jobs sharing a `serial_key` (e.g. all Slack messages of one incident) run one at a
//! time in the order they were enqueued. A `dedupe_key` makes enqueueing idempotent.

mod lease;
mod queue;
mod worker;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, TryInsertResult};
use serde::Serialize;

pub use lease::Lease;
pub use queue::{JobCounts, Queue, RetryPolicy, retry_dead};
pub use worker::{JobWaker, WorkerPool};

use crate::store::job;

pub const DEFAULT_MAX_ATTEMPTS: i32 = 25;

/// A job about to be enqueued.
#[derive(Clone, Debug)]
pub struct NewJob {
    kind: &'static str,
    payload: String,
    serial_key: Option<String>,
    dedupe_key: Option<String>,
    run_at: Option<DateTime<Utc>>,
    max_attempts: i32,
}

impl NewJob {
    pub fn new(kind: &'static str, payload: &impl Serialize) -> Self {
        Self {
            kind,
            payload: serde_json::to_string(payload).expect("job payloads are plain data"),
            serial_key: None,
            dedupe_key: None,
            run_at: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// Runs after every earlier job with the same key has finished.
    #[must_use]
    pub fn serial(mut self, key: impl Into<String>) -> Self {
        self.serial_key = Some(key.into());
        self
    }

    /// A second job with the same key is never enqueued.
    #[must_use]
    pub fn dedupe(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    #[must_use]
    pub fn not_before(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    #[must_use]
    pub fn max_attempts(mut self, attempts: i32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Inserts the job through `conn`, normally the transaction of the change that
    /// needs it. Returns `None` when a job with the same dedupe key already exists.
    pub async fn enqueue(self, conn: &impl ConnectionTrait) -> Result<Option<i64>, DbErr> {
        let now = Utc::now();
        let row = job::ActiveModel {
            kind: Set(self.kind.to_owned()),
            payload: Set(self.payload),
            status: Set(crate::domain::JobState::Pending),
            attempts: Set(0),
            max_attempts: Set(self.max_attempts),
            run_at: Set(self.run_at.unwrap_or(now)),
            locked_until: Set(None),
            locked_by: Set(None),
            last_error: Set(None),
            serial_key: Set(self.serial_key),
            dedupe_key: Set(self.dedupe_key),
            created_at: Set(now),
            updated_at: Set(now),
            finished_at: Set(None),
            ..Default::default()
        };
        let inserted = job::Entity::insert(row)
            .on_conflict_do_nothing_on([job::Column::DedupeKey])
            .exec(conn)
            .await?;
        Ok(match inserted {
            TryInsertResult::Inserted(result) => Some(result.last_insert_id),
            TryInsertResult::Empty | TryInsertResult::Conflicted => None,
        })
    }
}

/// How a job failed, which decides what happens next.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth trying again later (network error, remote 5xx): back-off applies.
    #[error("{0}")]
    Temporary(String),
    /// The remote asked us to wait (HTTP 429 with Retry-After).
    #[error("{reason} (retry after {after:?})")]
    RetryAfter { after: Duration, reason: String },
    /// Trying again cannot help (bad payload, remote rejects it for good).
    #[error("{0}")]
    Permanent(String),
}

/// Runs jobs of one kind. Must be idempotent: a job may run again after a crash.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// The `kind` this handler runs.
    fn kind(&self) -> &'static str;

    /// `lease` tells whether the job is still this worker's; a handler doing many
    /// steps checks it before each one.
    async fn run(&self, job: &job::Model, lease: &Lease) -> Result<(), JobError>;
}
