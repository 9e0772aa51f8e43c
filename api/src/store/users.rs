//! How console users and their refresh tokens (sessions) are found.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{admin_user, refresh_token};

pub async fn find(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<admin_user::Model>, DbErr> {
    admin_user::Entity::find_by_id(id).one(conn).await
}

/// The user, locked against concurrent changes until the transaction `conn` ends.
pub async fn lock(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<admin_user::Model>, DbErr> {
    admin_user::Entity::find_by_id(id)
        .lock_exclusive()
        .one(conn)
        .await
}

/// The user, unless it does not exist or was deactivated.
pub async fn find_active(
    conn: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<admin_user::Model>, DbErr> {
    admin_user::Entity::find_by_id(id)
        .filter(admin_user::Column::Active.eq(true))
        .one(conn)
        .await
}

/// The user with this username, active or not.
pub async fn find_by_username(
    conn: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<admin_user::Model>, DbErr> {
    admin_user::Entity::find()
        .filter(admin_user::Column::Username.eq(username))
        .one(conn)
        .await
}

pub async fn find_active_by_username(
    conn: &impl ConnectionTrait,
    username: &str,
) -> Result<Option<admin_user::Model>, DbErr> {
    admin_user::Entity::find()
        .filter(admin_user::Column::Username.eq(username))
        .filter(admin_user::Column::Active.eq(true))
        .one(conn)
        .await
}

/// Every user, by username.
pub async fn all(conn: &impl ConnectionTrait) -> Result<Vec<admin_user::Model>, DbErr> {
    admin_user::Entity::find()
        .order_by_asc(admin_user::Column::Username)
        .all(conn)
        .await
}

/// The session of a refresh token, by the token's hash (the token itself is never
/// stored).
pub async fn find_session(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<refresh_token::Model>, DbErr> {
    refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token_hash))
        .one(conn)
        .await
}

/// Deletes one session; whether it was still there.
pub async fn delete_session(conn: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let deleted = refresh_token::Entity::delete_by_id(id).exec(conn).await?;
    Ok(deleted.rows_affected > 0)
}

/// Ends the session of a refresh token, if it still exists.
pub async fn delete_session_by_hash(
    conn: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<(), DbErr> {
    refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::TokenHash.eq(token_hash))
        .exec(conn)
        .await?;
    Ok(())
}

/// Ends every session of the user.
pub async fn delete_sessions(conn: &impl ConnectionTrait, user_id: i64) -> Result<(), DbErr> {
    refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}
