//! Adapters translate the outside world's wire formats into service calls and back.
//! They parse and validate at the edge and hold no business rules. Each offers its
//! routes for a small state of its own ([`hooks::HookState`], [`slack::SlackState`],
//! [`email::web::SubscriptionPagesState`]); `app.rs` mounts them. They import services,
//! the domain, the job queue, the rows the services hand them and
//! [`ApiError`](crate::http::ApiError); never the app, the GraphQL layer or one another.

pub mod alertmanager;
pub mod email;
pub mod generic;
pub mod hooks;
pub mod opsgenie;
pub mod pagerduty;
pub mod slack;
