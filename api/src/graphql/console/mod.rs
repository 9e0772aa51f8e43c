//! The console's queries and mutations, one file per area, merged into one query and
//! one mutation type. Everything needs a valid access token except `login`,
//! `loginTotp`, `loginWebauthn` and `refresh` in [`session`], which hand one out.
//!
//! Where a field lives decides its place in `schema.graphql`: the parts are merged in
//! the order below, and each part lists its fields in source order.

use async_graphql::MergedObject;

mod access;
mod incidents;
mod jobs;
mod second_factors;
mod session;
mod settings;
mod subscribers;
mod users;

pub use session::refresh_cookie;

/// Console reads, merged from the areas.
#[derive(MergedObject, Default)]
pub struct ConsoleQuery(
    session::SessionQuery,
    second_factors::SecondFactorsQuery,
    incidents::IncidentsQuery,
    settings::SettingsQuery,
    subscribers::SubscribersQuery,
    users::UsersQuery,
    jobs::JobsQuery,
);

/// Console changes, merged from the areas.
#[derive(MergedObject, Default)]
pub struct ConsoleMutation(
    session::SessionMutation,
    second_factors::SecondFactorsMutation,
    incidents::IncidentsMutation,
    settings::SettingsMutation,
    subscribers::SubscribersMutation,
    users::UsersMutation,
    jobs::JobsMutation,
);
