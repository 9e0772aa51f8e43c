//! Console sessions: login, short-lived access tokens, rotating refresh tokens, logout.
//!
//! Access tokens are HS256 JWTs signed with the key in the data directory, valid for
//! fifteen minutes, carrying the user's token version: bumping it (password change,
//! deactivation) revokes every token at once, because every request checks it. Refresh
//! tokens are random, stored only as SHA-256 hashes, and replaced on every use.
//!
//! Failed logins are limited per username and per client address, in memory per
//! replica. Unknown users and wrong passwords get the same answer, after the same work.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Deps, UserError, UserService};
use crate::ratelimit::{self, SlidingWindow};
use crate::secret::{Secret, random_token};
use crate::store::{admin_user, refresh_token};

const ACCESS_TTL: TimeDelta = TimeDelta::minutes(15);
pub const REFRESH_TTL: TimeDelta = TimeDelta::days(30);
const FAILURE_WINDOW: Duration = Duration::from_mins(15);
const MAX_FAILURES_PER_USER: usize = 5;
const MAX_FAILURES_PER_ADDRESS: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("too many failed logins; try again in {minutes} minutes")]
    TooManyAttempts { minutes: u64 },
    #[error("the session has expired or was revoked; log in again")]
    InvalidToken,
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error(transparent)]
    User(#[from] UserError),
}

/// A logged-in console user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleUser {
    pub id: i64,
    pub username: String,
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
}

#[derive(Clone)]
pub struct AuthService {
    deps: Deps,
    users: UserService,
    encoding: Arc<EncodingKey>,
    decoding: Arc<DecodingKey>,
    failures_per_user: SlidingWindow,
    failures_per_address: SlidingWindow,
}

impl AuthService {
    pub(super) fn new(deps: Deps, users: UserService, key: &Secret) -> Self {
        Self {
            deps,
            users,
            encoding: Arc::new(EncodingKey::from_secret(key.expose().as_bytes())),
            decoding: Arc::new(DecodingKey::from_secret(key.expose().as_bytes())),
            failures_per_user: SlidingWindow::new(FAILURE_WINDOW, MAX_FAILURES_PER_USER),
            failures_per_address: SlidingWindow::new(FAILURE_WINDOW, MAX_FAILURES_PER_ADDRESS),
        }
    }

    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: IpAddr,
    ) -> Result<Session, AuthError> {
        let user_key = format!("user:{}", username.trim().to_lowercase());
        let address_key = format!("addr:{client}");
        let too_many = |wait| AuthError::TooManyAttempts {
            minutes: ratelimit::minutes(wait),
        };
        self.failures_per_user.check(&user_key).map_err(too_many)?;
        self.failures_per_address
            .check(&address_key)
            .map_err(too_many)?;
        let Some(user) = self.users.verify(username, password).await? else {
            self.failures_per_user.hit(&user_key);
            self.failures_per_address.hit(&address_key);
            return Err(AuthError::InvalidCredentials);
        };
        self.failures_per_user.forget(&user_key);
        admin_user::ActiveModel {
            id: Set(user.id),
            last_login_at: Set(Some(Utc::now())),
            ..Default::default()
        }
        .update(&self.deps.db)
        .await?;
        self.issue(&user).await
    }

    /// Trades a refresh token for a new session; the old refresh token stops working.
    pub async fn refresh(&self, refresh: &str) -> Result<Session, AuthError> {
        let stored = refresh_token::Entity::find()
            .filter(refresh_token::Column::TokenHash.eq(hash(refresh)))
            .one(&self.deps.db)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        let deleted = refresh_token::Entity::delete_by_id(stored.id)
            .exec(&self.deps.db)
            .await?;
        // Two refreshes racing with one token: only the one that deleted it wins.
        if deleted.rows_affected == 0 || stored.expires_at < Utc::now() {
            return Err(AuthError::InvalidToken);
        }
        let user = admin_user::Entity::find_by_id(stored.user_id)
            .filter(admin_user::Column::Active.eq(true))
            .one(&self.deps.db)
            .await?
            .ok_or(AuthError::InvalidToken)?;
        self.issue(&user).await
    }

    pub async fn logout(&self, refresh: &str) -> Result<(), AuthError> {
        refresh_token::Entity::delete_many()
            .filter(refresh_token::Column::TokenHash.eq(hash(refresh)))
            .exec(&self.deps.db)
            .await?;
        Ok(())
    }

    /// The user behind an access token, if the token is genuine, unexpired, and the
    /// user is still active with the same token version.
    pub async fn authenticate(&self, access_token: &str) -> Result<ConsoleUser, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(access_token, &self.decoding, &validation)
            .map_err(|_| AuthError::InvalidToken)?
            .claims;
        let id: i64 = claims.sub.parse().map_err(|_| AuthError::InvalidToken)?;
        let user = admin_user::Entity::find_by_id(id)
            .filter(admin_user::Column::Active.eq(true))
            .one(&self.deps.db)
            .await?
            .filter(|user| user.token_version == claims.ver)
            .ok_or(AuthError::InvalidToken)?;
        Ok(ConsoleUser {
            id: user.id,
            username: user.username,
        })
    }

    async fn issue(&self, user: &admin_user::Model) -> Result<Session, AuthError> {
        let now = Utc::now();
        let access_expires_at = now + ACCESS_TTL;
        let claims = Claims {
            sub: user.id.to_string(),
            ver: user.token_version,
            iat: now.timestamp(),
            exp: access_expires_at.timestamp(),
        };
        let access_token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(
                |error| AuthError::Database(DbErr::Custom(format!("cannot sign a token: {error}"))),
            )?;
        let refresh = Secret::new(random_token(256));
        refresh_token::ActiveModel {
            user_id: Set(user.id),
            token_hash: Set(hash(refresh.expose())),
            created_at: Set(now),
            expires_at: Set(now + REFRESH_TTL),
            ..Default::default()
        }
        .insert(&self.deps.db)
        .await?;
        Ok(Session {
            user: ConsoleUser {
                id: user.id,
                username: user.username.clone(),
            },
            access_token,
            access_expires_at,
            refresh_token: refresh,
        })
    }
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
