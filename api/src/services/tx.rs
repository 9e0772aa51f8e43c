//! Running a change in one transaction, again when the database asks for it.

use std::time::Duration;

use rand::Rng;
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use crate::store::{is_retryable, is_unique_violation};

const ATTEMPTS: u32 = 8;

/// Service errors that may wrap a database error worth retrying.
pub trait DbError: From<DbErr> {
    fn db_error(&self) -> Option<&DbErr>;
}

impl DbError for DbErr {
    fn db_error(&self) -> Option<&DbErr> {
        Some(self)
    }
}

/// Runs `$body` in a write transaction bound to `$txn` and commits it, evaluating to
/// `Result<_, $error>`.
///
/// On SQLite the transaction takes the write lock up front (`BEGIN IMMEDIATE`), so
/// writers queue instead of failing halfway. Lock conflicts, serialisation failures and
/// unique-constraint violations (another transaction inserted the same thing first)
/// roll back and run `$body` again, which then sees the other transaction's work.
///
/// A macro rather than a function taking an async closure: the futures of closures that
/// borrow their argument cannot yet be proven `Send`, and every service future must be.
macro_rules! write_tx {
    ($db:expr, $error:ty, |$txn:ident| $body:block) => {{
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome: ::std::result::Result<_, $error> = async {
                let txn = $crate::services::tx::begin($db).await?;
                let value: ::std::result::Result<_, $error> = {
                    let $txn = &txn;
                    async { $body }.await
                };
                let value = value?;
                ::sea_orm::TransactionSession::commit(txn).await?;
                Ok(value)
            }
            .await;
            match outcome {
                Err(ref error) if $crate::services::tx::worth_retrying(error, attempt) => {
                    $crate::services::tx::pause(attempt).await;
                }
                outcome => break outcome,
            }
        }
    }};
}
pub(crate) use write_tx;

pub async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

pub fn worth_retrying(error: &impl DbError, attempt: u32) -> bool {
    attempt < ATTEMPTS
        && error
            .db_error()
            .is_some_and(|e| is_retryable(e) || is_unique_violation(e))
}

/// A short random pause, longer with each attempt, so racing writers spread out.
pub async fn pause(attempt: u32) {
    let millis = rand::rng().random_range(1..=10 * u64::from(attempt));
    tokio::time::sleep(Duration::from_millis(millis)).await;
}
