//! Alert intake: what every alert-source webhook hands its parsed events to. Applies
//! them in order, or — while the database is away, too slow, or a backlog is still
//! waiting, so that order holds — writes them to the fsync'ed [`spool`] and says they
//! are queued; and replays the spool once the database is back. OpsGenie does not
//! retry webhooks, so an event acknowledged as queued must never be lost.

pub(super) mod service;
mod spool;

pub use service::{AlertIntake, IntakeError, Submitted};
pub use spool::{AlertSpool, ReplayReport};
