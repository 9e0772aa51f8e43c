//! The service layer: every business rule that touches storage, and the only code that
//! changes it. REST adapters, Slack, GraphQL resolvers and the CLI call these services
//! and translate; none of them decides anything on its own.
//!
//! Services take and return plain Rust and domain types; they know nothing of HTTP or
//! GraphQL. Each has its own error enum, mapped once at each edge.

pub mod audit;
pub mod follow_up;
mod incidents;
mod notifications;
mod settings;
mod subscribers;
pub mod tx;
mod users;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

pub use incidents::{
    AlertActivity, AlertEvent, AlertOutcome, AlertReport, IncidentChange, IncidentError,
    IncidentService, NewIncident,
};
pub use notifications::{
    DeliveryProgress, FanOut, NotificationError, NotificationService, PendingDelivery, Preparation,
};
pub use settings::{SettingsError, SettingsService, SlackSettings};
pub use subscribers::{
    ImportReport, MAIL_INTERVAL, SubscriberCount, SubscriberError, SubscriberService, TokenOutcome,
    TokenState,
};
pub use users::{UserError, UserService};

use crate::config::Config;
use crate::events::EventBus;
use crate::jobs::JobWaker;

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
    pub subscribers: SubscriberService,
    pub notifications: NotificationService,
}

impl Services {
    pub fn new(
        db: DatabaseConnection,
        events: EventBus,
        jobs: JobWaker,
        config: Arc<Config>,
    ) -> Self {
        let deps = Deps {
            db,
            events,
            jobs,
            config,
        };
        Self {
            incidents: IncidentService::new(deps.clone()),
            settings: SettingsService::new(deps.clone()),
            users: UserService::new(deps.clone()),
            subscribers: SubscriberService::new(deps.clone()),
            notifications: NotificationService::new(deps),
        }
    }
}
