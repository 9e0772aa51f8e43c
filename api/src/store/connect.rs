use std::time::Duration;

use migration::MigratorTrait;
use sea_orm::sqlx::sqlite::{SqliteAutoVacuum, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    RuntimeErr, SqlErr, Statement,
};

use crate::config::DatabaseConfig;

/// Opens the connection pool. SQLite runs in WAL mode with foreign keys on, and waits
/// for the write lock instead of failing at once when another writer holds it. Its
/// file is created in incremental auto-vacuum mode, so the retention job can give the
/// pages of forgotten rows back to the file system.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(config.url());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10));
    if config.is_sqlite() {
        if let DatabaseConfig::Sqlite { path } = config {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|error| {
                    DbErr::Custom(format!("cannot create {}: {error}", parent.display()))
                })?;
            }
            make_sqlite_files_private(path).map_err(|error| {
                DbErr::Custom(format!("cannot create {}: {error}", path.display()))
            })?;
        }
        options.max_connections(8).map_sqlx_sqlite_opts(|opts| {
            opts.auto_vacuum(SqliteAutoVacuum::Incremental)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true)
        });
        // Not worth failing the start for: the page works without it, and what makes
        // it fail (a full disk) is better told than made into an outage.
        if let Err(error) = enable_incremental_vacuum(&options).await {
            tracing::warn!(%error, "cannot rewrite the SQLite file for incremental vacuum; freed space stays in the file");
        }
    } else {
        options.max_connections(16).min_connections(1);
    }
    Database::connect(options).await
}

/// The database holds the sealed secrets and every subscriber's address: only the
/// owner may read it. SQLite gives its `-wal` and `-shm` files the database file's
/// mode, so creating that file empty (a valid empty database) with 0600 before SQLite
/// opens it covers all three, whatever the umask. Files an older version left readable
/// to others are tightened.
fn make_sqlite_files_private(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => return Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error),
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let Ok(metadata) = std::fs::metadata(&file) else {
            continue;
        };
        if metadata.permissions().mode() & 0o077 != 0
            && let Err(error) =
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
        {
            // Not ours to change (another user's file): say so, but run.
            tracing::warn!(%error, file = %std::path::Path::new(&file).display(), "cannot make the SQLite file private");
        }
    }
    Ok(())
}

/// Brings the schema up to date. Harmless when it already is.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    migration::Migrator::up(db, None).await
}

/// `PRAGMA auto_vacuum`'s answer for incremental mode.
const SQLITE_AUTO_VACUUM_INCREMENTAL: i32 = 2;

/// A SQLite file made before incremental auto-vacuum was the default keeps freed pages
/// for ever: the mode only takes effect through one `VACUUM`, which rewrites the file.
/// Done once, at the first start of a version that has it, on a connection of its own
/// before the pool opens: connections already open would go on seeing the old mode.
async fn enable_incremental_vacuum(options: &ConnectOptions) -> Result<(), DbErr> {
    let mut single = options.clone();
    single.max_connections(1).min_connections(1);
    let db = Database::connect(single).await?;
    let mode = Statement::from_string(DatabaseBackend::Sqlite, "PRAGMA auto_vacuum");
    let mode: i32 = match db.query_one_raw(mode).await? {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    if mode != SQLITE_AUTO_VACUUM_INCREMENTAL {
        tracing::info!("rewriting the SQLite file once, so that forgotten rows free space");
        db.execute_unprepared("VACUUM").await?;
    }
    db.close().await
}

pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Errors after which running the whole transaction again is the right answer:
/// lock contention on SQLite, serialisation failures and deadlocks on PostgreSQL.
pub fn is_retryable(error: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(error))
    | DbErr::Query(RuntimeErr::SqlxError(error))
    | DbErr::Conn(RuntimeErr::SqlxError(error))) = error
    else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(error) = &**error else {
        return false;
    };
    let code = error.code().unwrap_or_default();
    // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED, 517 SQLITE_BUSY_SNAPSHOT.
    // PostgreSQL: 40001 serialization_failure, 40P01 deadlock_detected.
    matches!(code.as_ref(), "5" | "6" | "517" | "40001" | "40P01")
}

/// Whether the database could not be reached at all (connection refused or lost, pool
/// exhausted, timeout), as opposed to rejecting a statement. Work that meets this error
/// can wait and be tried again later unchanged.
pub fn is_unreachable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            !matches!(&**error, sea_orm::sqlx::Error::Database(_))
        }
        _ => false,
    }
}
