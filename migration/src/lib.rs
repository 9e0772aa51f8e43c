//! Database schema of monostat, one file per migration, for SQLite and PostgreSQL alike.
//!
//! Constraints that protect the product's promises live here, not in application code:
//! one alert per (source, external id), at most one suspected incident at a time (so two
//! alerts racing each other can never open two incidents), one notification delivery per
//! (subscriber, incident, status, episode), unique subscriber tokens and job dedupe keys.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_initial;
mod m20261125_000002_sessions;
mod m20261128_000003_second_factors;
mod m20261207_000004_notification_episodes;
mod m20261207_000005_delivery_summary;
mod m20261208_000006_slack_allowed_users;
mod m20261208_000007_session_families;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_initial::Migration),
            Box::new(m20261125_000002_sessions::Migration),
            Box::new(m20261128_000003_second_factors::Migration),
            Box::new(m20261207_000004_notification_episodes::Migration),
            Box::new(m20261207_000005_delivery_summary::Migration),
            Box::new(m20261208_000006_slack_allowed_users::Migration),
            Box::new(m20261208_000007_session_families::Migration),
        ]
    }
}
