//! Storage: the sea-orm entities (`entities`, one per table, re-exported here), the
//! query functions of each aggregate, and the connection set-up.
//!
//! Services keep the business rules and the transaction; this module owns how rows are
//! found. Every query function takes `&impl ConnectionTrait`, so it runs inside the
//! transaction of the use case that calls it. Statuses, severities and states are
//! domain enums stored as their fixed spellings (`IncidentStatus::as_str`, see
//! `columns`), so rows arrive already typed.

mod columns;
mod connect;
mod entities;

pub mod alerts;
pub mod audit;
pub mod deliveries;
pub mod incidents;
pub mod jobs;
pub mod second_factors;
pub mod settings;
pub mod subscribers;
pub mod timeline;
pub mod users;

pub use connect::{connect, is_retryable, is_unique_violation, is_unreachable, migrate};
pub use entities::{
    admin_user, alert, alert_source, audit_entry, incident, incident_update, job,
    notification_delivery, notification_settings, refresh_token, second_factor,
    second_factor_challenge, site_settings, slack_settings, subscriber,
};
