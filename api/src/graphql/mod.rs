//! The GraphQL API: public queries, console queries and mutations, live subscriptions.
//!
//! Resolvers translate between GraphQL and the services; they decide nothing. Errors
//! carry a stable `extensions.code` (see [`errors`]). Console fields require a valid
//! access token; public ones never look at one.

// async-graphql resolvers are async by contract, whether or not they await.
#![allow(clippy::unused_async)]

mod console;
mod context;
mod errors;
mod public;
mod read_only;
mod snapshot;
mod subscription;
mod types;

use std::sync::Arc;

use async_graphql::extensions::apollo_persisted_queries::{
    ApolloPersistedQueries, LruCacheStorage,
};
use async_graphql::{MergedObject, Schema};

pub use console::refresh_cookie;
pub use context::{Caller, ClientAddress, RefreshCookie, SocketToken};
pub use errors::{Code, ensure_codes};
pub use read_only::ReadOnly;
pub use snapshot::status_response;
pub use subscription::SubscriptionRoot;

use crate::events::EventBus;
use crate::jobs::Queue;
use crate::public::PublicSnapshot;
use crate::services::{Services, SlackProbe};

/// Nesting beyond this is no real client's query.
const MAX_DEPTH: usize = 12;
const MAX_COMPLEXITY: usize = 1_000;
/// Distinct persisted queries kept per replica; real clients use a handful.
const PERSISTED_QUERIES: usize = 256;

/// Reads. Public fields need no token; console fields need `Authorization: Bearer …`.
#[derive(MergedObject, Default)]
pub struct QueryRoot(public::PublicQuery, console::ConsoleQuery);

/// Changes. All need a console session except `subscribe`, `confirmSubscription`,
/// `unsubscribe`, `login`, `loginTotp`, `loginWebauthn`, `refresh` and `logout`.
#[derive(MergedObject, Default)]
pub struct MutationRoot(public::PublicMutation, console::ConsoleMutation);

pub type MonostatSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

pub fn schema(
    services: Services,
    events: EventBus,
    queue: Queue,
    snapshot: PublicSnapshot,
    slack: Arc<dyn SlackProbe>,
) -> MonostatSchema {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .data(services)
    .data(snapshot)
    .data(events)
    .data(queue)
    .data(slack)
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .extension(ApolloPersistedQueries::new(LruCacheStorage::new(
        PERSISTED_QUERIES,
    )))
    .extension(read_only::GetIsReadOnly)
    .finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .finish()
    .sdl()
}
