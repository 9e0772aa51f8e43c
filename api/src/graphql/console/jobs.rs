//! The background job queue as the console sees it: counts, lists by state, and
//! retrying a dead job.

use async_graphql::{Context, Enum, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::access::{actor, console_user};
use crate::domain;
use crate::graphql::errors::GqlResultExt;
use crate::jobs::Queue;
use crate::services::views;

/// A state of the job queue.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for its time or a worker.
    Pending,
    /// A worker holds it now.
    Running,
    /// Gave up after its attempts, or failed for good; waits for someone to retry it.
    Dead,
    /// Finished recently.
    Done,
}

impl From<JobState> for domain::JobState {
    fn from(state: JobState) -> Self {
        match state {
            JobState::Pending => Self::Pending,
            JobState::Running => Self::Running,
            JobState::Dead => Self::Dead,
            JobState::Done => Self::Done,
        }
    }
}

/// How many jobs are in each state.
#[derive(SimpleObject)]
pub struct JobCount {
    /// `pending`, `running`, `done` or `dead`.
    state: String,
    /// Number of jobs in that state.
    count: i64,
}

/// Work the server does in the background: a Slack message, a mail fan-out.
pub struct Job(views::Job);

/// Work the server does in the background: a Slack message, a mail fan-out.
#[Object]
impl Job {
    /// Pass to `retryJob`.
    async fn id(&self) -> i64 {
        self.0.id
    }
    /// e.g. `slack.sync`, `notify.subscribers`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// `pending`, `running`, `dead` or `done`.
    async fn state(&self) -> &str {
        self.0.state.as_str()
    }
    /// How many times a worker has started it so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// After this many attempts a failing job is `dead`.
    async fn max_attempts(&self) -> i32 {
        self.0.max_attempts
    }
    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When it runs (next).
    async fn run_at(&self) -> DateTime<Utc> {
        self.0.run_at
    }
    /// When it was queued.
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
    /// The job's data, as JSON.
    async fn payload(&self) -> &str {
        &self.0.payload
    }
}

#[derive(Default)]
pub struct JobsQuery;

#[Object]
impl JobsQuery {
    /// Jobs in one state: pending ones oldest first, dead and done ones newest first.
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which state's jobs to list.")] state: JobState,
        #[graphql(default = 50, desc = "At most this many, 1 to 500.")] first: u64,
    ) -> Result<Vec<Job>> {
        let (_, services) = actor(ctx)?;
        let jobs = services.jobs.list(state.into(), first).await.gql()?;
        Ok(jobs.into_iter().map(Job).collect())
    }

    /// Jobs by state.
    async fn job_counts(&self, ctx: &Context<'_>) -> Result<Vec<JobCount>> {
        console_user(ctx)?;
        let counts = ctx.data::<Queue>()?.counts().await.gql()?;
        Ok(counts
            .0
            .into_iter()
            .map(|(state, count)| JobCount { state, count })
            .collect())
    }
}

#[derive(Default)]
pub struct JobsMutation;

#[Object]
impl JobsMutation {
    /// Puts a dead job back in the queue with fresh attempts. Returns whether it was dead.
    async fn retry_job(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job's `id`.")] id: i64,
    ) -> Result<bool> {
        let (actor, services) = actor(ctx)?;
        services.jobs.retry(&actor, id).await.gql()
    }
}
