//! Alert sources' webhook secrets: the one in force (environment, else database, else —
//! while the database is away — the last one read), the webhook URL built from it, and
//! rotation.

use std::sync::PoisonError;
use std::time::Instant;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, EntityTrait};

use super::service::{ALERT_SOURCE_SECRET_BITS, SettingsError, SettingsService};
use crate::domain::{Actor, Origin};
use crate::events::{DomainEvent, SettingsSection};
use crate::secret::Secret;
use crate::services::at_rest::{alert_source_secret, unreadable};
use crate::services::audit;
use crate::services::console_user::StepUp;
use crate::services::tx;
use crate::store::{alert_source, settings};

impl SettingsService {
    /// The webhook secret in force for `source`: from the environment, else from the
    /// database (cached briefly), else — while the database is away — the last one read.
    pub async fn alert_source_secret(&self, source: Origin) -> Result<Secret, SettingsError> {
        if let Some(secret) = self.deps.config.overrides.alert_source_secrets.get(&source) {
            return Ok(secret.clone());
        }
        let cached = self
            .secrets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&source)
            .cloned();
        if let Some((secret, read_at)) = &cached
            // Rotation clears the cache at once through the event bus; this bounds the
            // staleness when an event is lost (Redis away).
            && read_at.elapsed() < self.deps.config.resync_interval / 3
        {
            return Ok(secret.clone());
        }
        match settings::alert_source(&self.deps.db, source).await {
            Ok(Some(row)) => {
                let secret = self
                    .deps
                    .secrets
                    .open(&alert_source_secret(source.as_str()), &row.secret)
                    .map_err(|error| {
                        SettingsError::Unreadable(unreadable(
                            &format!("{source} webhook secret"),
                            error,
                            "Rotate it in the console (Settings, alert sources) and give the monitoring tool the new URL.",
                        ))
                    })?;
                self.secrets
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(source, (secret.clone(), Instant::now()));
                Ok(secret)
            }
            Ok(None) => Err(SettingsError::NotAnAlertSource(source)),
            Err(error) => match cached {
                Some((secret, _)) if crate::store::is_unreachable(&error) => Ok(secret),
                _ => Err(error.into()),
            },
        }
    }

    /// Whether the environment sets the secret (then the console shows it read-only).
    pub fn secret_set_by_environment(&self, source: Origin) -> bool {
        self.deps
            .config
            .overrides
            .alert_source_secrets
            .contains_key(&source)
    }

    /// PagerDuty's signing secret, when the deployment set one.
    pub fn pagerduty_signing_secret(&self) -> Option<Secret> {
        self.deps.config.overrides.pagerduty_signing_secret.clone()
    }

    /// The full webhook URL to paste into the monitoring tool.
    pub fn webhook_url(&self, source: Origin, secret: &Secret) -> String {
        format!(
            "{}/integrations/{}/hook/{}",
            self.deps.config.site_url,
            source.as_str(),
            secret.expose()
        )
    }

    /// Replaces the webhook secret of `source`; the old one stops working at once.
    pub async fn rotate_alert_source_secret(
        &self,
        source: Origin,
        actor: &Actor,
        _recently_authenticated: &StepUp,
    ) -> Result<Secret, SettingsError> {
        if self
            .deps
            .config
            .overrides
            .alert_source_secrets
            .contains_key(&source)
        {
            return Err(SettingsError::SetByEnvironment(source));
        }
        if source == Origin::Manual {
            return Err(SettingsError::NotAnAlertSource(source));
        }
        let secret = Secret::generate(ALERT_SOURCE_SECRET_BITS);
        tx::write_tx!(&self.deps.db, SettingsError, |txn| {
            let now = Utc::now();
            alert_source::Entity::insert(alert_source::ActiveModel {
                source: Set(source.as_str().to_owned()),
                secret: Set(self
                    .deps
                    .secrets
                    .seal(&alert_source_secret(source.as_str()), secret.expose())),
                created_at: Set(now),
                rotated_at: Set(now),
            })
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(alert_source::Column::Source)
                    .update_columns([
                        alert_source::Column::Secret,
                        alert_source::Column::RotatedAt,
                    ])
                    .to_owned(),
            )
            .exec(txn)
            .await?;
            audit::record(
                txn,
                actor,
                None,
                format!("Rotated the {source} webhook secret"),
            )
            .await?;
            Ok::<_, SettingsError>(())
        })?;
        self.forget_cached();
        self.deps.events.publish(DomainEvent::SettingsChanged {
            section: SettingsSection::AlertSources,
        });
        Ok(secret)
    }
}
