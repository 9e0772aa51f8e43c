//! How incident rows are found: by id (locked for a change or not), by where they stand
//! in the lifecycle, and the lists of the public surfaces and the console.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use super::entities::incident::{self, Column, Entity, Model};
use crate::domain::{IncidentId, IncidentStatus, Severity};

/// Which incidents a list shows; empty lists and `None` mean "any".
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter<'a> {
    pub statuses: &'a [IncidentStatus],
    pub severities: &'a [Severity],
    /// Incidents that overlap `[from, to)`.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Case-insensitive, in the title and summary.
    pub text: Option<&'a str>,
}

impl Filter<'_> {
    fn condition(&self) -> Condition {
        let mut condition = Condition::all();
        if !self.statuses.is_empty() {
            condition = condition.add(Column::Status.is_in(self.statuses.iter().copied()));
        }
        if !self.severities.is_empty() {
            condition = condition.add(Column::Severity.is_in(self.severities.iter().copied()));
        }
        if let Some(to) = self.to {
            condition = condition.add(Column::StartAt.lt(to));
        }
        if let Some(from) = self.from {
            condition = condition.add(ended_after(from));
        }
        if let Some(text) = self.text.map(str::trim).filter(|t| !t.is_empty()) {
            // lower() on both sides: PostgreSQL's LIKE is case-sensitive, SQLite's not.
            let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
            let lower_like = |column: Column| {
                Expr::expr(Func::lower(Expr::col(column)))
                    .like(LikeExpr::new(pattern.clone()).escape('\\'))
            };
            condition = condition.add(
                Condition::any()
                    .add(lower_like(Column::Title))
                    .add(lower_like(Column::Summary)),
            );
        }
        condition
    }
}

/// Still going at `at`, or ended at or after it.
fn ended_after(at: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Column::EndAt.is_null())
        .add(Column::EndAt.gte(at))
}

fn newest_first(select: Select<Entity>) -> Select<Entity> {
    select
        .order_by_desc(Column::StartAt)
        .order_by_desc(Column::Id)
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

pub async fn find(conn: &impl ConnectionTrait, id: IncidentId) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.0).one(conn).await
}

/// The incident, locked against concurrent changes until the transaction `conn` ends
/// (PostgreSQL row lock; SQLite's immediate transaction already holds the database's
/// write lock).
pub async fn lock(conn: &impl ConnectionTrait, id: IncidentId) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.0).lock_exclusive().one(conn).await
}

/// Suspected, confirmed, watching and planned incidents; oldest start first.
pub async fn open(conn: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::Status.is_in([
            IncidentStatus::Suspected,
            IncidentStatus::Confirmed,
            IncidentStatus::Watching,
            IncidentStatus::Planned,
        ]))
        .order_by_asc(Column::StartAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await
}

/// The open incident a new alert joins: the suspected one if there is one, else the
/// newest confirmed or watching partial outage or outage. Locked, so it cannot be
/// closed while the alert joins it.
pub async fn alert_target(conn: &impl ConnectionTrait) -> Result<Option<Model>, DbErr> {
    let suspected = Entity::find()
        .filter(Column::Status.eq(IncidentStatus::Suspected))
        .lock_exclusive()
        .one(conn)
        .await?;
    if suspected.is_some() {
        return Ok(suspected);
    }
    newest_first(
        Entity::find()
            .filter(Column::Status.is_in([IncidentStatus::Confirmed, IncidentStatus::Watching]))
            .filter(Column::Severity.is_in([Severity::Partial, Severity::Outage])),
    )
    .lock_exclusive()
    .one(conn)
    .await
}

/// Planned maintenance whose start time has come, with that start time; those that
/// start by itself when `auto_start`, else those waiting for someone to start them.
pub async fn due_maintenance(
    conn: &impl ConnectionTrait,
    auto_start: bool,
    now: DateTime<Utc>,
) -> Result<Vec<(i64, DateTime<Utc>)>, DbErr> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::StartAt)
        .filter(Column::Status.eq(IncidentStatus::Planned))
        .filter(Column::AutoStart.eq(auto_start))
        .filter(Column::StartAt.lte(now))
        .into_tuple()
        .all(conn)
        .await
}

/// What the front page shows: open and planned incidents, and resolved ones that
/// started or ended since `recent_since`; newest start first.
pub async fn front_page(
    conn: &impl ConnectionTrait,
    recent_since: DateTime<Utc>,
) -> Result<Vec<Model>, DbErr> {
    newest_first(
        Entity::find().filter(
            Condition::any()
                .add(Column::Status.is_in([
                    IncidentStatus::Suspected,
                    IncidentStatus::Confirmed,
                    IncidentStatus::Watching,
                    IncidentStatus::Planned,
                ]))
                .add(
                    Condition::all()
                        .add(Column::Status.eq(IncidentStatus::Resolved))
                        .add(
                            Condition::any()
                                .add(Column::StartAt.gte(recent_since))
                                .add(Column::EndAt.gte(recent_since)),
                        ),
                ),
        ),
    )
    .all(conn)
    .await
}

/// The newest `limit` incidents the team has confirmed (neither suspected nor
/// dismissed), by start: planned maintenance when `maintenance`, else the others.
pub async fn latest_confirmed(
    conn: &impl ConnectionTrait,
    limit: u64,
    maintenance: bool,
) -> Result<Vec<Model>, DbErr> {
    let severity = Column::Severity;
    newest_first(
        Entity::find()
            .filter(
                Column::Status.is_not_in([IncidentStatus::Suspected, IncidentStatus::Dismissed]),
            )
            .filter(if maintenance {
                severity.eq(Severity::Maintenance)
            } else {
                severity.ne(Severity::Maintenance)
            }),
    )
    .limit(limit)
    .all(conn)
    .await
}

/// One incident, unless it does not exist or was dismissed.
pub async fn find_public(
    conn: &impl ConnectionTrait,
    id: IncidentId,
) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.0)
        .filter(Column::Status.ne(IncidentStatus::Dismissed))
        .one(conn)
        .await
}

/// Those of `ids` that exist and are public.
pub async fn find_public_many(
    conn: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::Id.is_in(ids))
        .filter(Column::Status.ne(IncidentStatus::Dismissed))
        .all(conn)
        .await
}

/// Public incidents matching `filter`, newest (largest id) first, `limit` at most,
/// after the incident `after`.
pub async fn public_page(
    conn: &impl ConnectionTrait,
    filter: &Filter<'_>,
    after: Option<IncidentId>,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    let mut query = Entity::find()
        .filter(Column::Status.ne(IncidentStatus::Dismissed))
        .filter(filter.condition())
        .order_by_desc(Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(Column::Id.lt(after.0));
    }
    query.all(conn).await
}

/// Every public incident still going at `since` or ended after it (planned ones
/// included), largest id first: what the public snapshot holds in memory.
pub async fn public_since(
    conn: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::Status.ne(IncidentStatus::Dismissed))
        .filter(ended_after(since))
        .order_by_desc(Column::Id)
        .all(conn)
        .await
}

/// The largest id among public incidents that ended before `since`: the ones the
/// snapshot does not hold.
pub async fn newest_ended_before(
    conn: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    Entity::find()
        .filter(Column::Status.ne(IncidentStatus::Dismissed))
        .filter(Column::EndAt.lt(since))
        .select_only()
        .column_as(Column::Id.max(), "max")
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await
        .map(Option::flatten)
}

/// The console's list: every incident matching `filter`, dismissed ones included,
/// newest start first, with the number of all that match.
pub async fn console_page(
    conn: &impl ConnectionTrait,
    filter: &Filter<'_>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Model>, u64), DbErr> {
    let query = Entity::find().filter(filter.condition());
    let total = query.clone().count(conn).await?;
    let rows = newest_first(query)
        .offset(offset)
        .limit(limit)
        .all(conn)
        .await?;
    Ok((rows, total))
}

/// Severity, start and end of the public, started incidents that overlap
/// `[window_start, now]`: what the history calendar colours its days by.
pub async fn history_spans(
    conn: &impl ConnectionTrait,
    window_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<(Severity, DateTime<Utc>, Option<DateTime<Utc>>)>, DbErr> {
    Entity::find()
        .filter(Column::Status.is_not_in([IncidentStatus::Dismissed, IncidentStatus::Planned]))
        .filter(Column::StartAt.lte(now))
        .filter(ended_after(window_start))
        .select_only()
        .columns([Column::Severity, Column::StartAt, Column::EndAt])
        .into_tuple()
        .all(conn)
        .await
}

/// The public, started incidents that overlap `[start, end)`; by start.
pub async fn overlapping(
    conn: &impl ConnectionTrait,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::Status.is_not_in([IncidentStatus::Dismissed, IncidentStatus::Planned]))
        .filter(Column::StartAt.lt(end))
        .filter(ended_after(start))
        .order_by_asc(Column::StartAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await
}

/// Remembers where the incident's Slack parent message is.
pub async fn set_slack_message(
    conn: &impl ConnectionTrait,
    id: IncidentId,
    channel: &str,
    ts: &str,
) -> Result<(), DbErr> {
    incident::ActiveModel {
        id: Set(id.0),
        slack_channel: Set(Some(channel.to_owned())),
        slack_ts: Set(Some(ts.to_owned())),
        ..Default::default()
    }
    .update(conn)
    .await?;
    Ok(())
}

/// Records that `status` was announced to subscribers in `episode`.
pub async fn set_announced(
    conn: &impl ConnectionTrait,
    id: IncidentId,
    status: IncidentStatus,
    episode: i32,
) -> Result<(), DbErr> {
    incident::ActiveModel {
        id: Set(id.0),
        last_notified_status: Set(Some(status)),
        notified_episode: Set(episode),
        ..Default::default()
    }
    .update(conn)
    .await?;
    Ok(())
}

/// Marks the incident as changed at `now` without changing anything else.
pub async fn touch(
    conn: &impl ConnectionTrait,
    row: Model,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut active = row.into_active_model();
    active.updated_at = Set(now);
    active.update(conn).await?;
    Ok(())
}

pub async fn delete(conn: &impl ConnectionTrait, id: IncidentId) -> Result<(), DbErr> {
    Entity::delete_by_id(id.0).exec(conn).await?;
    Ok(())
}
