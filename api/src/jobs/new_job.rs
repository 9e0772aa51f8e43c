//! A job about to be enqueued: its kind, payload and the keys that order and
//! de-duplicate it.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, TryInsertResult};
use serde::Serialize;

use crate::store::job;

pub const DEFAULT_MAX_ATTEMPTS: i32 = 25;

/// A job about to be enqueued.
#[derive(Clone, Debug)]
pub struct NewJob {
    kind: &'static str,
    payload: String,
    serial_key: Option<String>,
    dedupe_key: Option<String>,
    run_at: Option<DateTime<Utc>>,
    max_attempts: i32,
}

impl NewJob {
    pub fn new(kind: &'static str, payload: &impl Serialize) -> Self {
        Self {
            kind,
            payload: serde_json::to_string(payload).expect("job payloads are plain data"),
            serial_key: None,
            dedupe_key: None,
            run_at: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// Runs after every earlier job with the same key has finished.
    #[must_use]
    pub fn serial(mut self, key: impl Into<String>) -> Self {
        self.serial_key = Some(key.into());
        self
    }

    /// A second job with the same key is never enqueued.
    #[must_use]
    pub fn dedupe(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    #[must_use]
    pub fn not_before(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    #[must_use]
    pub fn max_attempts(mut self, attempts: i32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Inserts the job through `conn`, normally the transaction of the change that
    /// needs it. Returns `None` when a job with the same dedupe key already exists.
    pub async fn enqueue(self, conn: &impl ConnectionTrait) -> Result<Option<i64>, DbErr> {
        let now = Utc::now();
        let row = job::ActiveModel {
            kind: Set(self.kind.to_owned()),
            payload: Set(self.payload),
            status: Set(crate::domain::JobState::Pending),
            attempts: Set(0),
            max_attempts: Set(self.max_attempts),
            run_at: Set(self.run_at.unwrap_or(now)),
            locked_until: Set(None),
            locked_by: Set(None),
            last_error: Set(None),
            serial_key: Set(self.serial_key),
            dedupe_key: Set(self.dedupe_key),
            created_at: Set(now),
            updated_at: Set(now),
            finished_at: Set(None),
            ..Default::default()
        };
        let inserted = job::Entity::insert(row)
            .on_conflict_do_nothing_on([job::Column::DedupeKey])
            .exec(conn)
            .await?;
        Ok(match inserted {
            TryInsertResult::Inserted(result) => Some(result.last_insert_id),
            TryInsertResult::Empty | TryInsertResult::Conflicted => None,
        })
    }
}
