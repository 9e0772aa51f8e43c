//! Second factors: the logged-in user enrols and removes authenticator apps and
//! security keys; an administrator resets them for a user who lost theirs.

use async_graphql::{Context, Enum, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::access::{console_user, stepped_up};
use crate::domain::{Actor, FactorKind};
use crate::graphql::errors::GqlResultExt;
use crate::services::{Services, views};

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

impl From<views::SecondFactor> for SecondFactor {
    fn from(row: views::SecondFactor) -> Self {
        Self {
            id: row.id,
            kind: row.kind.into(),
            name: row.name,
            created: row.created,
            last_used: row.last_used,
        }
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

#[derive(Default)]
pub struct SecondFactorsQuery;

#[Object]
impl SecondFactorsQuery {
    /// The logged-in user's second factors, oldest first.
    async fn second_factors(&self, ctx: &Context<'_>) -> Result<Vec<SecondFactor>> {
        let user = console_user(ctx)?;
        let services = ctx.data::<Services>()?;
        Ok(services
            .second_factors
            .list(user)
            .await
            .gql()?
            .into_iter()
            .map(SecondFactor::from)
            .collect())
    }
}

#[derive(Default)]
pub struct SecondFactorsMutation;

#[Object]
impl SecondFactorsMutation {
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
        Ok(ctx
            .data::<Services>()?
            .second_factors
            .confirm_totp(user, factor_id, &code)
            .await
            .gql()?
            .into())
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
        Ok(ctx
            .data::<Services>()?
            .second_factors
            .finish_webauthn(user, registration_id, &credential)
            .await
            .gql()?
            .into())
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

    /// Removes every second factor of a user who lost their phone or security key;
    /// they log in with the password alone until they enrol again. Returns how many
    /// were removed.
    async fn reset_second_factors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's `id`, as `users` lists it.")] user_id: i64,
    ) -> Result<i64> {
        let (by, step_up, services) = stepped_up(ctx)?;
        let actor = Actor::User(by.username.clone());
        let removed = services
            .second_factors
            .reset(user_id, &actor, &step_up)
            .await
            .gql()?;
        Ok(i64::try_from(removed).unwrap_or(i64::MAX))
    }
}
