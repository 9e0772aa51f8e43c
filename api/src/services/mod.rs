//! The service layer: every business rule that touches storage, and the only code that
//! changes it. REST adapters, Slack, GraphQL resolvers and the CLI call these services
//! and translate; none of them decides anything on its own.
//!
//! Services take and return plain Rust and domain types; they know nothing of HTTP or
//! GraphQL. Each has its own error enum; `error_kinds` says which
//! [`ErrorKind`](crate::domain::ErrorKind) each variant is, and every edge maps kinds,
//! never variants.
//!
//! This file only declares the modules and re-exports what the edges use. Services
//! import what they need from the file that defines it, never through these
//! re-exports, so no file imports its parent back.

mod alert_intake;
mod at_rest;
pub mod audit;
mod auth;
mod console_user;
mod deps;
mod error_kinds;
pub mod follow_up;
mod incidents;
mod jobs;
mod notifications;
mod public;
mod public_window;
mod second_factors;
mod sessions;
mod settings;
mod subscribers;
pub mod tx;
mod users;
pub mod views;
mod wiring;

pub use alert_intake::{AlertIntake, AlertSpool, IntakeError, ReplayReport, Submitted};
pub use at_rest::{SealReport, seal_stored_secrets};
pub use auth::{AuthError, AuthService, LoginOutcome, PendingLogin};
pub use console_user::{ConsoleUser, STEP_UP_WINDOW, StepUp, StepUpRequired};
pub use incidents::{
    AlertActivity, AlertEvent, AlertOutcome, AlertReport, ConsoleFilter, ConsolePage,
    ENTRY_MAX_CHARS, IncidentChange, IncidentEdit, IncidentError, IncidentService, NewIncident,
};
pub use jobs::JobService;
pub use notifications::{
    DeliveryProgress, FanOut, NotificationError, NotificationService, PendingDelivery, Preparation,
};
pub use public::{
    HistoryDay, IncidentFilter, Logo, MAX_PAGE, PublicError, PublicIncident, PublicService,
    PublicUpdate, SiteInfo, StatusView, Theme, on_front_page,
};
pub use public_window::PublicWindow;
pub use second_factors::{
    SecondFactorError, SecondFactorService, TotpEnrolment, WebauthnRegistration,
};
pub use sessions::{REFRESH_TTL, Session, SessionError};
pub use settings::{
    LANGUAGES, LOGO_MAX_BYTES, NotificationChange, SettingsError, SettingsService, SiteChange,
    SlackCheck, SlackProbe, SlackSettings, SlackSettingsChange, sniff_image,
};
pub use subscribers::{
    ImportReport, MAIL_INTERVAL, OptInLoad, SubscriberCount, SubscriberError, SubscriberService,
    TokenOutcome, TokenState,
};
pub use users::{UserError, UserService};
pub use wiring::Services;
