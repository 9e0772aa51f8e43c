//! How subscribers are found, listed and counted.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::entities::subscriber::{Column, Entity, Model};
use crate::domain::SubscriberEmail;

pub async fn find(conn: &impl ConnectionTrait, id: i64) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(conn).await
}

pub async fn find_by_email(
    conn: &impl ConnectionTrait,
    email: &SubscriberEmail,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::Email.eq(email.as_str()))
        .one(conn)
        .await
}

/// The subscriber whose confirm and unsubscribe links carry `token`.
pub async fn find_by_token(
    conn: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::Token.eq(token))
        .one(conn)
        .await
}

/// Deletes the subscriber holding `token`; whether there was one.
pub async fn delete_by_token(conn: &impl ConnectionTrait, token: &str) -> Result<bool, DbErr> {
    let deleted = Entity::delete_many()
        .filter(Column::Token.eq(token))
        .exec(conn)
        .await?;
    Ok(deleted.rows_affected > 0)
}

pub async fn delete(conn: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    Entity::delete_by_id(id).exec(conn).await?;
    Ok(())
}

/// Subscribers whose address contains `text` (already lower case; empty for all), in
/// address order.
pub async fn search(
    conn: &impl ConnectionTrait,
    text: &str,
    offset: u64,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut select = Entity::find();
    if !text.is_empty() {
        select = select.filter(Column::Email.contains(text));
    }
    select
        .order_by_asc(Column::Email)
        .offset(offset)
        .limit(limit)
        .all(conn)
        .await
}

/// How many subscribers there are, and how many of them confirmed.
pub async fn count(conn: &impl ConnectionTrait) -> Result<(u64, u64), DbErr> {
    let active = Entity::find()
        .filter(Column::Active.eq(true))
        .count(conn)
        .await?;
    let all = Entity::find().count(conn).await?;
    Ok((all, active))
}

/// Every subscriber, oldest first.
pub async fn all(conn: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find().order_by_asc(Column::Id).all(conn).await
}
