//! Slack (SPEC §2 and §4, protocols.md §2): the team operates the status page from a
//! channel, and the channel mirrors every incident.
//!
//! - [`incoming`]: `POST /integrations/slack/events` (Events API and interactivity on
//!   one URL) and `POST /integrations/slack/commands` (`/status`). Every request is
//!   verified ([`verify`]) and answered within Slack's three seconds: incident changes
//!   go through [`IncidentService`](crate::services::IncidentService) (one short
//!   transaction) and everything that talks to Slack afterwards runs as a job. Only
//!   `views.open` is called while answering, since its `trigger_id` expires in 3 s.
//! - [`jobs`]: `slack.sync` keeps each incident's parent message current with
//!   `chat.update` and adds a thread reply per change; `slack.home` publishes the App
//!   Home tab; `slack.ephemeral` tells one person that their click did not work.
//! - [`client`]: the Web API on reqwest; errors decide between retry-after (429),
//!   back-off (5xx, network) and a dead job with a plain-words reason (bad token…).
//!
//! Settings are read on every use, so a new token, signing secret or channel is in
//! force at once on every replica. Without a bot token Slack is off: sync jobs finish
//! without doing anything, and an incident gets its parent message at its next change
//! after Slack is set up.

pub mod blocks;
pub mod client;
pub mod incoming;
pub mod jobs;
mod refusals;
mod submissions;
pub mod verify;
pub mod views;

use std::sync::{Arc, PoisonError, RwLock};

use crate::config::Config;
use crate::domain::{ClassifiedError, ErrorKind, IncidentId};
use sea_orm::DatabaseConnection;

use crate::jobs::{JobError, JobWaker, NewJob};
use crate::secret::Secret;
use crate::services::{Services, SettingsError, SlackCheck, SlackProbe};
use client::{SlackApi, SlackError};
use views::Links;

pub use jobs::{SlackEphemeralHandler, SlackHomeHandler, SlackSyncHandler};

/// How long reading the Slack settings may take while answering a request.
const SETTINGS_DEADLINE: std::time::Duration = std::time::Duration::from_millis(800);

/// Everything the Slack adapter needs; cheap to clone.
#[derive(Clone)]
pub struct Slack {
    services: Services,
    config: Arc<Config>,
    api: SlackApi,
    db: DatabaseConnection,
    waker: JobWaker,
    /// The signing secret as last read, so a click can still be verified and answered
    /// while the database is away; consulted only when it is unreachable.
    last_signing_secret: Arc<RwLock<Option<Secret>>>,
}

impl Slack {
    pub fn new(
        services: Services,
        config: Arc<Config>,
        db: DatabaseConnection,
        waker: JobWaker,
    ) -> Self {
        let api = SlackApi::new(&config.slack_api_url);
        Self {
            services,
            config,
            api,
            db,
            waker,
            last_signing_secret: Arc::default(),
        }
    }

    /// The secret that signs Slack's requests (`None`: not set up): from the
    /// environment or the database, else — while the database is away — as last read.
    pub async fn signing_secret(&self) -> Result<Option<Secret>, SettingsError> {
        // A database that does not answer is as away as one that refuses: Slack waits
        // three seconds for the whole answer.
        let read = tokio::time::timeout(SETTINGS_DEADLINE, self.services.settings.slack())
            .await
            .unwrap_or_else(|_| {
                Err(SettingsError::Database(sea_orm::DbErr::ConnectionAcquire(
                    sea_orm::ConnAcquireErr::Timeout,
                )))
            });
        match read {
            Ok(settings) => {
                let secret = settings.signing_secret.filter(|s| !s.expose().is_empty());
                secret.clone_into(
                    &mut self
                        .last_signing_secret
                        .write()
                        .unwrap_or_else(PoisonError::into_inner),
                );
                Ok(secret)
            }
            Err(error) if error.kind() == ErrorKind::Unavailable => {
                if let Some(secret) = &self.config.overrides.slack_signing_secret {
                    return Ok(Some(secret.clone()));
                }
                let last = self
                    .last_signing_secret
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                last.map(Some).ok_or(error)
            }
            Err(error) => Err(error),
        }
    }

    /// Enqueues Slack work and starts it at once on this replica.
    pub async fn enqueue(&self, job: NewJob) -> Result<Option<i64>, sea_orm::DbErr> {
        let id = job.enqueue(&self.db).await?;
        self.waker.wake();
        Ok(id)
    }

    pub fn api(&self) -> &SlackApi {
        &self.api
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    fn links(&self) -> Links<'_> {
        Links {
            site_url: &self.config.site_url,
        }
    }

    /// The bot token, or `None` when Slack is not set up.
    async fn token(&self) -> Result<Option<Secret>, JobError> {
        let settings = self
            .services
            .settings
            .slack()
            .await
            .map_err(|e| JobError::Temporary(e.to_string()))?;
        Ok(settings.bot_token.filter(|t| !t.expose().trim().is_empty()))
    }

    /// The id of the configured channel: remembered, or found by name (paging through
    /// `conversations.list`), joined and remembered.
    async fn channel(&self, token: &Secret) -> Result<String, JobError> {
        let settings = self
            .services
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
        let id = self.find_channel(token, &name).await?;
        self.api.conversations_join(token, &id).await?;
        self.services
            .settings
            .remember_slack_channel(&name, &id)
            .await
            .map_err(|e| JobError::Temporary(e.to_string()))?;
        Ok(id)
    }

    async fn find_channel(&self, token: &Secret, name: &str) -> Result<String, SlackError> {
        let mut cursor: Option<String> = None;
        loop {
            let (channels, next) = self
                .api
                .conversations_list(token, cursor.as_deref())
                .await?;
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

    /// Forgets the remembered channel id, so the next call finds and joins it again.
    async fn forget_channel(&self) -> Result<(), JobError> {
        self.services
            .settings
            .forget_slack_channel()
            .await
            .map_err(|e| JobError::Temporary(e.to_string()))
    }

    /// Opens a modal now, while the click's trigger id is still valid. Failures are
    /// logged: the person sees no modal and can click again.
    pub async fn open_modal(&self, trigger_id: &str, view: &blocks::View) -> bool {
        let token = match self.token().await {
            Ok(Some(token)) => token,
            Ok(None) => return false,
            Err(error) => {
                tracing::warn!(%error, "cannot read the Slack settings to open a modal");
                return false;
            }
        };
        match self.api.views_open(&token, trigger_id, view).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(error = %error.explain(), "Slack did not open the modal");
                false
            }
        }
    }

    /// Checks the token (`auth.test`) and the channel, and says what is wrong in
    /// words an operator can act on.
    pub async fn check(&self) -> SlackCheck {
        let failed = |message: String| SlackCheck { ok: false, message };
        let settings = match self.services.settings.slack().await {
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
            None => self.find_channel(&token, &name).await,
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
        if let Err(error) = self
            .services
            .settings
            .remember_slack_channel(&name, &channel)
            .await
        {
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
    async fn first_alert(&self, incident: IncidentId) -> Result<Option<String>, JobError> {
        let alerts = self
            .services
            .incidents
            .alerts(incident)
            .await
            .map_err(|e| JobError::Temporary(e.to_string()))?;
        Ok(alerts.into_iter().next().map(|a| a.message))
    }
}

/// The console's "test Slack" button.
#[async_trait::async_trait]
impl SlackProbe for Slack {
    async fn check(&self) -> SlackCheck {
        Slack::check(self).await
    }
}
