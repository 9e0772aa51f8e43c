//! Console sessions once the user is known: short-lived access tokens and rotating
//! refresh tokens, in families.
//!
//! Access tokens are HS256 JWTs signed with the key in the data directory, valid for
//! fifteen minutes, carrying the user's token version (bumping it — deactivation, a
//! password reset by someone else — revokes every token at once), the sign-in they
//! belong to and when the user last gave a password or second factor in it. Every
//! request checks that the user is active with that version and that the sign-in
//! still exists, so ending a sign-in ends its access tokens at once too.
//!
//! Refresh tokens are random, stored only as SHA-256 hashes, and replaced on every
//! use. Every token a sign-in hands out shares the sign-in's family; a replaced token
//! is kept, marked used, until it expires. Used again after [`REUSE_GRACE`], it was
//! copied: the whole family ends and the audit log says so. (Within the grace it is
//! two tabs refreshing at once; the slower one is refused and nothing else happens.)

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DbErr};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::audit;
use super::console_user::ConsoleUser;
use super::deps::Deps;
use crate::domain::Actor;
use crate::secret::{Secret, random_token};
use crate::store::{admin_user, refresh_token, users};

const ACCESS_TTL: TimeDelta = TimeDelta::minutes(15);
pub const REFRESH_TTL: TimeDelta = TimeDelta::days(30);
/// Two tabs of one console may trade the same refresh token within this long.
const REUSE_GRACE: TimeDelta = TimeDelta::seconds(30);

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the session has expired or was revoked; log in again")]
    InvalidToken,
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// What a successful login or refresh hands out.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: ConsoleUser,
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    /// Goes into the HttpOnly cookie, never into a response body.
    pub refresh_token: Secret,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// The user's token version when the token was issued.
    ver: i32,
    iat: i64,
    exp: i64,
    /// The sign-in (refresh-token family). Tokens from before families have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    /// When the user last gave a password or second factor (OpenID Connect's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
}

#[derive(Clone)]
pub(super) struct Sessions {
    deps: Deps,
    encoding: Arc<EncodingKey>,
    decoding: Arc<DecodingKey>,
}

impl Sessions {
    pub(super) fn new(deps: Deps, key: &Secret) -> Self {
        Self {
            deps,
            encoding: Arc::new(EncodingKey::from_secret(key.expose().as_bytes())),
            decoding: Arc::new(DecodingKey::from_secret(key.expose().as_bytes())),
        }
    }

    /// A new sign-in: the user just gave every factor.
    pub(super) async fn start(&self, user: &admin_user::Model) -> Result<Session, SessionError> {
        let now = Utc::now();
        self.issue(user, &random_token(128), now).await
    }

    /// Trades a refresh token for a new session of the same sign-in; the old refresh
    /// token stops working.
    pub(super) async fn refresh(&self, refresh: &str) -> Result<Session, SessionError> {
        let db = &self.deps.db;
        let stored = users::find_session(db, &hash(refresh))
            .await?
            .ok_or(SessionError::InvalidToken)?;
        let now = Utc::now();
        if let Some(used_at) = stored.used_at {
            if now - used_at > REUSE_GRACE {
                self.end_copied_family(&stored).await?;
            }
            return Err(SessionError::InvalidToken);
        }
        // Two refreshes racing with one token: only the one that marked it wins.
        if stored.expires_at < now || !users::mark_used(db, stored.id, now).await? {
            return Err(SessionError::InvalidToken);
        }
        let user = users::find_active(db, stored.user_id)
            .await?
            .ok_or(SessionError::InvalidToken)?;
        let authenticated_at = stored.authenticated_at.unwrap_or(stored.created_at);
        self.issue(&user, &stored.family, authenticated_at).await
    }

    async fn end_copied_family(&self, stored: &refresh_token::Model) -> Result<(), SessionError> {
        let db = &self.deps.db;
        let ended = users::delete_family(db, &stored.family).await?;
        if ended > 0 {
            let username = users::find(db, stored.user_id)
                .await?
                .map_or_else(|| stored.user_id.to_string(), |user| user.username);
            tracing::warn!(%username, "a replaced refresh token was used again; its sign-in is ended");
            audit::record(
                db,
                &Actor::System,
                None,
                format!(
                    "A refresh token of {username} was used again after it had been replaced \
                     (copied?); every session of that sign-in was ended"
                ),
            )
            .await?;
        }
        Ok(())
    }

    /// Ends the sign-in the refresh token belongs to.
    pub(super) async fn logout(&self, refresh: &str) -> Result<(), SessionError> {
        if let Some(stored) = users::find_session(&self.deps.db, &hash(refresh)).await? {
            users::delete_family(&self.deps.db, &stored.family).await?;
        }
        Ok(())
    }

    /// The user gave a password or second factor again in the sign-in `user.session`:
    /// a new access token that says so (the refresh token keeps working and says so
    /// from now on).
    pub(super) async fn reauthenticated(
        &self,
        user: &admin_user::Model,
        session: &str,
    ) -> Result<(String, DateTime<Utc>), SessionError> {
        let now = Utc::now();
        users::mark_authenticated(&self.deps.db, session, now).await?;
        self.access_token(user, session, now)
    }

    /// The user behind an access token and when the token stops being valid, if the
    /// token is genuine, unexpired, its sign-in still exists and the user is still
    /// active with the same token version.
    pub(super) async fn authenticate_until(
        &self,
        access_token: &str,
    ) -> Result<(ConsoleUser, DateTime<Utc>), SessionError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(access_token, &self.decoding, &validation)
            .map_err(|_| SessionError::InvalidToken)?
            .claims;
        let id: i64 = claims.sub.parse().map_err(|_| SessionError::InvalidToken)?;
        let user = users::find_active(&self.deps.db, id)
            .await?
            .filter(|user| user.token_version == claims.ver)
            .ok_or(SessionError::InvalidToken)?;
        let session = claims.sid.unwrap_or_default();
        // Tokens from before families last 15 minutes at most; they pass unchecked.
        if !session.is_empty() && !users::family_alive(&self.deps.db, &session, Utc::now()).await? {
            return Err(SessionError::InvalidToken);
        }
        let expires = DateTime::from_timestamp(claims.exp, 0).ok_or(SessionError::InvalidToken)?;
        let authenticated_at = claims
            .auth_time
            .and_then(|at| DateTime::from_timestamp(at, 0))
            .unwrap_or(DateTime::UNIX_EPOCH);
        Ok((
            ConsoleUser {
                id: user.id,
                username: user.username,
                session,
                authenticated_at,
            },
            expires,
        ))
    }

    async fn issue(
        &self,
        user: &admin_user::Model,
        family: &str,
        authenticated_at: DateTime<Utc>,
    ) -> Result<Session, SessionError> {
        let (access_token, access_expires_at) =
            self.access_token(user, family, authenticated_at)?;
        let now = Utc::now();
        let refresh = Secret::new(random_token(256));
        refresh_token::ActiveModel {
            user_id: Set(user.id),
            token_hash: Set(hash(refresh.expose())),
            created_at: Set(now),
            expires_at: Set(now + REFRESH_TTL),
            family: Set(family.to_owned()),
            used_at: Set(None),
            authenticated_at: Set(Some(authenticated_at)),
            ..Default::default()
        }
        .insert(&self.deps.db)
        .await?;
        Ok(Session {
            user: ConsoleUser {
                id: user.id,
                username: user.username.clone(),
                session: family.to_owned(),
                authenticated_at,
            },
            access_token,
            access_expires_at,
            refresh_token: refresh,
        })
    }

    fn access_token(
        &self,
        user: &admin_user::Model,
        family: &str,
        authenticated_at: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), SessionError> {
        let now = Utc::now();
        let expires_at = now + ACCESS_TTL;
        let claims = Claims {
            sub: user.id.to_string(),
            ver: user.token_version,
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            sid: Some(family.to_owned()),
            auth_time: Some(authenticated_at.timestamp()),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|error| {
            SessionError::Database(DbErr::Custom(format!("cannot sign a token: {error}")))
        })?;
        Ok((token, expires_at))
    }
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
