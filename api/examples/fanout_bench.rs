//! Fan-out benchmark: one confirmed incident mailed to N subscribers through the real
//! `notify.subscribers` handler and a real SMTP server. Run through `bench/fanout.sh`,
//! which starts the SMTP sink and sets the environment:
//!
//! - `BENCH_SMTP_PORT` (required): where the sink listens on 127.0.0.1
//! - `BENCH_SUBSCRIBERS` (default 10000)
//! - `BENCH_DATA_DIR` (required): an empty directory for the SQLite database
//! - `MONOSTAT_DB_*` to use PostgreSQL instead.

#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monostat::adapters::email::{Mailer, NotifyHandler};
use monostat::config::Config;
use monostat::domain::{Actor, IncidentStatus, Origin};
use monostat::events::EventBus;
use monostat::jobs::{JobError, JobHandler, JobWaker, Lease};
use monostat::services::follow_up::NOTIFY_SUBSCRIBERS;
use monostat::services::{AlertReport, Services};
use monostat::store::{self, job};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port = std::env::var("BENCH_SMTP_PORT")?;
    let data_dir = std::env::var("BENCH_DATA_DIR")?;
    let count: usize = std::env::var("BENCH_SUBSCRIBERS")
        .ok()
        .map_or(Ok(10_000), |n| n.parse())?;
    let mut env: HashMap<String, String> = std::env::vars()
        .filter(|(key, _)| key.starts_with("MONOSTAT_DB_"))
        .collect();
    env.extend([
        ("MONOSTAT_DATA_DIR".to_owned(), data_dir),
        ("MONOSTAT_MAIL_HOST".to_owned(), "127.0.0.1".to_owned()),
        ("MONOSTAT_MAIL_PORT".to_owned(), port),
        (
            "MONOSTAT_MAIL_FROM".to_owned(),
            "status@example.com".to_owned(),
        ),
        (
            "MONOSTAT_SITE_URL".to_owned(),
            "https://status.example.com".to_owned(),
        ),
    ]);
    let config = Arc::new(Config::from_lookup(|name| env.get(name).cloned())?);
    let db = store::connect(&config.database).await?;
    store::migrate(&db).await?;
    let services = Services::new(
        db.clone(),
        EventBus::in_process(),
        JobWaker::default(),
        config.clone(),
        &monostat::secret::Secret::generate(256),
    );
    services.settings.ensure_defaults().await?;
    let admin = Actor::User("bench".into());

    let mut csv = String::new();
    for i in 0..count {
        writeln!(csv, "subscriber{i:06}@example.com")?;
    }
    let report = services.subscribers.import_csv(&admin, &csv, true).await?;
    println!("subscribers imported: {}", report.added);

    let opened = services
        .incidents
        .alert_opened(AlertReport {
            source: Origin::Opsgenie,
            external_id: format!("bench-{}", monostat::secret::random_token(64)),
            message: "Database down".into(),
            description: None,
        })
        .await?;
    services
        .incidents
        .confirm(opened.incident_id, &admin, false)
        .await?;
    let job = job::Entity::find()
        .filter(job::Column::Kind.eq(NOTIFY_SUBSCRIBERS))
        .all(&db)
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("confirming enqueued no notification"))?;

    let mailer = Arc::new(Mailer::from_config(&config)?);
    let handler = NotifyHandler::new(services.clone(), config.clone(), mailer);
    let started = Instant::now();
    let mut runs = 0;
    loop {
        runs += 1;
        // Run directly, not claimed through the queue: a lease nobody else can take.
        match handler
            .run(&job, &Lease::granted(Duration::from_hours(1)))
            .await
        {
            Ok(()) => break,
            Err(JobError::Temporary(reason) | JobError::RetryAfter { reason, .. }) if runs < 20 => {
                eprintln!("run {runs} stopped early: {reason}; running again");
            }
            Err(error) => anyhow::bail!("fan-out failed: {error}"),
        }
    }
    let elapsed = started.elapsed();
    let progress = services
        .notifications
        .progress(opened.incident_id, IncidentStatus::Confirmed)
        .await?;
    println!(
        "sent {} failed {} pending {} in {:.2} s over {runs} run(s): {:.0} mails/s",
        progress.sent,
        progress.failed,
        progress.pending,
        elapsed.as_secs_f64(),
        progress.sent as f64 / elapsed.as_secs_f64()
    );
    db.close().await?;
    Ok(())
}
