//! How console users and their refresh tokens (sessions) are found.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
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

/// Marks a refresh token as traded for its successor; false when another request
/// traded it first.
pub async fn mark_used(
    conn: &impl ConnectionTrait,
    id: i64,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let updated = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(at))
        .filter(refresh_token::Column::Id.eq(id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Whether the sign-in still has a token that can be traded (logout, reuse and
/// "end other sessions" delete them all).
pub async fn family_alive(
    conn: &impl ConnectionTrait,
    family: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let live = refresh_token::Entity::find()
        .filter(refresh_token::Column::Family.eq(family))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::ExpiresAt.gt(now))
        .count(conn)
        .await?;
    Ok(live > 0)
}

/// Ends one sign-in: every token of the family, rotated or not.
pub async fn delete_family(conn: &impl ConnectionTrait, family: &str) -> Result<u64, DbErr> {
    let deleted = refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::Family.eq(family))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected)
}

/// Records that the user just gave a password or second factor in this sign-in.
pub async fn mark_authenticated(
    conn: &impl ConnectionTrait,
    family: &str,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::AuthenticatedAt, Expr::value(at))
        .filter(refresh_token::Column::Family.eq(family))
        .exec(conn)
        .await?;
    Ok(())
}

/// Ends every session of the user but the sign-in `keep`.
pub async fn delete_other_sessions(
    conn: &impl ConnectionTrait,
    user_id: i64,
    keep: &str,
) -> Result<(), DbErr> {
    refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::Family.ne(keep))
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
