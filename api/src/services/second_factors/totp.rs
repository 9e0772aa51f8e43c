//! Authenticator apps (TOTP, RFC 6238): enrolment in two steps (`begin_totp` hands out
//! the secret once, `confirm_totp` activates it with a first code) and the login check,
//! which accepts each time step once.

use chrono::{TimeDelta, Utc};
use rand::TryRngCore;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use webauthn_rs::prelude::Url;

use super::service::{Rejection, SecondFactorError, SecondFactorService, factor_name};
use crate::domain::totp::{self, TotpSecret};
use crate::domain::{Actor, FactorKind};
use crate::secret::Secret;
use crate::services::at_rest::{totp_seed, unreadable};
use crate::services::audit;
use crate::services::console_user::ConsoleUser;
use crate::services::tx;
use crate::services::views::SecondFactor;
use crate::store::{second_factor, second_factors, users};

/// How long a TOTP enrolment waits for its first code.
const TOTP_ENROLMENT_TTL: TimeDelta = TimeDelta::minutes(15);

/// A TOTP enrolment waiting for its first code. The secret is shown to the user once.
#[derive(Debug)]
pub struct TotpEnrolment {
    pub factor_id: i64,
    /// Base32, for typing into an app by hand.
    pub secret: Secret,
    /// `otpauth://` URI, for a QR code.
    pub uri: Secret,
}

impl SecondFactorService {
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
        second_factors::delete_unconfirmed(&self.deps.db, user.id).await?;
        let factor = second_factor::ActiveModel {
            user_id: Set(user.id),
            kind: Set(FactorKind::Totp),
            name: Set(name),
            secret: Set(self
                .deps
                .secrets
                .seal(&totp_seed(user.id), &secret.to_base32())),
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
    ) -> Result<SecondFactor, SecondFactorError> {
        let actor = Actor::User(user.username.clone());
        let now = Utc::now();
        tx::write_tx!(&self.deps.db, SecondFactorError, |txn| {
            let factor = second_factors::find_unconfirmed_totp(txn, user.id, factor_id)
                .await?
                .ok_or(SecondFactorError::Expired)?;
            if factor.created_at + TOTP_ENROLMENT_TTL < now {
                return Err(SecondFactorError::Expired);
            }
            let secret = self.open_seed(&factor)?;
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
            // A thief with a session must not keep it past the owner's change.
            users::delete_other_sessions(txn, user.id, &user.session).await?;
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
            Ok(confirmed.into())
        })
    }

    /// Checks a TOTP code against the user's authenticator apps and marks its time
    /// step used.
    pub(in crate::services) async fn check_totp(
        &self,
        user_id: i64,
        code: &str,
    ) -> Result<Result<(), Rejection>, SecondFactorError> {
        let now = Utc::now();
        let factors =
            second_factors::confirmed_of_kind(&self.deps.db, user_id, FactorKind::Totp).await?;
        let mut outcome = Err(Rejection::Wrong);
        let mut unopened = None;
        for factor in factors {
            let secret = match self.open_seed(&factor) {
                Ok(secret) => secret,
                Err(error) => {
                    unopened.get_or_insert(error);
                    continue;
                }
            };
            let Some(step) = secret.matching_step(code, totp::step_at(now)) else {
                continue;
            };
            // Only a step newer than the last accepted one wins.
            if second_factors::use_totp_step(&self.deps.db, factor.id, step, now).await? {
                return Ok(Ok(()));
            }
            outcome = Err(Rejection::Replayed);
        }
        // A seed that does not open fails the login with a message that says what to
        // do, rather than as a wrong code the user would retype for ever.
        match unopened {
            Some(error) if outcome == Err(Rejection::Wrong) => Err(error),
            _ => Ok(outcome),
        }
    }

    /// The seed of a TOTP factor, opened.
    fn open_seed(&self, factor: &second_factor::Model) -> Result<TotpSecret, SecondFactorError> {
        let seed = self
            .deps
            .secrets
            .open(&totp_seed(factor.user_id), &factor.secret)
            .map_err(|error| {
                SecondFactorError::Unreadable(unreadable(
                    "authenticator app secret",
                    error,
                    "Ask another console user to reset this account's second factors, then enrol the app again.",
                ))
            })?;
        TotpSecret::from_base32(seed.expose()).ok_or(SecondFactorError::Corrupt(factor.id))
    }

    /// The issuer authenticator apps show next to the code: the site's host name.
    fn issuer(&self) -> String {
        Url::parse(&self.deps.config.site_url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_else(|| "monostat".to_owned())
    }
}
