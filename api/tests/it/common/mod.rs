//! Shared test set-up: fresh databases, services wired as in production, helpers.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use migration::MigratorTrait;
use monostat::config::{Config, DatabaseConfig};
use monostat::events::EventBus;
use monostat::jobs::JobWaker;
use monostat::services::Services;
use monostat::store::{self, job};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

use monostat::app::{App, Role};
use monostat::services::AlertSpool;

pub mod chaos;
pub mod process;
pub mod settled;
pub mod slack;
pub mod smtp;
pub mod tls;

use settled::{Expectations, LogWatch};

/// Runs the async body once on SQLite and once on PostgreSQL, as two tests, each of
/// which fails when it leaves a dead or unexpected job or an unexpected `ERROR` line.
macro_rules! both_databases {
    ($(async fn $name:ident($db:ident: TestDb) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($db: $crate::common::TestDb) $body

                #[test]
                fn sqlite() {
                    $crate::common::storage_test($crate::common::Backend::Sqlite, run);
                }

                #[test]
                fn postgres() {
                    $crate::common::storage_test($crate::common::Backend::Postgres, run);
                }
            }
        )*
    };
}
pub(crate) use both_databases;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one storage test on a runtime of its own (four worker threads, all logging to
/// this test's watch), then checks what it left behind.
pub fn storage_test<Fut: Future<Output = ()>>(backend: Backend, body: impl FnOnce(TestDb) -> Fut) {
    let logs = LogWatch::default();
    logs.install_on_this_thread();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .on_thread_start({
            let logs = logs.clone();
            move || logs.install_on_this_thread()
        })
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = match backend {
            Backend::Sqlite => TestDb::sqlite().await,
            Backend::Postgres => match TestDb::postgres().await {
                Some(db) => db,
                None => return,
            },
        };
        body(db.clone()).await;
        settled::assert_settled(&db.conn, &db.expectations, &logs).await;
    });
}

const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const REDIS_HOST: &str = "127.0.0.1";

/// Whether a missing service is a failure (CI) or a skip (a laptop without it).
pub fn services_required() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A fresh, migrated database of its own, removed when the last clone is dropped.
#[derive(Clone)]
pub struct TestDb {
    pub config: DatabaseConfig,
    pub conn: DatabaseConnection,
    /// The data directory; for SQLite it also holds the database file.
    pub dir: Arc<TempDir>,
    /// Redis namespace of this test alone, so parallel tests never hear each other.
    pub redis_prefix: String,
    expectations: Arc<Mutex<Expectations>>,
    _postgres: Option<Arc<PostgresDatabase>>,
}

/// Drops the test's PostgreSQL database when the last handle goes.
struct PostgresDatabase {
    name: String,
}

fn unique_redis_prefix() -> String {
    format!("test-{}", monostat::secret::random_token(64))
}

impl TestDb {
    pub async fn sqlite() -> Self {
        Self::sqlite_at(None).await
    }

    /// Migrated only up to the first `steps` migrations (`None`: all), as an older
    /// release left it.
    pub async fn sqlite_at(steps: Option<u32>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = DatabaseConfig::Sqlite {
            path: dir.path().join("monostat.sqlite3"),
        };
        let conn = store::connect(&config).await.unwrap();
        migration::Migrator::up(&conn, steps).await.unwrap();
        let expectations = settled::register(&config);
        Self {
            config,
            conn,
            dir: Arc::new(dir),
            redis_prefix: unique_redis_prefix(),
            expectations,
            _postgres: None,
        }
    }

    /// `None` (skip) when PostgreSQL is not running and this is not CI.
    pub async fn postgres() -> Option<Self> {
        Self::postgres_at(None).await
    }

    /// Like [`TestDb::sqlite_at`], on PostgreSQL; `None` (skip) when it is not running.
    pub async fn postgres_at(steps: Option<u32>) -> Option<Self> {
        let admin = match sea_orm::Database::connect(POSTGRES_ADMIN_URL).await {
            Ok(admin) => admin,
            Err(error) => {
                assert!(
                    !services_required(),
                    "PostgreSQL is required in CI: {error}"
                );
                eprintln!("skipping: PostgreSQL at 127.0.0.1:5432 is not reachable ({error})");
                return None;
            }
        };
        let name = format!(
            "monostat_test_{}",
            monostat::secret::random_token(64)
                .to_lowercase()
                .replace('-', "_")
        );
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        admin.close().await.ok();
        let config = DatabaseConfig::Postgres {
            host: "127.0.0.1".into(),
            port: 5432,
            name: name.clone(),
            user: "postgres".into(),
            password: None,
        };
        let conn = store::connect(&config).await.unwrap();
        migration::Migrator::up(&conn, steps).await.unwrap();
        let expectations = settled::register(&config);
        Some(Self {
            config,
            conn,
            dir: Arc::new(tempfile::tempdir().unwrap()),
            redis_prefix: unique_redis_prefix(),
            expectations,
            _postgres: Some(Arc::new(PostgresDatabase { name })),
        })
    }

    /// The environment a monostat process would need to use this database.
    pub fn env(&self) -> HashMap<String, String> {
        let mut env = HashMap::new();
        env.insert("MONOSTAT_DATA_DIR".into(), path_string(self.dir.path()));
        env.insert("MONOSTAT_LISTEN".into(), "127.0.0.1:0".into());
        env.insert("MONOSTAT_REDIS_PREFIX".into(), self.redis_prefix.clone());
        match &self.config {
            DatabaseConfig::Sqlite { path } => {
                env.insert("MONOSTAT_DB_TYPE".into(), "sqlite".into());
                env.insert("MONOSTAT_DB_NAME".into(), path_string(path));
            }
            DatabaseConfig::Postgres {
                host,
                port,
                name,
                user,
                ..
            } => {
                env.insert("MONOSTAT_DB_TYPE".into(), "postgresql".into());
                env.insert("MONOSTAT_DB_HOST".into(), host.clone());
                env.insert("MONOSTAT_DB_PORT".into(), port.to_string());
                env.insert("MONOSTAT_DB_NAME".into(), name.clone());
                env.insert("MONOSTAT_DB_USER".into(), user.clone());
            }
        }
        env
    }

    pub fn app_config(&self, extra: &[(&str, &str)]) -> Config {
        let mut env = self.env();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Config::from_lookup(|name| env.get(name).cloned()).unwrap()
    }

    /// The services wired as `monostat serve` wires them, with an in-process event bus.
    pub async fn services(&self) -> Harness {
        let events = EventBus::in_process();
        let jobs = JobWaker::default();
        let services = Services::new(
            self.conn.clone(),
            events.clone(),
            jobs.clone(),
            Arc::new(self.app_config(&[])),
            &monostat::secret::Secret::generate(256),
        );
        services.settings.ensure_defaults().await.unwrap();
        Harness { services, events }
    }

    /// Jobs of `kind` may still be queued when the test ends: the test runs no worker
    /// for them, or looks at them itself.
    pub fn expect_queued(&self, kind: &str) {
        self.expectations().queued_kinds.push(kind.to_owned());
    }

    /// The test parks jobs as dead on purpose.
    pub fn expect_dead_jobs(&self) {
        self.expectations().dead_jobs = true;
    }

    /// The test provokes `ERROR` lines containing `text`.
    pub fn expect_error_log(&self, text: &str) {
        self.expectations().error_lines.push(text.to_owned());
    }

    fn expectations(&self) -> std::sync::MutexGuard<'_, Expectations> {
        self.expectations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The jobs of `kind`; a test that looks at them takes charge of them, so they may
    /// still be queued when it ends.
    pub async fn jobs_of_kind(&self, kind: &str) -> Vec<job::Model> {
        self.expect_queued(kind);
        job::Entity::find()
            .filter(job::Column::Kind.eq(kind))
            .order_by_asc(job::Column::Id)
            .all(&self.conn)
            .await
            .unwrap()
    }
}

impl TestDb {
    /// Waits until every job — of `kind`, or of any kind — is done and returns them; a
    /// dead one fails the test at once.
    pub async fn jobs_done(&self, kind: Option<&str>, within: Duration) -> Vec<job::Model> {
        let what = format!("the {} jobs to be done", kind.unwrap_or("queued"));
        eventually(&what, within, || async {
            let jobs = match kind {
                Some(kind) => self.jobs_of_kind(kind).await,
                None => job::Entity::find().all(&self.conn).await.unwrap(),
            };
            let dead: Vec<&job::Model> = jobs
                .iter()
                .filter(|j| j.status.as_str() == "dead")
                .collect();
            assert!(dead.is_empty(), "dead jobs: {dead:?}");
            jobs.iter()
                .all(|j| j.status.as_str() == "done")
                .then_some(jobs)
        })
        .await
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        // Dropping happens outside any runtime we may block, so use a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(admin) = sea_orm::Database::connect(POSTGRES_ADMIN_URL).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A running monostat server on a random port.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub services: Services,
    pub spool: AlertSpool,
    pub events: EventBus,
    db: DatabaseConnection,
    expectations: Option<Arc<Mutex<Expectations>>>,
    stop: CancellationToken,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// Starts every part of the server, job workers included, so the test's end
    /// checks that no job is left queued.
    pub async fn start(config: Config) -> Self {
        let expectations = settled::workers_run_on(&config.database);
        let app = App::init(config).await.unwrap();
        let db = app.db.clone();
        let services = app.services.clone();
        let spool = app.spool.clone();
        let events = app.events.clone();
        let stop = app.stop.clone();
        let (address, running) = app.start(Role::All).await.unwrap();
        Self {
            base: format!("http://{address}"),
            client: reqwest::Client::new(),
            services,
            spool,
            events,
            db,
            expectations,
            stop,
            running: Some(running),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Lets the workers finish what is due (a few seconds at most), then stops.
    pub async fn stop(mut self) {
        settled::let_due_jobs_finish(&self.db, self.expectations.as_deref()).await;
        self.stop.cancel();
        if let Some(running) = self.running.take() {
            running.await.unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

pub fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub struct Harness {
    pub services: Services,
    pub events: EventBus,
}

fn path_string(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// Polls `check` until it yields a value and returns it; fails naming `what` once
/// `within` has passed. The one way tests wait for something that happens in the
/// background: keep `within` shorter than any fallback (a periodic refresh, a lease)
/// that would make the check pass for the wrong reason.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Payloads of jobs, parsed.
pub fn payloads<T: serde::de::DeserializeOwned>(jobs: &[job::Model]) -> Vec<T> {
    jobs.iter()
        .map(|job| serde_json::from_str(&job.payload).unwrap())
        .collect()
}
