//! The job queue's one human use case: retrying a dead job from the console. Claiming,
//! leasing and settling jobs belong to `jobs/`; this is where a person's decision about
//! a job is made and recorded.

use sea_orm::DbErr;

use super::{Deps, audit, tx};
use crate::domain::Actor;
use crate::store;

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
