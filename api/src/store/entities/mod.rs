//! One sea-orm entity per table: plain columns, no behaviour. Queries over them live
//! beside this module, one file per aggregate.

pub mod admin_user;
pub mod alert;
pub mod alert_source;
pub mod audit_entry;
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
