//! Keeps the current [`Snapshot`]: reads the public state after each change, renders
//! every body once, and swaps it in; a failed read leaves the last one, marked stale.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::parts::Parts;
use super::recall::Recall;
use super::rendered::Rendered;
use super::snapshot::{LIST_LENGTH, STATUS_RESPONSE, Snapshot};
use super::web::WebBuild;
use super::{badge, feeds, page, statuspage};
use crate::domain::IncidentId;
use crate::events::DomainEvent;
use crate::services::{PublicError, Services, StatusView};

const RETRY_INTERVAL: Duration = Duration::from_secs(2);

/// Answers the page's status query (`page::STATUS_QUERY`) for a view: the GraphQL
/// layer's resolvers, handed in by the wiring so that the snapshot, which GraphQL reads,
/// does not import GraphQL back.
pub type StatusResponder = fn(Arc<StatusView>, bool) -> Pin<Box<dyn Future<Output = Value> + Send>>;

impl Snapshot {
    async fn new(
        parts: Parts,
        site_url: String,
        stale: bool,
        web: Arc<WebBuild>,
        respond: StatusResponder,
    ) -> Self {
        let view = Arc::new(parts.view);
        let status = respond(view.clone(), stale).await;
        let Parts {
            view: _,
            incidents,
            maintenances,
            history,
            window,
        } = parts;
        let mut snapshot = Self {
            built_at: view.generated_at,
            view,
            incidents,
            maintenances,
            history,
            window,
            site_url,
            stale,
            rendered: HashMap::new(),
            live_status:
                serde_json::json!({ "data": { "statusChanged": status["data"]["status"] } })
                    .to_string()
                    .into(),
            web,
        };
        snapshot.rendered = render_all(&snapshot, &status);
        snapshot
    }

    /// The same data, marked stale, with bodies re-rendered to say so.
    async fn to_stale(&self, respond: StatusResponder) -> Self {
        let parts = Parts {
            view: StatusView::clone(&self.view),
            incidents: self.incidents.clone(),
            maintenances: self.maintenances.clone(),
            history: self.history.clone(),
            window: self.window.clone(),
        };
        Self::new(
            parts,
            self.site_url.clone(),
            true,
            self.web.clone(),
            respond,
        )
        .await
    }
}

/// Every body the snapshot serves; `status` is the GraphQL response to
/// [`STATUS_QUERY`](page::STATUS_QUERY).
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

/// Compresses the snapshot's bodies off the async workers, after it is in place.
fn compress_soon(snapshot: Arc<Snapshot>) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn_blocking(move || {
            for rendered in snapshot.rendered.values() {
                rendered.compress();
            }
        });
    }
}

/// Holds the current snapshot; cheap to clone, shared by every request.
#[derive(Clone)]
pub struct PublicSnapshot {
    current: Arc<RwLock<Option<Arc<Snapshot>>>>,
    /// Bumped whenever `current` is replaced, so live subscribers follow the snapshot
    /// instead of each querying the database after every event.
    generation: Arc<watch::Sender<u64>>,
    // Shared: every public request clones this handle.
    services: Arc<Services>,
    site_url: Arc<str>,
    web: Arc<WebBuild>,
    /// The page without state, for requests before the first snapshot.
    bare_page: Arc<Rendered>,
    respond: StatusResponder,
    /// What the database said about older incidents, for this generation.
    recall: Arc<Recall>,
}

impl PublicSnapshot {
    /// `web` is the frontend whose page the snapshot renders.
    pub fn new(
        services: Services,
        site_url: String,
        web: WebBuild,
        respond: StatusResponder,
    ) -> Self {
        let bare_page = Rendered::new(
            "text/html; charset=utf-8",
            page::render_bare(&web.index).into_bytes(),
        );
        Self {
            current: Arc::default(),
            generation: Arc::new(watch::Sender::new(0)),
            services: Arc::new(services),
            site_url: site_url.into(),
            web: Arc::new(web),
            bare_page: Arc::new(bare_page),
            respond,
            recall: Arc::default(),
        }
    }

    /// Wakes whenever the snapshot is replaced (rebuilt, or marked stale).
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Which snapshot is current: it changes with every rebuild.
    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    pub(super) fn services(&self) -> &Services {
        &self.services
    }

    pub(super) fn recall(&self) -> &Recall {
        &self.recall
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
        let started = Instant::now();
        let next = self.read().await;
        self.install(next, "full", started).await
    }

    /// Reads only the incidents `changed` and computes the rest from the snapshot in
    /// memory; reads everything when that cannot be exact. On failure the previous
    /// snapshot stays, marked stale.
    pub async fn update(&self, changed: &BTreeSet<IncidentId>) -> Result<(), PublicError> {
        let started = Instant::now();
        let next = match self.get().filter(|previous| !previous.stale) {
            Some(previous) => self.read_changes(&previous, changed).await,
            None => self.read().await,
        };
        self.install(next, "incremental", started).await
    }

    /// Swaps in `next`, or marks the current snapshot stale when it could not be
    /// built; either way a new generation, and the build (of `kind`, begun at
    /// `started`) is measured.
    async fn install(
        &self,
        next: Result<Snapshot, PublicError>,
        kind: &'static str,
        started: Instant,
    ) -> Result<(), PublicError> {
        let outcome = self.swap(next).await;
        metrics::histogram!("monostat_snapshot_build_seconds", "kind" => kind)
            .record(started.elapsed().as_secs_f64());
        self.generation.send_modify(|generation| *generation += 1);
        outcome
    }

    async fn swap(&self, next: Result<Snapshot, PublicError>) -> Result<(), PublicError> {
        match next {
            Ok(snapshot) => {
                let snapshot = Arc::new(snapshot);
                *self.current.write().unwrap_or_else(PoisonError::into_inner) =
                    Some(snapshot.clone());
                compress_soon(snapshot);
                Ok(())
            }
            Err(error) => {
                if let Some(previous) = self.get().filter(|previous| !previous.stale) {
                    let stale = previous.to_stale(self.respond).await;
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

    async fn read_changes(
        &self,
        previous: &Snapshot,
        changed: &BTreeSet<IncidentId>,
    ) -> Result<Snapshot, PublicError> {
        let now = chrono::Utc::now();
        if !previous.window.is_current(previous.view.site.tz(), now) {
            return self.read().await;
        }
        let fresh = self.services.public.incidents_now(changed).await?;
        let Some(parts) = Parts::with_changes(previous, fresh, now) else {
            return self.read().await;
        };
        Ok(self.render(parts).await)
    }

    async fn read(&self) -> Result<Snapshot, PublicError> {
        let public = &self.services.public;
        let now = chrono::Utc::now();
        let site = public.site().await?;
        let window = public.window(site.tz(), now).await?;
        let incidents = public.latest(LIST_LENGTH, false).await?;
        let maintenances = public.latest(LIST_LENGTH, true).await?;
        let parts = Parts::new(site, window, incidents, maintenances, now);
        Ok(self.render(parts).await)
    }

    /// A fresh (not stale) snapshot of `parts`, every body rendered.
    async fn render(&self, parts: Parts) -> Snapshot {
        Snapshot::new(
            parts,
            self.site_url.to_string(),
            false,
            self.web.clone(),
            self.respond,
        )
        .await
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
            let work = tokio::select! {
                event = receiver.recv() => match event {
                    Ok(DomainEvent::SubscribersChanged) => continue,
                    Ok(event) => Work::after(event, &mut receiver),
                    Err(RecvError::Lagged(_)) => Work::Everything,
                    Err(RecvError::Closed) => return,
                },
                () = tokio::time::sleep(wait) => Work::Everything,
                () = stop.cancelled() => return,
            };
            let outcome = match work {
                Work::Incidents(changed) if !failing => self.update(&changed).await,
                _ => self.rebuild().await,
            };
            match outcome {
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

/// What a burst of events asks of the snapshot.
enum Work {
    /// These incidents changed, and nothing else.
    Incidents(BTreeSet<IncidentId>),
    /// Settings changed, or events were missed: read everything.
    Everything,
}

impl Work {
    /// `first` and whatever else already arrived: a burst is one piece of work.
    fn after(first: DomainEvent, receiver: &mut Receiver<DomainEvent>) -> Self {
        let mut work = Self::Incidents(BTreeSet::new());
        let mut next = Some(first);
        while let Some(event) = next {
            match (&mut work, event) {
                (_, DomainEvent::SubscribersChanged) | (Self::Everything, _) => {}
                (
                    Self::Incidents(changed),
                    DomainEvent::IncidentChanged { incident_id }
                    | DomainEvent::IncidentDeleted { incident_id },
                ) => {
                    changed.insert(incident_id);
                }
                (_, DomainEvent::SettingsChanged { .. } | DomainEvent::Resync) => {
                    work = Self::Everything;
                }
            }
            next = match receiver.try_recv() {
                Ok(event) => Some(event),
                Err(TryRecvError::Lagged(_)) => Some(DomainEvent::Resync),
                Err(_) => None,
            };
        }
        work
    }
}
