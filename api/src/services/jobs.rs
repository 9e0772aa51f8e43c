//! The job queue's doors for the rest of the app: retrying a dead job from the console
//! (a person's decision, recorded), and enqueueing the jobs that answer someone rather
//! than follow a change of data (Slack's App Home tab, a message to the person who
//! clicked). Jobs that follow a change are enqueued in that change's transaction by its
//! service. Claiming, leasing and settling jobs belong to `jobs/`.

use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use super::{Deps, audit, tx};
use crate::domain::Actor;
use crate::jobs::NewJob;
use crate::store::job;

#[derive(Clone)]
pub struct JobService {
    deps: Deps,
}

impl JobService {
    pub(super) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// Puts dead job `id` back in the queue with fresh attempts, and records who did
    /// it in the same transaction. Returns false, and records nothing, when the job is
    /// unknown or not dead.
    pub async fn retry(&self, actor: &Actor, id: i64) -> Result<bool, DbErr> {
        tx::write_tx!(&self.deps.db, DbErr, |txn| {
            if !crate::jobs::retry_dead(txn, id).await? {
                return Ok(false);
            }
            let kind: Option<String> = job::Entity::find()
                .select_only()
                .column(job::Column::Kind)
                .filter(job::Column::Id.eq(id))
                .into_tuple()
                .one(txn)
                .await?;
            let kind = kind.unwrap_or_default();
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
