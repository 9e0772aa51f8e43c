//! Shared test set-up: fresh databases, services wired as in production, helpers.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

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
use monostat::spool::AlertSpool;

pub mod chaos;
pub mod slack;
pub mod smtp;
pub mod tls;

/// Runs the async body once on SQLite and once on PostgreSQL, as two tests.
macro_rules! both_databases {
    ($(async fn $name:ident($db:ident: TestDb) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($db: $crate::common::TestDb) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    run($crate::common::TestDb::sqlite().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    if let Some(db) = $crate::common::TestDb::postgres().await {
                        run(db).await;
                    }
                }
            }
        )*
    };
}
pub(crate) use both_databases;

const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const REDIS_HOST: &str = "127.0.0.1";

/// Whether a missing service is a failure (CI) or a skip (a laptop without it).
pub fn services_required() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A fresh, migrated database of its own, removed when dropped.
pub struct TestDb {
    pub config: DatabaseConfig,
    pub conn: DatabaseConnection,
    /// The data directory; for SQLite it also holds the database file.
    pub dir: TempDir,
    postgres_name: Option<String>,
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
        Self {
            config,
            conn,
            dir,
            postgres_name: None,
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
        Some(Self {
            config,
            conn,
            dir: tempfile::tempdir().unwrap(),
            postgres_name: Some(name),
        })
    }

    /// The environment a monostat process would need to use this database.
    pub fn env(&self) -> HashMap<String, String> {
        let mut env = HashMap::new();
        env.insert("MONOSTAT_DATA_DIR".into(), path_string(self.dir.path()));
        env.insert("MONOSTAT_LISTEN".into(), "127.0.0.1:0".into());
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

    pub async fn jobs_of_kind(&self, kind: &str) -> Vec<job::Model> {
        job::Entity::find()
            .filter(job::Column::Kind.eq(kind))
            .order_by_asc(job::Column::Id)
            .all(&self.conn)
            .await
            .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
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
    stop: CancellationToken,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    pub async fn start(config: Config) -> Self {
        let app = App::init(config).await.unwrap();
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
            stop,
            running: Some(running),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(mut self) {
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

/// Payloads of jobs, parsed.
pub fn payloads<T: serde::de::DeserializeOwned>(jobs: &[job::Model]) -> Vec<T> {
    jobs.iter()
        .map(|job| serde_json::from_str(&job.payload).unwrap())
        .collect()
}
