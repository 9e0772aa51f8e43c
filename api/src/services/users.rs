//! Console users: creation with Argon2id password hashes, and password checks.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::Arc;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DbErr};
use tokio::sync::Semaphore;

use super::console_user::{ConsoleUser, StepUp};
use super::deps::Deps;
use super::views::UserAccount;
use super::{audit, tx};
use crate::domain::Actor;
use crate::store::{admin_user, users};

pub const MIN_PASSWORD_CHARS: usize = 10;
/// Argon2id hash of a random password nobody knows, verified against for unknown users.
const UNKNOWN_USER_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Xh3n2Zq0mS0eGm1bEo4jN4pVbUu8e6l0cKX4Vq9kq0A";
const MAX_USERNAME_CHARS: usize = 64;
/// Longer passwords are refused before they are hashed: Argon2 reads all of it.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a user named {0:?} already exists")]
    UsernameTaken(String),
    #[error("the username must be 1 to {MAX_USERNAME_CHARS} letters, digits or . _ @ -")]
    InvalidUsername,
    #[error("the password is too weak: {0}")]
    WeakPassword(&'static str),
    #[error("user {0} does not exist")]
    NotFound(i64),
    #[error("you cannot deactivate your own account")]
    OwnAccount,
    #[error("passwords have at most {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
    #[error("the server is checking many passwords at once; try again in a moment")]
    HashingBusy,
    #[error("could not hash the password: {0}")]
    Hashing(String),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl tx::DbError for UserError {
    fn db_error(&self) -> Option<&DbErr> {
        match self {
            Self::Database(error) => Some(error),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct UserService {
    deps: Deps,
    /// Argon2 takes a CPU and 19 MiB for a while: as many at once as there are CPUs,
    /// so a login flood cannot exhaust either.
    hashing: Arc<Semaphore>,
}

impl UserService {
    pub(super) fn new(deps: Deps) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            deps,
            hashing: Arc::new(Semaphore::new(cpus)),
        }
    }

    /// Creates an active console user.
    pub async fn create(
        &self,
        username: &str,
        password: &str,
        actor: &Actor,
        _recently_authenticated: &StepUp,
    ) -> Result<UserAccount, UserError> {
        let username = username.trim();
        let valid_username = !username.is_empty()
            && username.chars().count() <= MAX_USERNAME_CHARS
            && username
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
        if !valid_username {
            return Err(UserError::InvalidUsername);
        }
        check_password_strength(username, password)?;
        let hash = self.hash_password(password).await?;
        tx::write_tx!(&self.deps.db, UserError, |txn| {
            let taken = users::find_by_username(txn, username).await?.is_some();
            if taken {
                return Err(UserError::UsernameTaken(username.to_owned()));
            }
            let user = admin_user::ActiveModel {
                username: Set(username.to_owned()),
                password_hash: Set(hash.clone()),
                active: Set(true),
                created_at: Set(Utc::now()),
                last_login_at: Set(None),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            audit::record(txn, actor, None, format!("Created the user {username}")).await?;
            Ok(user.into())
        })
    }

    /// Every console user, by username.
    pub async fn list(&self) -> Result<Vec<UserAccount>, UserError> {
        let all = users::all(&self.deps.db).await?;
        Ok(all.into_iter().map(UserAccount::from).collect())
    }

    /// Deactivates a user or brings them back. Deactivating ends every session at
    /// once; a user cannot deactivate themselves, so the console is never locked out
    /// by accident.
    pub async fn set_active(
        &self,
        id: i64,
        active: bool,
        actor: &Actor,
        _recently_authenticated: &StepUp,
    ) -> Result<UserAccount, UserError> {
        if !active
            && matches!(actor, Actor::User(name) if self.username_of(id).await?.as_deref() == Some(name.as_str()))
        {
            return Err(UserError::OwnAccount);
        }
        tx::write_tx!(&self.deps.db, UserError, |txn| {
            let user = find(txn, id).await?;
            let username = user.username.clone();
            let updated = admin_user::ActiveModel {
                id: Set(id),
                active: Set(active),
                token_version: Set(user.token_version + 1),
                ..Default::default()
            }
            .update(txn)
            .await?;
            end_sessions(txn, id).await?;
            let what = if active { "Reactivated" } else { "Deactivated" };
            audit::record(txn, actor, None, format!("{what} the user {username}")).await?;
            Ok(updated.into())
        })
    }

    /// Sets a new password and ends every session of the user, except, when users set
    /// their own, the session they set it in.
    pub async fn reset_password(
        &self,
        id: i64,
        password: &str,
        by: &ConsoleUser,
        _recently_authenticated: &StepUp,
    ) -> Result<(), UserError> {
        let username = self.username_of(id).await?.ok_or(UserError::NotFound(id))?;
        check_password_strength(&username, password)?;
        let hash = self.hash_password(password).await?;
        let own = by.id == id;
        tx::write_tx!(&self.deps.db, UserError, |txn| {
            let user = find(txn, id).await?;
            // Someone else's: every token goes at once. One's own: the other sessions
            // end with their sign-ins, and this one carries on.
            let token_version = if own {
                user.token_version
            } else {
                user.token_version + 1
            };
            admin_user::ActiveModel {
                id: Set(id),
                password_hash: Set(hash.clone()),
                token_version: Set(token_version),
                ..Default::default()
            }
            .update(txn)
            .await?;
            if own {
                users::delete_other_sessions(txn, id, &by.session).await?;
            } else {
                end_sessions(txn, id).await?;
            }
            let actor = Actor::User(by.username.clone());
            let what = if own {
                "Changed their own password; their other sessions ended".to_owned()
            } else {
                format!("Reset the password of {username}")
            };
            audit::record(txn, &actor, None, what).await?;
            Ok(())
        })
    }

    async fn username_of(&self, id: i64) -> Result<Option<String>, UserError> {
        Ok(users::find(&self.deps.db, id)
            .await?
            .map(|user| user.username))
    }

    /// Refuses passwords an attacker would guess first, before anything is stored.
    pub fn check_password(username: &str, password: &str) -> Result<(), UserError> {
        check_password_strength(username, password)
    }

    /// The active user with this username and password, if any. When every CPU is
    /// already hashing, answers [`UserError::HashingBusy`] at once rather than queueing
    /// work a flood could pile up without end.
    pub(super) async fn verify(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<admin_user::Model>, UserError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(UserError::PasswordTooLong);
        }
        let _permit = self
            .hashing
            .try_acquire()
            .map_err(|_| UserError::HashingBusy)?;
        let user = users::find_active_by_username(&self.deps.db, username.trim()).await?;
        // An unknown user costs the same hash as a known one, so timing does not tell
        // an attacker which usernames exist.
        let hash = user
            .as_ref()
            .map_or_else(|| UNKNOWN_USER_HASH.to_owned(), |u| u.password_hash.clone());
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
        .map_err(|error| UserError::Hashing(error.to_string()))?;
        Ok(user.filter(|_| matches))
    }

    /// Argon2id with the crate's defaults (the OWASP-recommended parameters), off the
    /// async threads because it is deliberately slow. Waits its turn: only signed-in
    /// users and the command line set passwords.
    async fn hash_password(&self, password: &str) -> Result<String, UserError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|error| UserError::Hashing(error.to_string()))?;
        let password = password.to_owned();
        hash_off_thread(password).await
    }
}

async fn find(txn: &sea_orm::DatabaseTransaction, id: i64) -> Result<admin_user::Model, UserError> {
    users::lock(txn, id).await?.ok_or(UserError::NotFound(id))
}

/// Refresh tokens outlive the token version; remove them too.
async fn end_sessions(txn: &sea_orm::DatabaseTransaction, id: i64) -> Result<(), DbErr> {
    users::delete_sessions(txn, id).await
}

/// Rejects passwords an attacker would guess first.
fn check_password_strength(username: &str, password: &str) -> Result<(), UserError> {
    if password.trim().is_empty() {
        return Err(UserError::WeakPassword("it is empty"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(UserError::PasswordTooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(UserError::WeakPassword("use at least 10 characters"));
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(UserError::WeakPassword("it must differ from the username"));
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err(UserError::WeakPassword("it repeats one character"));
    }
    Ok(())
}

async fn hash_off_thread(password: String) -> Result<String, UserError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|error| UserError::Hashing(error.to_string()))
    })
    .await
    .map_err(|error| UserError::Hashing(error.to_string()))?
}

#[cfg(test)]
mod tests {
    use argon2::Argon2;
    use argon2::password_hash::{PasswordHash, PasswordVerifier};

    use crate::services::users::{UNKNOWN_USER_HASH, check_password_strength};

    #[test]
    fn the_decoy_hash_costs_a_real_verification() {
        let parsed = PasswordHash::new(UNKNOWN_USER_HASH).expect("a valid PHC string");
        assert!(
            Argon2::default()
                .verify_password(b"guess", &parsed)
                .is_err()
        );
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        let reason = |password| {
            check_password_strength("admin", password)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(reason(""), "the password is too weak: it is empty");
        assert_eq!(
            reason("short"),
            "the password is too weak: use at least 10 characters"
        );
        assert_eq!(
            reason("aaaaaaaaaaaa"),
            "the password is too weak: it repeats one character"
        );
        assert!(check_password_strength("admin", "correct horse battery").is_ok());
    }
}
