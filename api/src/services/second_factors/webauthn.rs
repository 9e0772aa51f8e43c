//! Security keys (WebAuthn): registration in two steps (`begin_webauthn` returns the
//! creation options and keeps the ceremony state in the database, `finish_webauthn`
//! verifies the answer and stores the key) and the login ceremony. Each challenge is
//! deleted as it is used, so an answer cannot be replayed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DbErr};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    PublicKeyCredential, RegisterPublicKeyCredential, SecurityKey, SecurityKeyAuthentication,
    SecurityKeyRegistration, Uuid, Webauthn,
};

use super::service::{
    CHALLENGE_TTL, Rejection, SecondFactorError, SecondFactorService, factor_name,
};
use crate::domain::{Actor, ChallengePurpose, FactorKind};
use crate::services::audit;
use crate::services::console_user::ConsoleUser;
use crate::services::tx;
use crate::services::views::SecondFactor;
use crate::store::{second_factor, second_factor_challenge, second_factors, users};

/// A started WebAuthn registration: pass `options` to `navigator.credentials.create`.
#[derive(Debug)]
pub struct WebauthnRegistration {
    pub registration_id: i64,
    /// `CreationChallengeResponse` as JSON (`{"publicKey": {…}}`).
    pub options: serde_json::Value,
}

/// What waits in `second_factor_challenge.state` during a registration.
#[derive(Serialize, Deserialize)]
struct PendingRegistration {
    name: String,
    state: SecurityKeyRegistration,
}

impl SecondFactorService {
    pub(in crate::services) fn webauthn(&self) -> Result<&Webauthn, SecondFactorError> {
        self.webauthn
            .as_deref()
            .map_err(|reason| SecondFactorError::WebauthnUnavailable(reason.clone()))
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
            .store_challenge(user.id, ChallengePurpose::Register, state)
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
    ) -> Result<SecondFactor, SecondFactorError> {
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
        let known = second_factors::find_by_credential(&self.deps.db, &claimed_id).await?;
        if known.is_some() {
            return Err(SecondFactorError::AlreadyRegistered);
        }
        let challenge = self
            .take_challenge(user.id, registration_id, ChallengePurpose::Register)
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
            let taken = second_factors::find_by_credential(txn, &credential_id)
                .await?
                .is_some();
            if taken {
                return Err(SecondFactorError::AlreadyRegistered);
            }
            let factor = second_factor::ActiveModel {
                user_id: Set(user.id),
                kind: Set(FactorKind::Webauthn),
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
            // A thief with a session must not keep it past the owner's change.
            users::delete_other_sessions(txn, user.id, &user.session).await?;
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
            Ok(factor.into())
        })
    }

    /// Starts a WebAuthn login: returns the challenge id and the request options.
    pub(in crate::services) async fn begin_login_webauthn(
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
        let id = self
            .store_challenge(user_id, ChallengePurpose::Login, state)
            .await?;
        let options = serde_json::to_value(&options).map_err(|error| {
            DbErr::Custom(format!("cannot serialise WebAuthn options: {error}"))
        })?;
        Ok((id, options))
    }

    /// Checks a security key's answer to the login challenge `challenge_id`. The
    /// challenge is used up whatever the outcome.
    pub(in crate::services) async fn check_webauthn(
        &self,
        user_id: i64,
        challenge_id: i64,
        credential_json: &str,
    ) -> Result<Result<(), Rejection>, SecondFactorError> {
        let webauthn = self.webauthn()?;
        let Some(challenge) = self
            .take_challenge(user_id, challenge_id, ChallengePurpose::Login)
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
        let Some(row) =
            second_factors::find_of_user_by_credential(&self.deps.db, user_id, &credential_id)
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
        second_factors::of_kind(&self.deps.db, user_id, FactorKind::Webauthn)
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
        purpose: ChallengePurpose,
        state: String,
    ) -> Result<i64, DbErr> {
        let now = Utc::now();
        // Abandoned ceremonies are swept here rather than by a job: the table stays as
        // small as the number of logins in flight.
        second_factors::delete_expired_challenges(&self.deps.db, now).await?;
        if purpose == ChallengePurpose::Register {
            second_factors::delete_challenges(&self.deps.db, user_id, ChallengePurpose::Register)
                .await?;
        }
        let row = second_factor_challenge::ActiveModel {
            user_id: Set(user_id),
            purpose: Set(purpose),
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
        purpose: ChallengePurpose,
    ) -> Result<Option<second_factor_challenge::Model>, DbErr> {
        let Some(challenge) =
            second_factors::find_challenge(&self.deps.db, user_id, id, purpose).await?
        else {
            return Ok(None);
        };
        let deleted = second_factors::delete_challenge(&self.deps.db, challenge.id).await?;
        Ok(Some(challenge).filter(|c| deleted && c.expires_at > Utc::now()))
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
