//! One moment of the public state, with every body it serves already rendered; the
//! renderers (`feeds.rs`, `statuspage.rs`, …) read it, `current.rs` builds it.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::rendered::Rendered;
use super::web::WebBuild;
use crate::services::{HistoryDay, PublicIncident, PublicWindow, StatusView};

/// The key of the pre-rendered answer to [`STATUS_QUERY`](super::page::STATUS_QUERY) in
/// [`Snapshot::rendered`].
pub const STATUS_RESPONSE: &str = "graphql:status";

/// How many incidents feeds and the Statuspage lists carry.
pub const LIST_LENGTH: u64 = 50;

/// The public state at one moment.
#[derive(Debug)]
pub struct Snapshot {
    /// Shared with every live subscription that sends it.
    pub view: Arc<StatusView>,
    /// The newest incidents the team confirmed, not maintenance; newest first.
    pub incidents: Vec<PublicIncident>,
    /// The newest planned or past maintenance; newest first.
    pub maintenances: Vec<PublicIncident>,
    /// The history calendar, oldest day first.
    pub history: Vec<HistoryDay>,
    /// Every public incident of the history calendar's months, with its timeline.
    pub window: PublicWindow,
    pub site_url: String,
    /// The last rebuild failed: this is older than it should be.
    pub stale: bool,
    /// When the data was read from the database.
    pub built_at: DateTime<Utc>,
    /// The answer to the page's live subscription (`STATUS_SUBSCRIPTION`): the status
    /// query's, under `statusChanged`.
    pub live_status: Arc<str>,
    /// Pre-rendered bodies by path, e.g. `/api/v2/summary.json`, `/badge.svg`, and
    /// `/` for the HTML page every public page URL serves.
    pub rendered: HashMap<&'static str, Rendered>,
    pub(super) web: Arc<WebBuild>,
}

impl Snapshot {
    /// The public incident with this number, if the snapshot holds it.
    pub fn find_incident(&self, id: crate::domain::IncidentId) -> Option<&PublicIncident> {
        self.window.incident(id).flatten()
    }
}
