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
mod feeds;
pub mod page;
mod statuspage;
pub mod web;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::events::DomainEvent;
use crate::services::{HistoryDay, PublicError, PublicIncident, Services, StatusView};
pub use web::WebBuild;

const RETRY_INTERVAL: Duration = Duration::from_secs(2);
/// The key of the pre-rendered answer to [`page::STATUS_QUERY`] in `Snapshot::rendered`.
pub const STATUS_RESPONSE: &str = "graphql:status";
pub use page::{STATUS_QUERY, normalise_query};

/// How many incidents feeds and the Statuspage lists carry.
pub const LIST_LENGTH: u64 = 50;

/// A response body ready to send, in plain and gzip form.
#[derive(Debug)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: Bytes,
    pub gzip: Bytes,
    pub brotli: Bytes,
    /// A strong ETag (quoted), from the body's hash.
    pub etag: String,
}

impl Rendered {
    fn new(content_type: &'static str, body: Vec<u8>) -> Self {
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..32]);
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        // Writing into a Vec cannot fail.
        let gzip = encoder
            .write_all(&body)
            .and_then(|()| encoder.finish())
            .unwrap_or_default();
        let mut brotli = Vec::new();
        {
            // Quality 9 of 11: nearly the smallest output at a fraction of the time, which
            // matters because every snapshot rebuild compresses every body.
            let mut encoder =
                brotli::CompressorWriter::new(&mut brotli, 4096, 9, brotli_window(body.len()));
            // Writing into a Vec cannot fail.
            let _ = encoder.write_all(&body);
        }
        Self {
            content_type,
            body: Bytes::from(body),
            gzip: Bytes::from(gzip),
            brotli: Bytes::from(brotli),
            etag,
        }
    }
}

/// The smallest brotli window (log2 of its size) that holds the whole body. A larger
/// one compresses no better but its encoder allocates more: at the usual 22, some 30 MB
/// per body on every snapshot rebuild, which the allocator kept as resident memory that
/// crept up for hours under steady traffic.
fn brotli_window(body_len: usize) -> u32 {
    const SMALLEST: u32 = 10;
    const LARGEST: u32 = 24;
    // A window of 2^n bytes holds 2^n - 16 bytes of input.
    (SMALLEST..LARGEST)
        .find(|bits| (1_usize << bits) - 16 >= body_len)
        .unwrap_or(LARGEST)
}

/// The public state at one moment.
#[derive(Debug)]
pub struct Snapshot {
    pub view: StatusView,
    /// The newest incidents the team confirmed, not maintenance; newest first.
    pub incidents: Vec<PublicIncident>,
    /// The newest planned or past maintenance; newest first.
    pub maintenances: Vec<PublicIncident>,
    /// The history calendar, oldest day first.
    pub history: Vec<HistoryDay>,
    pub site_url: String,
    /// The last rebuild failed: this is older than it should be.
    pub stale: bool,
    /// When the data was read from the database.
    pub built_at: DateTime<Utc>,
    /// Pre-rendered bodies by path, e.g. `/api/v2/summary.json`, `/badge.svg`, and
    /// `/` for the HTML page every public page URL serves.
    pub rendered: HashMap<&'static str, Rendered>,
    web: Arc<WebBuild>,
}

impl Snapshot {
    async fn new(parts: Parts, site_url: String, stale: bool, web: Arc<WebBuild>) -> Self {
        let status = crate::graphql::status_response(parts.view.clone(), stale).await;
        let Parts {
            view,
            incidents,
            maintenances,
            history,
        } = parts;
        let mut snapshot = Self {
            built_at: view.generated_at,
            view,
            incidents,
            maintenances,
            history,
            site_url,
            stale,
            rendered: HashMap::new(),
            web,
        };
        snapshot.rendered = render_all(&snapshot, &status);
        snapshot
    }

    /// The same data, marked stale, with bodies re-rendered to say so.
    async fn to_stale(&self) -> Self {
        let parts = Parts {
            view: self.view.clone(),
            incidents: self.incidents.clone(),
            maintenances: self.maintenances.clone(),
            history: self.history.clone(),
        };
        Self::new(parts, self.site_url.clone(), true, self.web.clone()).await
    }

    /// The public incident with this number, if the snapshot holds it.
    pub fn find_incident(&self, id: crate::domain::IncidentId) -> Option<&PublicIncident> {
        let view = &self.view;
        view.current
            .iter()
            .chain(&view.recent)
            .chain(&view.planned)
            .chain(&self.incidents)
            .chain(&self.maintenances)
            .find(|public| public.incident.id == id)
    }
}

/// What a snapshot is made of, as read from the database.
struct Parts {
    view: StatusView,
    incidents: Vec<PublicIncident>,
    maintenances: Vec<PublicIncident>,
    history: Vec<HistoryDay>,
}

/// Every body the snapshot serves; `status` is the GraphQL response to [`STATUS_QUERY`].
fn render_all(snapshot: &Snapshot, status: &Value) -> HashMap<&'static str, Rendered> {
    let mut rendered: HashMap<&'static str, Rendered> = statuspage::render(snapshot)
        .into_iter()
        .map(|(path, value)| {
            let body = serde_json::to_vec(&value).unwrap_or_default();
            (path, Rendered::new("application/json", body))
        })
        .collect();
    rendered.insert(
        "/feed/rss",
        Rendered::new(
            "application/rss+xml; charset=utf-8",
            feeds::rss(snapshot).into_bytes(),
        ),
    );
    rendered.insert(
        "/feed/atom",
        Rendered::new(
            "application/atom+xml; charset=utf-8",
            feeds::atom(snapshot).into_bytes(),
        ),
    );
    rendered.insert(
        "/badge.svg",
        Rendered::new(
            "image/svg+xml",
            badge::render(snapshot.view.headline).into_bytes(),
        ),
    );
    rendered.insert(
        STATUS_RESPONSE,
        Rendered::new(
            "application/json",
            serde_json::to_vec(status).unwrap_or_default(),
        ),
    );
    let state = &status["data"]["status"];
    rendered.insert(
        "/",
        Rendered::new(
            "text/html; charset=utf-8",
            page::render(&snapshot.web.index, &snapshot.view.site, state).into_bytes(),
        ),
    );
    rendered
}

/// Holds the current snapshot; cheap to clone, shared by every request.
#[derive(Clone)]
pub struct PublicSnapshot {
    current: Arc<RwLock<Option<Arc<Snapshot>>>>,
    /// Bumped whenever `current` is replaced, so live subscribers follow the snapshot
    /// instead of each querying the database after every event.
    generation: Arc<watch::Sender<u64>>,
    services: Services,
    site_url: String,
    web: Arc<WebBuild>,
    /// The page without state, for requests before the first snapshot.
    bare_page: Arc<Rendered>,
}

impl PublicSnapshot {
    pub fn new(services: Services, site_url: String) -> Self {
        Self::with_web(services, site_url, WebBuild::default())
    }

    /// With the web frontend whose page the snapshot renders.
    pub fn with_web(services: Services, site_url: String, web: WebBuild) -> Self {
        let bare_page = Rendered::new(
            "text/html; charset=utf-8",
            page::render_bare(&web.index).into_bytes(),
        );
        Self {
            current: Arc::default(),
            generation: Arc::new(watch::Sender::new(0)),
            services,
            site_url,
            web: Arc::new(web),
            bare_page: Arc::new(bare_page),
        }
    }

    /// Wakes whenever the snapshot is replaced (rebuilt, or marked stale).
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// The frontend build: its hashed assets.
    pub fn web(&self) -> &WebBuild {
        &self.web
    }

    /// The page with no state inlined.
    pub fn bare_page(&self) -> &Rendered {
        &self.bare_page
    }

    /// The current snapshot; `None` only before the first successful build.
    pub fn get(&self) -> Option<Arc<Snapshot>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads everything afresh. On failure the previous snapshot stays, marked stale.
    pub async fn rebuild(&self) -> Result<(), PublicError> {
        let outcome = self.replace().await;
        self.generation.send_modify(|generation| *generation += 1);
        outcome
    }

    async fn replace(&self) -> Result<(), PublicError> {
        match self.read().await {
            Ok(snapshot) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) =
                    Some(Arc::new(snapshot));
                Ok(())
            }
            Err(error) => {
                if let Some(previous) = self.get().filter(|previous| !previous.stale) {
                    let stale = previous.to_stale().await;
                    let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
                    // Unless a rebuild that succeeded meanwhile replaced it.
                    if current
                        .as_ref()
                        .is_some_and(|current| Arc::ptr_eq(current, &previous))
                    {
                        *current = Some(Arc::new(stale));
                    }
                }
                Err(error)
            }
        }
    }

    async fn read(&self) -> Result<Snapshot, PublicError> {
        let public = &self.services.public;
        let view = public.status().await?;
        let incidents = public.latest(LIST_LENGTH, false).await?;
        let maintenances = public.latest(LIST_LENGTH, true).await?;
        let history = public.history().await?;
        let parts = Parts {
            view,
            incidents,
            maintenances,
            history,
        };
        Ok(Snapshot::new(parts, self.site_url.clone(), false, self.web.clone()).await)
    }

    /// Keeps the snapshot current until `stop`: after events, every `resync` (in case
    /// one was missed), and again shortly after a failed rebuild.
    /// Take `receiver` from the bus before the first [`rebuild`](Self::rebuild), so no
    /// event between the two is missed.
    pub async fn keep_current(
        self,
        mut receiver: Receiver<DomainEvent>,
        resync: Duration,
        stop: CancellationToken,
    ) {
        let mut failing = false;
        loop {
            let wait = if failing { RETRY_INTERVAL } else { resync };
            tokio::select! {
                event = receiver.recv() => match event {
                    Ok(DomainEvent::SubscribersChanged) => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        // Coalesce a burst of events into one rebuild.
                        while receiver.try_recv().is_ok() {}
                    }
                    Err(RecvError::Closed) => return,
                },
                () = tokio::time::sleep(wait) => {}
                () = stop.cancelled() => return,
            }
            match self.rebuild().await {
                Ok(()) => failing = false,
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "cannot rebuild the public snapshot; serving the last one, marked stale");
                    }
                    failing = true;
                }
            }
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_brotli_window_is_the_smallest_that_holds_the_body() {
        assert_eq!(brotli_window(0), 10);
        assert_eq!(brotli_window(1008), 10);
        assert_eq!(brotli_window(1009), 11);
        assert_eq!(brotli_window(60_000), 16);
        assert_eq!(brotli_window(usize::MAX), 24);
    }

    #[test]
    fn a_body_compressed_in_its_own_window_is_as_small_and_reads_back_whole() {
        let body: Vec<u8> = (0..2000)
            .flat_map(|i| {
                format!(r#"{{"id":{i},"title":"Incident {i}","status":"resolved"}},"#).into_bytes()
            })
            .collect();
        let rendered = Rendered::new("application/json", body.clone());

        let mut unpacked = Vec::new();
        brotli::BrotliDecompress(&mut &rendered.brotli[..], &mut unpacked).unwrap();
        assert_eq!(unpacked, body);
        let mut in_a_large_window = Vec::new();
        brotli::CompressorWriter::new(&mut in_a_large_window, 4096, 9, 22)
            .write_all(&body)
            .unwrap();
        assert!(rendered.brotli.len() <= in_a_large_window.len());
    }
}
