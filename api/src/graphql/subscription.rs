//! Live updates over WebSocket, fed by the event bus — and so, through Redis, by every
//! replica.

use std::sync::Arc;

use async_graphql::{Context, Result, SimpleObject, Subscription};
use futures_util::Stream;
use futures_util::stream::{self, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::context::SocketToken;
use super::errors::Code;
use super::types::{Incident, Status};
use crate::domain::IncidentId;
use crate::events::{DomainEvent, EventBus};
use crate::public::{PublicSnapshot, Snapshot};
use crate::services::{PublicIncident, Services};

pub struct SubscriptionRoot;

/// Something changed; for the console's live views.
#[derive(SimpleObject, Clone)]
pub struct ConsoleEvent {
    /// `incident_changed`, `incident_deleted`, `settings_changed`, `subscribers_changed`
    /// or `resync` (events may have been missed: reload everything).
    pub kind: String,
    /// For `incident_changed` and `incident_deleted`: the incident's number.
    pub incident_id: Option<i64>,
    /// For `settings_changed`: the section.
    pub section: Option<String>,
}

impl From<DomainEvent> for ConsoleEvent {
    fn from(event: DomainEvent) -> Self {
        let (kind, incident_id, section) = match event {
            DomainEvent::IncidentChanged { incident_id } => {
                ("incident_changed", Some(incident_id.0), None)
            }
            DomainEvent::IncidentDeleted { incident_id } => {
                ("incident_deleted", Some(incident_id.0), None)
            }
            DomainEvent::SettingsChanged { section } => (
                "settings_changed",
                None,
                serde_json::to_value(section)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned)),
            ),
            DomainEvent::SubscribersChanged => ("subscribers_changed", None, None),
            DomainEvent::Resync => ("resync", None, None),
        };
        Self {
            kind: kind.to_owned(),
            incident_id,
            section,
        }
    }
}

/// Live updates over a WebSocket (`graphql-transport-ws` or `graphql-ws`).
#[Subscription]
impl SubscriptionRoot {
    /// The current status now, and again after every change that affects it. Served
    /// from the public snapshot: a change costs one database read per replica, however
    /// many pages are open.
    async fn status_changed(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Status> + use<>> {
        let snapshot = ctx.data::<PublicSnapshot>()?.clone();
        let changes = snapshot.watch();
        Ok(stream::unfold(
            (snapshot, changes, None::<Arc<Snapshot>>),
            |(snapshot, mut changes, last)| async move {
                loop {
                    let current = snapshot.get();
                    let news = match (&current, &last) {
                        (Some(current), Some(last)) => {
                            current.stale != last.stale
                                || (!Arc::ptr_eq(&current.view, &last.view)
                                    && current.view != last.view)
                        }
                        (Some(_), None) => true,
                        (None, _) => false,
                    };
                    if let (true, Some(current)) = (news, current) {
                        let status = Status {
                            view: current.view.clone(),
                            stale: current.stale,
                        };
                        return Some((status, (snapshot, changes, Some(current))));
                    }
                    changes.changed().await.ok()?;
                }
            },
        ))
    }

    /// One incident now and after every change to it; `null` once it is not public
    /// (dismissed or deleted). Served from the public snapshot like `statusChanged`,
    /// so it keeps working while the database is away.
    async fn incident_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
    ) -> Result<impl Stream<Item = Option<Incident>> + use<>> {
        let snapshot = ctx.data::<PublicSnapshot>()?.clone();
        let changes = snapshot.watch();
        let id = IncidentId(id);
        Ok(stream::unfold(
            (snapshot, changes, None::<Option<PublicIncident>>),
            move |(snapshot, mut changes, last)| async move {
                loop {
                    // An old incident the database cannot give now is tried again
                    // with the next snapshot.
                    if let Ok(current) = snapshot.incident(id).await
                        && last.as_ref() != Some(&current)
                    {
                        let incident = current.clone().map(Incident);
                        return Some((incident, (snapshot, changes, Some(current))));
                    }
                    changes.changed().await.ok()?;
                }
            },
        ))
    }

    /// Every domain event, for the console. Needs a token in the connection's init
    /// payload (`{"token": "…"}`).
    async fn events(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = ConsoleEvent> + use<>> {
        let Some(SocketToken(token)) = ctx.data_opt::<SocketToken>() else {
            return Err(Code::Unauthenticated
                .error("log in, and send {\"token\": \"…\"} in connection_init"));
        };
        let (_, expires) = ctx
            .data::<Services>()?
            .auth
            .authenticate_until(token)
            .await
            .map_err(|_| {
                Code::Unauthenticated.error("the session has expired or was revoked; log in again")
            })?;
        // The stream ends with the token; the console reconnects with a fresh one.
        let lifetime = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
        let receiver = ctx.data::<EventBus>()?.subscribe();
        Ok(stream::unfold(receiver, |mut receiver| async move {
            let event = match receiver.recv().await {
                Ok(event) => event,
                Err(RecvError::Lagged(_)) => DomainEvent::Resync,
                Err(RecvError::Closed) => return None,
            };
            Some((ConsoleEvent::from(event), receiver))
        })
        .take_until(tokio::time::sleep(lifetime))
        .boxed())
    }
}
