//! Lookups of single jobs outside the queue's claim-and-settle cycle (`crate::jobs`).

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use super::entities::job::{Column, Entity};

/// What kind of job `id` is, if it exists.
pub async fn kind_of(conn: &impl ConnectionTrait, id: i64) -> Result<Option<String>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::Kind)
        .filter(Column::Id.eq(id))
        .into_tuple()
        .one(conn)
        .await
}
