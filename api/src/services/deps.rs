//! The handles every service is built from. A file of its own so that services can
//! name it without importing the module that re-exports them all.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::Config;
use crate::events::EventBus;
use crate::jobs::JobWaker;
use crate::ratelimit::Limits;
use crate::secret::SecretBox;

/// What every service needs; cheap to clone.
#[derive(Clone)]
pub(crate) struct Deps {
    pub db: DatabaseConnection,
    pub events: EventBus,
    pub jobs: JobWaker,
    pub config: Arc<Config>,
    /// Rate limits, shared by the replicas through Redis when it is configured.
    pub limits: Limits,
    /// Seals the secrets the database keeps (`at_rest`); every read and write of them
    /// goes through it.
    pub secrets: SecretBox,
}
