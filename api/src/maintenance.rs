//! Keeping a long-running installation the size of its live data: the retention job
//! forgets transient rows (finished jobs, old deliveries, expired sessions and login
//! challenges, subscribers who never confirmed) and checkpoints SQLite's WAL.
//!
//! Every replica's timer offers the job, but its dedupe key names the time slot, so it
//! is enqueued once per slot and run once across all replicas, by whichever worker
//! claims it. Each step is an idempotent delete by age, so a run repeated after a crash
//! does no harm.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement};
use serde::{Deserialize, Serialize};

use crate::config::RetentionConfig;
use crate::jobs::{JobError, JobHandler, Lease, NewJob, Queue};
use crate::services::NotificationService;
use crate::store::job;

pub const RETENTION_KIND: &str = "maintenance.retention";

#[derive(Serialize, Deserialize)]
struct RetentionPayload {
    slot: i64,
}

/// How many rows one run forgot, per kind of data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub finished_jobs: u64,
    pub deliveries: u64,
    pub refresh_tokens: u64,
    pub login_challenges: u64,
    pub unconfirmed_subscribers: u64,
    pub audit_entries: u64,
}

/// Enqueues the retention job for the slot `now` falls in, unless some replica already
/// did. Returns whether this call enqueued it.
pub async fn offer(
    db: &DatabaseConnection,
    settings: &RetentionConfig,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let slot_secs = i64::try_from(settings.interval.as_secs().max(1)).unwrap_or(i64::MAX);
    let slot = now.timestamp().div_euclid(slot_secs);
    let enqueued = NewJob::new(RETENTION_KIND, &RetentionPayload { slot })
        .dedupe(format!("{RETENTION_KIND}:{slot_secs}:{slot}"))
        // A run that keeps failing is retried at the next slot anyway.
        .max_attempts(3)
        .enqueue(db)
        .await?;
    Ok(enqueued.is_some())
}

/// Runs the retention rules against the database.
#[derive(Clone)]
pub struct Retention {
    db: DatabaseConnection,
    queue: Queue,
    notifications: NotificationService,
    settings: RetentionConfig,
}

impl Retention {
    pub fn new(
        db: DatabaseConnection,
        queue: Queue,
        notifications: NotificationService,
        settings: RetentionConfig,
    ) -> Self {
        Self {
            db,
            queue,
            notifications,
            settings,
        }
    }

    fn statement(&self, sql: &str, at: DateTime<Utc>) -> Statement {
        Statement::from_sql_and_values(self.db.get_database_backend(), sql, vec![at.into()])
    }

    async fn delete(&self, sql: &str, at: DateTime<Utc>) -> Result<u64, DbErr> {
        Ok(self
            .db
            .execute_raw(self.statement(sql, at))
            .await?
            .rows_affected())
    }

    /// Forgets what is older than its setting allows, as of `now`.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<RetentionReport, DbErr> {
        let before = |age: Duration| now - TimeDelta::from_std(age).unwrap_or(TimeDelta::MAX);
        let mut report = RetentionReport {
            finished_jobs: self
                .queue
                .purge_done_before(before(self.settings.finished_jobs))
                .await?,
            deliveries: self
                .notifications
                .prune(before(self.settings.deliveries))
                .await
                .map_err(|error| DbErr::Custom(error.to_string()))?,
            // Expired sessions and challenges are useless at once.
            refresh_tokens: self
                .delete("DELETE FROM refresh_token WHERE expires_at < $1", now)
                .await?,
            login_challenges: self
                .delete(
                    "DELETE FROM second_factor_challenge WHERE expires_at < $1",
                    now,
                )
                .await?,
            // Counted from the last opt-in mail, so asking again gives a fresh week.
            unconfirmed_subscribers: self
                .delete(
                    "DELETE FROM subscriber WHERE NOT active AND confirmed_at IS NULL \
                     AND COALESCE(last_mail_at, created_at) < $1",
                    before(self.settings.unconfirmed_subscribers),
                )
                .await?,
            audit_entries: 0,
        };
        if let Some(age) = self.settings.audit {
            report.audit_entries = self
                .delete("DELETE FROM audit_entry WHERE at < $1", before(age))
                .await?;
        }
        if self.db.get_database_backend() == DatabaseBackend::Sqlite {
            // The pages the deletes freed go back to the file system, so the file stays
            // the size of the live data rather than of its peak.
            self.db
                .execute_unprepared("PRAGMA incremental_vacuum")
                .await?;
            // Readers can hold back the automatic checkpoints for ever under steady
            // load; TRUNCATE also gives the WAL's space back.
            self.db
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await?;
        }
        Ok(report)
    }
}

pub struct RetentionHandler(pub Retention);

#[async_trait::async_trait]
impl JobHandler for RetentionHandler {
    fn kind(&self) -> &'static str {
        RETENTION_KIND
    }

    async fn run(&self, _job: &job::Model, _lease: &Lease) -> Result<(), JobError> {
        let report = self
            .0
            .run(Utc::now())
            .await
            .map_err(|error| JobError::Temporary(error.to_string()))?;
        if report != RetentionReport::default() {
            tracing::info!(?report, "forgot data past its retention");
        }
        Ok(())
    }
}
