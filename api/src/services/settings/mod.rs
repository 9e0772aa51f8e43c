//! Settings: single rows created with defaults on first start, read fresh on every use
//! so a change made on any replica is in force everywhere at once. Integration secrets
//! set in the environment win over the database.
//!
//! One file per section: [`site`] the site and notification settings, [`logo`] the
//! uploaded logo, [`slack`] the Slack app's settings, [`alert_sources`] the webhook
//! secrets of alert sources (with their cache for when the database is away); what
//! they share is in [`service`].

mod alert_sources;
pub(super) mod logo;
pub(super) mod service;
mod site;
mod slack;

pub use logo::{LOGO_MAX_BYTES, sniff_image};
pub use service::{SettingsError, SettingsService};
pub use site::{LANGUAGES, NotificationChange, SiteChange};
pub use slack::{SlackCheck, SlackProbe, SlackSettings, SlackSettingsChange};
