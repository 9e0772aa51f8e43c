//! sea-orm entities, one per table of the initial migration, plus the connection set-up.
//!
//! Entities hold plain columns; the rules that give them meaning live in `domain` and
//! `services`. Statuses, severities and states are domain enums stored as their fixed
//! spellings (`IncidentStatus::as_str`, see `columns`), so rows arrive already typed.

pub mod admin_user;
pub mod alert;
pub mod alert_source;
pub mod audit_entry;
mod columns;
mod connect;
pub mod incident;
pub mod incident_update;
pub mod job;
pub mod notification_delivery;
pub mod notification_settings;
pub mod refresh_token;
pub mod second_factor;
pub mod second_factor_challenge;
pub mod site_settings;
pub mod slack_settings;
pub mod subscriber;

pub use connect::{connect, is_retryable, is_unique_violation, is_unreachable, migrate};
