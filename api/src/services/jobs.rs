//! The job queue as people see it: the console's lists, and retrying a dead job. Claiming,
//! leasing and settling jobs belong to `jobs/`; this is where a person's decision about
//! a job is made and recorded.

use sea_orm::DbErr;

use super::views::Job;
use super::{Deps, audit, tx};
use crate::domain::{Actor, JobState};
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
}
