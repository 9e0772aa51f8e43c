//! A database from the first release, filled through plain SQL as that release would
//! have left it, is upgraded by a current server at start (AUTOMIGRATE) with its data
//! intact, and the server works on it: the incident is on the public API, the old
//! subscribers count, the queued job runs, and new changes go through.
//!
//! The first release is the first commit that landed (the foundation), which shipped
//! one migration: `m20261125_000001_initial`. That file has not changed since (see
//! `git log -- migration/src`), so running it alone rebuilds that release's schema
//! exactly; every later migration then runs on the filled database. (A release at
//! the admin-console merge would already have had all three migrations that exist
//! today, leaving nothing to upgrade.)

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use monostat::domain::{Actor, IncidentId, IncidentStatus};
use monostat::services::IncidentChange;
use monostat::store::job;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::common::smtp::wait_for_files;
use crate::common::{TestApp, TestDb};

const FIRST_RELEASE_MIGRATIONS: u32 = 1;

/// What the first release's server wrote, in its own schema (no ids given, so
/// PostgreSQL's sequences stay right for the rows the new server adds).
const FIRST_RELEASE_DATA: &[&str] = &[
    "INSERT INTO incident (status, severity, title, summary, start_at, end_at, silent, \
     last_notified_status, origin, auto_start, slack_channel, slack_ts, created_at, updated_at) \
     VALUES ('confirmed', 'outage', 'Checkout down', 'Payments fail', '2026-11-26T09:00:00+00:00', \
     NULL, FALSE, 'confirmed', 'opsgenie', FALSE, 'C0STATUS01', '1700000000.000100', \
     '2026-11-26T09:00:00+00:00', '2026-11-26T09:05:00+00:00')",
    "INSERT INTO incident (status, severity, title, summary, start_at, end_at, silent, \
     last_notified_status, origin, auto_start, slack_channel, slack_ts, created_at, updated_at) \
     VALUES ('resolved', 'partial', 'Slow search', NULL, '2026-11-25T14:00:00+00:00', \
     '2026-11-25T15:30:00+00:00', FALSE, 'resolved', 'manual', FALSE, NULL, NULL, \
     '2026-11-25T14:00:00+00:00', '2026-11-25T15:30:00+00:00')",
    "INSERT INTO incident_update (incident_id, created_at, message, new_status, author) \
     SELECT id, '2026-11-26T09:05:00+00:00', 'We are looking into failing payments.', \
     'confirmed', 'bob (Slack)' FROM incident WHERE title = 'Checkout down'",
    "INSERT INTO incident_update (incident_id, created_at, message, new_status, author) \
     SELECT id, '2026-11-25T15:30:00+00:00', 'Search is fast again.', 'resolved', 'admin' \
     FROM incident WHERE title = 'Slow search'",
    "INSERT INTO alert (incident_id, source, external_id, message, description, created_at, \
     updated_at, resolved_at) SELECT id, 'opsgenie', 'og-1', 'Checkout 5xx above 5%', NULL, \
     '2026-11-26T09:00:00+00:00', '2026-11-26T09:00:00+00:00', NULL FROM incident \
     WHERE title = 'Checkout down'",
    "INSERT INTO subscriber (email, active, token, created_at, confirmed_at, last_mail_at) \
     VALUES ('alice@example.com', TRUE, 'token-alice-0000000000000000000000', \
     '2026-11-25T10:00:00+00:00', '2026-11-25T10:05:00+00:00', '2026-11-26T09:06:00+00:00')",
    "INSERT INTO subscriber (email, active, token, created_at, confirmed_at, last_mail_at) \
     VALUES ('bob@example.com', TRUE, 'token-bob-00000000000000000000000', \
     '2026-11-25T10:00:00+00:00', '2026-11-25T10:05:00+00:00', NULL)",
    "INSERT INTO subscriber (email, active, token, created_at, confirmed_at, last_mail_at) \
     VALUES ('carol@example.com', FALSE, 'token-carol-0000000000000000000000', \
     '2026-11-26T11:00:00+00:00', NULL, NULL)",
    "INSERT INTO notification_delivery (subscriber_id, incident_id, status, state, attempts, \
     last_error, created_at, sent_at) SELECT s.id, i.id, 'confirmed', 'sent', 1, NULL, \
     '2026-11-26T09:06:00+00:00', '2026-11-26T09:06:00+00:00' FROM subscriber s, incident i \
     WHERE s.email = 'alice@example.com' AND i.title = 'Checkout down'",
    // The fan-out that sent it, done, and an opt-in mail still waiting for a worker.
    "INSERT INTO job (kind, payload, status, attempts, max_attempts, run_at, locked_until, \
     locked_by, last_error, serial_key, dedupe_key, created_at, updated_at, finished_at) \
     SELECT 'notify.subscribers', '{\"incident_id\":' || id || ',\"status\":\"confirmed\"}', \
     'done', 1, 8, '2026-11-26T09:05:00+00:00', NULL, NULL, NULL, NULL, \
     'notify:' || id || ':confirmed', '2026-11-26T09:05:00+00:00', '2026-11-26T09:06:00+00:00', \
     '2026-11-26T09:06:00+00:00' FROM incident WHERE title = 'Checkout down'",
    "INSERT INTO job (kind, payload, status, attempts, max_attempts, run_at, locked_until, \
     locked_by, last_error, serial_key, dedupe_key, created_at, updated_at, finished_at) \
     SELECT 'subscriber.mail', '{\"subscriber_id\":' || id || ',\"kind\":\"opt_in\"}', \
     'pending', 0, 8, '2026-11-26T11:00:00+00:00', NULL, NULL, NULL, NULL, NULL, \
     '2026-11-26T11:00:00+00:00', '2026-11-26T11:00:00+00:00', NULL FROM subscriber \
     WHERE email = 'carol@example.com'",
];

async fn fill(db: &TestDb) {
    for statement in FIRST_RELEASE_DATA {
        db.conn
            .execute_unprepared(statement)
            .await
            .unwrap_or_else(|error| panic!("{error}: {statement}"));
    }
}

async fn public_incidents(app: &TestApp) -> Vec<Value> {
    crate::common::eventually(
        "the old incidents on the public API",
        Duration::from_secs(10),
        || async {
            let body: Value = app
                .client
                .get(app.url("/api/v2/incidents.json"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["incidents"]
                .as_array()
                .cloned()
                .filter(|incidents| incidents.len() == 2)
        },
    )
    .await
}

async fn upgrade(db: TestDb) {
    fill(&db).await;
    let pending = Migrator::get_pending_migrations(&db.conn).await.unwrap();
    assert!(!pending.is_empty(), "nothing left to upgrade");

    // An operator starts the new version on the old database (AUTOMIGRATE is on).
    let app = TestApp::start(db.app_config(&[])).await;
    assert!(
        Migrator::get_pending_migrations(&db.conn)
            .await
            .unwrap()
            .is_empty()
    );

    let incidents = public_incidents(&app).await;
    let checkout = incidents
        .iter()
        .find(|i| i["name"] == "Checkout down")
        .unwrap();
    assert_eq!(
        checkout["status"], "identified",
        "confirmed, in Statuspage's words"
    );
    assert_eq!(
        checkout["started_at"].as_str().unwrap()[..19],
        *"2026-11-26T09:00:00"
    );
    let updates = checkout["incident_updates"].to_string();
    assert!(
        updates.contains("We are looking into failing payments."),
        "{updates}"
    );
    let search = incidents
        .iter()
        .find(|i| i["name"] == "Slow search")
        .unwrap();
    assert_eq!(search["status"], "resolved");
    assert!(
        search["incident_updates"]
            .to_string()
            .contains("Search is fast again.")
    );

    let count = app.services.subscribers.count().await.unwrap();
    assert_eq!((count.active, count.pending), (2, 1));
    let id = IncidentId(checkout["id"].as_str().unwrap().parse().unwrap());
    assert_eq!(app.services.incidents.alerts(id).await.unwrap().len(), 1);

    // The job queued by the old server runs on the new one: carol's opt-in mail (no
    // SMTP host, so it becomes an .eml file).
    let mails = wait_for_files(&db.dir.path().join("mail"), 1).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].raw.contains("carol@example.com"));
    for _ in 0..200 {
        let opt_in = job::Entity::find()
            .filter(job::Column::Kind.eq("subscriber.mail"))
            .one(&db.conn)
            .await
            .unwrap()
            .unwrap();
        if opt_in.status.as_str() == "done" {
            break;
        }
        assert_ne!(opt_in.status.as_str(), "dead", "{opt_in:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // And the old incident takes new changes: resolving it mails the subscribers
    // that were told it began.
    app.services
        .incidents
        .update(
            id,
            &Actor::User("admin".into()),
            IncidentChange {
                new_status: Some(IncidentStatus::Resolved),
                text: Some("Payments work again.".into()),
                severity: None,
                summary: None,
                do_not_notify: false,
            },
        )
        .await
        .unwrap();
    let mails = wait_for_files(&db.dir.path().join("mail"), 3).await;
    let resolved: Vec<_> = mails
        .iter()
        .filter(|m| m.raw.contains("Payments work again."))
        .collect();
    assert_eq!(resolved.len(), 2, "alice and bob");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_first_release_sqlite_database_upgrades_with_its_data() {
    upgrade(TestDb::sqlite_at(Some(FIRST_RELEASE_MIGRATIONS)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_first_release_postgres_database_upgrades_with_its_data() {
    if let Some(db) = TestDb::postgres_at(Some(FIRST_RELEASE_MIGRATIONS)).await {
        upgrade(db).await;
    }
}
