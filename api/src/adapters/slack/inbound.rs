//! The side of Slack that answers Slack: what every request from Slack needs to be
//! verified and answered within Slack's three seconds. The services it calls change the
//! data; what has to be said to Slack afterwards comes back as jobs for the caller to
//! enqueue. It calls the Web API only where an answer cannot wait for a job: opening a
//! modal (its trigger id expires in 3 s) and answering through a click's
//! `response_url` while the database is away. Before anything changes, it checks who
//! sent the request ([`SlackInbound::authorize`], see [`trust`](super::trust)).

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde::Deserialize;

use super::blocks::View;
use super::client::SlackApi;
use super::replay::ReplayGuard;
use super::trust::{Caller, Need, Trust, TrustError};
use super::views::Links;
use crate::domain::{Actor, ClassifiedError, ErrorKind};
use crate::ratelimit::Limits;
use crate::secret::Secret;
use crate::services::{IncidentService, SettingsService};

/// How long reading the Slack settings may take while answering a request.
const SETTINGS_DEADLINE: Duration = Duration::from_millis(800);
/// How long asking Slack who may act may take when its answers are not cached: part
/// of Slack's three seconds.
const TRUST_DEADLINE: Duration = Duration::from_millis(1200);

/// What answering Slack needs; cheap to clone.
#[derive(Clone)]
pub struct SlackInbound {
    pub(super) incidents: IncidentService,
    pub(super) settings: SettingsService,
    site_url: String,
    /// `MONOSTAT_SLACK_SIGNING_SECRET`, which needs no database to read.
    signing_secret_from_env: Option<Secret>,
    pub(super) api: SlackApi,
    /// The signing secret as last read, so a click can still be verified and answered
    /// while the database is away; consulted only when it is unreachable.
    last_signing_secret: Arc<RwLock<Option<Secret>>>,
    /// Refuses a signed request sent a second time.
    pub(super) replay: ReplayGuard,
    trust: Trust,
}

impl SlackInbound {
    pub fn new(
        incidents: IncidentService,
        settings: SettingsService,
        site_url: &str,
        signing_secret_from_env: Option<Secret>,
        api: SlackApi,
        limits: &Limits,
    ) -> Self {
        Self {
            incidents,
            settings,
            site_url: site_url.to_owned(),
            signing_secret_from_env,
            trust: Trust::new(api.clone()),
            api,
            last_signing_secret: Arc::default(),
            replay: ReplayGuard::new(limits),
        }
    }

    /// Whether `caller` may do what `need` says. A refusal is logged here, once; the
    /// caller only tells the person.
    pub(super) async fn authorize(&self, caller: Caller<'_>, need: Need) -> Result<(), TrustError> {
        let outcome = match tokio::time::timeout(SETTINGS_DEADLINE, self.settings.slack()).await {
            Ok(Ok(settings)) => {
                tokio::time::timeout(TRUST_DEADLINE, self.trust.check(&settings, caller, need))
                    .await
                    .unwrap_or_else(|_| {
                        Err(TrustError::SlackUnreachable("no answer in time".to_owned()))
                    })
            }
            Ok(Err(error)) => Err(TrustError::SettingsAway(error.to_string())),
            Err(_) => Err(TrustError::SettingsAway(
                "the Slack settings took too long to read".to_owned(),
            )),
        };
        if let Err(error) = &outcome {
            tracing::warn!(
                slack.user = caller.user,
                slack.team = caller.team,
                need = ?need,
                reason = %error,
                "refused a request from Slack"
            );
        }
        outcome
    }

    pub(super) fn links(&self) -> Links<'_> {
        Links {
            site_url: &self.site_url,
        }
    }

    /// The secret that signs Slack's requests (`None`: not set up): from the
    /// environment or the database, else — while the database is away — as last read.
    /// The error says why there is none to check against.
    pub(super) async fn signing_secret(&self) -> Result<Option<Secret>, String> {
        // A database that does not answer is as away as one that refuses: Slack waits
        // three seconds for the whole answer.
        let away = match tokio::time::timeout(SETTINGS_DEADLINE, self.settings.slack()).await {
            Ok(Ok(settings)) => {
                let secret = settings.signing_secret.filter(|s| !s.expose().is_empty());
                secret.clone_into(
                    &mut self
                        .last_signing_secret
                        .write()
                        .unwrap_or_else(PoisonError::into_inner),
                );
                return Ok(secret);
            }
            Ok(Err(error)) if error.kind() != ErrorKind::Unavailable => {
                return Err(error.to_string());
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => "the Slack settings took too long to read".to_owned(),
        };
        if let Some(secret) = &self.signing_secret_from_env {
            return Ok(Some(secret.clone()));
        }
        let last = self
            .last_signing_secret
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        last.map(Some).ok_or(away)
    }

    /// Opens a modal now, while the click's trigger id is still valid. Failures are
    /// logged: the person sees no modal and can click again.
    pub(super) async fn open_modal(&self, trigger_id: &str, view: &View) -> bool {
        let token = match self.settings.slack().await {
            Ok(settings) => settings.bot_token.filter(|t| !t.expose().trim().is_empty()),
            Err(error) => {
                tracing::warn!(%error, "cannot read the Slack settings to open a modal");
                return false;
            }
        };
        let Some(token) = token else {
            return false;
        };
        match self.api.views_open(&token, trigger_id, view).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(error = %error.explain(), "Slack did not open the modal");
                false
            }
        }
    }
}

/// The workspace of a click or a submission (`team` is null for some Enterprise Grid
/// installs: then the request is not trusted).
#[derive(Deserialize)]
pub(super) struct TeamRef {
    pub(super) id: String,
}

/// The person behind a click or a submission.
#[derive(Deserialize)]
pub(super) struct SlackUser {
    pub(super) id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl SlackUser {
    pub(super) fn actor(&self) -> Actor {
        let name = self
            .username
            .as_deref()
            .or(self.name.as_deref())
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.id);
        Actor::Slack(name.to_owned())
    }
}
