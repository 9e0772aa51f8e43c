//! A small Slack Web API client on reqwest (protocols.md §2.5–2.6): POST to
//! `{MONOSTAT_SLACK_API_URL}{method}` with the bot token as a Bearer header; JSON bodies
//! for the methods that accept them, form bodies for the others. Every answer is read
//! into `{ok, error, …}`; a 429 carries Retry-After.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::blocks::{Block, View};
use crate::jobs::JobError;
use crate::secret::Secret;

/// Slack answers within a second or two; past this we count the call as failed and
/// the job tries again later.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Used when a 429 comes without a readable Retry-After.
/// The longest Slack (or a proxy in front of it) may make a job wait: an hour.
const MAX_RETRY_AFTER_SECS: u64 = 3600;
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error("Slack asks us to slow down (retry after {0:?})")]
    RateLimited(Duration),
    #[error("cannot reach Slack: {0}")]
    Network(String),
    #[error("Slack answered HTTP {0}")]
    Http(u16),
    #[error("Slack answered {method}: {code}{detail}")]
    Api {
        method: &'static str,
        code: String,
        /// e.g. the scope `missing_scope` needs, formatted for people.
        detail: String,
    },
    #[error("no channel named #{0} is visible to the bot (is it public and not archived?)")]
    ChannelMissing(String),
}

/// Codes that mean "the same call can work later"; everything else will fail again.
const TEMPORARY_CODES: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "request_timeout",
    "fatal_error",
    "service_unavailable",
    "internal_error",
];

impl SlackError {
    /// The Slack error code, for `ok:false` answers.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The message cannot reach the configured channel: find and join it again.
    pub fn is_channel_problem(&self) -> bool {
        matches!(self.code(), Some("channel_not_found" | "not_in_channel"))
    }

    /// What went wrong, in words an operator can act on.
    pub fn explain(&self) -> String {
        let Self::Api { code, detail, .. } = self else {
            return self.to_string();
        };
        let advice = match code.as_str() {
            "invalid_auth" | "not_authed" => {
                "Slack does not accept the bot token; paste the \u{201c}Bot User OAuth Token\u{201d} (xoxb-…) of the app into the Slack settings"
            }
            "token_revoked" | "token_expired" => {
                "the bot token was revoked or expired; reinstall the app to the workspace and paste the new token"
            }
            "account_inactive" => {
                "the bot user or its workspace was deactivated; reinstall the app"
            }
            "missing_scope" => {
                "the app lacks a permission; add the scopes of slack-app.json and reinstall the app"
            }
            "channel_not_found" => "the channel does not exist or the bot cannot see it",
            "not_in_channel" => "the bot is not a member of the channel",
            "is_archived" => "the channel is archived; unarchive it or choose another one",
            "method_not_supported_for_channel_type" => {
                "the bot can only join public channels; choose a public channel or invite the bot"
            }
            _ => "",
        };
        if advice.is_empty() {
            self.to_string()
        } else {
            format!("{advice} (Slack said {code}{detail})")
        }
    }
}

impl From<SlackError> for JobError {
    fn from(error: SlackError) -> Self {
        match &error {
            SlackError::RateLimited(after) => JobError::RetryAfter {
                after: *after,
                reason: error.to_string(),
            },
            SlackError::Network(_) | SlackError::Http(_) => JobError::Temporary(error.to_string()),
            SlackError::Api { code, .. } if TEMPORARY_CODES.contains(&code.as_str()) => {
                JobError::Temporary(error.explain())
            }
            SlackError::Api { .. } | SlackError::ChannelMissing(_) => {
                JobError::Permanent(error.explain())
            }
        }
    }
}

/// How a method takes its arguments.
#[derive(Clone, Copy)]
pub(super) enum Body {
    Json,
    Form,
}

#[derive(Clone)]
pub struct SlackApi {
    http: reqwest::Client,
    base: String,
}

/// A channel as `conversations.list` and `conversations.join` describe it.
#[derive(Clone, Debug, Deserialize)]
pub struct Channel {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub is_archived: bool,
}

/// Who the token belongs to (`auth.test`).
#[derive(Clone, Debug, Deserialize)]
pub struct Identity {
    #[serde(default)]
    pub team: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub url: String,
    /// The workspace the token was issued in (`T…`).
    #[serde(default)]
    pub team_id: String,
    /// Bot tokens only.
    #[serde(default)]
    pub bot_id: Option<String>,
    /// Given for some bot tokens; otherwise `bots.info` knows it.
    #[serde(default)]
    pub app_id: Option<String>,
}

/// Where a posted message landed.
#[derive(Clone, Debug, Deserialize)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// A message to post or to update.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Message {
    /// Notification and fallback text.
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Block>,
}

impl SlackApi {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("monostat/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the TLS backend initialises");
        Self {
            http,
            base: format!("{}/", base.trim_end_matches('/')),
        }
    }

    pub(super) async fn call(
        &self,
        token: &Secret,
        method: &'static str,
        body: Body,
        args: &impl Serialize,
        timeout: Option<Duration>,
    ) -> Result<Value, SlackError> {
        let mut request = self
            .http
            .post(format!("{}{method}", self.base))
            .bearer_auth(token.expose());
        request = match body {
            // Without the charset Slack answers with a `missing_charset` warning.
            Body::Json => request
                .header("content-type", "application/json; charset=utf-8")
                .body(serde_json::to_vec(args).map_err(|e| SlackError::Network(e.to_string()))?),
            Body::Form => request.form(args),
        };
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request
            .send()
            .await
            .map_err(|error| SlackError::Network(error.without_url().to_string()))?;
        let status = response.status();
        if status.as_u16() == 429 {
            let after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                // A proxy's absurd Retry-After must not park the job for ever.
                .map_or(DEFAULT_RETRY_AFTER, |secs| {
                    Duration::from_secs(secs.min(MAX_RETRY_AFTER_SECS))
                });
            return Err(SlackError::RateLimited(after));
        }
        if !status.is_success() {
            return Err(SlackError::Http(status.as_u16()));
        }
        let value: Value = response
            .json()
            .await
            .map_err(|error| SlackError::Network(format!("unreadable answer: {error}")))?;
        if value.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(value);
        }
        let code = value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error")
            .to_owned();
        let detail = match value.get("needed").and_then(Value::as_str) {
            Some(needed) => format!(", needs {needed}"),
            None => String::new(),
        };
        Err(SlackError::Api {
            method,
            code,
            detail,
        })
    }

    /// Answers a click through its `response_url`: an ephemeral message to the person
    /// who clicked, needing neither the bot token nor the database. Only Slack's own
    /// hooks host (or the host of `MONOSTAT_SLACK_API_URL`, a stand-in) is called, so a
    /// payload cannot point the server elsewhere.
    pub async fn respond(&self, response_url: &str, text: &str) -> Result<(), SlackError> {
        if !self.is_slack_url(response_url) {
            return Err(SlackError::Network(format!(
                "refused to answer through a response_url that is not Slack's: {response_url}"
            )));
        }
        let body = serde_json::json!({
            "response_type": "ephemeral",
            "replace_original": false,
            "text": text,
        });
        let response = self
            .http
            .post(response_url)
            .header("content-type", "application/json; charset=utf-8")
            .body(body.to_string())
            .send()
            .await
            .map_err(|error| SlackError::Network(error.without_url().to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(SlackError::Http(response.status().as_u16()))
        }
    }

    fn is_slack_url(&self, url: &str) -> bool {
        let origin = |url: &str| {
            reqwest::Url::parse(url)
                .ok()
                .map(|url| url.origin().ascii_serialization())
        };
        let Some(target) = origin(url) else {
            return false;
        };
        target == "https://hooks.slack.com" || Some(target) == origin(&self.base)
    }

    pub(super) fn read<T: for<'de> Deserialize<'de>>(
        value: Value,
        field: &str,
    ) -> Result<T, SlackError> {
        let part = if field.is_empty() {
            value
        } else {
            value.get(field).cloned().unwrap_or(Value::Null)
        };
        serde_json::from_value(part)
            .map_err(|error| SlackError::Network(format!("unexpected answer from Slack: {error}")))
    }

    pub async fn auth_test(&self, token: &Secret) -> Result<Identity, SlackError> {
        let value = self
            .call(token, "auth.test", Body::Form, &[("", ""); 0], None)
            .await?;
        Self::read(value, "")
    }

    /// One page of public, unarchived channels and the cursor of the next (`None` at the end).
    pub async fn conversations_list(
        &self,
        token: &Secret,
        cursor: Option<&str>,
    ) -> Result<(Vec<Channel>, Option<String>), SlackError> {
        let mut args = vec![
            ("types", "public_channel"),
            ("exclude_archived", "true"),
            ("limit", "200"),
        ];
        if let Some(cursor) = cursor {
            args.push(("cursor", cursor));
        }
        let value = self
            .call(token, "conversations.list", Body::Form, &args, None)
            .await?;
        let next = value
            .pointer("/response_metadata/next_cursor")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Ok((Self::read(value, "channels")?, next))
    }

    pub async fn conversations_join(
        &self,
        token: &Secret,
        channel: &str,
    ) -> Result<Channel, SlackError> {
        let value = self
            .call(
                token,
                "conversations.join",
                Body::Json,
                &serde_json::json!({ "channel": channel }),
                None,
            )
            .await?;
        Self::read(value, "channel")
    }

    pub async fn conversations_info(
        &self,
        token: &Secret,
        channel: &str,
    ) -> Result<Channel, SlackError> {
        let value = self
            .call(
                token,
                "conversations.info",
                Body::Form,
                &[("channel", channel)],
                None,
            )
            .await?;
        Self::read(value, "channel")
    }

    /// Posts a message, or with `thread_ts` a reply; `broadcast` also shows the reply
    /// in the channel.
    pub async fn post_message(
        &self,
        token: &Secret,
        channel: &str,
        message: &Message,
        thread_ts: Option<&str>,
        broadcast: bool,
    ) -> Result<Posted, SlackError> {
        #[derive(Serialize)]
        struct Args<'a> {
            channel: &'a str,
            #[serde(flatten)]
            message: &'a Message,
            #[serde(skip_serializing_if = "Option::is_none")]
            thread_ts: Option<&'a str>,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            reply_broadcast: bool,
        }
        let args = Args {
            channel,
            message,
            thread_ts,
            reply_broadcast: broadcast && thread_ts.is_some(),
        };
        let value = self
            .call(token, "chat.postMessage", Body::Json, &args, None)
            .await?;
        Self::read(value, "")
    }

    pub async fn update_message(
        &self,
        token: &Secret,
        channel: &str,
        ts: &str,
        message: &Message,
    ) -> Result<(), SlackError> {
        #[derive(Serialize)]
        struct Args<'a> {
            channel: &'a str,
            ts: &'a str,
            #[serde(flatten)]
            message: &'a Message,
        }
        self.call(
            token,
            "chat.update",
            Body::Json,
            &Args {
                channel,
                ts,
                message,
            },
            None,
        )
        .await?;
        Ok(())
    }

    pub async fn post_ephemeral(
        &self,
        token: &Secret,
        channel: &str,
        user: &str,
        text: &str,
    ) -> Result<(), SlackError> {
        self.call(
            token,
            "chat.postEphemeral",
            Body::Json,
            &serde_json::json!({ "channel": channel, "user": user, "text": text }),
            None,
        )
        .await?;
        Ok(())
    }

    /// Opens a modal. The trigger id expires three seconds after the click, so this is
    /// called while answering the click, with a timeout that fits that window.
    pub async fn views_open(
        &self,
        token: &Secret,
        trigger_id: &str,
        view: &View,
    ) -> Result<(), SlackError> {
        self.call(
            token,
            "views.open",
            Body::Json,
            &serde_json::json!({ "trigger_id": trigger_id, "view": view }),
            Some(Duration::from_millis(2500)),
        )
        .await?;
        Ok(())
    }

    pub async fn views_publish(
        &self,
        token: &Secret,
        user_id: &str,
        view: &View,
    ) -> Result<(), SlackError> {
        self.call(
            token,
            "views.publish",
            Body::Json,
            &serde_json::json!({ "user_id": user_id, "view": view }),
            None,
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: &str) -> SlackError {
        SlackError::Api {
            method: "chat.postMessage",
            code: code.into(),
            detail: String::new(),
        }
    }

    #[test]
    fn errors_become_the_right_kind_of_job_failure() {
        assert!(matches!(
            JobError::from(SlackError::RateLimited(Duration::from_secs(7))),
            JobError::RetryAfter { after, .. } if after == Duration::from_secs(7)
        ));
        assert!(matches!(
            JobError::from(SlackError::Http(503)),
            JobError::Temporary(_)
        ));
        assert!(matches!(
            JobError::from(api_error("fatal_error")),
            JobError::Temporary(_)
        ));
        for code in [
            "invalid_auth",
            "token_revoked",
            "account_inactive",
            "not_authed",
            "missing_scope",
        ] {
            assert!(
                matches!(JobError::from(api_error(code)), JobError::Permanent(_)),
                "{code}"
            );
        }
    }

    #[test]
    fn a_bad_token_is_explained_in_plain_words() {
        assert!(api_error("invalid_auth").explain().contains("bot token"));
    }

    #[test]
    fn clicks_are_answered_only_on_slacks_hosts() {
        let api = SlackApi::new("https://slack.com/api");
        assert!(api.is_slack_url("https://hooks.slack.com/actions/T0/1/abc"));
        assert!(!api.is_slack_url("http://hooks.slack.com/actions/T0/1/abc"));
        assert!(!api.is_slack_url("https://hooks.slack.com.evil.example/actions"));
        assert!(!api.is_slack_url("http://169.254.169.254/latest/meta-data"));
        assert!(!api.is_slack_url("not a url"));
        let stand_in = SlackApi::new("http://127.0.0.1:4100/api/");
        assert!(stand_in.is_slack_url("http://127.0.0.1:4100/actions/T0/1/abc"));
        assert!(!stand_in.is_slack_url("http://127.0.0.1:4101/actions/T0/1/abc"));
    }
}
