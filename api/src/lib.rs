//! monostat: a self-hosted status page for one monolithic product.
//!
//! Layout (README, "Layout"): `domain` holds the rules with no I/O; `services` apply
//! them to storage (`store`) in transactions, enqueue `jobs` and publish `events`;
//! `http`, `graphql` and `adapters` translate between the outside world and the
//! services, and never import each other except for `http::ApiError`; `app` wires
//! everything and owns the router.

pub mod adapters;
pub mod app;
pub mod client_ip;
pub mod config;
pub mod domain;
pub mod events;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod maintenance;
pub mod markdown;
pub mod public;
pub mod ratelimit;
pub mod secret;
pub mod services;
pub mod simulate;
pub mod store;
pub mod telemetry;
