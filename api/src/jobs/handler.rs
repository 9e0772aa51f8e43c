//! What a job handler is, and how a job can fail.

use std::time::Duration;

use super::lease::Lease;
use crate::store::job;

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
