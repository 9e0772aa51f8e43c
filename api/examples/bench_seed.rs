//! Seeds the data set of the public read-path benchmark (`bench/public.sh`) into a
//! fresh SQLite database, before the server starts:
//!
//! - through the service layer, as the webhook and the console would: one suspected
//!   incident opened by an OpsGenie alert, one open confirmed outage with four updates,
//!   one planned maintenance, three incidents resolved in the last 24 h;
//! - with `BENCH_HISTORY=N`, N more resolved incidents spread over the past year,
//!   inserted in bulk (two timeline entries each), since N calls through the service
//!   layer would only measure the seeding.
//!
//! The alert goes through `alert_opened`, the call behind the OpsGenie webhook, and
//! first: once the confirmed outage is open, a new alert joins it instead of opening a
//! suspected incident. Environment: `BENCH_DATA_DIR` (required, the server's data directory),
//! `BENCH_HISTORY` (default 0), `BENCH_CURRENT=0` to leave out the six incidents of the
//! last day (the alert latency benchmark needs a page with nothing open).

#![allow(clippy::cast_possible_wrap)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use monostat::config::Config;
use monostat::domain::{Actor, IncidentStatus, Origin, Severity};
use monostat::events::EventBus;
use monostat::jobs::JobWaker;
use monostat::services::{AlertReport, IncidentChange, NewIncident, Services};
use monostat::store::{self, incident, incident_update};
use sea_orm::{ActiveValue::Set, EntityTrait, TransactionTrait};

const BATCH: usize = 500;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data_dir = std::env::var("BENCH_DATA_DIR")?;
    let history: usize = std::env::var("BENCH_HISTORY")
        .ok()
        .map_or(Ok(0), |n| n.parse())?;
    let env = HashMap::from([("MONOSTAT_DATA_DIR".to_owned(), data_dir)]);
    let config = Arc::new(Config::from_lookup(|name| env.get(name).cloned())?);
    let db = store::connect(&config.database).await?;
    store::migrate(&db).await?;
    let services = Services::new(
        db.clone(),
        EventBus::in_process(),
        JobWaker::default(),
        config,
        &monostat::secret::Secret::generate(256),
    );
    services.settings.ensure_defaults().await?;
    if std::env::var("BENCH_CURRENT").is_ok_and(|v| v == "0") {
        let started = Instant::now();
        seed_history(&db, history).await?;
        println!(
            "seeded {history} history incidents in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        db.close().await?;
        return Ok(());
    }
    let admin = Actor::User("bench".into());
    let now = Utc::now();
    let new = |title: &str, status, severity, start| NewIncident {
        title: title.to_owned(),
        status,
        severity,
        start: Some(start),
        text: None,
        summary: Some("Seeded by the benchmark.".to_owned()),
        silent: false,
        auto_start: false,
        do_not_notify: true,
    };
    let say = |text: &str, new_status| IncidentChange {
        new_status,
        text: Some(text.to_owned()),
        do_not_notify: true,
        ..IncidentChange::default()
    };

    services
        .incidents
        .alert_opened(AlertReport {
            source: Origin::Opsgenie,
            external_id: "bench-suspected".to_owned(),
            message: "Error rate above 5% on the API".to_owned(),
            description: Some("p95 latency 2.3 s; error rate 7%".to_owned()),
        })
        .await?;
    let outage = services
        .incidents
        .create(
            &admin,
            new(
                "Checkout unavailable",
                IncidentStatus::Confirmed,
                Severity::Outage,
                now - Duration::minutes(50),
            ),
        )
        .await?;
    for text in [
        "We are looking into **failed payments** at checkout.",
        "The payment provider's API answers with errors; we are in contact with them.",
        "A fix is being rolled out to the *first* region.",
    ] {
        services
            .incidents
            .update(outage.id, &admin, say(text, None))
            .await?;
    }
    services
        .incidents
        .update(
            outage.id,
            &admin,
            say(
                "Payments succeed again in every region; we keep watching.",
                Some(IncidentStatus::Watching),
            ),
        )
        .await?;

    services
        .incidents
        .create(
            &admin,
            new(
                "Database upgrade",
                IncidentStatus::Planned,
                Severity::Maintenance,
                now + Duration::days(2),
            ),
        )
        .await?;

    for (hours, title, severity) in [
        (3, "Slow search results", Severity::Partial),
        (9, "Login e-mails delayed", Severity::Bug),
        (20, "Reports export failing", Severity::Notice),
    ] {
        let incident = services
            .incidents
            .create(
                &admin,
                new(
                    title,
                    IncidentStatus::Confirmed,
                    severity,
                    now - Duration::hours(hours),
                ),
            )
            .await?;
        services
            .incidents
            .update(
                incident.id,
                &admin,
                say(
                    "Fixed; everything works again.",
                    Some(IncidentStatus::Resolved),
                ),
            )
            .await?;
    }

    let started = Instant::now();
    seed_history(&db, history).await?;
    println!(
        "seeded 6 incidents through the services and {history} history incidents in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    db.close().await?;
    Ok(())
}

/// `count` resolved incidents, spread evenly over the year before yesterday.
async fn seed_history(db: &sea_orm::DatabaseConnection, count: usize) -> anyhow::Result<()> {
    let severities = [
        Severity::Notice,
        Severity::Bug,
        Severity::Partial,
        Severity::Outage,
    ];
    let year_ago = Utc::now() - Duration::days(366);
    let step = Duration::days(364) / i32::try_from(count.max(1))?;
    let txn = db.begin().await?;
    let mut next_id = incident::Entity::find()
        .all(&txn)
        .await?
        .iter()
        .map(|row| row.id)
        .max()
        .unwrap_or(0)
        + 1;
    for chunk_start in (0..count).step_by(BATCH) {
        let chunk = chunk_start..count.min(chunk_start + BATCH);
        let mut incidents = Vec::with_capacity(BATCH);
        let mut updates = Vec::with_capacity(2 * BATCH);
        for i in chunk {
            let start = year_ago + step * i32::try_from(i)?;
            let end = start + Duration::minutes(20 + (i % 7) as i64 * 15);
            let id = next_id;
            next_id += 1;
            incidents.push(incident::ActiveModel {
                id: Set(id),
                status: Set(IncidentStatus::Resolved),
                severity: Set(severities[i % severities.len()]),
                title: Set(format!("Past incident {i}: elevated error rate")),
                summary: Set(Some("A past problem, long solved.".to_owned())),
                start_at: Set(start),
                end_at: Set(Some(end)),
                silent: Set(false),
                last_notified_status: Set(Some(IncidentStatus::Resolved)),
                notified_episode: Set(1),
                origin: Set(if i % 2 == 0 {
                    Origin::Opsgenie
                } else {
                    Origin::Manual
                }),
                auto_start: Set(false),
                slack_channel: Set(None),
                slack_ts: Set(None),
                created_at: Set(start),
                updated_at: Set(end),
            });
            for (at, text, status) in [
                (start, "We are investigating.", IncidentStatus::Confirmed),
                (end, "Resolved.", IncidentStatus::Resolved),
            ] {
                updates.push(incident_update::ActiveModel {
                    incident_id: Set(id),
                    created_at: Set(at),
                    message: Set(text.to_owned()),
                    new_status: Set(Some(status)),
                    author: Set("bench".to_owned()),
                    ..Default::default()
                });
            }
        }
        incident::Entity::insert_many(incidents).exec(&txn).await?;
        incident_update::Entity::insert_many(updates)
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}
