//! Console users: the list, creating users, deactivating them and resetting passwords.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::access::{actor, stepped_up};
use crate::domain::Actor;
use crate::graphql::errors::GqlResultExt;
use crate::services::{ConsoleUser, views};

/// A console user.
#[derive(SimpleObject)]
pub struct User {
    /// Identifies the user, e.g. for `setUserActive`.
    id: i64,
    /// The name the user logs in with.
    username: String,
}

impl From<ConsoleUser> for User {
    fn from(user: ConsoleUser) -> Self {
        Self::new(user.id, user.username)
    }
}

impl User {
    pub(super) fn new(id: i64, username: String) -> Self {
        Self { id, username }
    }
}

/// A console user as the user list shows it.
#[derive(SimpleObject)]
pub struct UserAccount {
    /// Identifies the user, e.g. for `setUserActive` or `resetPassword`.
    id: i64,
    /// The name the user logs in with.
    username: String,
    /// May log in; deactivated users cannot.
    active: bool,
    /// When the user was created.
    created: DateTime<Utc>,
    /// When the user last logged in; absent if never.
    last_login: Option<DateTime<Utc>>,
}

impl From<views::UserAccount> for UserAccount {
    fn from(user: views::UserAccount) -> Self {
        Self {
            id: user.id,
            username: user.username,
            active: user.active,
            created: user.created,
            last_login: user.last_login,
        }
    }
}

#[derive(Default)]
pub struct UsersQuery;

#[Object]
impl UsersQuery {
    /// Every console user.
    async fn users(&self, ctx: &Context<'_>) -> Result<Vec<UserAccount>> {
        let (_, services) = actor(ctx)?;
        Ok(services
            .users
            .list()
            .await
            .gql()?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

#[derive(Default)]
pub struct UsersMutation;

#[Object]
impl UsersMutation {
    /// Creates a console user.
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The name to log in with.")] username: String,
        #[graphql(desc = "The initial password.")] password: String,
    ) -> Result<User> {
        let (by, step_up, services) = stepped_up(ctx)?;
        let actor = Actor::User(by.username.clone());
        let user = services
            .users
            .create(&username, &password, &actor, &step_up)
            .await
            .gql()?;
        Ok(User {
            id: user.id,
            username: user.username,
        })
    }

    /// Deactivates a user (ending every session at once) or reactivates them.
    async fn set_user_active(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's `id`, as `users` lists it.")] id: i64,
        #[graphql(desc = "True to reactivate, false to deactivate.")] active: bool,
    ) -> Result<UserAccount> {
        let (by, step_up, services) = stepped_up(ctx)?;
        let actor = Actor::User(by.username.clone());
        Ok(services
            .users
            .set_active(id, active, &actor, &step_up)
            .await
            .gql()?
            .into())
    }

    /// Sets a new password for a user and ends their sessions.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's `id`, as `users` lists it.")] id: i64,
        #[graphql(desc = "The new password.")] password: String,
    ) -> Result<bool> {
        let (by, step_up, services) = stepped_up(ctx)?;
        services
            .users
            .reset_password(id, &password, by, &step_up)
            .await
            .gql()?;
        Ok(true)
    }
}
