//! Builds every service from one set of [`Deps`] and hands them out together, so the
//! edges (REST, GraphQL, Slack, CLI, workers) start from one value. Kept out of
//! `services/mod.rs` so that no service has to import the module that re-exports it.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use super::audit::AuditLog;
use super::auth::AuthService;
use super::deps::Deps;
use super::incidents::service::IncidentService;
use super::jobs::JobService;
use super::notifications::NotificationService;
use super::public::PublicService;
use super::second_factors::service::SecondFactorService;
use super::settings::service::SettingsService;
use super::subscribers::SubscriberService;
use super::users::UserService;
use crate::config::Config;
use crate::events::EventBus;
use crate::jobs::JobWaker;
use crate::ratelimit::Limits;
use crate::secret::{Secret, SecretBox};

#[derive(Clone)]
pub struct Services {
    pub incidents: IncidentService,
    pub settings: SettingsService,
    pub users: UserService,
    pub public: PublicService,
    pub auth: AuthService,
    pub second_factors: SecondFactorService,
    pub audit: AuditLog,
    pub subscribers: SubscriberService,
    pub notifications: NotificationService,
    pub jobs: JobService,
    /// The rate limits the services count in, for edges that limit too (Slack's
    /// replay cache).
    pub limits: Limits,
}

impl Services {
    /// `session_key` signs console access tokens; the key that seals stored secrets is
    /// derived from it.
    pub fn new(
        db: DatabaseConnection,
        events: EventBus,
        jobs: JobWaker,
        config: Arc<Config>,
        session_key: &Secret,
    ) -> Self {
        // The event bus has already refused a Redis address that cannot work.
        let limits = Limits::new(config.redis.as_ref()).unwrap_or_else(|error| {
            tracing::warn!(%error, "rate limits count in this process only");
            Limits::in_process()
        });
        let deps = Deps {
            db,
            events,
            jobs,
            config,
            limits,
            secrets: SecretBox::new(session_key),
        };
        let users = UserService::new(deps.clone());
        let second_factors = SecondFactorService::new(deps.clone());
        Self {
            audit: AuditLog::new(deps.clone()),
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
            limits: deps.limits.clone(),
            public: PublicService::new(deps),
        }
    }
}
