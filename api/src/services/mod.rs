//! The service layer: every business rule that touches storage, and the only code that
//! changes it. REST adapters, Slack, GraphQL resolvers and the CLI call these services
//! and translate; none of them decides anything on its own.
//!
//! Services take and return plain Rust and domain types; they know nothing of HTTP or
//! GraphQL. Each has its own error enum; `error_kinds` says which
//! [`ErrorKind`](crate::domain::ErrorKind) each variant is, and every edge maps kinds,
//! never variants.

mod alert_intake;
pub mod audit;
mod auth;
mod error_kinds;
pub mod follow_up;
mod incidents;
mod jobs;
mod logo;
mod notifications;
mod public;
mod second_factors;
mod settings;
mod subscribers;
pub mod tx;
mod users;
pub mod views;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

pub use alert_intake::{AlertIntake, AlertSpool, IntakeError, ReplayReport, Submitted};
pub use auth::{
    AuthError, AuthService, ConsoleUser, LoginOutcome, PendingLogin, REFRESH_TTL, Session,
};
pub use incidents::{
    AlertActivity, AlertEvent, AlertOutcome, AlertReport, ConsoleFilter, ConsolePage,
    ENTRY_MAX_CHARS, IncidentChange, IncidentEdit, IncidentError, IncidentService, NewIncident,
};
pub use jobs::JobService;
pub use logo::{LOGO_MAX_BYTES, sniff_image};
pub use notifications::{
    DeliveryProgress, FanOut, NotificationError, NotificationService, PendingDelivery, Preparation,
};
pub use public::{
    HistoryDay, IncidentFilter, Logo, MAX_PAGE, PublicError, PublicIncident, PublicService,
    PublicUpdate, SiteInfo, StatusView, Theme,
};
pub use second_factors::{
    SecondFactorError, SecondFactorService, TotpEnrolment, WebauthnRegistration,
};
pub use settings::{
    LANGUAGES, NotificationChange, SettingsError, SettingsService, SiteChange, SlackCheck,
    SlackProbe, SlackSettings, SlackSettingsChange,
};
pub use subscribers::{
    ImportReport, MAIL_INTERVAL, SubscriberCount, SubscriberError, SubscriberService, TokenOutcome,
    TokenState,
};
pub use users::{UserError, UserService};

use crate::config::Config;
use crate::events::EventBus;
use crate::jobs::JobWaker;
use crate::secret::Secret;

/// What every service needs; cheap to clone.
#[derive(Clone)]
pub(crate) struct Deps {
    pub db: DatabaseConnection,
    pub events: EventBus,
    pub jobs: JobWaker,
    pub config: Arc<Config>,
}

#[derive(Clone)]
pub struct Services {
    pub incidents: IncidentService,
    pub settings: SettingsService,
    pub users: UserService,
    pub public: PublicService,
    pub auth: AuthService,
    pub second_factors: SecondFactorService,
    pub audit: audit::AuditLog,
    pub subscribers: SubscriberService,
    pub notifications: NotificationService,
    pub jobs: JobService,
}

impl Services {
    /// `session_key` signs console access tokens.
    pub fn new(
        db: DatabaseConnection,
        events: EventBus,
        jobs: JobWaker,
        config: Arc<Config>,
        session_key: &Secret,
    ) -> Self {
        let deps = Deps {
            db,
            events,
            jobs,
            config,
        };
        let users = UserService::new(deps.clone());
        let second_factors = SecondFactorService::new(deps.clone());
        Self {
            audit: audit::AuditLog::new(deps.clone()),
            auth: AuthService::new(
                deps.clone(),
                users.clone(),
                second_factors.clone(),
                session_key,
            ),
            second_factors,
            incidents: IncidentService::new(deps.clone()),
            settings: SettingsService::new(deps.clone()),
            users,
            subscribers: SubscriberService::new(deps.clone()),
            notifications: NotificationService::new(deps.clone()),
            jobs: JobService::new(deps.clone()),
            public: PublicService::new(deps),
        }
    }
}
