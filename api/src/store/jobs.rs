//! Lookups of single jobs outside the queue's claim-and-settle cycle (`crate::jobs`).

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::job::{Column, Entity, Model};
use crate::domain::JobState;

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

/// Jobs in one state, the ones that need attention first: the oldest pending (they are
/// late), the most recently failed dead ones.
pub async fn in_state(
    conn: &impl ConnectionTrait,
    state: JobState,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let query = Entity::find().filter(Column::Status.eq(state)).limit(limit);
    let query = if matches!(state, JobState::Dead | JobState::Done) {
        query.order_by_desc(Column::UpdatedAt)
    } else {
        query.order_by_asc(Column::RunAt)
    };
    query.order_by_desc(Column::Id).all(conn).await
}
