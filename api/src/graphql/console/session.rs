//! Logging in and out: the password step, the second-factor step, refresh and logout.
//! These are the console fields that need no session, because they hand one out; the
//! refresh token travels only in an HttpOnly cookie set here.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::access::console_user;
use super::second_factors::SecondFactorKind;
use super::users::User;
use crate::graphql::context::{ClientAddress, RefreshCookie};
use crate::graphql::errors::Code;
use crate::graphql::errors::GqlResultExt;
use crate::services::{LoginOutcome, PendingLogin, REFRESH_TTL, Services, Session};

const REFRESH_COOKIE: &str = "monostat_refresh";

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
        user: User::new(pending.user_id, pending.username),
        second_factor: Some(SecondFactorChallenge {
            pending_token: pending.token.expose().to_owned(),
            expires_at: pending.expires_at,
            methods,
            webauthn_options: pending.webauthn_options.map(|options| options.to_string()),
        }),
    }
}

/// A fresh access token after `reauthenticate`.
#[derive(SimpleObject)]
pub struct Reauthenticated {
    /// Send as `Authorization: Bearer …` from now on.
    access_token: String,
    access_expires_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct SessionQuery;

#[Object]
impl SessionQuery {
    /// The logged-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(console_user(ctx)?.clone().into())
    }
}

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
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

    /// Trades the refresh cookie for a new access token (and a new cookie).
    async fn refresh(&self, ctx: &Context<'_>) -> Result<LoginResult> {
        let Some(token) = ctx.data::<RefreshCookie>()?.0.clone() else {
            return Err(Code::Unauthenticated.error("no session to refresh; log in"));
        };
        let session = ctx.data::<Services>()?.auth.refresh(&token).await.gql()?;
        Ok(session_result(ctx, session))
    }

    /// Gives the password, or a code from the authenticator app, again, for changes
    /// that need it recently (they answer REAUTHENTICATION_REQUIRED otherwise). The
    /// new access token allows them for five minutes. Wrong answers count towards the
    /// login limits.
    async fn reauthenticate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's password.")] password: Option<String>,
        #[graphql(desc = "Or the six digits the authenticator app shows now.")] code: Option<
            String,
        >,
    ) -> Result<Reauthenticated> {
        let user = console_user(ctx)?;
        let client = ctx.data::<ClientAddress>()?.0;
        let (access_token, access_expires_at) = ctx
            .data::<Services>()?
            .auth
            .reauthenticate(user, password.as_deref(), code.as_deref(), client)
            .await
            .gql()?;
        Ok(Reauthenticated {
            access_token,
            access_expires_at,
        })
    }

    /// Ends the session of the refresh cookie.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        if let Some(token) = ctx.data::<RefreshCookie>()?.0.clone() {
            ctx.data::<Services>()?.auth.logout(&token).await.gql()?;
        }
        set_refresh_cookie(ctx, None);
        Ok(true)
    }
}
