//! The Slack app's settings: bot token, signing secret and channel, each of which the
//! environment may set instead (then it wins and the console shows it read-only), and
//! the channel id the Slack adapter found for the channel name, and who may change the
//! status page from Slack ([`SlackActors`]). Also the narrow door through which the
//! console tests those settings ([`SlackProbe`]).

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use super::service::{SettingsError, SettingsService, missing};
use crate::domain::{Actor, Field, SlackActors};
use crate::events::{DomainEvent, SettingsSection};
use crate::secret::Secret;
use crate::services::at_rest::{SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, unreadable};
use crate::services::audit;
use crate::services::console_user::{StepUp, StepUpRequired};
use crate::services::tx;
use crate::store::settings::{self, SINGLETON};
use crate::store::slack_settings;

/// The outcome of the console's "test Slack" button.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackCheck {
    pub ok: bool,
    /// What works, or what is wrong and how to fix it.
    pub message: String,
}

/// Tests the Slack settings in force against Slack itself (the token, the channel).
/// The Slack adapter implements it; the console asks through this trait, so the
/// GraphQL layer needs no adapter to offer the "test Slack" button.
#[async_trait::async_trait]
pub trait SlackProbe: Send + Sync {
    /// Never fails: what is wrong comes back as a message an operator can act on.
    async fn check(&self) -> SlackCheck;
}

/// The Slack settings in force, with where each value came from.
#[derive(Clone, Debug, Default)]
pub struct SlackSettings {
    pub bot_token: Option<Secret>,
    pub signing_secret: Option<Secret>,
    pub channel_name: Option<String>,
    pub channel_id: Option<String>,
    /// Who may change the status page from Slack.
    pub actors: SlackActors,
    pub bot_token_from_env: bool,
    pub signing_secret_from_env: bool,
    pub channel_from_env: bool,
}

/// A change of the Slack settings: `None` keeps a value, an empty string clears it.
#[derive(Clone, Debug, Default)]
pub struct SlackSettingsChange {
    pub bot_token: Option<Secret>,
    pub signing_secret: Option<Secret>,
    /// With or without the leading `#`.
    pub channel_name: Option<String>,
    /// Slack user ids (`U…`), separated by commas or spaces; an empty list means the
    /// members of the channel.
    pub allowed_user_ids: Option<Vec<String>>,
}

fn normalise_channel_name_lossy(name: &str) -> String {
    name.trim().trim_start_matches('#').to_lowercase()
}

/// Slack channel names: lower-case letters, digits, `-` and `_`, at most 80.
fn normalise_channel_name(name: &str) -> Result<String, SettingsError> {
    let name = normalise_channel_name_lossy(name);
    let valid = name.chars().count() <= 80
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_'));
    if valid {
        Ok(name)
    } else {
        Err(SettingsError::Invalid {
            field: Field::SlackChannel,
            message: "a Slack channel name has at most 80 characters: letters, digits, - and _"
                .into(),
        })
    }
}

impl SettingsService {
    pub async fn slack(&self) -> Result<SlackSettings, SettingsError> {
        let stored = settings::slack(&self.deps.db)
            .await?
            .ok_or_else(|| missing("Slack"))?;
        let env = &self.deps.config.overrides;
        // A stored value the environment overrides is not opened: it is not in force,
        // and an old one that no longer opens must not stop a working deployment.
        let bot_token = match &env.slack_bot_token {
            Some(token) => Some(token.clone()),
            None => self.open_slack(
                SLACK_BOT_TOKEN,
                "Slack bot token",
                stored.bot_token.as_deref(),
            )?,
        };
        let signing_secret = match &env.slack_signing_secret {
            Some(secret) => Some(secret.clone()),
            None => self.open_slack(
                SLACK_SIGNING_SECRET,
                "Slack signing secret",
                stored.signing_secret.as_deref(),
            )?,
        };
        Ok(SlackSettings {
            bot_token_from_env: env.slack_bot_token.is_some(),
            signing_secret_from_env: env.slack_signing_secret.is_some(),
            channel_from_env: env.slack_channel.is_some(),
            bot_token,
            signing_secret,
            channel_id: stored.channel_id.filter(|_| {
                let in_force = env
                    .slack_channel
                    .as_deref()
                    .or(stored.channel_name.as_deref());
                // The id was found for the stored name; another name needs another id.
                in_force.map(normalise_channel_name_lossy)
                    == stored
                        .channel_name
                        .as_deref()
                        .map(normalise_channel_name_lossy)
            }),
            channel_name: env.slack_channel.clone().or(stored.channel_name),
            actors: SlackActors::from_stored(stored.allowed_user_ids.as_deref()),
        })
    }

    fn open_slack(
        &self,
        place: &str,
        what: &str,
        stored: Option<&str>,
    ) -> Result<Option<Secret>, SettingsError> {
        stored
            .map(|stored| {
                self.deps.secrets.open(place, stored).map_err(|error| {
                    SettingsError::Unreadable(unreadable(
                        what,
                        error,
                        "Set it again in the console (Settings, Slack).",
                    ))
                })
            })
            .transpose()
    }

    /// Changes the Slack settings. A new channel name forgets the channel id, so the
    /// next message finds and joins the new channel. Every replica reads the settings
    /// on each use, so the change is in force everywhere at once.
    pub async fn update_slack(
        &self,
        change: SlackSettingsChange,
        actor: &Actor,
        recently_authenticated: Option<&StepUp>,
    ) -> Result<(), SettingsError> {
        // Whoever holds the secrets, or picks who may act from Slack, speaks for the
        // status page: a stolen session alone must not be enough.
        let sensitive = change.bot_token.is_some()
            || change.signing_secret.is_some()
            || change.allowed_user_ids.is_some();
        if sensitive && recently_authenticated.is_none() {
            return Err(StepUpRequired.into());
        }
        let env = &self.deps.config.overrides;
        let overridden = [
            (
                change.bot_token.is_some() && env.slack_bot_token.is_some(),
                "bot token",
                "MONOSTAT_SLACK_BOT_TOKEN",
            ),
            (
                change.signing_secret.is_some() && env.slack_signing_secret.is_some(),
                "signing secret",
                "MONOSTAT_SLACK_SIGNING_SECRET",
            ),
            (
                change.channel_name.is_some() && env.slack_channel.is_some(),
                "channel",
                "MONOSTAT_SLACK_CHANNEL",
            ),
        ];
        if let Some((_, what, var)) = overridden.into_iter().find(|(set, ..)| *set) {
            return Err(SettingsError::SlackSetByEnvironment { what, var });
        }
        let token = change
            .bot_token
            .as_ref()
            .map(|t| t.expose().trim().to_owned());
        if let Some(token) = token.as_deref()
            && !token.is_empty()
            && !token.starts_with("xoxb-")
        {
            return Err(SettingsError::Invalid {
                field: Field::SlackBotToken,
                message: "use the app's Bot User OAuth Token; it starts with xoxb-".into(),
            });
        }
        let secret = change
            .signing_secret
            .as_ref()
            .map(|s| s.expose().trim().to_owned());
        let channel = change
            .channel_name
            .as_deref()
            .map(normalise_channel_name)
            .transpose()?;
        let actors = change
            .allowed_user_ids
            .as_ref()
            .map(|ids| SlackActors::parse_list(ids.iter().map(String::as_str)))
            .transpose()
            .map_err(|error| SettingsError::Invalid {
                field: Field::SlackAllowedUsers,
                message: error.to_string(),
            })?;
        tx::write_tx!(&self.deps.db, SettingsError, |txn| {
            let stored = settings::slack(txn)
                .await?
                .ok_or_else(|| missing("Slack"))?;
            let mut changed = Vec::new();
            let mut row = slack_settings::ActiveModel {
                id: Set(SINGLETON),
                updated_at: Set(Utc::now()),
                ..Default::default()
            };
            if let Some(token) = &token {
                row.bot_token = Set(Some(token.as_str())
                    .filter(|t| !t.is_empty())
                    .map(|t| self.deps.secrets.seal(SLACK_BOT_TOKEN, t)));
                changed.push("bot token");
            }
            if let Some(secret) = &secret {
                row.signing_secret = Set(Some(secret.as_str())
                    .filter(|s| !s.is_empty())
                    .map(|s| self.deps.secrets.seal(SLACK_SIGNING_SECRET, s)));
                changed.push("signing secret");
            }
            if let Some(channel) = &channel {
                let channel = Some(channel.clone()).filter(|c| !c.is_empty());
                if channel != stored.channel_name {
                    row.channel_name = Set(channel);
                    row.channel_id = Set(None);
                    changed.push("channel");
                }
            }
            if let Some(actors) = &actors {
                let actors = actors.to_stored();
                if actors != stored.allowed_user_ids {
                    row.allowed_user_ids = Set(actors);
                    changed.push("people allowed to change the status page");
                }
            }
            row.update(txn).await?;
            if !changed.is_empty() {
                // Names what changed, never the values: they are secrets.
                audit::record(
                    txn,
                    actor,
                    None,
                    format!("Changed the Slack {}", changed.join(", ")),
                )
                .await?;
            }
            Ok::<_, SettingsError>(())
        })?;
        self.deps.events.publish(DomainEvent::SettingsChanged {
            section: SettingsSection::Slack,
        });
        Ok(())
    }

    /// Remembers that the channel `name` resolved to `id`. The name is stored with
    /// it, so an id found for another name (the environment's channel changed between
    /// restarts) is never used for this one.
    pub async fn remember_slack_channel(&self, name: &str, id: &str) -> Result<(), SettingsError> {
        slack_settings::ActiveModel {
            id: Set(SINGLETON),
            channel_name: Set(Some(normalise_channel_name(name)?)),
            channel_id: Set(Some(id.to_owned())),
            updated_at: Set(Utc::now()),
            ..Default::default()
        }
        .update(&self.deps.db)
        .await?;
        Ok(())
    }

    /// Forgets the channel id, so the next message resolves the name again.
    /// Bookkeeping of the Slack adapter, not a human change: no audit entry.
    pub async fn forget_slack_channel(&self) -> Result<(), SettingsError> {
        slack_settings::ActiveModel {
            id: Set(SINGLETON),
            channel_id: Set(None),
            updated_at: Set(Utc::now()),
            ..Default::default()
        }
        .update(&self.deps.db)
        .await?;
        Ok(())
    }
}
