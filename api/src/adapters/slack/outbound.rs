//! The side of Slack that calls Slack: the Web API client with the settings it needs
//! (the bot token, the channel), for the jobs that keep the channel current and for the
//! console's "test Slack" button. Nothing here answers a request from Slack.

use crate::domain::IncidentId;
use crate::jobs::JobError;
use crate::secret::Secret;
use crate::services::{IncidentService, SettingsService, SlackCheck, SlackProbe};

use super::client::SlackApi;
use super::views::Links;

/// What Slack's jobs need; cheap to clone.
#[derive(Clone)]
pub struct SlackOutbound {
    pub(super) incidents: IncidentService,
    settings: SettingsService,
    site_url: String,
    pub(super) api: SlackApi,
}

impl SlackOutbound {
    pub fn new(
        incidents: IncidentService,
        settings: SettingsService,
        site_url: &str,
        api: SlackApi,
    ) -> Self {
        Self {
            incidents,
            settings,
            site_url: site_url.to_owned(),
            api,
        }
    }

    pub(super) fn links(&self) -> Links<'_> {
        Links {
            site_url: &self.site_url,
        }
    }

    /// The bot token, or `None` when Slack is not set up.
    pub(super) async fn token(&self) -> Result<Option<Secret>, JobError> {
        let settings = self
            .settings
            .slack()
            .await
            .map_err(|e| JobError::Temporary(e.to_string()))?;
        Ok(settings.bot_token.filter(|t| !t.expose().trim().is_empty()))
    }

    /// The id of the configured channel: remembered, or found by name (paging through
    /// `conversations.list`), joined and remembered.
    pub(super) async fn channel(&self, token: &Secret) -> Result<String, JobError> {
        let settings = self
            .settings
            .slack()
            .await
            .map_err(|e| JobError::Temporary(e.to_string()))?;
        if let Some(id) = settings.channel_id.filter(|id| !id.is_empty()) {
            return Ok(id);
        }
        let name = settings
            .channel_name
            .as_deref()
            .map(|n| n.trim().trim_start_matches('#').to_owned())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                JobError::Permanent(
                    "no Slack channel is set; enter the channel's name in the Slack settings"
                        .into(),
                )
            })?;
        let id = self.api.find_channel(token, &name).await?;
        self.api.conversations_join(token, &id).await?;
        self.settings
            .remember_slack_channel(&name, &id)
            .await
            .map_err(|e| JobError::Temporary(e.to_string()))?;
        Ok(id)
    }

    /// Forgets the remembered channel id, so the next call finds and joins it again.
    pub(super) async fn forget_channel(&self) -> Result<(), JobError> {
        self.settings
            .forget_slack_channel()
            .await
            .map_err(|e| JobError::Temporary(e.to_string()))
    }

    /// Checks the token (`auth.test`) and the channel, and says what is wrong in
    /// words an operator can act on.
    pub async fn check(&self) -> SlackCheck {
        let failed = |message: String| SlackCheck { ok: false, message };
        let settings = match self.settings.slack().await {
            Ok(settings) => settings,
            Err(error) => return failed(format!("cannot read the Slack settings: {error}")),
        };
        let Some(token) = settings.bot_token.filter(|t| !t.expose().trim().is_empty()) else {
            return failed("No bot token is set. Paste the app's \u{201c}Bot User OAuth Token\u{201d} (xoxb-…) into the Slack settings.".into());
        };
        if settings
            .signing_secret
            .as_ref()
            .is_none_or(|s| s.expose().trim().is_empty())
        {
            return failed("No signing secret is set, so Slack's clicks and commands would be refused. Copy it from the app's \u{201c}Basic Information\u{201d} page.".into());
        }
        let identity = match self.api.auth_test(&token).await {
            Ok(identity) => identity,
            Err(error) => {
                return failed(format!("The bot token does not work: {}.", error.explain()));
            }
        };
        let Some(name) = settings
            .channel_name
            .as_deref()
            .map(|n| n.trim().trim_start_matches('#').to_owned())
            .filter(|n| !n.is_empty())
        else {
            return failed(format!(
                "The token works (bot {} in {}), but no channel is set. Enter the name of a public channel.",
                identity.user, identity.team
            ));
        };
        let channel = match settings.channel_id.filter(|id| !id.is_empty()) {
            Some(id) => self.api.conversations_info(&token, &id).await.map(|c| c.id),
            None => self.api.find_channel(&token, &name).await,
        };
        let channel = match channel {
            Ok(id) => id,
            Err(error) => {
                return failed(format!(
                    "The token works (bot {} in {}), but the channel #{name} is a problem: {}.",
                    identity.user,
                    identity.team,
                    error.explain()
                ));
            }
        };
        if let Err(error) = self.api.conversations_join(&token, &channel).await {
            return failed(format!("The bot cannot join #{name}: {}.", error.explain()));
        }
        if let Err(error) = self.settings.remember_slack_channel(&name, &channel).await {
            return failed(format!(
                "Slack works, but the channel id could not be saved: {error}"
            ));
        }
        SlackCheck {
            ok: true,
            message: format!(
                "Slack works: bot {} in {} posts to #{name}.",
                identity.user, identity.team
            ),
        }
    }

    /// The message of the first alert of an incident opened by monitoring.
    pub(super) async fn first_alert(
        &self,
        incident: IncidentId,
    ) -> Result<Option<String>, JobError> {
        let alerts = self
            .incidents
            .alerts(incident)
            .await
            .map_err(|e| JobError::Temporary(e.to_string()))?;
        Ok(alerts.into_iter().next().map(|a| a.message))
    }
}

/// The console's "test Slack" button.
#[async_trait::async_trait]
impl SlackProbe for SlackOutbound {
    async fn check(&self) -> SlackCheck {
        SlackOutbound::check(self).await
    }
}
