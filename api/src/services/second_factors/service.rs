//! What both kinds of second factor share: the service and its error, listing,
//! removing and resetting factors, and which factors a login must pass. [`super::totp`]
//! and [`super::webauthn`] add their methods to [`SecondFactorService`] and import it
//! from here, not through `second_factors/mod.rs`, so no file imports its parent back.

use std::sync::Arc;

use chrono::TimeDelta;

use sea_orm::DbErr;
use webauthn_rs::prelude::{SecurityKey, Webauthn};

use super::relying_party::relying_party;
use crate::domain::{Actor, FactorKind};
use crate::services::audit;
use crate::services::console_user::{ConsoleUser, StepUp};
use crate::services::deps::Deps;
use crate::services::tx;
use crate::services::views::SecondFactor;
use crate::store::{second_factors, users};

/// How long a WebAuthn ceremony may take between its two requests.
pub const CHALLENGE_TTL: TimeDelta = TimeDelta::minutes(5);
const MAX_NAME_CHARS: usize = 64;

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
    /// A stored TOTP seed does not open (see `services::at_rest`); says what to do.
    #[error("{0}")]
    Unreadable(String),
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

/// What a user must present after the password.
#[derive(Debug, Default)]
pub(in crate::services) struct LoginFactors {
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
pub(in crate::services) enum Rejection {
    Wrong,
    /// A correct TOTP code whose time step was already used.
    Replayed,
}

#[derive(Clone)]
pub struct SecondFactorService {
    pub(super) deps: Deps,
    /// The relying party, or why `MONOSTAT_SITE_URL` cannot be one.
    pub(super) webauthn: Result<Arc<Webauthn>, String>,
}

impl SecondFactorService {
    pub(in crate::services) fn new(deps: Deps) -> Self {
        let webauthn = relying_party(&deps.config.site_url).map(Arc::new);
        if let Err(reason) = &webauthn {
            tracing::info!(%reason, "WebAuthn security keys are disabled");
        }
        Self { deps, webauthn }
    }

    /// The user's active second factors, oldest first.
    pub async fn list(&self, user: &ConsoleUser) -> Result<Vec<SecondFactor>, DbErr> {
        let factors = second_factors::confirmed(&self.deps.db, user.id).await?;
        Ok(factors.into_iter().map(SecondFactor::from).collect())
    }

    /// Removes one of the user's own factors (confirmed or still pending).
    pub async fn remove(
        &self,
        user: &ConsoleUser,
        factor_id: i64,
    ) -> Result<(), SecondFactorError> {
        let actor = Actor::User(user.username.clone());
        tx::write_tx!(&self.deps.db, SecondFactorError, |txn| {
            let factor = second_factors::find_of_user(txn, user.id, factor_id)
                .await?
                .ok_or(SecondFactorError::NotFound(factor_id))?;
            second_factors::delete(txn, factor.id).await?;
            if factor.confirmed {
                // A thief with a session must not keep it past the owner's change.
                users::delete_other_sessions(txn, user.id, &user.session).await?;
                let kind = factor.kind.describe();
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
    pub async fn reset(
        &self,
        user_id: i64,
        actor: &Actor,
        _recently_authenticated: &StepUp,
    ) -> Result<u64, SecondFactorError> {
        tx::write_tx!(&self.deps.db, SecondFactorError, |txn| {
            let user = users::find(txn, user_id)
                .await?
                .ok_or(SecondFactorError::UserNotFound(user_id))?;
            let confirmed = second_factors::count_confirmed(txn, user_id).await?;
            second_factors::delete_all_of_user(txn, user_id).await?;
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
    pub(in crate::services) async fn login_factors(
        &self,
        user_id: i64,
    ) -> Result<LoginFactors, DbErr> {
        let rows = second_factors::confirmed(&self.deps.db, user_id).await?;
        let mut factors = LoginFactors::default();
        for row in rows {
            match row.kind {
                FactorKind::Totp => factors.totp = true,
                FactorKind::Webauthn if self.webauthn.is_ok() => {
                    match serde_json::from_str::<SecurityKey>(&row.secret) {
                        Ok(key) => factors.webauthn.push(key),
                        Err(error) => {
                            factors.unusable = true;
                            tracing::error!(factor = row.id, %error, "unreadable security key");
                        }
                    }
                }
                FactorKind::Webauthn => {
                    factors.unusable = true;
                    tracing::error!(
                        factor = row.id,
                        "a security key is registered but WebAuthn is disabled; check MONOSTAT_SITE_URL"
                    );
                }
            }
        }
        Ok(factors)
    }
}

pub(super) fn factor_name(
    name: Option<&str>,
    kind: FactorKind,
) -> Result<String, SecondFactorError> {
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
