//! What a storage test must leave behind: no dead job, no queued job it did not
//! expect, and no `ERROR` log line it did not expect. Each storage test runs on a
//! runtime of its own whose threads log to this test's [`LogWatch`], so parallel tests
//! never see each other's lines.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use monostat::config::DatabaseConfig;
use monostat::store::job;
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// What a test has declared it leaves behind on purpose.
#[derive(Debug)]
pub struct Expectations {
    /// A server with job workers ran on the database. Without one, queued jobs are
    /// only a record the test may read; with one, a job still queued at the end is
    /// work that never happened.
    pub workers_ran: bool,
    /// Job kinds the test itself looked at (`TestDb::jobs_of_kind`) or named: queued
    /// jobs of these kinds are the test's business.
    pub queued_kinds: Vec<String>,
    pub dead_jobs: bool,
    /// Substrings of `ERROR` lines the test provokes.
    pub error_lines: Vec<String>,
}

impl Default for Expectations {
    fn default() -> Self {
        Self {
            workers_ran: false,
            // The server schedules its housekeeping by itself, on a timer: one may be
            // enqueued at any moment, also just before a test stops its server.
            queued_kinds: vec![monostat::maintenance::RETENTION_KIND.to_owned()],
            dead_jobs: false,
            error_lines: Vec::new(),
        }
    }
}

/// The `ERROR` events logged on one test's threads.
#[derive(Clone)]
pub struct LogWatch {
    errors: Arc<Mutex<Vec<String>>>,
    /// One subscriber for all of the test's threads: a span made on one thread and
    /// closed on another must be known to the same registry.
    dispatch: tracing::Dispatch,
}

impl Default for LogWatch {
    fn default() -> Self {
        let errors = Arc::<Mutex<Vec<String>>>::default();
        let subscriber = tracing_subscriber::registry().with(ErrorRecorder(errors.clone()));
        Self {
            errors,
            dispatch: tracing::Dispatch::new(subscriber),
        }
    }
}

impl LogWatch {
    /// Makes this watch the calling thread's log subscriber for the thread's lifetime
    /// (a test runtime's threads live exactly as long as the test).
    pub fn install_on_this_thread(&self) {
        std::mem::forget(tracing::dispatcher::set_default(&self.dispatch));
    }

    fn errors(&self) -> Vec<String> {
        self.errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

struct ErrorRecorder(Arc<Mutex<Vec<String>>>);

impl<S: Subscriber> Layer<S> for ErrorRecorder {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let mut line = format!("{}:", event.metadata().target());
        event.record(
            &mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                use std::fmt::Write;
                let _ = write!(line, " {}={value:?}", field.name());
            },
        );
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }
}

type Registry = Mutex<HashMap<String, Weak<Mutex<Expectations>>>>;

/// The expectations of every live test database, by where it is: a server started from
/// a `Config` finds its test's through the database it names.
fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

fn key(database: &DatabaseConfig) -> String {
    match database {
        DatabaseConfig::Sqlite { path } => path.display().to_string(),
        DatabaseConfig::Postgres { name, .. } => name.clone(),
    }
}

pub fn register(database: &DatabaseConfig) -> Arc<Mutex<Expectations>> {
    let expectations = Arc::<Mutex<Expectations>>::default();
    let mut registry = registry().lock().unwrap_or_else(PoisonError::into_inner);
    registry.retain(|_, live| live.strong_count() > 0);
    registry.insert(key(database), Arc::downgrade(&expectations));
    expectations
}

/// A server with job workers runs on `database`; returns its test's expectations.
pub fn workers_run_on(database: &DatabaseConfig) -> Option<Arc<Mutex<Expectations>>> {
    let registry = registry().lock().unwrap_or_else(PoisonError::into_inner);
    let expectations = registry.get(&key(database)).and_then(Weak::upgrade)?;
    expectations
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .workers_ran = true;
    Some(expectations)
}

/// Waits until no job is running or due, except those of kinds the test leaves queued
/// on purpose: a test that stops its server right after a change still lets the
/// change's follow-up work happen. Returns at once when idle; gives up after 30 s,
/// and the end-of-test check names what is left.
pub async fn let_due_jobs_finish(
    conn: &sea_orm::DatabaseConnection,
    expectations: Option<&Mutex<Expectations>>,
) {
    let left_queued = expectations
        .map(|e| {
            e.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .queued_kinds
                .clone()
        })
        .unwrap_or_default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        let busy = job::Entity::find()
            .filter(job::Column::Kind.is_not_in(left_queued.clone()))
            .filter(
                Condition::any().add(job::Column::Status.eq("running")).add(
                    Condition::all()
                        .add(job::Column::Status.eq("pending"))
                        .add(job::Column::RunAt.lte(chrono::Utc::now())),
                ),
            )
            .count(conn)
            .await;
        if !matches!(busy, Ok(n) if n > 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Fails the test when it left something behind it did not declare.
pub async fn assert_settled(
    conn: &sea_orm::DatabaseConnection,
    expectations: &Mutex<Expectations>,
    logs: &LogWatch,
) {
    let expected =
        std::mem::take(&mut *expectations.lock().unwrap_or_else(PoisonError::into_inner));
    let leftovers = job::Entity::find()
        .filter(job::Column::Status.is_in(["pending", "running", "dead"]))
        .all(conn)
        .await
        .expect("the test's database is readable at its end");
    let unexpected: Vec<String> = leftovers
        .iter()
        .filter(|job| match job.status.as_str() {
            "dead" => !expected.dead_jobs,
            _ => expected.workers_ran && !expected.queued_kinds.contains(&job.kind),
        })
        .map(|job| {
            format!(
                "{} job {} ({}, attempts {}, last error {:?})",
                job.status, job.id, job.kind, job.attempts, job.last_error
            )
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "the test left jobs it did not expect:\n{}",
        unexpected.join("\n")
    );
    let errors: Vec<String> = logs
        .errors()
        .into_iter()
        .filter(|line| {
            !expected
                .error_lines
                .iter()
                .any(|allowed| line.contains(allowed))
        })
        .collect();
    assert!(
        errors.is_empty(),
        "the test logged errors it did not expect:\n{}",
        errors.join("\n")
    );
}
