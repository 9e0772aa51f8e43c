//! The page's status query answered once per public snapshot, by the same resolvers that
//! answer it at `/graphql`: the snapshot serves these bytes as the query's response and
//! inlines their `status` into the page, so the shape has one source.

use std::sync::{Arc, LazyLock};

use async_graphql::{Context, EmptyMutation, EmptySubscription, Object, Request, Result, Schema};

use super::types::Status;
use crate::public::page::STATUS_QUERY;
use crate::services::StatusView;

/// A query root with only `status`, answered from the state given with the request.
struct SnapshotQuery;

#[Object]
impl SnapshotQuery {
    async fn status<'a>(&self, ctx: &Context<'a>) -> Result<&'a Status> {
        ctx.data::<Status>()
    }
}

/// Built once: its registry is the same for every snapshot.
static SCHEMA: LazyLock<Schema<SnapshotQuery, EmptyMutation, EmptySubscription>> =
    LazyLock::new(|| Schema::new(SnapshotQuery, EmptyMutation, EmptySubscription));

/// The GraphQL response to [`STATUS_QUERY`] for `view`, as JSON.
pub async fn status_response(view: Arc<StatusView>, stale: bool) -> serde_json::Value {
    let request = Request::new(STATUS_QUERY).data(Status { view, stale });
    let response = SCHEMA.execute(request).await;
    if let Some(error) = response.errors.first() {
        // The resolvers read only memory; an error here is a bug in the query's text.
        tracing::error!(%error.message, "the status query failed on a snapshot");
    }
    serde_json::to_value(&response).unwrap_or_default()
}
