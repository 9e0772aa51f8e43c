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

mod handler;
mod lease;
mod new_job;
mod queue;
mod worker;

pub use handler::{JobError, JobHandler};
pub use lease::Lease;
pub use new_job::{DEFAULT_MAX_ATTEMPTS, NewJob};
pub use queue::{JobCounts, Queue, RetryPolicy, retry_dead};
pub use worker::{JobWaker, WorkerPool};
