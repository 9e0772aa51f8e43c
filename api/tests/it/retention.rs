//! The retention job forgets exactly the transient rows past their age, keeps the rest,
//! and the console's per-incident delivery counts survive the pruning.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use monostat::config::RetentionConfig;
use monostat::domain::{IncidentId, IncidentStatus};
use monostat::jobs::{Queue, RetryPolicy};
use monostat::maintenance::{self, Retention, RetentionReport};
use monostat::services::DeliveryProgress;
use monostat::store::{
    admin_user, audit_entry, incident, job, notification_delivery, refresh_token,
    second_factor_challenge, subscriber,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, Statement};

use crate::common::{TestDb, both_databases};

const DAY: TimeDelta = TimeDelta::days(1);

fn settings(audit: Option<u64>) -> RetentionConfig {
    RetentionConfig {
        interval: Duration::from_hours(1),
        finished_jobs: Duration::from_hours(7 * 24),
        deliveries: Duration::from_hours(90 * 24),
        unconfirmed_subscribers: Duration::from_hours(7 * 24),
        audit: audit.map(|days| Duration::from_hours(days * 24)),
        rejected_alerts: Duration::from_hours(30 * 24),
    }
}

async fn retention(db: &TestDb, audit: Option<u64>) -> Retention {
    let harness = db.services().await;
    let queue = Queue::new(
        db.conn.clone(),
        Duration::from_mins(1),
        RetryPolicy::default(),
    );
    Retention::new(
        db.conn.clone(),
        queue,
        harness.services.notifications.clone(),
        settings(audit),
    )
}

async fn add_job(conn: &DatabaseConnection, status: &str, finished: Option<DateTime<Utc>>) {
    add_job_carrying(conn, status, finished, "{}").await;
}

async fn add_job_carrying(
    conn: &DatabaseConnection,
    status: &str,
    finished: Option<DateTime<Utc>>,
    payload: &str,
) {
    let at = finished.unwrap_or_else(Utc::now);
    job::ActiveModel {
        kind: Set("test".into()),
        payload: Set(payload.into()),
        status: Set(status.parse().unwrap()),
        attempts: Set(1),
        max_attempts: Set(3),
        run_at: Set(at),
        created_at: Set(at),
        updated_at: Set(at),
        finished_at: Set(finished),
        ..Default::default()
    }
    .insert(conn)
    .await
    .unwrap();
}

async fn add_subscriber(
    conn: &DatabaseConnection,
    email: &str,
    created: DateTime<Utc>,
    confirmed: Option<DateTime<Utc>>,
    last_mail: Option<DateTime<Utc>>,
) -> i64 {
    subscriber::ActiveModel {
        email: Set(email.into()),
        active: Set(confirmed.is_some()),
        token: Set(format!("token-{email}")),
        created_at: Set(created),
        confirmed_at: Set(confirmed),
        last_mail_at: Set(last_mail),
        ..Default::default()
    }
    .insert(conn)
    .await
    .unwrap()
    .id
}

async fn add_incident(conn: &DatabaseConnection, at: DateTime<Utc>) -> i64 {
    incident::ActiveModel {
        status: Set("resolved".parse().unwrap()),
        severity: Set("outage".parse().unwrap()),
        title: Set("Database on fire".into()),
        start_at: Set(at),
        silent: Set(false),
        origin: Set("manual".parse().unwrap()),
        auto_start: Set(false),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(conn)
    .await
    .unwrap()
    .id
}

async fn add_delivery(
    conn: &DatabaseConnection,
    subscriber_id: i64,
    incident_id: i64,
    state: &str,
    created: DateTime<Utc>,
) {
    notification_delivery::ActiveModel {
        subscriber_id: Set(subscriber_id),
        incident_id: Set(incident_id),
        status: Set("confirmed".parse().unwrap()),
        state: Set(state.parse().unwrap()),
        attempts: Set(1),
        last_error: Set((state == "failed").then(|| "550 no such user".into())),
        created_at: Set(created),
        sent_at: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await
    .unwrap();
}

async fn count(conn: &DatabaseConnection, table: &str) -> i64 {
    number(conn, &format!("SELECT COUNT(*) FROM {table}")).await
}

async fn number(conn: &DatabaseConnection, sql: &str) -> i64 {
    let statement = Statement::from_string(conn.get_database_backend(), sql.to_owned());
    let row = conn.query_one_raw(statement).await.unwrap().unwrap();
    row.try_get_by_index(0).unwrap()
}

both_databases! {
    async fn forgets_exactly_what_is_past_its_age(db: TestDb) {
        // Dead jobs are kept until someone looks; one is seeded to show it.
        db.expect_dead_jobs();
        let conn = &db.conn;
        let now = Utc::now();
        let old = now - DAY * 100;
        let recent = now - DAY;

        // Jobs: old done goes; recent done, old dead and pending stay.
        add_job(conn, "done", Some(old)).await;
        add_job(conn, "done", Some(now - DAY * 8)).await;
        add_job(conn, "done", Some(recent)).await;
        add_job(conn, "dead", Some(old)).await;
        add_job(conn, "pending", None).await;

        // Subscribers: unconfirmed and not mailed for 8 days goes; the others stay.
        let confirmed = add_subscriber(conn, "old@example.com", old, Some(old), Some(old)).await;
        let other = add_subscriber(conn, "b@example.com", old, Some(old), None).await;
        add_subscriber(conn, "stale@example.com", now - DAY * 8, None, Some(now - DAY * 8)).await;
        add_subscriber(conn, "asked-again@example.com", old, None, Some(recent)).await;
        add_subscriber(conn, "fresh@example.com", recent, None, Some(recent)).await;

        // Deliveries: the 100-day-old ones go, the recent ones stay, counts survive.
        let incident = add_incident(conn, old).await;
        add_delivery(conn, confirmed, incident, "sent", old).await;
        add_delivery(conn, other, incident, "failed", old).await;
        let newer = add_incident(conn, recent).await;
        add_delivery(conn, confirmed, newer, "sent", recent).await;
        add_delivery(conn, other, newer, "pending", recent).await;

        // Sessions and login challenges: expired go at once.
        let user = admin_user::ActiveModel {
            username: Set("admin".into()),
            password_hash: Set("x".into()),
            active: Set(true),
            created_at: Set(old),
            token_version: Set(0),
            ..Default::default()
        }
        .insert(conn)
        .await
        .unwrap()
        .id;
        for (hash, expires) in [("a", now - TimeDelta::seconds(1)), ("b", now + DAY)] {
            refresh_token::ActiveModel {
                user_id: Set(user),
                token_hash: Set(hash.into()),
                created_at: Set(old),
                expires_at: Set(expires),
                ..Default::default()
            }
            .insert(conn)
            .await
            .unwrap();
            second_factor_challenge::ActiveModel {
                user_id: Set(user),
                purpose: Set("login".parse().unwrap()),
                state: Set("{}".into()),
                created_at: Set(old),
                expires_at: Set(expires),
                ..Default::default()
            }
            .insert(conn)
            .await
            .unwrap();
        }

        // Audit: history, kept unless a retention is set.
        for at in [old, recent] {
            audit_entry::ActiveModel {
                at: Set(at),
                actor_kind: Set("system".into()),
                actor_name: Set("test".into()),
                incident_id: Set(None),
                message: Set("something happened".into()),
                ..Default::default()
            }
            .insert(conn)
            .await
            .unwrap();
        }

        let notifications = db.services().await.services.notifications;
        let progress = |id| {
            let notifications = notifications.clone();
            async move {
                notifications
                    .progress(IncidentId(id), IncidentStatus::Confirmed)
                    .await
                    .unwrap()
            }
        };
        let old_counts = progress(incident).await;
        let new_counts = progress(newer).await;
        assert_eq!(old_counts, DeliveryProgress { total: 2, sent: 1, failed: 1, pending: 0 });

        let report = retention(&db, None).await.run(now).await.unwrap();
        assert_eq!(
            report,
            RetentionReport {
                finished_jobs: 2,
                deliveries: 2,
                refresh_tokens: 1,
                login_challenges: 1,
                unconfirmed_subscribers: 1,
                audit_entries: 0,
            }
        );
        assert_eq!(count(conn, "job").await, 3);
        assert_eq!(count(conn, "subscriber").await, 4);
        assert_eq!(count(conn, "notification_delivery").await, 2);
        assert_eq!(count(conn, "refresh_token").await, 1);
        assert_eq!(count(conn, "second_factor_challenge").await, 1);
        assert_eq!(count(conn, "audit_entry").await, 2);
        assert_eq!(progress(incident).await, old_counts, "pruned counts survive");
        assert_eq!(progress(newer).await, new_counts);

        // A second run finds nothing more; a set audit retention forgets old entries.
        let again = retention(&db, None).await.run(now).await.unwrap();
        assert_eq!(again, RetentionReport::default());
        let audit = retention(&db, Some(30)).await.run(now).await.unwrap();
        assert_eq!(audit.audit_entries, 1);
        assert_eq!(count(conn, "audit_entry").await, 1);
        assert_eq!(progress(incident).await, old_counts);
    }

    async fn is_enqueued_once_per_slot_whatever_the_replicas(db: TestDb) {
        let settings = settings(None);
        let now = Utc::now();
        let mut enqueued = 0;
        // Three replicas' timers, each firing twice within the slot.
        for _ in 0..6 {
            if maintenance::offer(&db.conn, &settings, now).await.unwrap() {
                enqueued += 1;
            }
        }
        assert_eq!(enqueued, 1);
        assert_eq!(db.jobs_of_kind(maintenance::RETENTION_KIND).await.len(), 1);
        let next_slot = now + TimeDelta::hours(1);
        assert!(maintenance::offer(&db.conn, &settings, next_slot).await.unwrap());
    }
}

async fn pragma(conn: &DatabaseConnection, name: &str) -> i64 {
    number(conn, &format!("PRAGMA {name}")).await
}

#[test]
fn the_sqlite_file_shrinks_back_to_its_live_data() {
    crate::common::storage_test(crate::common::Backend::Sqlite, |db| async move {
        let conn = &db.conn;
        let long_ago = Utc::now() - TimeDelta::days(30);
        // About 8 MB of finished jobs, as a busy fortnight of mail would leave.
        let payload = "x".repeat(4096);
        for _ in 0..2000 {
            add_job_carrying(conn, "done", Some(long_ago), &payload).await;
        }
        conn.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
            .unwrap();
        let file = match &db.config {
            monostat::config::DatabaseConfig::Sqlite { path } => path.clone(),
            monostat::config::DatabaseConfig::Postgres { .. } => unreachable!(),
        };
        let full = std::fs::metadata(&file).unwrap().len();
        assert!(full > 8_000_000, "the jobs filled the file: {full} bytes");

        let report = retention(&db, None).await.run(Utc::now()).await.unwrap();
        assert_eq!(report.finished_jobs, 2000);
        assert_eq!(pragma(conn, "freelist_count").await, 0);
        let after = std::fs::metadata(&file).unwrap().len();
        assert!(
            after < full / 4,
            "the file went from {full} to {after} bytes, not back to its live data"
        );
        assert_eq!(
            std::fs::metadata(file.with_extension("sqlite3-wal")).map_or(0, |m| m.len()),
            0
        );
    });
}

#[test]
fn a_sqlite_file_from_an_older_release_is_converted_to_incremental_vacuum() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monostat.sqlite3");
        // How releases before this one created the file: no auto-vacuum.
        let old = sea_orm::Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        assert_eq!(pragma(&old, "auto_vacuum").await, 0);
        old.execute_unprepared("CREATE TABLE leftover (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        old.close().await.unwrap();

        let config = monostat::config::DatabaseConfig::Sqlite { path };
        let conn = monostat::store::connect(&config).await.unwrap();
        monostat::store::migrate(&conn).await.unwrap();
        let incremental = 2;
        assert_eq!(pragma(&conn, "auto_vacuum").await, incremental);
        assert_eq!(count(&conn, "leftover").await, 0);
    });
}
