use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    Statement, Value,
};

use crate::domain::JobState;
use crate::store::job;

/// When to try a failed job again.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Delay after the first failure; doubles with every further one.
    pub base: Duration,
    /// Longest delay between attempts.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            cap: Duration::from_mins(15),
        }
    }
}

impl RetryPolicy {
    /// Exponential back-off with "equal jitter": between half and all of the
    /// exponential delay, so workers that failed together do not retry together.
    pub fn delay(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
        let full = self.base.saturating_mul(1 << exponent).min(self.cap);
        let half = full / 2;
        half + rand::rng().random_range(Duration::ZERO..=half)
    }
}

/// How many jobs are in each state; for `/metrics` and the console.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobCounts(pub BTreeMap<String, i64>);

/// Claims and settles jobs. One per worker pool; cheap to clone.
#[derive(Clone)]
pub struct Queue {
    db: DatabaseConnection,
    lease: Duration,
    retry: RetryPolicy,
}

#[derive(FromQueryResult)]
struct StatusCount {
    status: JobState,
    count: i64,
}

impl Queue {
    pub fn new(db: DatabaseConnection, lease: Duration, retry: RetryPolicy) -> Self {
        Self { db, lease, retry }
    }

    fn statement(&self, sql: &str, values: Vec<Value>) -> Statement {
        let backend = self.db.get_database_backend();
        // SKIP LOCKED lets PostgreSQL workers pass over rows another worker is claiming;
        // SQLite has no row locks and needs none, as it runs one writer at a time.
        let sql = if backend == DatabaseBackend::Postgres {
            sql.replace("/*LOCK*/", "FOR UPDATE SKIP LOCKED")
        } else {
            sql.replace("/*LOCK*/", "")
        };
        Statement::from_sql_and_values(backend, sql, values)
    }

    /// Takes the next due job of one of `kinds`, leasing it to `claim_token`. Jobs of
    /// other kinds are left for workers that know them (e.g. during a rolling upgrade).
    pub async fn claim(
        &self,
        kinds: &[&str],
        claim_token: &str,
    ) -> Result<Option<job::Model>, DbErr> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let now = Utc::now();
        let lease_end = now + TimeDelta::from_std(self.lease).unwrap_or(TimeDelta::MAX);
        let kind_params: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 4)).collect();
        let sql = format!(
            "UPDATE job SET status = 'running', attempts = attempts + 1, \
                 locked_until = $1, locked_by = $2, updated_at = $3 \
             WHERE id = ( \
                 SELECT candidate.id FROM job AS candidate \
                 WHERE candidate.kind IN ({kinds}) \
                   AND ((candidate.status = 'pending' AND candidate.run_at <= $3) \
                     OR (candidate.status = 'running' AND candidate.locked_until < $3)) \
                   AND NOT EXISTS ( \
                     SELECT 1 FROM job AS earlier \
                     WHERE earlier.serial_key = candidate.serial_key \
                       AND earlier.id < candidate.id \
                       AND earlier.status IN ('pending', 'running')) \
                 ORDER BY candidate.run_at, candidate.id \
                 LIMIT 1 /*LOCK*/) \
             RETURNING *",
            kinds = kind_params.join(", ")
        );
        let mut values: Vec<Value> = vec![lease_end.into(), claim_token.into(), now.into()];
        values.extend(kinds.iter().map(|kind| Value::from(*kind)));
        job::Entity::find()
            .from_raw_sql(self.statement(&sql, values))
            .one(&self.db)
            .await
    }

    /// How long a claim lasts without renewal.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Extends the lease of a running job, if `claim_token` still holds it. `false`
    /// means someone else has the job now.
    pub async fn renew(&self, id: i64, claim_token: &str) -> Result<bool, DbErr> {
        let now = Utc::now();
        let lease_end = now + TimeDelta::from_std(self.lease).unwrap_or(TimeDelta::MAX);
        let sql = "UPDATE job SET locked_until = $1, updated_at = $2 \
                   WHERE id = $3 AND locked_by = $4 AND status = 'running'";
        let result = self
            .db
            .execute_raw(self.statement(
                sql,
                vec![lease_end.into(), now.into(), id.into(), claim_token.into()],
            ))
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Marks the job done, if `claim_token` still holds its lease.
    pub async fn complete(&self, id: i64, claim_token: &str) -> Result<bool, DbErr> {
        let now = Utc::now();
        let sql = "UPDATE job SET status = 'done', locked_until = NULL, locked_by = NULL, \
                   last_error = NULL, updated_at = $1, finished_at = $1 \
                   WHERE id = $2 AND locked_by = $3 AND status = 'running'";
        let result = self
            .db
            .execute_raw(self.statement(sql, vec![now.into(), id.into(), claim_token.into()]))
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Records a failed attempt: the job waits until `retry_at`, or is parked as dead
    /// when it has no attempts left or `retry_at` is `None` (a permanent failure).
    pub async fn fail(
        &self,
        job: &job::Model,
        claim_token: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), DbErr> {
        let now = Utc::now();
        let (status, run_at, finished_at) = match retry_at {
            Some(at) if job.attempts < job.max_attempts => (JobState::Pending, at, None),
            _ => (JobState::Dead, job.run_at, Some(now)),
        };
        let sql = "UPDATE job SET status = $1, run_at = $2, last_error = $3, \
                   locked_until = NULL, locked_by = NULL, updated_at = $4, finished_at = $5 \
                   WHERE id = $6 AND locked_by = $7 AND status = 'running'";
        self.db
            .execute_raw(self.statement(
                sql,
                vec![
                    status.into(),
                    run_at.into(),
                    error.into(),
                    now.into(),
                    finished_at.into(),
                    job.id.into(),
                    claim_token.into(),
                ],
            ))
            .await?;
        if status == JobState::Dead {
            tracing::error!(job_id = job.id, kind = %job.kind, attempts = job.attempts, %error, "job is dead");
        }
        Ok(())
    }

    /// The time a job failed temporarily for the `attempts`-th time should run again.
    pub fn retry_at(&self, attempts: i32) -> DateTime<Utc> {
        Utc::now() + TimeDelta::from_std(self.retry.delay(attempts)).unwrap_or(TimeDelta::MAX)
    }

    /// Gives back every lease held by claims starting with `worker_prefix` (all of
    /// them with `""`), without counting the interrupted attempt, so another worker
    /// takes the jobs over at once.
    pub async fn release(&self, worker_prefix: &str) -> Result<u64, DbErr> {
        let sql = "UPDATE job SET status = 'pending', locked_until = NULL, locked_by = NULL, \
                   attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = $1 \
                   WHERE status = 'running' AND locked_by LIKE $2 ESCAPE '\\'";
        // Pool ids are base64url and may hold `_`, which LIKE reads as "any character";
        // escape it (and `%`, `\`) so the prefix matches only itself.
        let escaped = worker_prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("{escaped}%");
        let result = self
            .db
            .execute_raw(self.statement(sql, vec![Utc::now().into(), pattern.into()]))
            .await?;
        Ok(result.rows_affected())
    }

    /// Puts a dead job back in line with a fresh set of attempts.
    pub async fn retry_dead(&self, id: i64) -> Result<bool, DbErr> {
        retry_dead(&self.db, id).await
    }

    /// Forgets jobs that finished before `cutoff`; dead ones stay.
    pub async fn purge_done_before(&self, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
        let sql = "DELETE FROM job WHERE status = 'done' AND finished_at < $1";
        let result = self
            .db
            .execute_raw(self.statement(sql, vec![cutoff.into()]))
            .await?;
        Ok(result.rows_affected())
    }

    pub async fn counts(&self) -> Result<JobCounts, DbErr> {
        let rows = StatusCount::find_by_statement(self.statement(
            "SELECT status, COUNT(*) AS count FROM job GROUP BY status",
            vec![],
        ))
        .all(&self.db)
        .await?;
        let mut counts: BTreeMap<String, i64> = JobState::ALL
            .iter()
            .map(|status| (status.as_str().to_owned(), 0))
            .collect();
        counts.extend(
            rows.into_iter()
                .map(|row| (row.status.as_str().to_owned(), row.count)),
        );
        Ok(JobCounts(counts))
    }
}

/// Puts dead job `id` back as pending with fresh attempts, through `conn` — the
/// transaction that also records who retried it (`services::jobs`). False when the job
/// is unknown or not dead.
pub async fn retry_dead(conn: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let now = Utc::now();
    let sql = "UPDATE job SET status = 'pending', attempts = 0, run_at = $1, \
               finished_at = NULL, updated_at = $1 WHERE id = $2 AND status = 'dead'";
    let statement =
        Statement::from_sql_and_values(conn.get_database_backend(), sql, [now.into(), id.into()]);
    let result = conn.execute_raw(statement).await?;
    Ok(result.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_with_jitter_and_stops_at_the_cap() {
        let policy = RetryPolicy {
            base: Duration::from_secs(2),
            cap: Duration::from_mins(1),
        };
        for _ in 0..100 {
            let first = policy.delay(1);
            assert!(first >= Duration::from_secs(1) && first <= Duration::from_secs(2));
            let third = policy.delay(3);
            assert!(third >= Duration::from_secs(4) && third <= Duration::from_secs(8));
            let late = policy.delay(40);
            assert!(late >= Duration::from_secs(30) && late <= Duration::from_mins(1));
        }
    }
}
