//! Notification deliveries (one row per subscriber and announcement) and the summary
//! their counts move to when they are pruned. Plain SQL: the fan-out inserts from a
//! SELECT and settles rows in batches, which the query builder would only obscure.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult, Statement, Value};

use crate::domain::{DeliveryState, IncidentId, IncidentStatus};

/// One mail still to send.
#[derive(Clone, Debug, FromQueryResult)]
pub struct PendingDelivery {
    pub id: i64,
    pub email: String,
    pub token: String,
}

fn statement(conn: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(conn.get_database_backend(), sql, values)
}

/// Ids are integers from our own database, so inlining them is safe, and it keeps one
/// statement per batch on both databases.
fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// Adds a pending delivery for every active subscriber who has none for this
/// announcement yet.
pub async fn create_missing(
    conn: &impl ConnectionTrait,
    incident_id: IncidentId,
    status: IncidentStatus,
    episode: i32,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let sql = "INSERT INTO notification_delivery \
               (subscriber_id, incident_id, status, episode, state, attempts, created_at) \
               SELECT id, $1, $2, $3, 'pending', 0, $4 FROM subscriber WHERE active = $5 \
               ON CONFLICT (subscriber_id, incident_id, status, episode) DO NOTHING";
    conn.execute_raw(statement(
        conn,
        sql,
        vec![
            incident_id.0.into(),
            status.as_str().into(),
            episode.into(),
            now.into(),
            true.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Up to `limit` pending deliveries of the announcement with an id above `after`,
/// oldest first, for subscribers still active.
pub async fn pending(
    conn: &impl ConnectionTrait,
    incident_id: IncidentId,
    status: IncidentStatus,
    episode: i32,
    after: i64,
    limit: u64,
) -> Result<Vec<PendingDelivery>, DbErr> {
    let sql = "SELECT d.id AS id, s.email AS email, s.token AS token \
               FROM notification_delivery d JOIN subscriber s ON s.id = d.subscriber_id \
               WHERE d.incident_id = $1 AND d.status = $2 AND d.episode = $3 \
               AND d.state = 'pending' AND d.id > $4 AND s.active = $5 \
               ORDER BY d.id LIMIT $6";
    PendingDelivery::find_by_statement(statement(
        conn,
        sql,
        vec![
            incident_id.0.into(),
            status.as_str().into(),
            episode.into(),
            after.into(),
            true.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    ))
    .all(conn)
    .await
}

/// Marks deliveries the SMTP server accepted. Only pending rows change, so a job that
/// runs again never undoes a delivery already settled.
pub async fn mark_sent(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE notification_delivery SET state = 'sent', sent_at = $1, \
         attempts = attempts + 1, last_error = NULL WHERE id IN ({}) AND state = 'pending'",
        id_list(ids)
    );
    conn.execute_raw(statement(conn, &sql, vec![now.into()]))
        .await?;
    Ok(())
}

/// Marks a delivery the server refused for good, with the reason; pending rows only.
pub async fn mark_failed(conn: &impl ConnectionTrait, id: i64, reason: &str) -> Result<(), DbErr> {
    let sql = "UPDATE notification_delivery SET state = 'failed', attempts = attempts + 1, \
               last_error = $1 WHERE id = $2 AND state = 'pending'";
    conn.execute_raw(statement(conn, sql, vec![reason.into(), id.into()]))
        .await?;
    Ok(())
}

/// Counts a failed attempt on deliveries that stay pending.
pub async fn note_retry(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    reason: &str,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE notification_delivery SET attempts = attempts + 1, last_error = $1 \
         WHERE id IN ({}) AND state = 'pending'",
        id_list(ids)
    );
    conn.execute_raw(statement(conn, &sql, vec![reason.into()]))
        .await?;
    Ok(())
}

/// How many deliveries of the announcement are in each state, pruned ones included
/// (they live on as counts in the summary).
pub async fn state_counts(
    conn: &impl ConnectionTrait,
    incident_id: IncidentId,
    status: IncidentStatus,
    episode: i32,
) -> Result<Vec<(DeliveryState, i64)>, DbErr> {
    #[derive(FromQueryResult)]
    struct StateCount {
        state: DeliveryState,
        count: i64,
    }
    let rows = StateCount::find_by_statement(statement(
        conn,
        "SELECT state, CAST(SUM(count) AS BIGINT) AS count FROM ( \
             SELECT state, COUNT(*) AS count FROM notification_delivery \
             WHERE incident_id = $1 AND status = $2 AND episode = $3 GROUP BY state \
             UNION ALL \
             SELECT state, deliveries AS count FROM notification_summary \
             WHERE incident_id = $4 AND status = $5 AND episode = $6) AS both_kinds \
         GROUP BY state",
        vec![
            incident_id.0.into(),
            status.as_str().into(),
            episode.into(),
            incident_id.0.into(),
            status.as_str().into(),
            episode.into(),
        ],
    ))
    .all(conn)
    .await?;
    Ok(rows.into_iter().map(|row| (row.state, row.count)).collect())
}

/// The last episode in which `status` was announced, pruned or not.
pub async fn latest_episode(
    conn: &impl ConnectionTrait,
    incident_id: IncidentId,
    status: IncidentStatus,
) -> Result<Option<i32>, DbErr> {
    #[derive(FromQueryResult)]
    struct Latest {
        episode: Option<i32>,
    }
    let latest = Latest::find_by_statement(statement(
        conn,
        "SELECT MAX(episode) AS episode FROM ( \
             SELECT episode FROM notification_delivery WHERE incident_id = $1 AND status = $2 \
             UNION ALL \
             SELECT episode FROM notification_summary WHERE incident_id = $3 AND status = $4 \
         ) AS announced",
        vec![
            incident_id.0.into(),
            status.as_str().into(),
            incident_id.0.into(),
            status.as_str().into(),
        ],
    ))
    .one(conn)
    .await?;
    Ok(latest.and_then(|row| row.episode))
}

/// Whether the announcement's deliveries were pruned into the summary.
pub async fn was_pruned(
    conn: &impl ConnectionTrait,
    incident_id: IncidentId,
    status: IncidentStatus,
    episode: i32,
) -> Result<bool, DbErr> {
    let row = conn
        .query_one_raw(statement(
            conn,
            "SELECT 1 AS found FROM notification_summary \
             WHERE incident_id = $1 AND status = $2 AND episode = $3 LIMIT 1",
            vec![incident_id.0.into(), status.as_str().into(), episode.into()],
        ))
        .await?;
    Ok(row.is_some())
}

/// Deletes up to `batch` deliveries made before `cutoff` and adds what they counted to
/// the summary, through `conn` (a transaction, so the figures never change). Returns
/// how many were deleted.
pub async fn prune_batch(
    conn: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
    batch: usize,
) -> Result<usize, DbErr> {
    #[derive(FromQueryResult)]
    struct Pruned {
        incident_id: i64,
        status: String,
        episode: i32,
        state: String,
    }
    // RETURNING counts exactly the rows deleted, even if a worker changes a state
    // between two statements.
    let rows = Pruned::find_by_statement(statement(
        conn,
        &format!(
            "DELETE FROM notification_delivery WHERE id IN ( \
                 SELECT id FROM notification_delivery WHERE created_at < $1 \
                 ORDER BY id LIMIT {batch}) \
             RETURNING incident_id, status, episode, state"
        ),
        vec![cutoff.into()],
    ))
    .all(conn)
    .await?;
    let mut counts: std::collections::BTreeMap<(i64, String, i32, String), i64> =
        std::collections::BTreeMap::new();
    for row in &rows {
        *counts
            .entry((
                row.incident_id,
                row.status.clone(),
                row.episode,
                row.state.clone(),
            ))
            .or_default() += 1;
    }
    for ((incident_id, status, episode, state), count) in counts {
        conn.execute_raw(statement(
            conn,
            "INSERT INTO notification_summary \
             (incident_id, status, episode, state, deliveries) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (incident_id, status, episode, state) \
             DO UPDATE SET deliveries = notification_summary.deliveries + excluded.deliveries",
            vec![
                incident_id.into(),
                status.into(),
                episode.into(),
                state.into(),
                count.into(),
            ],
        ))
        .await?;
    }
    Ok(rows.len())
}

/// The address and failure reason of each failed delivery of the announcement.
pub async fn failures(
    conn: &impl ConnectionTrait,
    incident_id: IncidentId,
    status: IncidentStatus,
    episode: i32,
) -> Result<Vec<(String, String)>, DbErr> {
    #[derive(FromQueryResult)]
    struct Failure {
        email: String,
        last_error: Option<String>,
    }
    let rows = Failure::find_by_statement(statement(
        conn,
        "SELECT s.email AS email, d.last_error AS last_error FROM notification_delivery d \
         JOIN subscriber s ON s.id = d.subscriber_id \
         WHERE d.incident_id = $1 AND d.status = $2 AND d.episode = $3 \
         AND d.state = 'failed' ORDER BY d.id",
        vec![incident_id.0.into(), status.as_str().into(), episode.into()],
    ))
    .all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.email, row.last_error.unwrap_or_default()))
        .collect())
}
