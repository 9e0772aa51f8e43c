//! Notification deliveries: the durable record of who has been mailed about which
//! (incident, status, episode), which makes a fan-out resumable and exactly-once per
//! subscriber.
//!
//! A fan-out first creates one `pending` row per active subscriber (the unique index on
//! (subscriber, incident, status, episode) makes a repeated run add only those missing), then
//! the mail adapter sends the pending rows and marks each `sent` only after the SMTP
//! server accepted it, or `failed` when the server refused that address for good.
//! A run that stops halfway (crash, SMTP outage) leaves `pending` rows, which the job's
//! next attempt picks up; `sent` rows are never sent again.

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, TransactionTrait};

use super::deps::Deps;
use crate::domain::{DeliveryState, Incident, IncidentId, IncidentStatus};
pub use crate::store::deliveries::PendingDelivery;
use crate::store::{deliveries, incidents, timeline};

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// What a fan-out is about, read when the job runs (not when it was enqueued).
#[derive(Clone, Debug)]
pub struct FanOut {
    pub incident: Incident,
    /// The status being announced.
    pub status: IncidentStatus,
    pub episode: i32,
    /// The text of the timeline entry that moved the incident to `status`, if any.
    pub update_text: Option<String>,
}

#[derive(Clone, Debug)]
pub enum Preparation {
    Ready(FanOut),
    /// Nothing may be sent; the reason is for the log.
    Skip(&'static str),
}

/// How far a fan-out got; for the console's progress bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryProgress {
    pub total: u64,
    pub sent: u64,
    pub failed: u64,
    pub pending: u64,
}

#[derive(Clone)]
pub struct NotificationService {
    deps: Deps,
}

impl NotificationService {
    pub(super) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    /// Checks the incident may still be announced and creates the missing delivery
    /// rows. The incident may have been dismissed or made silent after the job was
    /// enqueued; then nobody is mailed, and rows already created stay pending unsent.
    pub async fn prepare_fanout(
        &self,
        incident_id: IncidentId,
        status: IncidentStatus,
        episode: i32,
    ) -> Result<Preparation, NotificationError> {
        let db = &self.deps.db;
        let Some(row) = incidents::find(db, incident_id).await? else {
            return Ok(Preparation::Skip("the incident was deleted"));
        };
        let incident = Incident::from(row);
        if incident.silent {
            return Ok(Preparation::Skip("the incident is silent"));
        }
        if !incident.status.is_public() || incident.status == IncidentStatus::Suspected {
            return Ok(Preparation::Skip(
                "the incident was dismissed or is only suspected",
            ));
        }
        if deliveries::was_pruned(db, incident_id, status, episode).await? {
            // Its deliveries were forgotten; making them again would mail everyone twice.
            return Ok(Preparation::Skip("this status was announced long ago"));
        }
        // Only the entry that announced this status: earlier entries may speak of a
        // suspicion or a dismissal that subscribers never heard of.
        let update_text = timeline::announcing(db, incident_id, status)
            .await?
            .filter(|text| !text.trim().is_empty());
        deliveries::create_missing(db, incident_id, status, episode, Utc::now()).await?;
        Ok(Preparation::Ready(FanOut {
            incident,
            status,
            episode,
            update_text,
        }))
    }

    /// Up to `limit` pending deliveries with an id above `after`, oldest first, for
    /// subscribers still active.
    pub async fn pending(
        &self,
        fanout: &FanOut,
        after: i64,
        limit: u64,
    ) -> Result<Vec<PendingDelivery>, NotificationError> {
        Ok(deliveries::pending(
            &self.deps.db,
            fanout.incident.id,
            fanout.status,
            fanout.episode,
            after,
            limit,
        )
        .await?)
    }

    /// Records that the SMTP server accepted these deliveries.
    pub async fn mark_sent(&self, ids: &[i64]) -> Result<(), NotificationError> {
        Ok(deliveries::mark_sent(&self.deps.db, ids, Utc::now()).await?)
    }

    /// The server refused this delivery for good (e.g. 550 unknown user).
    pub async fn mark_failed(&self, id: i64, reason: &str) -> Result<(), NotificationError> {
        Ok(deliveries::mark_failed(&self.deps.db, id, reason).await?)
    }

    /// These deliveries failed for now and stay pending for the job's next attempt.
    pub async fn note_retry(&self, ids: &[i64], reason: &str) -> Result<(), NotificationError> {
        Ok(deliveries::note_retry(&self.deps.db, ids, reason).await?)
    }

    /// How the status's latest announcement went: a reopened incident's second
    /// "resolved" is a fan-out of its own.
    pub async fn progress(
        &self,
        incident_id: IncidentId,
        status: IncidentStatus,
    ) -> Result<DeliveryProgress, NotificationError> {
        let episode = self.latest_episode(incident_id, status).await?;
        let counts = deliveries::state_counts(&self.deps.db, incident_id, status, episode).await?;
        let mut progress = DeliveryProgress::default();
        for (state, count) in counts {
            let count = u64::try_from(count).unwrap_or(0);
            progress.total += count;
            match state {
                DeliveryState::Sent => progress.sent += count,
                DeliveryState::Failed => progress.failed += count,
                DeliveryState::Pending => progress.pending += count,
            }
        }
        Ok(progress)
    }

    /// The last episode in which `status` was announced, pruned or not (1 if never).
    async fn latest_episode(
        &self,
        incident_id: IncidentId,
        status: IncidentStatus,
    ) -> Result<i32, NotificationError> {
        let latest = deliveries::latest_episode(&self.deps.db, incident_id, status).await?;
        Ok(latest.unwrap_or(1))
    }

    /// Forgets deliveries made before `cutoff`, adding what they counted to the
    /// summary in the same transaction, so the console's figures never change. Failure
    /// reasons of pruned deliveries are gone. Returns how many rows were deleted.
    pub async fn prune(&self, cutoff: DateTime<Utc>) -> Result<u64, NotificationError> {
        // Batches keep each transaction (and SQLite's write lock) short.
        const BATCH: usize = 1000;
        let mut deleted = 0;
        loop {
            let txn = self.deps.db.begin().await?;
            let pruned = deliveries::prune_batch(&txn, cutoff, BATCH).await?;
            txn.commit().await?;
            deleted += pruned as u64;
            if pruned < BATCH {
                return Ok(deleted);
            }
        }
    }

    /// The reason a delivery failed, per subscriber address; for the console.
    pub async fn failures(
        &self,
        incident_id: IncidentId,
        status: IncidentStatus,
    ) -> Result<Vec<(String, String)>, NotificationError> {
        let episode = self.latest_episode(incident_id, status).await?;
        Ok(deliveries::failures(&self.deps.db, incident_id, status, episode).await?)
    }
}
