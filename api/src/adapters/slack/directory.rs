//! Who is who in Slack: the Web API methods that name the bot's workspace and app
//! (`auth.test`, `bots.info`), a channel's members (`conversations.members`) and a
//! channel's id from its name (`conversations.list`). Used to decide who may change
//! the status page from Slack ([`trust`](super::trust)) and to find the channel the
//! jobs post to ([`outbound`](super::outbound)).

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::client::{Body, SlackApi, SlackError};
use crate::secret::Secret;

/// `conversations.members` pages: Slack allows up to 1000 per page.
const MEMBERS_PAGE: &str = "1000";
/// A channel with more members than this many pages hold is refused rather than read
/// for ever; 100 000 people is far past any status page's channel.
const MAX_MEMBER_PAGES: usize = 100;

/// The workspace and app a bot token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotIdentity {
    pub team_id: String,
    /// `None` only for old bots without an app, whose requests carry no `api_app_id`
    /// either.
    pub app_id: Option<String>,
}

impl SlackApi {
    /// The bot token's workspace and app: `auth.test`, and `bots.info` when
    /// `auth.test` leaves out the app id (it does for many bot tokens).
    pub async fn bot_identity(
        &self,
        token: &Secret,
        timeout: Duration,
    ) -> Result<BotIdentity, SlackError> {
        let identity = self
            .call(
                token,
                "auth.test",
                Body::Form,
                &[("", ""); 0],
                Some(timeout),
            )
            .await
            .and_then(|value| Self::read::<super::client::Identity>(value, ""))?;
        if identity.team_id.is_empty() {
            return Err(SlackError::Network("auth.test named no team_id".to_owned()));
        }
        let app_id = match (identity.app_id, identity.bot_id) {
            (Some(app_id), _) => Some(app_id),
            (None, Some(bot_id)) => {
                #[derive(Deserialize)]
                struct Bot {
                    #[serde(default)]
                    app_id: Option<String>,
                }
                let answer = self
                    .call(
                        token,
                        "bots.info",
                        Body::Form,
                        &[("bot", bot_id.as_str())],
                        Some(timeout),
                    )
                    .await;
                match answer {
                    Ok(value) => Self::read::<Bot>(value, "bot")?.app_id,
                    // An app installed before `users:read` was in slack-app.json may not
                    // ask. The signing secret already belongs to one app, so the app
                    // check is a second lock, not the only one: go on without it.
                    Err(error @ SlackError::Api { .. }) => {
                        tracing::warn!(
                            error = %error.explain(),
                            "cannot learn the Slack app's id; requests are not checked for it"
                        );
                        None
                    }
                    Err(error) => return Err(error),
                }
            }
            (None, None) => None,
        };
        Ok(BotIdentity {
            team_id: identity.team_id,
            app_id: app_id.filter(|id| !id.is_empty()),
        })
    }

    /// Every member of a channel (user ids), page by page.
    pub async fn channel_members(
        &self,
        token: &Secret,
        channel: &str,
        timeout: Duration,
    ) -> Result<HashSet<String>, SlackError> {
        let mut members = HashSet::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_MEMBER_PAGES {
            let mut args = vec![("channel", channel), ("limit", MEMBERS_PAGE)];
            if let Some(cursor) = &cursor {
                args.push(("cursor", cursor));
            }
            let value = self
                .call(
                    token,
                    "conversations.members",
                    Body::Form,
                    &args,
                    Some(timeout),
                )
                .await?;
            let next = value
                .pointer("/response_metadata/next_cursor")
                .and_then(Value::as_str)
                .filter(|c| !c.is_empty())
                .map(str::to_owned);
            members.extend(Self::read::<Vec<String>>(value, "members")?);
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(members),
            }
        }
        Err(SlackError::Network(format!(
            "the channel has more members than {MAX_MEMBER_PAGES} pages hold"
        )))
    }

    /// The id of the public, unarchived channel called `name`, paging through
    /// `conversations.list`.
    pub async fn find_channel(&self, token: &Secret, name: &str) -> Result<String, SlackError> {
        let mut cursor: Option<String> = None;
        loop {
            let (channels, next) = self.conversations_list(token, cursor.as_deref()).await?;
            if let Some(found) = channels
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name) && !c.is_archived)
            {
                return Ok(found.id.clone());
            }
            match next {
                Some(next) => cursor = Some(next),
                None => return Err(SlackError::ChannelMissing(name.to_owned())),
            }
        }
    }
}
