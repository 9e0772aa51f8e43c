//! Types and rules of the product with no I/O: what an incident is, which transitions
//! the lifecycle allows, who gets notified, and which headline the public page shows.
//!
//! Everything here is plain data and pure functions so the rules can be read in one
//! place and tested exhaustively; the service layer applies them inside transactions.

#[macro_use]
mod spelling;
mod actor;
mod email;
mod headline;
mod incident;
mod lifecycle;
mod notify;
mod states;
pub mod totp;

pub use actor::Actor;
pub use email::{InvalidEmail, SubscriberEmail};
pub use headline::{Headline, headline};
pub use incident::{Incident, IncidentId, IncidentStatus, Origin, Severity};
pub use lifecycle::{Action, TransitionError, update_entry_carries_status};
pub use notify::{Announcement, NotificationContext, NotificationKind, decide_notification};
pub use spelling::ParseEnumError;
pub use states::{ChallengePurpose, DeliveryState, FactorKind, JobState};
