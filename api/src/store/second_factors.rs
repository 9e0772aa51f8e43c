//! How second factors and the state of WebAuthn ceremonies are found.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use super::entities::{second_factor, second_factor_challenge};
use crate::domain::{ChallengePurpose, FactorKind};

/// The user's confirmed factors, oldest first.
pub async fn confirmed(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Vec<second_factor::Model>, DbErr> {
    second_factor::Entity::find()
        .filter(second_factor::Column::UserId.eq(user_id))
        .filter(second_factor::Column::Confirmed.eq(true))
        .order_by_asc(second_factor::Column::Id)
        .all(conn)
        .await
}

pub async fn count_confirmed(conn: &impl ConnectionTrait, user_id: i64) -> Result<u64, DbErr> {
    second_factor::Entity::find()
        .filter(second_factor::Column::UserId.eq(user_id))
        .filter(second_factor::Column::Confirmed.eq(true))
        .count(conn)
        .await
}

/// The user's confirmed factors of one kind.
pub async fn confirmed_of_kind(
    conn: &impl ConnectionTrait,
    user_id: i64,
    kind: FactorKind,
) -> Result<Vec<second_factor::Model>, DbErr> {
    second_factor::Entity::find()
        .filter(second_factor::Column::UserId.eq(user_id))
        .filter(second_factor::Column::Kind.eq(kind))
        .filter(second_factor::Column::Confirmed.eq(true))
        .all(conn)
        .await
}

/// The user's factors of one kind, confirmed or not.
pub async fn of_kind(
    conn: &impl ConnectionTrait,
    user_id: i64,
    kind: FactorKind,
) -> Result<Vec<second_factor::Model>, DbErr> {
    second_factor::Entity::find()
        .filter(second_factor::Column::UserId.eq(user_id))
        .filter(second_factor::Column::Kind.eq(kind))
        .all(conn)
        .await
}

/// One factor of the user, unless it belongs to someone else.
pub async fn find_of_user(
    conn: &impl ConnectionTrait,
    user_id: i64,
    id: i64,
) -> Result<Option<second_factor::Model>, DbErr> {
    second_factor::Entity::find_by_id(id)
        .filter(second_factor::Column::UserId.eq(user_id))
        .one(conn)
        .await
}

/// A TOTP factor of the user still waiting for its first code.
pub async fn find_unconfirmed_totp(
    conn: &impl ConnectionTrait,
    user_id: i64,
    id: i64,
) -> Result<Option<second_factor::Model>, DbErr> {
    second_factor::Entity::find_by_id(id)
        .filter(second_factor::Column::UserId.eq(user_id))
        .filter(second_factor::Column::Kind.eq(FactorKind::Totp))
        .filter(second_factor::Column::Confirmed.eq(false))
        .one(conn)
        .await
}

/// The security key with this credential id, of any user.
pub async fn find_by_credential(
    conn: &impl ConnectionTrait,
    credential_id: &str,
) -> Result<Option<second_factor::Model>, DbErr> {
    second_factor::Entity::find()
        .filter(second_factor::Column::CredentialId.eq(credential_id))
        .one(conn)
        .await
}

pub async fn find_of_user_by_credential(
    conn: &impl ConnectionTrait,
    user_id: i64,
    credential_id: &str,
) -> Result<Option<second_factor::Model>, DbErr> {
    second_factor::Entity::find()
        .filter(second_factor::Column::UserId.eq(user_id))
        .filter(second_factor::Column::CredentialId.eq(credential_id))
        .one(conn)
        .await
}

pub async fn delete(conn: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    second_factor::Entity::delete_by_id(id).exec(conn).await?;
    Ok(())
}

/// Forgets the user's enrolments that never got their first code.
pub async fn delete_unconfirmed(conn: &impl ConnectionTrait, user_id: i64) -> Result<(), DbErr> {
    second_factor::Entity::delete_many()
        .filter(second_factor::Column::UserId.eq(user_id))
        .filter(second_factor::Column::Confirmed.eq(false))
        .exec(conn)
        .await?;
    Ok(())
}

/// Forgets every factor of the user and every ceremony in flight.
pub async fn delete_all_of_user(conn: &impl ConnectionTrait, user_id: i64) -> Result<(), DbErr> {
    second_factor::Entity::delete_many()
        .filter(second_factor::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    second_factor_challenge::Entity::delete_many()
        .filter(second_factor_challenge::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records TOTP time step `step` as used, unless that step or a newer one already was;
/// whether it was recorded. The condition sits in the UPDATE so that concurrent logins
/// with one code cannot both pass.
pub async fn use_totp_step(
    conn: &impl ConnectionTrait,
    id: i64,
    step: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let updated = second_factor::Entity::update_many()
        .col_expr(second_factor::Column::LastStep, Expr::value(step))
        .col_expr(second_factor::Column::LastUsedAt, Expr::value(now))
        .filter(second_factor::Column::Id.eq(id))
        .filter(
            Condition::any()
                .add(second_factor::Column::LastStep.is_null())
                .add(second_factor::Column::LastStep.lt(step)),
        )
        .exec(conn)
        .await?;
    Ok(updated.rows_affected == 1)
}

/// Forgets ceremonies that expired before `now`.
pub async fn delete_expired_challenges(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    second_factor_challenge::Entity::delete_many()
        .filter(second_factor_challenge::Column::ExpiresAt.lt(now))
        .exec(conn)
        .await?;
    Ok(())
}

/// Forgets the user's ceremonies of one purpose.
pub async fn delete_challenges(
    conn: &impl ConnectionTrait,
    user_id: i64,
    purpose: ChallengePurpose,
) -> Result<(), DbErr> {
    second_factor_challenge::Entity::delete_many()
        .filter(second_factor_challenge::Column::UserId.eq(user_id))
        .filter(second_factor_challenge::Column::Purpose.eq(purpose))
        .exec(conn)
        .await?;
    Ok(())
}

/// A ceremony's state, unless it belongs to another user or purpose; expired ones too
/// (the caller checks, after deleting it).
pub async fn find_challenge(
    conn: &impl ConnectionTrait,
    user_id: i64,
    id: i64,
    purpose: ChallengePurpose,
) -> Result<Option<second_factor_challenge::Model>, DbErr> {
    second_factor_challenge::Entity::find_by_id(id)
        .filter(second_factor_challenge::Column::UserId.eq(user_id))
        .filter(second_factor_challenge::Column::Purpose.eq(purpose))
        .one(conn)
        .await
}

/// Deletes a ceremony's state; whether this call deleted it.
pub async fn delete_challenge(conn: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let deleted = second_factor_challenge::Entity::delete_by_id(id)
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected == 1)
}
