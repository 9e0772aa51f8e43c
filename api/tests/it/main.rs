//! Black-box tests of monostat against real SQLite, PostgreSQL and Redis.
//!
//! One test binary (fast to link on small machines). Storage tests run twice, once per
//! database, each with its own fresh database so they run in parallel. Without
//! PostgreSQL or Redis the tests that need them are skipped locally, and fail in CI
//! (`CI=true`).

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;

mod abuse;
mod alert_sources;
mod alerts;
mod cli;
mod console;
mod crash;
mod email;
mod email_tls;
mod events;
mod graphiql;
mod graphql;
mod hostile;
mod jobs;
mod lifecycle;
mod limits;
mod opsgenie;
mod outage;
mod properties;
mod public;
mod public_reader;
mod retention;
mod scale_out;
mod second_factors;
mod secrets_at_rest;
mod server;
mod slack;
mod slack_trust;
mod sockets;
mod step_up;
mod upgrade;
mod web;
