//! Console queries and mutations: everything here needs a valid access token, except
//! `login`, `loginTotp`, `loginWebauthn` and `refresh`, which hand one out.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::errors::GqlResultExt;
use super::types::{AlertSourceKind, Incident, IncidentStatus, Severity};
use super::{Caller, ClientAddress, Code, RefreshCookie};
use crate::adapters::slack::Slack;
use crate::domain::{Actor, IncidentId, Origin};
use crate::jobs::Queue;
use crate::secret::Secret;
use crate::services::{
    ConsoleUser, FactorKind, IncidentChange, LoginOutcome, NewIncident, NotificationChange,
    PendingLogin, REFRESH_TTL, Services, Session, SiteChange, SlackSettingsChange,
};

const REFRESH_COOKIE: &str = "monostat_refresh";

/// The logged-in user, or UNAUTHENTICATED.
pub(super) fn console_user<'a>(ctx: &'a Context<'_>) -> Result<&'a ConsoleUser> {
    match ctx.data::<Caller>()? {
        Caller::Console(user) => Ok(user),
        Caller::InvalidToken => {
            Err(Code::Unauthenticated.error("the session has expired or was revoked; log in again"))
        }
        Caller::Anonymous => Err(Code::Unauthenticated.error("log in to use the console")),
    }
}

pub(super) fn actor<'a>(ctx: &'a Context<'_>) -> Result<(Actor, &'a Services)> {
    let user = console_user(ctx)?;
    Ok((Actor::User(user.username.clone()), ctx.data::<Services>()?))
}

/// Reads the public view of an incident after a console change.
async fn public_view(services: &Services, id: IncidentId) -> Result<Option<Incident>> {
    Ok(services.public.incident(id).await.gql()?.map(Incident))
}

fn set_refresh_cookie(ctx: &Context<'_>, token: Option<&str>) {
    // Scoped to /graphql and never readable by scripts; SameSite=Strict keeps other
    // sites from riding on it.
    let cookie = match token {
        Some(token) => format!(
            "{REFRESH_COOKIE}={token}; Path=/graphql; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
            REFRESH_TTL.num_seconds()
        ),
        None => format!(
            "{REFRESH_COOKIE}=; Path=/graphql; HttpOnly; Secure; SameSite=Strict; Max-Age=0"
        ),
    };
    ctx.append_http_header("set-cookie", cookie);
}

/// The value of the refresh cookie in a `Cookie` header.
pub fn refresh_cookie(header: &str) -> Option<String> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// A console session, or — after `login` of a user with a second factor — the step
/// before it. The refresh token travels only in an HttpOnly cookie.
#[derive(SimpleObject)]
pub struct LoginResult {
    /// Send as `Authorization: Bearer …`. Null while `secondFactor` is due.
    access_token: Option<String>,
    /// When the access token stops working; `refresh` gets a new one. Null while
    /// `secondFactor` is due.
    access_expires_at: Option<DateTime<Utc>>,
    /// Who logged in.
    user: User,
    /// Set when the password was right but the user has a second factor: finish with
    /// `loginTotp` or `loginWebauthn`. Only `login` sets it.
    second_factor: Option<SecondFactorChallenge>,
}

/// Which kind of second factor.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorKind {
    /// A code from an authenticator app (TOTP, RFC 6238: six digits, 30 seconds).
    Totp,
    /// A WebAuthn security key.
    Webauthn,
}

impl From<FactorKind> for SecondFactorKind {
    fn from(kind: FactorKind) -> Self {
        match kind {
            FactorKind::Totp => Self::Totp,
            FactorKind::Webauthn => Self::Webauthn,
        }
    }
}

/// The password was right; a second factor is due before the session.
#[derive(SimpleObject)]
pub struct SecondFactorChallenge {
    /// Pass to `loginTotp` or `loginWebauthn`. It is no session and opens nothing else.
    pending_token: String,
    /// After this, log in with the password again.
    expires_at: DateTime<Utc>,
    /// The factors the user can finish with.
    methods: Vec<SecondFactorKind>,
    /// With `WEBAUTHN`: the request options as JSON (`{"publicKey": {…}}`, binary
    /// fields base64url) for `navigator.credentials.get`. The challenge in them is good
    /// for one answer.
    webauthn_options: Option<String>,
}

/// A second factor of the logged-in user.
#[derive(SimpleObject)]
pub struct SecondFactor {
    /// Pass to `removeSecondFactor`.
    id: i64,
    /// Authenticator app or security key.
    kind: SecondFactorKind,
    /// The name the user gave it, e.g. "YubiKey on my keyring".
    name: String,
    /// When it was enrolled.
    created: DateTime<Utc>,
    /// When it last passed a login.
    last_used: Option<DateTime<Utc>>,
}

impl TryFrom<crate::store::second_factor::Model> for SecondFactor {
    type Error = async_graphql::Error;

    fn try_from(row: crate::store::second_factor::Model) -> Result<Self> {
        let kind = FactorKind::parse(&row.kind).ok_or_else(|| {
            tracing::error!(factor = row.id, kind = %row.kind, "unknown second factor kind");
            Code::Internal.error("internal error; it has been logged")
        })?;
        Ok(Self {
            id: row.id,
            kind: kind.into(),
            name: row.name,
            created: row.created_at,
            last_used: row.last_used_at,
        })
    }
}

/// An authenticator app enrolment waiting for its first code. The secret is shown
/// this once.
#[derive(SimpleObject)]
pub struct TotpEnrolment {
    /// Pass to `confirmTotpEnrolment` with the first code within 15 minutes.
    factor_id: i64,
    /// The shared secret in base32, for typing into the app by hand.
    secret: String,
    /// The `otpauth://totp/…` URI, to show as a QR code.
    uri: String,
}

/// A started security key registration.
#[derive(SimpleObject)]
pub struct WebauthnRegistrationStart {
    /// Pass to `finishWebauthnRegistration` within five minutes.
    registration_id: i64,
    /// The creation options as JSON (`{"publicKey": {…}}`, binary fields base64url)
    /// for `navigator.credentials.create`.
    options: String,
}

/// A console user.
#[derive(SimpleObject)]
pub struct User {
    /// Identifies the user, e.g. for `setUserActive`.
    id: i64,
    /// The name the user logs in with.
    username: String,
}

/// A console user as the user list shows it.
#[derive(SimpleObject)]
pub struct UserAccount {
    /// Identifies the user, e.g. for `setUserActive` or `resetPassword`.
    id: i64,
    /// The name the user logs in with.
    username: String,
    /// May log in; deactivated users cannot.
    active: bool,
    /// When the user was created.
    created: DateTime<Utc>,
    /// When the user last logged in; absent if never.
    last_login: Option<DateTime<Utc>>,
}

impl From<crate::store::admin_user::Model> for UserAccount {
    fn from(user: crate::store::admin_user::Model) -> Self {
        Self {
            id: user.id,
            username: user.username,
            active: user.active,
            created: user.created_at,
            last_login: user.last_login_at,
        }
    }
}

impl From<ConsoleUser> for User {
    fn from(user: ConsoleUser) -> Self {
        Self {
            id: user.id,
            username: user.username,
        }
    }
}

fn session_result(ctx: &Context<'_>, session: Session) -> LoginResult {
    set_refresh_cookie(ctx, Some(session.refresh_token.expose()));
    LoginResult {
        access_token: Some(session.access_token),
        access_expires_at: Some(session.access_expires_at),
        user: session.user.into(),
        second_factor: None,
    }
}

fn pending_result(pending: PendingLogin) -> LoginResult {
    let mut methods = Vec::new();
    if pending.totp {
        methods.push(SecondFactorKind::Totp);
    }
    if pending.webauthn_options.is_some() {
        methods.push(SecondFactorKind::Webauthn);
    }
    LoginResult {
        access_token: None,
        access_expires_at: None,
        user: pending.user.into(),
        second_factor: Some(SecondFactorChallenge {
            pending_token: pending.token.expose().to_owned(),
            expires_at: pending.expires_at,
            methods,
            webauthn_options: pending.webauthn_options.map(|options| options.to_string()),
        }),
    }
}

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

/// One line of the audit log.
#[derive(SimpleObject)]
pub struct AuditEntry {
    /// Identifies the entry; later entries have larger ids.
    id: i64,
    /// When it happened.
    at: DateTime<Utc>,
    /// `user`, `slack`, `alert_source` or `system`.
    actor_kind: String,
    /// Who did it: a console username, a Slack user name, an alert source such as
    /// `opsgenie`, or `system`.
    actor_name: String,
    /// The incident it concerns; absent when it concerns none (settings, users…).
    incident_id: Option<i64>,
    /// What happened, in plain words.
    message: String,
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
}

/// The outcome of testing the Slack settings.
#[derive(SimpleObject)]
pub struct SlackCheck {
    /// The token works and the bot is in the channel.
    ok: bool,
    /// What works, or what is wrong and how to fix it.
    message: String,
}

/// How many jobs are in each state.
#[derive(SimpleObject)]
pub struct JobCount {
    /// `pending`, `running`, `done` or `dead`.
    state: String,
    /// Number of jobs in that state.
    count: i64,
}

/// A subscriber, as the console lists them.
#[derive(SimpleObject)]
pub struct Subscriber {
    /// Identifies the subscriber, e.g. for `removeSubscriber`.
    id: i64,
    /// The e-mail address.
    email: String,
    /// Confirmed; receives notifications.
    active: bool,
    /// When the address was added.
    created: DateTime<Utc>,
    /// When the subscription was confirmed (or added with consent); absent while it
    /// waits for confirmation.
    confirmed: Option<DateTime<Utc>>,
}

impl From<crate::store::subscriber::Model> for Subscriber {
    fn from(row: crate::store::subscriber::Model) -> Self {
        Self {
            id: row.id,
            email: row.email,
            active: row.active,
            created: row.created_at,
            confirmed: row.confirmed_at,
        }
    }
}

/// How many subscribers there are.
#[derive(SimpleObject)]
pub struct SubscriberCounts {
    /// Confirmed; they receive notifications.
    active: u64,
    /// Waiting for their confirmation.
    pending: u64,
}

/// How far a notification fan-out got.
#[derive(SimpleObject)]
pub struct NotificationProgress {
    /// Mails to send in all, one per subscriber; 0 when no notification went out.
    total: u64,
    /// Mails sent.
    sent: u64,
    /// Mails that failed for good.
    failed: u64,
    /// Mails still waiting to be sent.
    pending: u64,
}

/// What a CSV import did.
#[derive(SimpleObject)]
pub struct ImportResult {
    /// How many new addresses were added.
    added: u64,
    /// Addresses already on the list or repeated in the file.
    duplicates: Vec<String>,
    /// Lines that are not an address, as `line: text`.
    invalid: Vec<String>,
}

#[derive(Default)]
pub struct ConsoleQuery;

#[Object]
impl ConsoleQuery {
    /// The logged-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(console_user(ctx)?.clone().into())
    }

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

    /// The audit log, newest first: of one incident, or of everything.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this incident's entries; omit for the whole log.")]
        incident_id: Option<i64>,
        #[graphql(default = 100, desc = "At most this many entries, 1 to 500.")] first: i32,
    ) -> Result<Vec<AuditEntry>> {
        let (_, services) = actor(ctx)?;
        let entries = services
            .audit
            .entries(
                incident_id.map(IncidentId),
                u64::try_from(first).unwrap_or(1),
            )
            .await
            .gql()?;
        Ok(entries
            .into_iter()
            .map(|e| AuditEntry {
                id: e.id,
                at: e.at,
                actor_kind: e.actor_kind,
                actor_name: e.actor_name,
                incident_id: e.incident_id,
                message: e.message,
            })
            .collect())
    }

    /// Subscribers whose address contains `search`, in address order.
    async fn subscribers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Part of the address; empty for all.")] search: String,
        #[graphql(default = 0, desc = "How many matching subscribers to skip.")] offset: i32,
        #[graphql(default = 50, desc = "At most this many, 1 to 500.")] first: i32,
    ) -> Result<Vec<Subscriber>> {
        let (_, services) = actor(ctx)?;
        let rows = services
            .subscribers
            .search(
                &search,
                u64::try_from(offset).unwrap_or(0),
                u64::try_from(first).unwrap_or(50).clamp(1, 500),
            )
            .await
            .gql()?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// How many subscribers are active and how many wait for confirmation.
    async fn subscriber_counts(&self, ctx: &Context<'_>) -> Result<SubscriberCounts> {
        let (_, services) = actor(ctx)?;
        let count = services.subscribers.count().await.gql()?;
        Ok(SubscriberCounts {
            active: count.active,
            pending: count.pending,
        })
    }

    /// Every subscriber as CSV (address, active, created, confirmed).
    async fn export_subscribers(&self, ctx: &Context<'_>) -> Result<String> {
        let (_, services) = actor(ctx)?;
        services.subscribers.export_csv().await.gql()
    }

    /// How far the notification about an incident's status got.
    async fn notification_progress(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] incident_id: i64,
        #[graphql(desc = "The status whose notification to follow.")] status: IncidentStatus,
    ) -> Result<NotificationProgress> {
        let (_, services) = actor(ctx)?;
        let progress = services
            .notifications
            .progress(IncidentId(incident_id), status.into())
            .await
            .gql()?;
        Ok(NotificationProgress {
            total: progress.total,
            sent: progress.sent,
            failed: progress.failed,
            pending: progress.pending,
        })
    }

    /// The logged-in user's second factors, oldest first.
    async fn second_factors(&self, ctx: &Context<'_>) -> Result<Vec<SecondFactor>> {
        let user = console_user(ctx)?;
        let services = ctx.data::<Services>()?;
        services
            .second_factors
            .list(user)
            .await
            .gql()?
            .into_iter()
            .map(SecondFactor::try_from)
            .collect()
    }

    /// Every console user.
    async fn users(&self, ctx: &Context<'_>) -> Result<Vec<UserAccount>> {
        let (_, services) = actor(ctx)?;
        Ok(services
            .users
            .list()
            .await
            .gql()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Jobs by state.
    async fn job_counts(&self, ctx: &Context<'_>) -> Result<Vec<JobCount>> {
        console_user(ctx)?;
        let counts = ctx.data::<Queue>()?.counts().await.gql()?;
        Ok(counts
            .0
            .into_iter()
            .map(|(state, count)| JobCount { state, count })
            .collect())
    }
}

/// A new incident or planned maintenance.
#[derive(InputObject)]
pub struct CreateIncidentInput {
    /// One line, plain text.
    title: String,
    /// planned, confirmed or watching.
    status: IncidentStatus,
    /// How bad it is; `MAINTENANCE` for planned maintenance.
    severity: Severity,
    /// Defaults to now.
    start: Option<DateTime<Utc>>,
    /// The first timeline entry (Markdown).
    text: Option<String>,
    /// Markdown.
    summary: Option<String>,
    /// Never notify subscribers about this incident.
    #[graphql(default)]
    silent: bool,
    /// Planned maintenance only: start by itself at `start`.
    #[graphql(default)]
    auto_start: bool,
    /// Do not notify subscribers about this change.
    #[graphql(default)]
    do_not_notify: bool,
}

/// A change to an incident; every part is optional.
#[derive(InputObject)]
pub struct UpdateIncidentInput {
    /// confirmed, watching or resolved.
    new_status: Option<IncidentStatus>,
    /// A timeline entry (Markdown).
    text: Option<String>,
    /// A new severity.
    severity: Option<Severity>,
    /// An empty string removes the summary.
    summary: Option<String>,
    /// Do not notify subscribers about this change.
    #[graphql(default)]
    do_not_notify: bool,
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

#[derive(Default)]
pub struct ConsoleMutation;

#[Object]
impl ConsoleMutation {
    /// Logs in. Unknown users and wrong passwords get the same answer; repeated
    /// failures are refused for a while (TOO_MANY_REQUESTS). A user with a second
    /// factor gets `secondFactor` instead of a session.
    async fn login(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The console username.")] username: String,
        #[graphql(desc = "The user's password.")] password: String,
    ) -> Result<LoginResult> {
        let client = ctx.data::<ClientAddress>()?.0;
        let outcome = ctx
            .data::<Services>()?
            .auth
            .login(&username, &password, client)
            .await
            .gql()?;
        Ok(match outcome {
            LoginOutcome::Session(session) => session_result(ctx, session),
            LoginOutcome::SecondFactorRequired(pending) => pending_result(pending),
        })
    }

    /// Finishes a login with a code from an authenticator app. Each code works once;
    /// wrong codes count towards the login limits.
    async fn login_totp(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`secondFactor.pendingToken` from `login`.")] pending_token: String,
        #[graphql(desc = "The six digits the app shows now.")] code: String,
    ) -> Result<LoginResult> {
        let client = ctx.data::<ClientAddress>()?.0;
        let session = ctx
            .data::<Services>()?
            .auth
            .login_totp(&pending_token, &code, client)
            .await
            .gql()?;
        Ok(session_result(ctx, session))
    }

    /// Finishes a login with a security key. The challenge from `login` is good for one
    /// answer; after a refused one, log in again.
    async fn login_webauthn(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`secondFactor.pendingToken` from `login`.")] pending_token: String,
        #[graphql(
            desc = "The `PublicKeyCredential` from `navigator.credentials.get` in JSON form (`credential.toJSON()`)."
        )]
        credential: String,
    ) -> Result<LoginResult> {
        let client = ctx.data::<ClientAddress>()?.0;
        let session = ctx
            .data::<Services>()?
            .auth
            .login_webauthn(&pending_token, &credential, client)
            .await
            .gql()?;
        Ok(session_result(ctx, session))
    }

    /// Starts adding an authenticator app to the logged-in user's account; an earlier
    /// unfinished enrolment is dropped. Logins ask for it once it is confirmed.
    async fn begin_totp_enrolment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A name to tell it apart; defaults to \"Authenticator app\".")]
        name: Option<String>,
    ) -> Result<TotpEnrolment> {
        let user = console_user(ctx)?;
        let enrolment = ctx
            .data::<Services>()?
            .second_factors
            .begin_totp(user, name.as_deref())
            .await
            .gql()?;
        Ok(TotpEnrolment {
            factor_id: enrolment.factor_id,
            secret: enrolment.secret.expose().to_owned(),
            uri: enrolment.uri.expose().to_owned(),
        })
    }

    /// Confirms an authenticator app with its current code; from now on logins ask for
    /// a code.
    async fn confirm_totp_enrolment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`factorId` from `beginTotpEnrolment`.")] factor_id: i64,
        #[graphql(desc = "The six digits the app shows now.")] code: String,
    ) -> Result<SecondFactor> {
        let user = console_user(ctx)?;
        ctx.data::<Services>()?
            .second_factors
            .confirm_totp(user, factor_id, &code)
            .await
            .gql()?
            .try_into()
    }

    /// Starts registering a security key for the logged-in user. Needs
    /// `MONOSTAT_SITE_URL` with a host name (the key is bound to it).
    async fn begin_webauthn_registration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A name to tell it apart; defaults to \"Security key\".")] name: Option<
            String,
        >,
    ) -> Result<WebauthnRegistrationStart> {
        let user = console_user(ctx)?;
        let registration = ctx
            .data::<Services>()?
            .second_factors
            .begin_webauthn(user, name.as_deref())
            .await
            .gql()?;
        Ok(WebauthnRegistrationStart {
            registration_id: registration.registration_id,
            options: registration.options.to_string(),
        })
    }

    /// Verifies the security key's answer and adds it; from now on logins ask for it.
    async fn finish_webauthn_registration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`registrationId` from `beginWebauthnRegistration`.")]
        registration_id: i64,
        #[graphql(
            desc = "The `PublicKeyCredential` from `navigator.credentials.create` in JSON form (`credential.toJSON()`)."
        )]
        credential: String,
    ) -> Result<SecondFactor> {
        let user = console_user(ctx)?;
        ctx.data::<Services>()?
            .second_factors
            .finish_webauthn(user, registration_id, &credential)
            .await
            .gql()?
            .try_into()
    }

    /// Removes one of the logged-in user's second factors. Without any, logins need
    /// only the password again.
    async fn remove_second_factor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`id` of one of `secondFactors`.")] id: i64,
    ) -> Result<bool> {
        let user = console_user(ctx)?;
        ctx.data::<Services>()?
            .second_factors
            .remove(user, id)
            .await
            .gql()?;
        Ok(true)
    }

    /// Trades the refresh cookie for a new access token (and a new cookie).
    async fn refresh(&self, ctx: &Context<'_>) -> Result<LoginResult> {
        let Some(token) = ctx.data::<RefreshCookie>()?.0.clone() else {
            return Err(Code::Unauthenticated.error("no session to refresh; log in"));
        };
        let session = ctx.data::<Services>()?.auth.refresh(&token).await.gql()?;
        Ok(session_result(ctx, session))
    }

    /// Ends the session of the refresh cookie.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        if let Some(token) = ctx.data::<RefreshCookie>()?.0.clone() {
            ctx.data::<Services>()?.auth.logout(&token).await.gql()?;
        }
        set_refresh_cookie(ctx, None);
        Ok(true)
    }

    /// Opens an incident or plans a maintenance.
    async fn create_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new incident.")] input: CreateIncidentInput,
    ) -> Result<Option<Incident>> {
        let (actor, services) = actor(ctx)?;
        let created = services
            .incidents
            .create(
                &actor,
                NewIncident {
                    title: input.title,
                    status: input.status.into(),
                    severity: input.severity.into(),
                    start: input.start,
                    text: input.text,
                    summary: input.summary,
                    silent: input.silent,
                    auto_start: input.auto_start,
                    do_not_notify: input.do_not_notify,
                },
            )
            .await
            .gql()?;
        public_view(services, created.id).await
    }

    /// Posts an update, changes status, severity or summary.
    async fn update_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
        #[graphql(desc = "What to change.")] input: UpdateIncidentInput,
    ) -> Result<Option<Incident>> {
        let (actor, services) = actor(ctx)?;
        let change = IncidentChange {
            new_status: input.new_status.map(Into::into),
            text: input.text,
            severity: input.severity.map(Into::into),
            summary: input.summary,
            do_not_notify: input.do_not_notify,
        };
        services
            .incidents
            .update(IncidentId(id), &actor, change)
            .await
            .gql()?;
        public_view(services, IncidentId(id)).await
    }

    /// Confirms a suspected incident; subscribers are notified unless told otherwise.
    async fn confirm_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
        #[graphql(default, desc = "Do not notify subscribers about this change.")]
        do_not_notify: bool,
    ) -> Result<Option<Incident>> {
        let (actor, services) = actor(ctx)?;
        services
            .incidents
            .confirm(IncidentId(id), &actor, do_not_notify)
            .await
            .gql()?;
        public_view(services, IncidentId(id)).await
    }

    /// Dismisses a suspected incident as a false alarm. Returns whether it was dismissed.
    async fn dismiss_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
    ) -> Result<bool> {
        let (actor, services) = actor(ctx)?;
        services
            .incidents
            .dismiss(IncidentId(id), &actor)
            .await
            .gql()?;
        Ok(true)
    }

    /// Resolves an incident, with an optional last word.
    async fn resolve_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
        #[graphql(desc = "A last timeline entry (Markdown).")] text: Option<String>,
        #[graphql(default, desc = "Do not notify subscribers about this change.")]
        do_not_notify: bool,
    ) -> Result<Option<Incident>> {
        let (actor, services) = actor(ctx)?;
        let change = IncidentChange {
            new_status: Some(crate::domain::IncidentStatus::Resolved),
            text,
            do_not_notify,
            ..IncidentChange::default()
        };
        services
            .incidents
            .update(IncidentId(id), &actor, change)
            .await
            .gql()?;
        public_view(services, IncidentId(id)).await
    }

    /// Brings a resolved or dismissed incident back as confirmed.
    async fn reopen_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
        #[graphql(default, desc = "Do not notify subscribers about this change.")]
        do_not_notify: bool,
    ) -> Result<Option<Incident>> {
        let (actor, services) = actor(ctx)?;
        services
            .incidents
            .reopen(IncidentId(id), &actor, do_not_notify)
            .await
            .gql()?;
        public_view(services, IncidentId(id)).await
    }

    /// Starts a planned maintenance now.
    async fn start_maintenance(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The planned maintenance's number.")] id: i64,
        #[graphql(default, desc = "Do not notify subscribers about this change.")]
        do_not_notify: bool,
    ) -> Result<Option<Incident>> {
        let (actor, services) = actor(ctx)?;
        services
            .incidents
            .start_maintenance(IncidentId(id), &actor, do_not_notify)
            .await
            .gql()?;
        public_view(services, IncidentId(id)).await
    }

    /// Replaces an alert source's webhook secret; the old URL stops working at once.
    async fn rotate_alert_source_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The alert source; not `MANUAL`.")] source: AlertSourceKind,
    ) -> Result<AlertSourceInfo> {
        let (actor, services) = actor(ctx)?;
        let origin: Origin = source.into();
        let secret = services
            .settings
            .rotate_alert_source_secret(origin, &actor)
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

    /// Adds an address. Active at once only if the person already consented elsewhere;
    /// otherwise they get the opt-in mail like any visitor.
    async fn add_subscriber(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The address to add.")] email: String,
        #[graphql(
            default,
            desc = "The person already agreed to notifications: active at once, no opt-in mail."
        )]
        consented: bool,
    ) -> Result<Subscriber> {
        let (actor, services) = actor(ctx)?;
        let email = crate::domain::SubscriberEmail::parse(&email)
            .map_err(|error| Code::BadUserInput.error(error.to_string()))?;
        Ok(services
            .subscribers
            .add(&actor, &email, consented)
            .await
            .gql()?
            .into())
    }

    /// Removes a subscriber.
    async fn remove_subscriber(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscriber's `id`.")] id: i64,
    ) -> Result<bool> {
        let (actor, services) = actor(ctx)?;
        services.subscribers.remove(&actor, id).await.gql()?;
        Ok(true)
    }

    /// Imports addresses from CSV (the first column), skipping and reporting invalid
    /// and duplicate ones.
    async fn import_subscribers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "CSV text; the first column of each line is an address.")] csv: String,
        #[graphql(
            default,
            desc = "The people already agreed to notifications: active at once, no opt-in mails."
        )]
        consented: bool,
    ) -> Result<ImportResult> {
        let (actor, services) = actor(ctx)?;
        let report = services
            .subscribers
            .import_csv(&actor, &csv, consented)
            .await
            .gql()?;
        Ok(ImportResult {
            added: report.added,
            duplicates: report.duplicates,
            invalid: report
                .invalid
                .into_iter()
                .map(|(line, text)| format!("{line}: {text}"))
                .collect(),
        })
    }

    /// Creates a console user.
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The name to log in with.")] username: String,
        #[graphql(desc = "The initial password.")] password: String,
    ) -> Result<User> {
        let (actor, services) = actor(ctx)?;
        let user = services
            .users
            .create(&username, &password, &actor)
            .await
            .gql()?;
        Ok(User {
            id: user.id,
            username: user.username,
        })
    }

    /// Deactivates a user (ending every session at once) or reactivates them.
    async fn set_user_active(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's `id`, as `users` lists it.")] id: i64,
        #[graphql(desc = "True to reactivate, false to deactivate.")] active: bool,
    ) -> Result<UserAccount> {
        let (actor, services) = actor(ctx)?;
        Ok(services
            .users
            .set_active(id, active, &actor)
            .await
            .gql()?
            .into())
    }

    /// Sets a new password for a user and ends their sessions.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's `id`, as `users` lists it.")] id: i64,
        #[graphql(desc = "The new password.")] password: String,
    ) -> Result<bool> {
        let (actor, services) = actor(ctx)?;
        services
            .users
            .reset_password(id, &password, &actor)
            .await
            .gql()?;
        Ok(true)
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
                },
                &actor,
            )
            .await
            .gql()?;
        Ok(services.settings.slack().await.gql()?.into())
    }

    /// Tests the Slack settings: the bot token (`auth.test`) and the channel. Says in
    /// plain words what is wrong. Finding the channel also joins it.
    async fn test_slack(&self, ctx: &Context<'_>) -> Result<SlackCheck> {
        console_user(ctx)?;
        let check = ctx.data::<Slack>()?.check().await;
        Ok(SlackCheck {
            ok: check.ok,
            message: check.message,
        })
    }

    /// Removes every second factor of a user who lost their phone or security key;
    /// they log in with the password alone until they enrol again. Returns how many
    /// were removed.
    async fn reset_second_factors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's `id`, as `users` lists it.")] user_id: i64,
    ) -> Result<i64> {
        let (actor, services) = actor(ctx)?;
        let removed = services.second_factors.reset(user_id, &actor).await.gql()?;
        Ok(i64::try_from(removed).unwrap_or(i64::MAX))
    }

    /// Puts a dead job back in the queue with fresh attempts. Returns whether it was dead.
    async fn retry_job(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job's `id`.")] id: i64,
    ) -> Result<bool> {
        console_user(ctx)?;
        ctx.data::<Queue>()?.retry_dead(id).await.gql()
    }
}
