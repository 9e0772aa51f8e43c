//! The Slack jobs. Each is idempotent in the way that matters: a parent message is
//! posted only while the incident has none recorded, and later runs edit it. A reply
//! may appear twice if a worker dies between Slack's answer and the job's completion;
//! Slack offers no idempotency key to prevent that.

use serde::{Deserialize, Serialize};

use super::client::{Message, Posted};
use super::outbound::SlackOutbound;
use super::views;
use crate::domain::{ClassifiedError, ErrorKind, Incident, Origin};
use crate::jobs::{JobError, JobHandler, Lease, NewJob};
use crate::secret::Secret;
use crate::services::follow_up::{SLACK_SYNC, SlackSync};
use crate::store::job;

pub const SLACK_HOME: &str = "slack.home";
pub const SLACK_EPHEMERAL: &str = "slack.ephemeral";

/// Publish the App Home tab for one Slack user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishHome {
    pub user_id: String,
}

/// Tell one person, in the channel they clicked in, why their action did not work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ephemeral {
    pub channel: String,
    pub user: String,
    pub text: String,
}

/// `event_id` makes Slack's retries of the same event enqueue nothing new.
pub fn publish_home(user_id: &str, event_id: Option<&str>) -> NewJob {
    let job = NewJob::new(
        SLACK_HOME,
        &PublishHome {
            user_id: user_id.to_owned(),
        },
    )
    // A Home tab is only worth showing for a little while.
    .max_attempts(5);
    match event_id {
        Some(event_id) => job.dedupe(format!("slack-event:{event_id}")),
        None => job,
    }
}

pub fn ephemeral(channel: &str, user: &str, text: &str) -> NewJob {
    NewJob::new(
        SLACK_EPHEMERAL,
        &Ephemeral {
            channel: channel.to_owned(),
            user: user.to_owned(),
            text: text.to_owned(),
        },
    )
    .max_attempts(5)
}

fn payload<T: for<'de> Deserialize<'de>>(job: &job::Model) -> Result<T, JobError> {
    serde_json::from_str(&job.payload)
        .map_err(|error| JobError::Permanent(format!("unreadable job payload: {error}")))
}

fn temporary(error: impl std::fmt::Display) -> JobError {
    JobError::Temporary(error.to_string())
}

/// Runs `slack.sync`: the parent message, then the thread reply.
pub struct SlackSyncHandler(pub SlackOutbound);

#[async_trait::async_trait]
impl JobHandler for SlackSyncHandler {
    fn kind(&self) -> &'static str {
        SLACK_SYNC
    }

    async fn run(&self, job: &job::Model, _lease: &Lease) -> Result<(), JobError> {
        self.0.sync(payload(job)?).await
    }
}

/// Runs `slack.home`.
pub struct SlackHomeHandler(pub SlackOutbound);

#[async_trait::async_trait]
impl JobHandler for SlackHomeHandler {
    fn kind(&self) -> &'static str {
        SLACK_HOME
    }

    async fn run(&self, job: &job::Model, _lease: &Lease) -> Result<(), JobError> {
        let PublishHome { user_id } = payload(job)?;
        let slack = &self.0;
        let Some(token) = slack.token().await? else {
            return Ok(());
        };
        let open = slack.incidents.open().await.map_err(temporary)?;
        let view = views::home(&open, &slack.links());
        slack.api.views_publish(&token, &user_id, &view).await?;
        Ok(())
    }
}

/// Runs `slack.ephemeral`.
pub struct SlackEphemeralHandler(pub SlackOutbound);

#[async_trait::async_trait]
impl JobHandler for SlackEphemeralHandler {
    fn kind(&self) -> &'static str {
        SLACK_EPHEMERAL
    }

    async fn run(&self, job: &job::Model, _lease: &Lease) -> Result<(), JobError> {
        let Ephemeral {
            channel,
            user,
            text,
        } = payload(job)?;
        let slack = &self.0;
        let Some(token) = slack.token().await? else {
            return Ok(());
        };
        slack
            .api
            .post_ephemeral(&token, &channel, &user, &text)
            .await?;
        Ok(())
    }
}

impl SlackOutbound {
    /// Brings the incident's parent message up to date (posting it if there is none
    /// yet), then posts the note's thread reply.
    pub async fn sync(&self, job: SlackSync) -> Result<(), JobError> {
        let Some(token) = self.token().await? else {
            return Ok(());
        };
        let incident = match self.incidents.get(job.incident_id).await {
            Ok(incident) => incident,
            // Deleted since: nothing left to show.
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(temporary(error)),
        };
        let alert = if incident.origin == Origin::Manual {
            None
        } else {
            self.first_alert(incident.id).await?
        };
        let links = self.links();
        let parent = views::parent_message(&incident, alert.as_deref(), &links);
        let (channel, ts) = self.ensure_parent(&token, &incident, &parent).await?;
        let Some((reply, broadcast)) = job
            .note
            .as_ref()
            .and_then(|note| views::reply(note, &incident, &links))
        else {
            return Ok(());
        };
        match self
            .api
            .post_message(&token, &channel, &reply, Some(&ts), broadcast)
            .await
        {
            Ok(_) => Ok(()),
            // Someone removed the bot from the channel: join again and retry once.
            Err(error) if error.code() == Some("not_in_channel") => {
                self.api.conversations_join(&token, &channel).await?;
                self.api
                    .post_message(&token, &channel, &reply, Some(&ts), broadcast)
                    .await?;
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Where the parent message is, after making it show `parent`.
    async fn ensure_parent(
        &self,
        token: &Secret,
        incident: &Incident,
        parent: &Message,
    ) -> Result<(String, String), JobError> {
        if let (Some(channel), Some(ts)) = (&incident.slack_channel, &incident.slack_ts) {
            match self.api.update_message(token, channel, ts, parent).await {
                Ok(()) => return Ok((channel.clone(), ts.clone())),
                // The message or its channel is gone: start over with a new parent.
                Err(error)
                    if matches!(
                        error.code(),
                        Some("message_not_found" | "channel_not_found" | "is_archived")
                    ) =>
                {
                    tracing::warn!(error = %error.explain(), incident = %incident.id, "the Slack parent message is gone; posting a new one");
                }
                // Too old to edit, or not ours: the thread still works.
                Err(error)
                    if matches!(
                        error.code(),
                        Some("cant_update_message" | "edit_window_closed")
                    ) =>
                {
                    tracing::warn!(error = %error.explain(), incident = %incident.id, "cannot edit the Slack parent message");
                    return Ok((channel.clone(), ts.clone()));
                }
                Err(error) => return Err(error.into()),
            }
        }
        let posted = self.post_to_channel(token, parent).await?;
        self.incidents
            .record_slack_message(incident.id, &posted.channel, &posted.ts)
            .await
            .map_err(temporary)?;
        Ok((posted.channel, posted.ts))
    }

    /// Posts to the configured channel; when Slack says the channel is unknown or the
    /// bot is not in it, finds and joins it again and retries once.
    async fn post_to_channel(&self, token: &Secret, message: &Message) -> Result<Posted, JobError> {
        let channel = self.channel(token).await?;
        match self
            .api
            .post_message(token, &channel, message, None, false)
            .await
        {
            Ok(posted) => Ok(posted),
            Err(error) if error.is_channel_problem() => {
                tracing::info!(error = %error.explain(), "finding the Slack channel again");
                self.forget_channel().await?;
                let channel = self.channel(token).await?;
                Ok(self
                    .api
                    .post_message(token, &channel, message, None, false)
                    .await?)
            }
            Err(error) => Err(error.into()),
        }
    }
}
