//! The job queue's doors for the rest of the app: the console's lists, retrying a dead
//! job (a person's decision, recorded), and enqueueing the jobs that answer someone
//! rather than follow a change of data (Slack's App Home tab, a message to the person
//! who clicked). Jobs that follow a change are enqueued in that change's transaction by
//! its service. Claiming, leasing and settling jobs belong to `jobs/`.

use sea_orm::DbErr;

use super::deps::Deps;
use super::views::Job;
use super::{audit, tx};
use crate::domain::{Actor, JobState};
use crate::jobs::NewJob;
use crate::store;

#[derive(Clone)]
pub struct JobService {
    deps: Deps,
}

impl JobService {
    pub(super) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// Jobs in one state, the ones that need attention first: the oldest pending
    /// (they are late), the most recently failed dead ones.
    pub async fn list(&self, state: JobState, limit: u64) -> Result<Vec<Job>, DbErr> {
        let jobs = store::jobs::in_state(&self.deps.db, state, limit.clamp(1, 500)).await?;
        Ok(jobs.into_iter().map(Job::from).collect())
    }

    /// Puts dead job `id` back in the queue with fresh attempts, and records who did
    /// it in the same transaction. Returns false, and records nothing, when the job is
    /// unknown or not dead.
    pub async fn retry(&self, actor: &Actor, id: i64) -> Result<bool, DbErr> {
        tx::write_tx!(&self.deps.db, DbErr, |txn| {
            if !crate::jobs::retry_dead(txn, id).await? {
                return Ok(false);
            }
            let kind = store::jobs::kind_of(txn, id).await?.unwrap_or_default();
            audit::record(
                txn,
                actor,
                None,
                format!("Retried the dead job {id} ({kind})"),
            )
            .await?;
            Ok(true)
        })
    }

    /// Enqueues `jobs` in one transaction and starts them at once on this replica.
    pub async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<(), DbErr> {
        if jobs.is_empty() {
            return Ok(());
        }
        tx::write_tx!(&self.deps.db, DbErr, |txn| {
            for job in &jobs {
                job.clone().enqueue(txn).await?;
            }
            Ok(())
        })?;
        self.deps.jobs.wake();
        Ok(())
    }
}
