//! Second factors of console users: TOTP authenticator apps and WebAuthn security keys.
//!
//! Enrolment is two steps each. TOTP: `begin_totp` stores an unconfirmed factor and
//! hands out its secret once; `confirm_totp` activates it with a first code. WebAuthn:
//! `begin_webauthn` returns the creation options and keeps the ceremony state in the
//! database; `finish_webauthn` verifies the authenticator's answer and stores the key.
//!
//! At login, [`super::AuthService`] asks which factors a user has and calls the checks
//! here. Each TOTP code is good once (the accepted time step is stored and compared in
//! the same UPDATE, so two replicas cannot both accept it); each WebAuthn challenge is
//! deleted as it is used, so an answer cannot be replayed either.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{TimeDelta, Utc};
use rand::TryRngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    PublicKeyCredential, RegisterPublicKeyCredential, SecurityKey, SecurityKeyAuthentication,
    SecurityKeyRegistration, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::{ConsoleUser, Deps, audit, tx};
use crate::domain::Actor;
use crate::domain::totp::{self, TotpSecret};
use crate::secret::Secret;
use crate::store::{second_factor, second_factor_challenge};

/// How long a WebAuthn ceremony may take between its two requests.
pub const CHALLENGE_TTL: TimeDelta = TimeDelta::minutes(5);
/// How long a TOTP enrolment waits for its first code.
const TOTP_ENROLMENT_TTL: TimeDelta = TimeDelta::minutes(15);
const MAX_NAME_CHARS: usize = 64;
const PURPOSE_LOGIN: &str = "login";
const PURPOSE_REGISTER: &str = "register";

/// The two kinds of second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactorKind {
    Totp,
    Webauthn,
}

impl FactorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Webauthn => "webauthn",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "totp" => Some(Self::Totp),
            "webauthn" => Some(Self::Webauthn),
            _ => None,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Totp => "authenticator app",
            Self::Webauthn => "security key",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecondFactorError {
    #[error("second factor {0} does not exist")]
    NotFound(i64),
    #[error("user {0} does not exist")]
    UserNotFound(i64),
    #[error("the name must be at most {MAX_NAME_CHARS} characters")]
    InvalidName,
    #[error(
        "that is not the current code of the authenticator app; check that the phone's clock is right and enter the newest code"
    )]
    WrongCode,
    #[error("this enrolment has expired or was already finished; start again")]
    Expired,
    #[error("security keys are not available on this server: {0}")]
    WebauthnUnavailable(String),
    #[error("the security key's answer was not accepted: {0}")]
    InvalidCredential(String),
    #[error("this security key is already registered")]
    AlreadyRegistered,
    #[error("stored second factor {0} cannot be read")]
    Corrupt(i64),
    #[error(
        "this account's second factors cannot be checked on this server; ask another console user to reset them"
    )]
    Unusable,
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl tx::DbError for SecondFactorError {
    fn db_error(&self) -> Option<&DbErr> {
        match self {
            Self::Database(error) => Some(error),
            _ => None,
        }
    }
}

/// A TOTP enrolment waiting for its first code. The secret is shown to the user once.
#[derive(Debug)]
pub struct TotpEnrolment {
    pub factor_id: i64,
    /// Base32, for typing into an app by hand.
    pub secret: Secret,
    /// `otpauth://` URI, for a QR code.
    pub uri: Secret,
}

/// A started WebAuthn registration: pass `options` to `navigator.credentials.create`.
#[derive(Debug)]
pub struct WebauthnRegistration {
    pub registration_id: i64,
    /// `CreationChallengeResponse` as JSON (`{"publicKey": {…}}`).
    pub options: serde_json::Value,
}

/// What a user must present after the password.
#[derive(Debug, Default)]
pub(super) struct LoginFactors {
    pub totp: bool,
    pub webauthn: Vec<SecurityKey>,
    /// Registered security keys this server cannot check now (WebAuthn disabled by
    /// `MONOSTAT_SITE_URL`, or an unreadable row).
    pub unusable: bool,
}

impl LoginFactors {
    /// Whether some factor can be checked now.
    pub fn usable(&self) -> bool {
        self.totp || !self.webauthn.is_empty()
    }

    /// Whether the user has any factor at all, checkable or not: then the password
    /// alone must never do.
    pub fn enrolled(&self) -> bool {
        self.usable() || self.unusable
    }
}

/// Why a second-factor check at login failed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Rejection {
    Wrong,
    /// A correct TOTP code whose time step was already used.
    Replayed,
}

/// What waits in `second_factor_challenge.state` during a registration.
#[derive(Serialize, Deserialize)]
struct PendingRegistration {
    name: String,
    state: SecurityKeyRegistration,
}

#[derive(Clone)]
pub struct SecondFactorService {
    deps: Deps,
    /// The relying party, or why `MONOSTAT_SITE_URL` cannot be one.
    webauthn: Result<Arc<Webauthn>, String>,
}

impl SecondFactorService {
    pub(super) fn new(deps: Deps) -> Self {
        let webauthn = relying_party(&deps.config.site_url).map(Arc::new);
        if let Err(reason) = &webauthn {
            tracing::info!(%reason, "WebAuthn security keys are disabled");
        }
        Self { deps, webauthn }
    }

    pub(super) fn webauthn(&self) -> Result<&Webauthn, SecondFactorError> {
        self.webauthn
            .as_deref()
            .map_err(|reason| SecondFactorError::WebauthnUnavailable(reason.clone()))
    }

    /// The user's active second factors, oldest first.
    pub async fn list(&self, user: &ConsoleUser) -> Result<Vec<second_factor::Model>, DbErr> {
        second_factor::Entity::find()
            .filter(second_factor::Column::UserId.eq(user.id))
            .filter(second_factor::Column::Confirmed.eq(true))
            .order_by_asc(second_factor::Column::Id)
            .all(&self.deps.db)
            .await
    }

    /// Starts a TOTP enrolment. An earlier unfinished one of the same user is dropped.
    pub async fn begin_totp(
        &self,
        user: &ConsoleUser,
        name: Option<&str>,
    ) -> Result<TotpEnrolment, SecondFactorError> {
        let name = factor_name(name, FactorKind::Totp)?;
        let mut bytes = vec![0u8; totp::SECRET_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system's random source is unavailable");
        let secret = TotpSecret::new(bytes);
        second_factor::Entity::delete_many()
            .filter(second_factor::Column::UserId.eq(user.id))
            .filter(second_factor::Column::Confirmed.eq(false))
            .exec(&self.deps.db)
            .await?;
        let factor = second_factor::ActiveModel {
            user_id: Set(user.id),
            kind: Set(FactorKind::Totp.as_str().to_owned()),
            name: Set(name),
            secret: Set(secret.to_base32()),
            created_at: Set(Utc::now()),
            last_used_at: Set(None),
            confirmed: Set(false),
            last_step: Set(None),
            credential_id: Set(None),
            ..Default::default()
        }
        .insert(&self.deps.db)
        .await?;
        Ok(TotpEnrolment {
            factor_id: factor.id,
            secret: Secret::new(secret.to_base32()),
            uri: Secret::new(secret.uri(&self.issuer(), &user.username)),
        })
    }

    /// Activates a TOTP enrolment with a code from the app. The code's time step counts
    /// as used, so the same code cannot log in afterwards.
    pub async fn confirm_totp(
        &self,
        user: &ConsoleUser,
        factor_id: i64,
        code: &str,
    ) -> Result<second_factor::Model, SecondFactorError> {
        let actor = Actor::User(user.username.clone());
        let now = Utc::now();
        tx::write_tx!(&self.deps.db, SecondFactorError, |txn| {
            let factor = second_factor::Entity::find_by_id(factor_id)
                .filter(second_factor::Column::UserId.eq(user.id))
                .filter(second_factor::Column::Kind.eq(FactorKind::Totp.as_str()))
                .filter(second_factor::Column::Confirmed.eq(false))
                .one(txn)
                .await?
                .ok_or(SecondFactorError::Expired)?;
            if factor.created_at + TOTP_ENROLMENT_TTL < now {
                return Err(SecondFactorError::Expired);
            }
            let secret = TotpSecret::from_base32(&factor.secret)
                .ok_or(SecondFactorError::Corrupt(factor.id))?;
            let step = secret
                .matching_step(code, totp::step_at(now))
                .ok_or(SecondFactorError::WrongCode)?;
            let confirmed = second_factor::ActiveModel {
                id: Set(factor.id),
                confirmed: Set(true),
                last_step: Set(Some(step)),
                ..Default::default()
            }
            .update(txn)
            .await?;
            audit::record(
                txn,
                &actor,
                None,
                format!(
                    "Added the authenticator app “{}” as a second factor",
                    factor.name
                ),
            )
            .await?;
            Ok(confirmed)
        })
    }

    /// Starts registering a security key; keys the user already has are excluded, so
    /// the browser says so instead of registering one twice.
    pub async fn begin_webauthn(
        &self,
        user: &ConsoleUser,
        name: Option<&str>,
    ) -> Result<WebauthnRegistration, SecondFactorError> {
        let webauthn = self.webauthn()?;
        let name = factor_name(name, FactorKind::Webauthn)?;
        let existing: Vec<Vec<u8>> = self
            .security_keys(user.id)
            .await?
            .iter()
            .map(|key| key.cred_id().clone())
            .collect();
        let (options, state) = webauthn
            .start_securitykey_registration(
                user_handle(user.id),
                &user.username,
                &user.username,
                Some(existing),
                None,
                None,
            )
            .map_err(|error| SecondFactorError::WebauthnUnavailable(error.to_string()))?;
        let state = serde_json::to_string(&PendingRegistration { name, state })
            .map_err(|error| DbErr::Custom(format!("cannot serialise WebAuthn state: {error}")))?;
        let registration_id = self
            .store_challenge(user.id, PURPOSE_REGISTER, state)
            .await?;
        let mut options = serde_json::to_value(&options).map_err(|error| {
            DbErr::Custom(format!("cannot serialise WebAuthn options: {error}"))
        })?;
        // webauthn-rs asks the key to require user verification for every later use
        // (credProtect) but only "prefers" it now; Chromium refuses that mix as
        // inconsistent. Requiring it now too is what the key will do anyway, and the
        // stored state (which prefers verification) accepts a verified answer.
        if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection") {
            selection["userVerification"] = serde_json::Value::from("required");
        }
        Ok(WebauthnRegistration {
            registration_id,
            options,
        })
    }

    /// Verifies the authenticator's answer to a registration and stores the key.
    pub async fn finish_webauthn(
        &self,
        user: &ConsoleUser,
        registration_id: i64,
        credential_json: &str,
    ) -> Result<second_factor::Model, SecondFactorError> {
        let webauthn = self.webauthn()?;
        let credential: RegisterPublicKeyCredential = serde_json::from_str(credential_json)
            .map_err(|error| {
                SecondFactorError::InvalidCredential(format!(
                    "not a PublicKeyCredential in JSON form: {error}"
                ))
            })?;
        // The library refuses an excluded key with a misleading message about
        // algorithms; say what happened instead. (The verified id is checked again below.)
        let claimed_id = URL_SAFE_NO_PAD.encode(&credential.raw_id);
        let known = second_factor::Entity::find()
            .filter(second_factor::Column::CredentialId.eq(claimed_id))
            .one(&self.deps.db)
            .await?;
        if known.is_some() {
            return Err(SecondFactorError::AlreadyRegistered);
        }
        let challenge = self
            .take_challenge(user.id, registration_id, PURPOSE_REGISTER)
            .await?
            .ok_or(SecondFactorError::Expired)?;
        let pending: PendingRegistration = serde_json::from_str(&challenge.state)
            .map_err(|_| SecondFactorError::Corrupt(challenge.id))?;
        let key = webauthn
            .finish_securitykey_registration(&credential, &pending.state)
            .map_err(|error| SecondFactorError::InvalidCredential(error.to_string()))?;
        let credential_id = URL_SAFE_NO_PAD.encode(key.cred_id());
        let stored = serde_json::to_string(&key)
            .map_err(|error| DbErr::Custom(format!("cannot serialise a security key: {error}")))?;
        let actor = Actor::User(user.username.clone());
        tx::write_tx!(&self.deps.db, SecondFactorError, |txn| {
            let taken = second_factor::Entity::find()
                .filter(second_factor::Column::CredentialId.eq(credential_id.as_str()))
                .one(txn)
                .await?
                .is_some();
            if taken {
                return Err(SecondFactorError::AlreadyRegistered);
            }
            let factor = second_factor::ActiveModel {
                user_id: Set(user.id),
                kind: Set(FactorKind::Webauthn.as_str().to_owned()),
                name: Set(pending.name.clone()),
                secret: Set(stored.clone()),
                created_at: Set(Utc::now()),
                last_used_at: Set(None),
                confirmed: Set(true),
                last_step: Set(None),
                credential_id: Set(Some(credential_id.clone())),
                ..Default::default()
            }
            .insert(txn)
            .await
            .map_err(|error| {
                if crate::store::is_unique_violation(&error) {
                    SecondFactorError::AlreadyRegistered
                } else {
                    error.into()
                }
            })?;
            audit::record(
                txn,
                &actor,
                None,
                format!(
                    "Added the security key “{}” as a second factor",
                    pending.name
                ),
            )
            .await?;
            Ok(factor)
        })
    }

    /// Removes one of the user's own factors (confirmed or still pending).
    pub async fn remove(
        &self,
        user: &ConsoleUser,
        factor_id: i64,
    ) -> Result<(), SecondFactorError> {
        let actor = Actor::User(user.username.clone());
        tx::write_tx!(&self.deps.db, SecondFactorError, |txn| {
            let factor = second_factor::Entity::find_by_id(factor_id)
                .filter(second_factor::Column::UserId.eq(user.id))
                .one(txn)
                .await?
                .ok_or(SecondFactorError::NotFound(factor_id))?;
            second_factor::Entity::delete_by_id(factor.id)
                .exec(txn)
                .await?;
            if factor.confirmed {
                let kind = FactorKind::parse(&factor.kind).map_or("factor", FactorKind::describe);
                audit::record(
                    txn,
                    &actor,
                    None,
                    format!("Removed the {kind} “{}” as a second factor", factor.name),
                )
                .await?;
            }
            Ok(())
        })
    }

    /// Removes every second factor of a user, for one who lost their phone or key:
    /// they log in with the password alone until they enrol again. Returns how many
    /// confirmed factors were removed.
    pub async fn reset(&self, user_id: i64, actor: &Actor) -> Result<u64, SecondFactorError> {
        tx::write_tx!(&self.deps.db, SecondFactorError, |txn| {
            let user = crate::store::admin_user::Entity::find_by_id(user_id)
                .one(txn)
                .await?
                .ok_or(SecondFactorError::UserNotFound(user_id))?;
            let confirmed = second_factor::Entity::find()
                .filter(second_factor::Column::UserId.eq(user_id))
                .filter(second_factor::Column::Confirmed.eq(true))
                .all(txn)
                .await?
                .len() as u64;
            second_factor::Entity::delete_many()
                .filter(second_factor::Column::UserId.eq(user_id))
                .exec(txn)
                .await?;
            second_factor_challenge::Entity::delete_many()
                .filter(second_factor_challenge::Column::UserId.eq(user_id))
                .exec(txn)
                .await?;
            if confirmed > 0 {
                audit::record(
                    txn,
                    actor,
                    None,
                    format!("Removed every second factor of {}", user.username),
                )
                .await?;
            }
            Ok(confirmed)
        })
    }

    /// The confirmed factors a login must pass. Security keys the server cannot check
    /// (its URL cannot serve WebAuthn) are marked unusable, with an error in the log.
    pub(super) async fn login_factors(&self, user_id: i64) -> Result<LoginFactors, DbErr> {
        let rows = second_factor::Entity::find()
            .filter(second_factor::Column::UserId.eq(user_id))
            .filter(second_factor::Column::Confirmed.eq(true))
            .all(&self.deps.db)
            .await?;
        let mut factors = LoginFactors::default();
        for row in rows {
            match FactorKind::parse(&row.kind) {
                Some(FactorKind::Totp) => factors.totp = true,
                Some(FactorKind::Webauthn) if self.webauthn.is_ok() => {
                    match serde_json::from_str::<SecurityKey>(&row.secret) {
                        Ok(key) => factors.webauthn.push(key),
                        Err(error) => {
                            factors.unusable = true;
                            tracing::error!(factor = row.id, %error, "unreadable security key");
                        }
                    }
                }
                Some(FactorKind::Webauthn) => {
                    factors.unusable = true;
                    tracing::error!(
                        factor = row.id,
                        "a security key is registered but WebAuthn is disabled; check MONOSTAT_SITE_URL"
                    );
                }
                None => {
                    factors.unusable = true;
                    tracing::error!(factor = row.id, kind = %row.kind, "unknown second factor kind");
                }
            }
        }
        Ok(factors)
    }

    /// Starts a WebAuthn login: returns the challenge id and the request options.
    pub(super) async fn begin_login_webauthn(
        &self,
        user_id: i64,
        keys: &[SecurityKey],
    ) -> Result<(i64, serde_json::Value), SecondFactorError> {
        let (options, state) = self
            .webauthn()?
            .start_securitykey_authentication(keys)
            .map_err(|error| SecondFactorError::WebauthnUnavailable(error.to_string()))?;
        let state = serde_json::to_string(&state)
            .map_err(|error| DbErr::Custom(format!("cannot serialise WebAuthn state: {error}")))?;
        let id = self.store_challenge(user_id, PURPOSE_LOGIN, state).await?;
        let options = serde_json::to_value(&options).map_err(|error| {
            DbErr::Custom(format!("cannot serialise WebAuthn options: {error}"))
        })?;
        Ok((id, options))
    }

    /// Checks a TOTP code against the user's authenticator apps and marks its time
    /// step used.
    pub(super) async fn check_totp(
        &self,
        user_id: i64,
        code: &str,
    ) -> Result<Result<(), Rejection>, SecondFactorError> {
        let now = Utc::now();
        let factors = second_factor::Entity::find()
            .filter(second_factor::Column::UserId.eq(user_id))
            .filter(second_factor::Column::Kind.eq(FactorKind::Totp.as_str()))
            .filter(second_factor::Column::Confirmed.eq(true))
            .all(&self.deps.db)
            .await?;
        let mut outcome = Err(Rejection::Wrong);
        for factor in factors {
            let Some(secret) = TotpSecret::from_base32(&factor.secret) else {
                tracing::error!(factor = factor.id, "unreadable TOTP secret");
                continue;
            };
            let Some(step) = secret.matching_step(code, totp::step_at(now)) else {
                continue;
            };
            // Only a step newer than the last accepted one wins; the condition sits in
            // the UPDATE so that concurrent logins with one code cannot both pass.
            let updated = second_factor::Entity::update_many()
                .col_expr(second_factor::Column::LastStep, Expr::value(step))
                .col_expr(second_factor::Column::LastUsedAt, Expr::value(now))
                .filter(second_factor::Column::Id.eq(factor.id))
                .filter(
                    Condition::any()
                        .add(second_factor::Column::LastStep.is_null())
                        .add(second_factor::Column::LastStep.lt(step)),
                )
                .exec(&self.deps.db)
                .await?;
            if updated.rows_affected == 1 {
                return Ok(Ok(()));
            }
            outcome = Err(Rejection::Replayed);
        }
        Ok(outcome)
    }

    /// Checks a security key's answer to the login challenge `challenge_id`. The
    /// challenge is used up whatever the outcome.
    pub(super) async fn check_webauthn(
        &self,
        user_id: i64,
        challenge_id: i64,
        credential_json: &str,
    ) -> Result<Result<(), Rejection>, SecondFactorError> {
        let webauthn = self.webauthn()?;
        let Some(challenge) = self
            .take_challenge(user_id, challenge_id, PURPOSE_LOGIN)
            .await?
        else {
            return Ok(Err(Rejection::Wrong));
        };
        let Ok(credential) = serde_json::from_str::<PublicKeyCredential>(credential_json) else {
            return Ok(Err(Rejection::Wrong));
        };
        let state: SecurityKeyAuthentication = serde_json::from_str(&challenge.state)
            .map_err(|_| SecondFactorError::Corrupt(challenge.id))?;
        let result = match webauthn.finish_securitykey_authentication(&credential, &state) {
            Ok(result) => result,
            Err(error) => {
                tracing::info!(user = user_id, %error, "security key answer refused");
                return Ok(Err(Rejection::Wrong));
            }
        };
        let credential_id = URL_SAFE_NO_PAD.encode(result.cred_id());
        let Some(row) = second_factor::Entity::find()
            .filter(second_factor::Column::UserId.eq(user_id))
            .filter(second_factor::Column::CredentialId.eq(credential_id))
            .one(&self.deps.db)
            .await?
        else {
            // Removed between the two login steps.
            return Ok(Err(Rejection::Wrong));
        };
        let mut key: SecurityKey =
            serde_json::from_str(&row.secret).map_err(|_| SecondFactorError::Corrupt(row.id))?;
        let mut update = second_factor::ActiveModel {
            id: Set(row.id),
            last_used_at: Set(Some(Utc::now())),
            ..Default::default()
        };
        // The signature counter guards against cloned keys; keep it current.
        if key.update_credential(&result) == Some(true) {
            let stored = serde_json::to_string(&key).map_err(|error| {
                DbErr::Custom(format!("cannot serialise a security key: {error}"))
            })?;
            update.secret = Set(stored);
        }
        update.update(&self.deps.db).await?;
        Ok(Ok(()))
    }

    async fn security_keys(&self, user_id: i64) -> Result<Vec<SecurityKey>, SecondFactorError> {
        second_factor::Entity::find()
            .filter(second_factor::Column::UserId.eq(user_id))
            .filter(second_factor::Column::Kind.eq(FactorKind::Webauthn.as_str()))
            .all(&self.deps.db)
            .await?
            .into_iter()
            .map(|row| {
                serde_json::from_str(&row.secret).map_err(|_| SecondFactorError::Corrupt(row.id))
            })
            .collect()
    }

    async fn store_challenge(
        &self,
        user_id: i64,
        purpose: &str,
        state: String,
    ) -> Result<i64, DbErr> {
        let now = Utc::now();
        // Abandoned ceremonies are swept here rather than by a job: the table stays as
        // small as the number of logins in flight.
        second_factor_challenge::Entity::delete_many()
            .filter(second_factor_challenge::Column::ExpiresAt.lt(now))
            .exec(&self.deps.db)
            .await?;
        if purpose == PURPOSE_REGISTER {
            second_factor_challenge::Entity::delete_many()
                .filter(second_factor_challenge::Column::UserId.eq(user_id))
                .filter(second_factor_challenge::Column::Purpose.eq(PURPOSE_REGISTER))
                .exec(&self.deps.db)
                .await?;
        }
        let row = second_factor_challenge::ActiveModel {
            user_id: Set(user_id),
            purpose: Set(purpose.to_owned()),
            state: Set(state),
            created_at: Set(now),
            expires_at: Set(now + CHALLENGE_TTL),
            ..Default::default()
        }
        .insert(&self.deps.db)
        .await?;
        Ok(row.id)
    }

    /// Deletes and returns an unexpired challenge; `None` if it is unknown, expired, of
    /// another user or purpose, or was taken by a concurrent request.
    async fn take_challenge(
        &self,
        user_id: i64,
        id: i64,
        purpose: &str,
    ) -> Result<Option<second_factor_challenge::Model>, DbErr> {
        let Some(challenge) = second_factor_challenge::Entity::find_by_id(id)
            .filter(second_factor_challenge::Column::UserId.eq(user_id))
            .filter(second_factor_challenge::Column::Purpose.eq(purpose))
            .one(&self.deps.db)
            .await?
        else {
            return Ok(None);
        };
        let deleted = delete_challenge(&self.deps.db, challenge.id).await?;
        Ok(Some(challenge).filter(|c| deleted && c.expires_at > Utc::now()))
    }

    /// The issuer authenticator apps show next to the code: the site's host name.
    fn issuer(&self) -> String {
        Url::parse(&self.deps.config.site_url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| "monostat".to_owned())
    }
}

async fn delete_challenge(conn: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let deleted = second_factor_challenge::Entity::delete_by_id(id)
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected == 1)
}

fn factor_name(name: Option<&str>, kind: FactorKind) -> Result<String, SecondFactorError> {
    let name = name.map(str::trim).filter(|name| !name.is_empty());
    match name {
        None => Ok(match kind {
            FactorKind::Totp => "Authenticator app".to_owned(),
            FactorKind::Webauthn => "Security key".to_owned(),
        }),
        Some(name)
            if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) =>
        {
            Err(SecondFactorError::InvalidName)
        }
        Some(name) => Ok(name.to_owned()),
    }
}

/// A stable, opaque WebAuthn user handle: derived from the user id, so it reveals
/// nothing and stays the same across registrations.
fn user_handle(user_id: i64) -> Uuid {
    let digest = Sha256::digest(format!("monostat console user {user_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// The WebAuthn relying party of `MONOSTAT_SITE_URL`: its host is the RP id, the URL
/// itself the only accepted origin. An IP address cannot be an RP id.
fn relying_party(site_url: &str) -> Result<Webauthn, String> {
    let origin = Url::parse(site_url).map_err(|error| format!("{site_url}: {error}"))?;
    let Some(host) = origin.domain().map(str::to_owned) else {
        return Err(format!(
            "MONOSTAT_SITE_URL ({site_url}) must use a host name, not an IP address"
        ));
    };
    WebauthnBuilder::new(&host, &origin)
        .and_then(|builder| builder.rp_name("monostat").build())
        .map_err(|error| format!("MONOSTAT_SITE_URL ({site_url}): {error}"))
}
