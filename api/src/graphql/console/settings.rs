//! Settings: the site (name, contacts, theme, logo), notifications, alert-source
//! webhooks and their secrets, and Slack.

use std::io::Read;
use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, Upload};

use super::access::{actor, console_user, stepped_up};
use crate::domain::{Actor, Origin, SlackActors};
use crate::graphql::errors::Code;
use crate::graphql::errors::GqlResultExt;
use crate::graphql::types::AlertSourceKind;
use crate::secret::Secret;
use crate::services::{
    LOGO_MAX_BYTES, NotificationChange, SiteChange, SlackProbe, SlackSettingsChange,
};

/// An alert source's webhook, as the console shows it.
#[derive(SimpleObject)]
pub struct AlertSourceInfo {
    /// Which monitoring source.
    source: AlertSourceKind,
    /// The full URL to paste into the monitoring tool; it contains the secret.
    webhook_url: String,
    /// The secret comes from the environment and cannot be rotated here.
    set_by_environment: bool,
}

/// The Slack settings, as the console shows them. Secrets never leave the server.
// Independent yes/no facts the settings page shows side by side, not a state machine.
#[allow(clippy::struct_excessive_bools)]
#[derive(SimpleObject)]
pub struct SlackSettingsInfo {
    /// A bot token (`xoxb-…`) is configured, here or in the environment.
    bot_token_set: bool,
    /// A signing secret is configured, here or in the environment.
    signing_secret_set: bool,
    /// The channel incidents are posted to, without `#`; absent when not set.
    channel: Option<String>,
    /// The id the channel name resolved to; empty until the first message or test.
    channel_id: Option<String>,
    /// Who may change the status page from Slack (create, confirm, dismiss, update):
    /// only these Slack user ids; absent, the members of the channel.
    allowed_user_ids: Option<Vec<String>>,
    /// The bot token comes from `MONOSTAT_SLACK_BOT_TOKEN` and cannot be changed here.
    bot_token_from_environment: bool,
    /// The signing secret comes from `MONOSTAT_SLACK_SIGNING_SECRET` and cannot be
    /// changed here.
    signing_secret_from_environment: bool,
    /// The channel comes from `MONOSTAT_SLACK_CHANNEL` and cannot be changed here.
    channel_from_environment: bool,
}

impl From<crate::services::SlackSettings> for SlackSettingsInfo {
    fn from(settings: crate::services::SlackSettings) -> Self {
        Self {
            bot_token_set: settings.bot_token.is_some(),
            signing_secret_set: settings.signing_secret.is_some(),
            channel: settings.channel_name,
            channel_id: settings.channel_id,
            allowed_user_ids: match settings.actors {
                SlackActors::ChannelMembers => None,
                SlackActors::Only(ids) => Some(ids.iter().map(ToString::to_string).collect()),
            },
            bot_token_from_environment: settings.bot_token_from_env,
            signing_secret_from_environment: settings.signing_secret_from_env,
            channel_from_environment: settings.channel_from_env,
        }
    }
}

/// A change of the Slack settings: a missing field keeps its value, an empty string
/// clears it.
#[derive(InputObject)]
pub struct SlackSettingsInput {
    /// The Slack app's bot token (`xoxb-…`).
    bot_token: Option<String>,
    /// The Slack app's signing secret, to verify requests from Slack.
    signing_secret: Option<String>,
    /// The name of a public channel, with or without `#`.
    channel: Option<String>,
    /// Who may change the status page from Slack: only these Slack user ids (`U…`);
    /// an empty list, the members of the channel.
    allowed_user_ids: Option<Vec<String>>,
}

/// The outcome of testing the Slack settings.
#[derive(SimpleObject)]
pub struct SlackCheck {
    /// The token works and the bot is in the channel.
    ok: bool,
    /// What works, or what is wrong and how to fix it.
    message: String,
}

/// Theme colours, each `#rrggbb`; omitted ones stay.
#[derive(InputObject, Default)]
pub struct ThemeInput {
    /// The header and buttons.
    primary: Option<String>,
    /// Links and notices.
    link: Option<String>,
    /// The operational headline and resolved incidents.
    success: Option<String>,
    /// Suspected incidents and known bugs.
    warning: Option<String>,
    /// Outages, partial outages and confirmed incidents.
    danger: Option<String>,
    /// Planned maintenance, recovery and incidents being watched.
    info: Option<String>,
    /// Body text.
    text_primary: Option<String>,
    /// Secondary text such as dates and labels.
    text_secondary: Option<String>,
}

/// Site settings to change; omitted ones stay, an empty string clears an optional one.
#[derive(InputObject)]
pub struct SiteSettingsInput {
    /// The product's name, up to 100 characters; cannot be cleared.
    system_name: Option<String>,
    /// An e-mail address for visitors.
    support_email: Option<String>,
    /// A phone number for visitors, shown as entered.
    support_phone: Option<String>,
    /// Full `http://` or `https://` URL of the legal notice (imprint).
    legal_notice_url: Option<String>,
    /// Full `http://` or `https://` URL of the privacy policy.
    privacy_url: Option<String>,
    /// Colours to change.
    theme: Option<ThemeInput>,
    /// IANA name, e.g. `Europe/Berlin`.
    time_zone: Option<String>,
    /// `en` or `de`.
    default_language: Option<String>,
}

/// Notification settings to change; omitted ones stay.
#[derive(InputObject)]
pub struct NotificationSettingsInput {
    /// Let visitors subscribe to e-mail notifications.
    allow_subscriptions: Option<bool>,
    /// An empty string removes it.
    reply_to: Option<String>,
    /// Announce planned maintenance to subscribers.
    notify_maintenance: Option<bool>,
}

/// The notification settings.
#[derive(SimpleObject)]
pub struct NotificationSettings {
    /// Visitors may subscribe to e-mail notifications.
    allow_subscriptions: bool,
    /// Replies to notification mails go here.
    reply_to: Option<String>,
    /// Planned maintenance is announced when scheduled and when it starts.
    notify_maintenance: bool,
}

#[derive(Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    /// Every alert source with its webhook URL.
    async fn alert_sources(&self, ctx: &Context<'_>) -> Result<Vec<AlertSourceInfo>> {
        let (_, services) = actor(ctx)?;
        let mut sources = Vec::new();
        for origin in Origin::ALL.iter().copied().filter(|o| *o != Origin::Manual) {
            let secret = services.settings.alert_source_secret(origin).await.gql()?;
            sources.push(AlertSourceInfo {
                source: origin.into(),
                webhook_url: services.settings.webhook_url(origin, &secret),
                set_by_environment: services.settings.secret_set_by_environment(origin),
            });
        }
        Ok(sources)
    }

    /// The Slack settings in force; secrets only say whether they are set.
    async fn slack_settings(&self, ctx: &Context<'_>) -> Result<SlackSettingsInfo> {
        let (_, services) = actor(ctx)?;
        Ok(services.settings.slack().await.gql()?.into())
    }

    /// The notification settings in force.
    async fn notification_settings(&self, ctx: &Context<'_>) -> Result<NotificationSettings> {
        let (_, services) = actor(ctx)?;
        let settings = services.settings.notifications().await.gql()?;
        Ok(NotificationSettings {
            allow_subscriptions: settings.allow_subscriptions,
            reply_to: settings.reply_to,
            notify_maintenance: settings.notify_maintenance,
        })
    }
}

#[derive(Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Replaces an alert source's webhook secret; the old URL stops working at once.
    async fn rotate_alert_source_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The alert source; not `MANUAL`.")] source: AlertSourceKind,
    ) -> Result<AlertSourceInfo> {
        let (by, step_up, services) = stepped_up(ctx)?;
        let actor = Actor::User(by.username.clone());
        let origin: Origin = source.into();
        let secret = services
            .settings
            .rotate_alert_source_secret(origin, &actor, &step_up)
            .await
            .gql()?;
        Ok(AlertSourceInfo {
            source,
            webhook_url: services.settings.webhook_url(origin, &secret),
            set_by_environment: false,
        })
    }

    /// Changes site settings; every replica and open page follows at once.
    async fn update_site_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The settings to change.")] input: SiteSettingsInput,
    ) -> Result<bool> {
        let (actor, services) = actor(ctx)?;
        let theme = input.theme.unwrap_or_default();
        let colors = [
            ("primary", theme.primary),
            ("link", theme.link),
            ("success", theme.success),
            ("warning", theme.warning),
            ("danger", theme.danger),
            ("info", theme.info),
            ("text_primary", theme.text_primary),
            ("text_secondary", theme.text_secondary),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| (name.to_owned(), value)))
        .collect();
        let change = SiteChange {
            system_name: input.system_name,
            support_email: input.support_email,
            support_phone: input.support_phone,
            legal_notice_url: input.legal_notice_url,
            privacy_url: input.privacy_url,
            colors,
            time_zone: input.time_zone,
            default_language: input.default_language,
        };
        services.settings.update_site(change, &actor).await.gql()?;
        Ok(true)
    }

    /// Changes notification settings.
    async fn update_notification_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The settings to change.")] input: NotificationSettingsInput,
    ) -> Result<bool> {
        let (actor, services) = actor(ctx)?;
        let change = NotificationChange {
            allow_subscriptions: input.allow_subscriptions,
            reply_to: input.reply_to,
            notify_maintenance: input.notify_maintenance,
        };
        services
            .settings
            .update_notifications(change, &actor)
            .await
            .gql()?;
        Ok(true)
    }

    /// Opens or closes new e-mail subscriptions.
    async fn set_subscriptions_open(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "True lets visitors subscribe; false stops new subscriptions.")]
        open: bool,
    ) -> Result<bool> {
        let (actor, services) = actor(ctx)?;
        services
            .settings
            .set_allow_subscriptions(open, &actor)
            .await
            .gql()?;
        Ok(open)
    }

    /// Changes the Slack settings; in force at once on every replica.
    async fn set_slack_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The settings to change.")] input: SlackSettingsInput,
    ) -> Result<SlackSettingsInfo> {
        let (actor, services) = actor(ctx)?;
        services
            .settings
            .update_slack(
                SlackSettingsChange {
                    bot_token: input.bot_token.map(Secret::new),
                    signing_secret: input.signing_secret.map(Secret::new),
                    channel_name: input.channel,
                    allowed_user_ids: input.allowed_user_ids,
                },
                &actor,
                console_user(ctx)?.step_up().ok().as_ref(),
            )
            .await
            .gql()?;
        Ok(services.settings.slack().await.gql()?.into())
    }

    /// Tests the Slack settings: the bot token (`auth.test`) and the channel. Says in
    /// plain words what is wrong. Finding the channel also joins it.
    async fn test_slack(&self, ctx: &Context<'_>) -> Result<SlackCheck> {
        console_user(ctx)?;
        let check = ctx.data::<Arc<dyn SlackProbe>>()?.check().await;
        Ok(SlackCheck {
            ok: check.ok,
            message: check.message,
        })
    }

    /// Replaces the logo (PNG, JPEG, GIF, WebP or SVG, up to 512 KiB), sent as a
    /// GraphQL multipart request. Returns the logo's new URL.
    async fn upload_logo(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The image file, as a multipart upload.")] file: Upload,
    ) -> Result<String> {
        let (actor, services) = actor(ctx)?;
        let upload = file.value(ctx).map_err(|error| {
            Code::BadUserInput.error(format!("cannot read the uploaded file: {error}"))
        })?;
        let mut data = Vec::new();
        upload
            .into_read()
            .take(LOGO_MAX_BYTES as u64 + 1)
            .read_to_end(&mut data)
            .map_err(|error| {
                Code::BadUserInput.error(format!("cannot read the uploaded file: {error}"))
            })?;
        services.settings.set_logo(data, &actor).await.gql()?;
        let site = services.public.site().await.gql()?;
        Ok(site.logo.map(|logo| logo.url()).unwrap_or_default())
    }

    /// Removes the logo; the page then shows none. Returns true.
    async fn remove_logo(&self, ctx: &Context<'_>) -> Result<bool> {
        let (actor, services) = actor(ctx)?;
        services.settings.remove_logo(&actor).await.gql()?;
        Ok(true)
    }
}
