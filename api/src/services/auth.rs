//! Console login: the password, the second factor, and the limits on guessing. What
//! a finished login hands out — sessions, access and refresh tokens — is
//! [`super::sessions`].
//!
//! Failed logins count per (username, client address) and per client address, in Redis
//! when it is configured so replicas count together. A user's failures at one address
//! never refuse that user at another, so nobody can lock the owner out by guessing
//! wrong; failures spread over many addresses slow every attempt for the user down
//! instead, more with each one. Unknown users and wrong passwords get the same answer,
//! after the same work.
//!
//! A user with a second factor gets no session for the password alone: `login` answers
//! with a pending-login token (a JWT signed with a key derived from the session key, so
//! it can never pass as an access token, valid five minutes) and the factors to choose
//! from; `login_totp` or `login_webauthn` trade it for the session. Failed second-factor
//! attempts count against the same limits as wrong passwords, and a correct password
//! does not reset them while a second factor is still due.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DbErr};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::console_user::ConsoleUser;
use super::deps::Deps;
use super::second_factors::service::{
    CHALLENGE_TTL, Rejection, SecondFactorError, SecondFactorService,
};
use super::sessions::{Session, SessionError, Sessions};
use super::users::{MAX_PASSWORD_BYTES, UserError, UserService};
use crate::ratelimit::{self, Limit};
use crate::secret::Secret;
use crate::store::{admin_user, users};
const FAILURE_WINDOW: Duration = Duration::from_mins(15);
/// Failures of one user from one address before that address is refused for the user.
const MAX_FAILURES_PER_USER_AT_ADDRESS: usize = 5;
const MAX_FAILURES_PER_ADDRESS: usize = 50;
/// Failures of one user, from anywhere, before every attempt for the user is slowed.
const FREE_FAILURES_PER_USER: usize = 5;
const FIRST_SLOWDOWN: Duration = Duration::from_millis(250);
const MAX_SLOWDOWN: Duration = Duration::from_secs(8);
/// Longer usernames are refused before any work: they would only become limiter keys.
pub const MAX_USERNAME_INPUT_CHARS: usize = 150;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("the password or code was not accepted")]
    ReauthenticationFailed,
    #[error("give your password or a code from your authenticator app")]
    NothingToReauthenticateWith,
    #[error("usernames have at most {MAX_USERNAME_INPUT_CHARS} characters")]
    UsernameTooLong,
    #[error("too many failed logins; try again in {minutes} minutes")]
    TooManyAttempts { minutes: u64 },
    #[error("the login has expired; enter your username and password again")]
    PendingLoginExpired,
    #[error("the second factor was not accepted")]
    InvalidSecondFactor,
    #[error("this code was already used; wait for the next one")]
    CodeAlreadyUsed,
    #[error("this account has no {0} as a second factor")]
    FactorNotEnrolled(&'static str),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    SecondFactor(#[from] SecondFactorError),
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// The outcome of a correct password.
#[derive(Debug)]
pub enum LoginOutcome {
    /// No second factor: the session.
    Session(Session),
    /// A second factor is due before the session.
    SecondFactorRequired(PendingLogin),
}

/// Half a login: the password was right, a second factor is still due.
#[derive(Debug)]
pub struct PendingLogin {
    pub user_id: i64,
    pub username: String,
    /// Hand back with the second factor; it is no session and opens nothing else.
    pub token: Secret,
    pub expires_at: DateTime<Utc>,
    /// An authenticator app code is accepted.
    pub totp: bool,
    /// Security keys are accepted: the `RequestChallengeResponse` for
    /// `navigator.credentials.get` (`{"publicKey": {…}}`).
    pub webauthn_options: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PendingClaims {
    sub: String,
    ver: i32,
    iat: i64,
    exp: i64,
    /// The WebAuthn login challenge issued with this token, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chl: Option<i64>,
    /// The user's last login (µs) when the token was issued: any login finished since
    /// voids it, so one password step buys one session at most.
    #[serde(default)]
    lla: Option<i64>,
}

#[derive(Clone)]
pub struct AuthService {
    deps: Deps,
    users: UserService,
    factors: SecondFactorService,
    sessions: Sessions,
    pending_encoding: Arc<EncodingKey>,
    pending_decoding: Arc<DecodingKey>,
    failures_at_address: Limit,
    failures_per_address: Limit,
    failures_per_user: Limit,
}

impl AuthService {
    pub(super) fn new(
        deps: Deps,
        users: UserService,
        factors: SecondFactorService,
        key: &Secret,
    ) -> Self {
        // A key of its own for pending-login tokens: even a bug in claim checks could
        // not make one pass for an access token, or the other way round.
        let pending_key = Sha256::new()
            .chain_update(b"monostat pending second factor\0")
            .chain_update(key.expose().as_bytes())
            .finalize();
        Self {
            users,
            factors,
            sessions: Sessions::new(deps.clone(), key),
            pending_encoding: Arc::new(EncodingKey::from_secret(&pending_key)),
            pending_decoding: Arc::new(DecodingKey::from_secret(&pending_key)),
            failures_at_address: deps.limits.window(
                "login-user-at-address",
                FAILURE_WINDOW,
                MAX_FAILURES_PER_USER_AT_ADDRESS,
            ),
            failures_per_address: deps.limits.window(
                "login-address",
                FAILURE_WINDOW,
                MAX_FAILURES_PER_ADDRESS,
            ),
            failures_per_user: deps.limits.counter("login-user", FAILURE_WINDOW),
            deps,
        }
    }

    /// Checks the password. Without a second factor the answer is the session;
    /// otherwise a pending login to finish with [`Self::login_totp`] or
    /// [`Self::login_webauthn`].
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<LoginOutcome, AuthError> {
        if username.chars().count() > MAX_USERNAME_INPUT_CHARS {
            return Err(AuthError::UsernameTooLong);
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(UserError::PasswordTooLong.into());
        }
        let keys = LimitKeys::new(username, client);
        self.reserve_attempt(&keys).await?;
        let verified = self.users.verify(username, password).await;
        if verified.is_err() {
            // Not a guess that was checked: busy, or the database is away.
            self.give_back(&keys).await;
        }
        let Some(user) = verified? else {
            // Counted already, before the slow hash, so parallel guesses are too.
            return Err(AuthError::InvalidCredentials);
        };
        // The password is right; a second factor, if due, counts on its own.
        self.give_back(&keys).await;
        let factors = self.factors.login_factors(user.id).await?;
        if !factors.enrolled() {
            return self.complete(&user, &keys).await.map(LoginOutcome::Session);
        }
        // Fail closed: a security key that cannot be checked is no reason to let the
        // password alone in.
        if !factors.usable() {
            self.factors.webauthn()?;
            return Err(AuthError::SecondFactor(SecondFactorError::Unusable));
        }
        let now = Utc::now();
        let expires_at = now + CHALLENGE_TTL;
        let (challenge, webauthn_options) = if factors.webauthn.is_empty() {
            (None, None)
        } else {
            let (id, options) = self
                .factors
                .begin_login_webauthn(user.id, &factors.webauthn)
                .await?;
            (Some(id), Some(options))
        };
        let claims = PendingClaims {
            sub: user.id.to_string(),
            ver: user.token_version,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            chl: challenge,
            lla: user.last_login_at.map(|at| at.timestamp_micros()),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.pending_encoding,
        )
        .map_err(|error| {
            AuthError::Database(DbErr::Custom(format!("cannot sign a token: {error}")))
        })?;
        Ok(LoginOutcome::SecondFactorRequired(PendingLogin {
            user_id: user.id,
            username: user.username.clone(),
            token: Secret::new(token),
            expires_at,
            totp: factors.totp,
            webauthn_options,
        }))
    }

    /// Finishes a pending login with a code from an authenticator app.
    pub async fn login_totp(
        &self,
        pending_token: &str,
        code: &str,
        client: IpAddr,
    ) -> Result<Session, AuthError> {
        let (user, _) = self.pending_user(pending_token).await?;
        let keys = LimitKeys::new(&user.username, client);
        self.reserve_attempt(&keys).await?;
        let factors = self.factors.login_factors(user.id).await?;
        if !factors.totp {
            return Err(AuthError::FactorNotEnrolled("authenticator app"));
        }
        match self.factors.check_totp(user.id, code).await? {
            Ok(()) => self.complete(&user, &keys).await,
            Err(rejection) => Err(match rejection {
                Rejection::Replayed => AuthError::CodeAlreadyUsed,
                Rejection::Wrong => AuthError::InvalidSecondFactor,
            }),
        }
    }

    /// Finishes a pending login with a security key's answer to its challenge
    /// (a `PublicKeyCredential` in JSON form). The challenge is good for one answer.
    pub async fn login_webauthn(
        &self,
        pending_token: &str,
        credential_json: &str,
        client: IpAddr,
    ) -> Result<Session, AuthError> {
        let (user, challenge) = self.pending_user(pending_token).await?;
        let keys = LimitKeys::new(&user.username, client);
        self.reserve_attempt(&keys).await?;
        let Some(challenge) = challenge else {
            return Err(AuthError::FactorNotEnrolled("security key"));
        };
        match self
            .factors
            .check_webauthn(user.id, challenge, credential_json)
            .await?
        {
            Ok(()) => self.complete(&user, &keys).await,
            Err(_) => Err(AuthError::InvalidSecondFactor),
        }
    }

    /// The user of a genuine, unexpired pending-login token whose password has not
    /// changed since, with the token's WebAuthn challenge.
    async fn pending_user(
        &self,
        token: &str,
    ) -> Result<(admin_user::Model, Option<i64>), AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims =
            jsonwebtoken::decode::<PendingClaims>(token, &self.pending_decoding, &validation)
                .map_err(|_| AuthError::PendingLoginExpired)?
                .claims;
        let id: i64 = claims
            .sub
            .parse()
            .map_err(|_| AuthError::PendingLoginExpired)?;
        let user = users::find_active(&self.deps.db, id)
            .await?
            .filter(|user| {
                user.token_version == claims.ver
                    && user.last_login_at.map(|at| at.timestamp_micros()) == claims.lla
            })
            .ok_or(AuthError::PendingLoginExpired)?;
        Ok((user, claims.chl))
    }

    /// Counts the attempt as a failure before doing the slow work (Argon2, database),
    /// atomically, so a burst of parallel attempts cannot all pass the limit; success
    /// gives it back. Past the user's free failures, waits before answering.
    async fn reserve_attempt(&self, keys: &LimitKeys) -> Result<(), AuthError> {
        let too_many = |wait| AuthError::TooManyAttempts {
            minutes: ratelimit::minutes(wait),
        };
        self.failures_at_address
            .take(&keys.user_at_address)
            .await
            .map_err(too_many)?;
        if let Err(wait) = self.failures_per_address.take(&keys.address).await {
            self.failures_at_address
                .give_back(&keys.user_at_address)
                .await;
            return Err(too_many(wait));
        }
        // Counts only, so it always passes.
        let _ = self.failures_per_user.take(&keys.user).await;
        let earlier = self
            .failures_per_user
            .count(&keys.user)
            .await
            .saturating_sub(1);
        let delay = slowdown(earlier);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(())
    }

    async fn give_back(&self, keys: &LimitKeys) {
        self.failures_at_address
            .give_back(&keys.user_at_address)
            .await;
        self.failures_per_address.give_back(&keys.address).await;
        self.failures_per_user.give_back(&keys.user).await;
    }

    /// Every factor passed: clear the user's failures at this address and open the
    /// session. Failures elsewhere stay: they are someone else's guesses.
    async fn complete(
        &self,
        user: &admin_user::Model,
        keys: &LimitKeys,
    ) -> Result<Session, AuthError> {
        self.failures_at_address.forget(&keys.user_at_address).await;
        self.failures_per_address.give_back(&keys.address).await;
        self.failures_per_user.give_back(&keys.user).await;
        admin_user::ActiveModel {
            id: Set(user.id),
            last_login_at: Set(Some(Utc::now())),
            ..Default::default()
        }
        .update(&self.deps.db)
        .await?;
        Ok(self.sessions.start(user).await?)
    }

    /// Trades a refresh token for a new session of the same sign-in.
    pub async fn refresh(&self, refresh: &str) -> Result<Session, AuthError> {
        Ok(self.sessions.refresh(refresh).await?)
    }

    pub async fn logout(&self, refresh: &str) -> Result<(), AuthError> {
        Ok(self.sessions.logout(refresh).await?)
    }

    /// The user behind an access token, if the token is genuine, unexpired, its
    /// sign-in still exists, and the user is still active with the same token version.
    pub async fn authenticate(&self, access_token: &str) -> Result<ConsoleUser, AuthError> {
        Ok(self.authenticate_until(access_token).await?.0)
    }

    /// The user and when the token stops being valid, for connections that outlive a
    /// request (a WebSocket ends its console stream then).
    pub async fn authenticate_until(
        &self,
        access_token: &str,
    ) -> Result<(ConsoleUser, DateTime<Utc>), AuthError> {
        Ok(self.sessions.authenticate_until(access_token).await?)
    }

    /// The signed-in user gives their password, or a code from their authenticator
    /// app, again: the answer is an access token that allows step-up changes for the
    /// next [`super::STEP_UP_WINDOW`]. Wrong answers count like failed logins.
    pub async fn reauthenticate(
        &self,
        user: &ConsoleUser,
        password: Option<&str>,
        totp_code: Option<&str>,
        client: IpAddr,
    ) -> Result<(String, DateTime<Utc>), AuthError> {
        if password.is_some_and(|password| password.len() > MAX_PASSWORD_BYTES) {
            return Err(UserError::PasswordTooLong.into());
        }
        let keys = LimitKeys::new(&user.username, client);
        self.reserve_attempt(&keys).await?;
        let accepted = match (password, totp_code) {
            (Some(password), _) if !password.is_empty() => {
                let verified = self.users.verify(&user.username, password).await;
                if verified.is_err() {
                    self.give_back(&keys).await;
                }
                verified?.is_some_and(|found| found.id == user.id)
            }
            (_, Some(code)) if !code.trim().is_empty() => {
                self.factors.check_totp(user.id, code).await?.is_ok()
            }
            _ => {
                self.give_back(&keys).await;
                return Err(AuthError::NothingToReauthenticateWith);
            }
        };
        if !accepted {
            return Err(AuthError::ReauthenticationFailed);
        }
        self.give_back(&keys).await;
        let model = users::find_active(&self.deps.db, user.id)
            .await?
            .ok_or(SessionError::InvalidToken)?;
        Ok(self.sessions.reauthenticated(&model, &user.session).await?)
    }
}

/// Rate-limit keys of one login attempt.
struct LimitKeys {
    user: String,
    address: String,
    user_at_address: String,
}

impl LimitKeys {
    fn new(username: &str, client: IpAddr) -> Self {
        let user = username.trim().to_lowercase();
        let address = crate::client_ip::limit_key(client);
        Self {
            // An address never holds a space, so the pair cannot be forged from parts.
            user_at_address: format!("{address} {user}"),
            user,
            address,
        }
    }
}

/// How long an attempt waits after `failures` failures of its user from anywhere:
/// nothing at first, then doubling up to [`MAX_SLOWDOWN`].
fn slowdown(failures: usize) -> Duration {
    let Some(past) = failures.checked_sub(FREE_FAILURES_PER_USER + 1) else {
        return Duration::ZERO;
    };
    let doublings = u32::try_from(past).unwrap_or(u32::MAX).min(8);
    FIRST_SLOWDOWN
        .saturating_mul(1 << doublings)
        .min(MAX_SLOWDOWN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_slow_a_user_down_only_past_the_free_ones_and_within_a_bound() {
        assert_eq!(slowdown(0), Duration::ZERO);
        assert_eq!(slowdown(FREE_FAILURES_PER_USER), Duration::ZERO);
        assert_eq!(slowdown(FREE_FAILURES_PER_USER + 1), FIRST_SLOWDOWN);
        assert_eq!(slowdown(FREE_FAILURES_PER_USER + 2), FIRST_SLOWDOWN * 2);
        assert_eq!(slowdown(10_000), MAX_SLOWDOWN);
    }
}
