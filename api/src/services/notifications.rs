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
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Statement, TransactionTrait};

use super::Deps;
use crate::domain::{DeliveryState, Incident, IncidentId, IncidentStatus};
use crate::store::{incidents, timeline};

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

/// One mail still to send.
#[derive(Clone, Debug, FromQueryResult)]
pub struct PendingDelivery {
    pub id: i64,
    pub email: String,
    pub token: String,
}

/// How far a fan-out got; for the console's progress bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryProgress {
    pub total: u64,
    pub sent: u64,
    pub failed: u64,
    pub pending: u64,
}

#[derive(FromQueryResult)]
struct StateCount {
    state: DeliveryState,
    count: i64,
}

#[derive(Clone)]
pub struct NotificationService {
    deps: Deps,
}

impl NotificationService {
    pub(super) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    fn statement(&self, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
        Statement::from_sql_and_values(self.deps.db.get_database_backend(), sql, values)
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
        let Some(row) = incidents::find(&self.deps.db, incident_id).await? else {
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
        if self.was_pruned(incident_id, status, episode).await? {
            // Its deliveries were forgotten; making them again would mail everyone twice.
            return Ok(Preparation::Skip("this status was announced long ago"));
        }
        // Only the entry that announced this status: earlier entries may speak of a
        // suspicion or a dismissal that subscribers never heard of.
        let update_text = timeline::announcing(&self.deps.db, incident_id, status)
            .await?
            .filter(|text| !text.trim().is_empty());
        let sql = "INSERT INTO notification_delivery \
                   (subscriber_id, incident_id, status, episode, state, attempts, created_at) \
                   SELECT id, $1, $2, $3, 'pending', 0, $4 FROM subscriber WHERE active = $5 \
                   ON CONFLICT (subscriber_id, incident_id, status, episode) DO NOTHING";
        self.deps
            .db
            .execute_raw(self.statement(
                sql,
                vec![
                    incident_id.0.into(),
                    status.as_str().into(),
                    episode.into(),
                    Utc::now().into(),
                    true.into(),
                ],
            ))
            .await?;
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
        let sql = "SELECT d.id AS id, s.email AS email, s.token AS token \
                   FROM notification_delivery d JOIN subscriber s ON s.id = d.subscriber_id \
                   WHERE d.incident_id = $1 AND d.status = $2 AND d.episode = $3 \
                   AND d.state = 'pending' AND d.id > $4 AND s.active = $5 \
                   ORDER BY d.id LIMIT $6";
        Ok(PendingDelivery::find_by_statement(self.statement(
            sql,
            vec![
                fanout.incident.id.0.into(),
                fanout.status.as_str().into(),
                fanout.episode.into(),
                after.into(),
                true.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .all(&self.deps.db)
        .await?)
    }

    /// Records that the SMTP server accepted these deliveries.
    pub async fn mark_sent(&self, ids: &[i64]) -> Result<(), NotificationError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE notification_delivery SET state = 'sent', sent_at = $1, \
             attempts = attempts + 1, last_error = NULL WHERE id IN ({}) AND state = 'pending'",
            id_list(ids)
        );
        self.deps
            .db
            .execute_raw(self.statement(&sql, vec![Utc::now().into()]))
            .await?;
        Ok(())
    }

    /// The server refused this delivery for good (e.g. 550 unknown user).
    pub async fn mark_failed(&self, id: i64, reason: &str) -> Result<(), NotificationError> {
        let sql = "UPDATE notification_delivery SET state = 'failed', attempts = attempts + 1, \
                   last_error = $1 WHERE id = $2 AND state = 'pending'";
        self.deps
            .db
            .execute_raw(self.statement(sql, vec![reason.into(), id.into()]))
            .await?;
        Ok(())
    }

    /// These deliveries failed for now and stay pending for the job's next attempt.
    pub async fn note_retry(&self, ids: &[i64], reason: &str) -> Result<(), NotificationError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE notification_delivery SET attempts = attempts + 1, last_error = $1 \
             WHERE id IN ({}) AND state = 'pending'",
            id_list(ids)
        );
        self.deps
            .db
            .execute_raw(self.statement(&sql, vec![reason.into()]))
            .await?;
        Ok(())
    }

    /// How the status's latest announcement went: a reopened incident's second
    /// "resolved" is a fan-out of its own.
    pub async fn progress(
        &self,
        incident_id: IncidentId,
        status: IncidentStatus,
    ) -> Result<DeliveryProgress, NotificationError> {
        let episode = self.latest_episode(incident_id, status).await?;
        // Pruned deliveries live on as counts in the summary.
        let rows = StateCount::find_by_statement(self.statement(
            "SELECT state, CAST(SUM(count) AS BIGINT) AS count FROM ( \
                 SELECT state, COUNT(*) AS count FROM notification_delivery \
                 WHERE incident_id = $1 AND status = $2 AND episode = $3 GROUP BY state \
                 UNION ALL \
                 SELECT state, deliveries AS count FROM notification_summary \
                 WHERE incident_id = $4 AND status = $5 AND episode = $6) AS both_kinds \
             GROUP BY state",
            vec![
                incident_id.0.into(),
                status.as_str().into(),
                episode.into(),
                incident_id.0.into(),
                status.as_str().into(),
                episode.into(),
            ],
        ))
        .all(&self.deps.db)
        .await?;
        let mut progress = DeliveryProgress::default();
        for row in rows {
            let count = u64::try_from(row.count).unwrap_or(0);
            progress.total += count;
            match row.state {
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
        #[derive(FromQueryResult)]
        struct Latest {
            episode: Option<i32>,
        }
        let latest = Latest::find_by_statement(self.statement(
            "SELECT MAX(episode) AS episode FROM ( \
                 SELECT episode FROM notification_delivery WHERE incident_id = $1 AND status = $2 \
                 UNION ALL \
                 SELECT episode FROM notification_summary WHERE incident_id = $3 AND status = $4 \
             ) AS announced",
            vec![
                incident_id.0.into(),
                status.as_str().into(),
                incident_id.0.into(),
                status.as_str().into(),
            ],
        ))
        .one(&self.deps.db)
        .await?;
        Ok(latest.and_then(|row| row.episode).unwrap_or(1))
    }

    async fn was_pruned(
        &self,
        incident_id: IncidentId,
        status: IncidentStatus,
        episode: i32,
    ) -> Result<bool, NotificationError> {
        let row = self
            .deps
            .db
            .query_one_raw(self.statement(
                "SELECT 1 AS found FROM notification_summary \
                 WHERE incident_id = $1 AND status = $2 AND episode = $3 LIMIT 1",
                vec![incident_id.0.into(), status.as_str().into(), episode.into()],
            ))
            .await?;
        Ok(row.is_some())
    }

    /// Forgets deliveries made before `cutoff`, adding what they counted to the
    /// summary in the same transaction, so the console's figures never change. Failure
    /// reasons of pruned deliveries are gone. Returns how many rows were deleted.
    pub async fn prune(&self, cutoff: DateTime<Utc>) -> Result<u64, NotificationError> {
        #[derive(FromQueryResult)]
        struct Pruned {
            incident_id: i64,
            status: String,
            episode: i32,
            state: String,
        }
        // Batches keep each transaction (and SQLite's write lock) short.
        const BATCH: usize = 1000;
        let mut deleted = 0;
        loop {
            let txn = self.deps.db.begin().await?;
            // RETURNING counts exactly the rows deleted, even if a worker changes a
            // state between two statements.
            let rows = Pruned::find_by_statement(self.statement(
                &format!(
                    "DELETE FROM notification_delivery WHERE id IN ( \
                         SELECT id FROM notification_delivery WHERE created_at < $1 \
                         ORDER BY id LIMIT {BATCH}) \
                     RETURNING incident_id, status, episode, state"
                ),
                vec![cutoff.into()],
            ))
            .all(&txn)
            .await?;
            let mut counts: std::collections::BTreeMap<(i64, String, i32, String), i64> =
                std::collections::BTreeMap::new();
            for row in &rows {
                *counts
                    .entry((
                        row.incident_id,
                        row.status.clone(),
                        row.episode,
                        row.state.clone(),
                    ))
                    .or_default() += 1;
            }
            for ((incident_id, status, episode, state), count) in counts {
                txn.execute_raw(self.statement(
                    "INSERT INTO notification_summary \
                     (incident_id, status, episode, state, deliveries) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (incident_id, status, episode, state) \
                     DO UPDATE SET deliveries = notification_summary.deliveries + excluded.deliveries",
                    vec![
                        incident_id.into(),
                        status.into(),
                        episode.into(),
                        state.into(),
                        count.into(),
                    ],
                ))
                .await?;
            }
            txn.commit().await?;
            deleted += rows.len() as u64;
            if rows.len() < BATCH {
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
        #[derive(FromQueryResult)]
        struct Failure {
            email: String,
            last_error: Option<String>,
        }
        let rows = Failure::find_by_statement(self.statement(
            "SELECT s.email AS email, d.last_error AS last_error FROM notification_delivery d \
             JOIN subscriber s ON s.id = d.subscriber_id \
             WHERE d.incident_id = $1 AND d.status = $2 AND d.episode = $3 \
             AND d.state = 'failed' ORDER BY d.id",
            vec![
                incident_id.0.into(),
                status.as_str().into(),
                self.latest_episode(incident_id, status).await?.into(),
            ],
        ))
        .all(&self.deps.db)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.email, row.last_error.unwrap_or_default()))
            .collect())
    }
}

/// Ids are integers from our own database, so inlining them is safe, and it keeps one
/// statement per batch on both databases.
fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}
