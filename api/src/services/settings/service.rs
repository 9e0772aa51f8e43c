//! What every settings section shares: the service and its error, the cache of webhook
//! secrets, and the rows' defaults. The sections' files ([`super::site`],
//! [`super::slack`], [`super::alert_sources`], [`super::logo`]) add their methods to
//! [`SettingsService`] and import it from here, not through `settings/mod.rs`, so no
//! file imports its parent back.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, DbErr, EntityTrait};

use crate::domain::{Field, Origin};
use crate::secret::Secret;
use crate::services::at_rest::alert_source_secret;
use crate::services::console_user::StepUpRequired;
use crate::services::deps::Deps;
use crate::services::tx;
use crate::store::settings::SINGLETON;
use crate::store::{alert_source, notification_settings, site_settings, slack_settings};

/// Webhook secrets carry at least 256 bits of randomness (SPEC §1).
pub(super) const ALERT_SOURCE_SECRET_BITS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("the {0} secret is set by the environment (MONOSTAT_{env}_SECRET); change it there", env = .0.as_str().to_uppercase())]
    SetByEnvironment(Origin),
    #[error("{0} is not an alert source")]
    NotAnAlertSource(Origin),
    #[error("the Slack {what} is set by the environment ({var}); change it there")]
    SlackSetByEnvironment {
        what: &'static str,
        var: &'static str,
    },
    #[error("{field}: {message}")]
    Invalid { field: Field, message: String },
    #[error(transparent)]
    StepUp(#[from] StepUpRequired),
    /// A stored secret does not open (see `services::at_rest`); says what to do.
    #[error("{0}")]
    Unreadable(String),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl tx::DbError for SettingsError {
    fn db_error(&self) -> Option<&DbErr> {
        match self {
            Self::Database(error) => Some(error),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct SettingsService {
    pub(super) deps: Deps,
    /// Webhook secrets as last read, so alert sources can still be authenticated while
    /// the database is away (their requests then go to the spool).
    pub(super) secrets: Arc<RwLock<HashMap<Origin, (Secret, Instant)>>>,
}

impl SettingsService {
    pub(in crate::services) fn new(deps: Deps) -> Self {
        Self {
            deps,
            secrets: Arc::default(),
        }
    }

    /// Drops cached settings; called when another replica changed them.
    pub fn forget_cached(&self) {
        self.secrets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Creates every settings row that is missing, with defaults; leaves existing ones
    /// alone. Run at every start; harmless when repeated or run by two replicas at once.
    pub async fn ensure_defaults(&self) -> Result<(), DbErr> {
        let now = Utc::now();
        let db = &self.deps.db;
        site_settings::Entity::insert(site_settings::ActiveModel {
            id: Set(SINGLETON),
            system_name: Set("Our product".into()),
            support_email: Set(None),
            support_phone: Set(None),
            legal_notice_url: Set(None),
            privacy_url: Set(None),
            color_primary: Set("#1f2937".into()),
            color_link: Set("#1d4ed8".into()),
            color_success: Set("#15803d".into()),
            color_warning: Set("#b45309".into()),
            color_danger: Set("#b91c1c".into()),
            color_info: Set("#0e7490".into()),
            color_text_primary: Set("#111827".into()),
            color_text_secondary: Set("#4b5563".into()),
            logo_content_type: Set(None),
            logo_data: Set(None),
            time_zone: Set("UTC".into()),
            default_language: Set("en".into()),
            updated_at: Set(now),
        })
        .on_conflict_do_nothing_on([site_settings::Column::Id])
        .exec(db)
        .await?;
        notification_settings::Entity::insert(notification_settings::ActiveModel {
            id: Set(SINGLETON),
            allow_subscriptions: Set(false),
            reply_to: Set(None),
            notify_maintenance: Set(false),
            updated_at: Set(now),
        })
        .on_conflict_do_nothing_on([notification_settings::Column::Id])
        .exec(db)
        .await?;
        slack_settings::Entity::insert(slack_settings::ActiveModel {
            id: Set(SINGLETON),
            bot_token: Set(None),
            signing_secret: Set(None),
            channel_name: Set(None),
            channel_id: Set(None),
            allowed_user_ids: Set(None),
            updated_at: Set(now),
        })
        .on_conflict_do_nothing_on([slack_settings::Column::Id])
        .exec(db)
        .await?;
        for source in alert_sources() {
            let secret = Secret::generate(ALERT_SOURCE_SECRET_BITS);
            alert_source::Entity::insert(alert_source::ActiveModel {
                source: Set(source.as_str().to_owned()),
                secret: Set(self
                    .deps
                    .secrets
                    .seal(&alert_source_secret(source.as_str()), secret.expose())),
                created_at: Set(now),
                rotated_at: Set(now),
            })
            .on_conflict_do_nothing_on([alert_source::Column::Source])
            .exec(db)
            .await?;
        }
        Ok(())
    }

    /// The public base URL, without a trailing slash.
    pub fn site_url(&self) -> &str {
        &self.deps.config.site_url
    }
}

fn alert_sources() -> impl Iterator<Item = Origin> {
    Origin::ALL.iter().copied().filter(|o| *o != Origin::Manual)
}

pub(super) fn missing(what: &str) -> SettingsError {
    SettingsError::Database(DbErr::RecordNotFound(format!(
        "the {what} settings row is missing; run `monostat migrate`"
    )))
}
