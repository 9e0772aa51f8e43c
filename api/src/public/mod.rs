//! The public snapshot: everything the public read path serves — the JSON, feeds, badge
//! and the status page's HTML with its state inlined (`page.rs`) — computed once after
//! each change and held in memory as ready-to-send bytes.
//!
//! During an outage everyone opens the status page at once, and the database may be
//! what is down. So public requests never touch the database: they read the current
//! [`Snapshot`]. It is rebuilt on every replica when a domain event arrives (bursts are
//! coalesced) and every 30 seconds (so "recent" ages out). When a rebuild fails, the
//! last good snapshot keeps being served, marked stale, and the rebuild is retried.

mod badge;
mod current;
mod feeds;
pub mod page;
mod parts;
mod reader;
mod recall;
mod rendered;
mod snapshot;
mod statuspage;
pub mod web;

pub use current::{PublicSnapshot, StatusResponder};
pub use page::{STATUS_QUERY, STATUS_SUBSCRIPTION, normalise_query};
pub use rendered::Rendered;
pub use snapshot::{LIST_LENGTH, STATUS_RESPONSE, Snapshot};
pub use web::WebBuild;
