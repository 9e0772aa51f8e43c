//! Types and rules of the product with no I/O: what an incident is, which transitions
//! the lifecycle allows, who gets notified, which headline the public page shows, where
//! an incident's page lives and what severities and statuses are called.
//!
//! Everything here is plain data and pure functions so the rules can be read in one
//! place and tested exhaustively; the service layer applies them inside transactions.

#[macro_use]
mod spelling;
mod actor;
mod email;
mod error;
mod headline;
mod incident;
mod labels;
mod lifecycle;
mod notify;
mod paths;
mod slack_actors;
mod states;
pub mod totp;

pub use actor::Actor;
pub use email::{InvalidEmail, SubscriberCsv, SubscriberEmail, read_subscriber_csv};
pub use error::{ClassifiedError, ErrorKind, Field, UNAVAILABLE_MESSAGE};
pub use headline::{Headline, headline};
pub use incident::{Incident, IncidentId, IncidentStatus, Origin, Severity};
pub use labels::{Language, announced_status_label, severity_label, status_label};
pub use lifecycle::{Action, TransitionError, update_entry_carries_status};
pub use notify::{Announcement, NotificationContext, NotificationKind, decide_notification};
pub use paths::{incident_path, percent_encode};
pub use slack_actors::{InvalidSlackUserId, SlackActors, SlackUserId};
pub use spelling::ParseEnumError;
pub use states::{ChallengePurpose, DeliveryState, FactorKind, JobState};
