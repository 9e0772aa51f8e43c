//! Who may act on the status page from Slack. A valid signature only says the request
//! came from Slack for an app with our signing secret; this decides whether to act on
//! it:
//!
//! - the request's workspace (`team_id`) and app (`api_app_id`) must be the bot
//!   token's, as `auth.test` names them (cached per token: they change only with it);
//! - a change (create, confirm, dismiss, update, start) must come from someone allowed
//!   by the Slack settings ([`SlackActors`]): a member of the configured channel, as
//!   `conversations.members` says (cached for a minute), or a listed user id.
//!
//! Reading (`/status`, the App Home tab) needs only the first, and goes ahead when
//! Slack cannot be asked; a change is refused then (fail closed).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::client::SlackApi;
use super::directory::BotIdentity;
use crate::domain::SlackActors;
use crate::secret::Secret;
use crate::services::SlackSettings;

/// `auth.test` names the token's workspace and app, which change only with the token;
/// asking again now and then covers an app reinstalled under the same token.
const BOT_IDENTITY_FOR: Duration = Duration::from_hours(1);
/// Someone removed from the channel loses the right to act within this long.
const MEMBERS_FOR: Duration = Duration::from_mins(1);
/// Each call to Slack while answering: Slack wants the whole answer within 3 s.
const SLACK_CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// What the request wants to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Need {
    /// Show something (`/status`, the App Home tab).
    Read,
    /// Create, confirm, dismiss, update or start an incident, or open a form for it.
    Change,
}

/// Who sent a request, as the payload says (and the signature vouches for).
#[derive(Clone, Copy, Debug)]
pub(super) struct Caller<'a> {
    /// The workspace (`T…`).
    pub(super) team: Option<&'a str>,
    /// The app (`A…`).
    pub(super) app: Option<&'a str>,
    /// The person (`U…`).
    pub(super) user: &'a str,
}

/// Why a request from Slack is not acted on.
#[derive(Debug, thiserror::Error)]
pub(super) enum TrustError {
    #[error("the request comes from workspace {team:?}, but the bot token belongs to {ours}")]
    ForeignTeam { team: Option<String>, ours: String },
    #[error("the request comes from app {app:?}, but the bot token belongs to {ours}")]
    ForeignApp { app: Option<String>, ours: String },
    #[error("{user} is not {why}")]
    NotAllowed { user: String, why: &'static str },
    #[error("no bot token is set, so the sender cannot be checked")]
    NoToken,
    #[error("no channel is set, so nobody is a member of it")]
    NoChannel,
    #[error("Slack could not be asked who sent the request: {0}")]
    SlackUnreachable(String),
    #[error("the Slack settings cannot be read: {0}")]
    SettingsAway(String),
}

/// The answers of Slack that decide who may act, cached; cheap to clone.
#[derive(Clone)]
pub(super) struct Trust {
    api: SlackApi,
    bot: Slot<BotIdentity>,
    /// The channel's id by its name, until a message names it in the settings.
    channel_id: Slot<String>,
    members: Slot<Arc<HashSet<String>>>,
}

/// One cached answer, shared by the clones.
type Slot<T> = Arc<Mutex<Option<Cached<T>>>>;

/// An answer of Slack for one token (and channel), and when it came.
struct Cached<T> {
    token: Secret,
    channel: String,
    value: T,
    at: Instant,
}

impl<T: Clone> Cached<T> {
    fn fresh(
        slot: &Mutex<Option<Self>>,
        token: &Secret,
        channel: &str,
        ttl: Duration,
    ) -> Option<T> {
        let slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.as_ref()
            .filter(|c| c.token == *token && c.channel == channel && c.at.elapsed() < ttl)
            .map(|c| c.value.clone())
    }

    fn store(slot: &Mutex<Option<Self>>, token: &Secret, channel: &str, value: T) {
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Self {
            token: token.clone(),
            channel: channel.to_owned(),
            value,
            at: Instant::now(),
        });
    }
}

impl Trust {
    pub(super) fn new(api: SlackApi) -> Self {
        Self {
            api,
            bot: Arc::default(),
            channel_id: Arc::default(),
            members: Arc::default(),
        }
    }

    /// Whether `caller` may do what `need` says, under `settings`.
    pub(super) async fn check(
        &self,
        settings: &SlackSettings,
        caller: Caller<'_>,
        need: Need,
    ) -> Result<(), TrustError> {
        let Some(token) = settings
            .bot_token
            .as_ref()
            .filter(|t| !t.expose().trim().is_empty())
        else {
            return match need {
                Need::Read => Ok(()),
                Need::Change => Err(TrustError::NoToken),
            };
        };
        let bot = match self.bot_identity(token).await {
            Ok(bot) => bot,
            Err(error) => {
                return match need {
                    Need::Read => Ok(()),
                    Need::Change => Err(error),
                };
            }
        };
        if caller.team != Some(bot.team_id.as_str()) {
            return Err(TrustError::ForeignTeam {
                team: caller.team.map(str::to_owned),
                ours: bot.team_id,
            });
        }
        // Old bots without an app have no app id, and neither do their requests.
        if let Some(ours) = bot.app_id
            && caller.app != Some(ours.as_str())
        {
            return Err(TrustError::ForeignApp {
                app: caller.app.map(str::to_owned),
                ours,
            });
        }
        if need == Need::Read {
            return Ok(());
        }
        let not_allowed = |why| TrustError::NotAllowed {
            user: caller.user.to_owned(),
            why,
        };
        match &settings.actors {
            SlackActors::Only(ids) => {
                if ids.iter().any(|id| id.as_str() == caller.user) {
                    Ok(())
                } else {
                    Err(not_allowed(
                        "one of the Slack users allowed to change the status page",
                    ))
                }
            }
            SlackActors::ChannelMembers => {
                let members = self.channel_members(settings, token).await?;
                if members.contains(caller.user) {
                    Ok(())
                } else {
                    Err(not_allowed("a member of the status page's channel"))
                }
            }
        }
    }

    async fn bot_identity(&self, token: &Secret) -> Result<BotIdentity, TrustError> {
        if let Some(bot) = Cached::fresh(&self.bot, token, "", BOT_IDENTITY_FOR) {
            return Ok(bot);
        }
        let bot = self
            .api
            .bot_identity(token, SLACK_CALL_TIMEOUT)
            .await
            .map_err(|error| TrustError::SlackUnreachable(error.explain()))?;
        Cached::store(&self.bot, token, "", bot.clone());
        Ok(bot)
    }

    async fn channel_members(
        &self,
        settings: &SlackSettings,
        token: &Secret,
    ) -> Result<Arc<HashSet<String>>, TrustError> {
        let unreachable =
            |error: super::client::SlackError| TrustError::SlackUnreachable(error.explain());
        let channel = match settings.channel_id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => id.to_owned(),
            None => {
                // No message was posted yet, so the name was never resolved.
                let name = settings
                    .channel_name
                    .as_deref()
                    .map(|n| n.trim().trim_start_matches('#'))
                    .filter(|n| !n.is_empty())
                    .ok_or(TrustError::NoChannel)?;
                if let Some(id) = Cached::fresh(&self.channel_id, token, name, BOT_IDENTITY_FOR) {
                    id
                } else {
                    let id = self
                        .api
                        .find_channel(token, name)
                        .await
                        .map_err(unreachable)?;
                    Cached::store(&self.channel_id, token, name, id.clone());
                    id
                }
            }
        };
        if let Some(members) = Cached::fresh(&self.members, token, &channel, MEMBERS_FOR) {
            return Ok(members);
        }
        let members = Arc::new(
            self.api
                .channel_members(token, &channel, SLACK_CALL_TIMEOUT)
                .await
                .map_err(unreachable)?,
        );
        Cached::store(&self.members, token, &channel, members.clone());
        Ok(members)
    }
}
