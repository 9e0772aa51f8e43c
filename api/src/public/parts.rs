//! What a snapshot is made of, from a window read afresh or from the previous parts
//! and the incidents that changed since: the front page, the history calendar and the
//! lists are all computed from the window in memory, so one change to one incident
//! costs a read of that incident, not of the months.

use std::cmp::Reverse;

use chrono::{DateTime, Utc};

use super::snapshot::{LIST_LENGTH, Snapshot};
use crate::domain::{Incident, IncidentId, IncidentStatus, Severity};
use crate::services::{
    HistoryDay, PublicIncident, PublicWindow, SiteInfo, StatusView, on_front_page,
};

pub struct Parts {
    pub view: StatusView,
    pub incidents: Vec<PublicIncident>,
    pub maintenances: Vec<PublicIncident>,
    pub history: Vec<HistoryDay>,
    pub window: PublicWindow,
}

impl Parts {
    /// `incidents` and `maintenances` are the lists as the database gives them
    /// (`PublicService::latest`).
    pub fn new(
        site: SiteInfo,
        window: PublicWindow,
        incidents: Vec<PublicIncident>,
        maintenances: Vec<PublicIncident>,
        now: DateTime<Utc>,
    ) -> Self {
        let tz = site.tz();
        let mut front: Vec<PublicIncident> = window
            .incidents
            .iter()
            .filter(|public| on_front_page(&public.incident, now))
            .map(|public| PublicIncident::clone(public))
            .collect();
        front.sort_by_key(|public| Reverse((public.incident.start, public.incident.id)));
        Self {
            view: StatusView::assemble(site, front, now),
            history: window.history(tz, now),
            incidents,
            maintenances,
            window,
        }
    }

    /// The parts of `previous` with `changes` (each incident as the public sees it
    /// now, `None` when it is gone). `None` when a list lost an entry and only the
    /// database knows which one moves up in its place.
    pub fn with_changes(
        previous: &Snapshot,
        changes: Vec<(IncidentId, Option<PublicIncident>)>,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        let mut incidents = previous.incidents.clone();
        let mut maintenances = previous.maintenances.clone();
        for (id, public) in &changes {
            merge(&mut incidents, *id, public.as_ref(), false)?;
            merge(&mut maintenances, *id, public.as_ref(), true)?;
        }
        let window = previous.window.with_changes(changes);
        Some(Self::new(
            previous.view.site.clone(),
            window,
            incidents,
            maintenances,
            now,
        ))
    }
}

/// Whether a list shows `incident`: confirmed by the team (neither suspected nor
/// dismissed), maintenance or not (`store::incidents::latest_confirmed` asks the same).
fn listed(incident: &Incident, maintenance: bool) -> bool {
    !matches!(
        incident.status,
        IncidentStatus::Suspected | IncidentStatus::Dismissed
    ) && (incident.severity == Severity::Maintenance) == maintenance
}

/// Puts `public` (incident `id` now) where it belongs in `list`, newest start first.
fn merge(
    list: &mut Vec<PublicIncident>,
    id: IncidentId,
    public: Option<&PublicIncident>,
    maintenance: bool,
) -> Option<()> {
    let length = usize::try_from(LIST_LENGTH).unwrap_or(usize::MAX);
    let full = list.len() >= length;
    let was_listed = match list.iter().position(|listed| listed.incident.id == id) {
        Some(at) => {
            list.remove(at);
            true
        }
        None => false,
    };
    let stays = match public.filter(|public| listed(&public.incident, maintenance)) {
        Some(public) => {
            list.push(public.clone());
            list.sort_by_key(|public| Reverse((public.incident.start, public.incident.id)));
            list.truncate(length);
            list.iter().any(|listed| listed.incident.id == id)
        }
        None => false,
    };
    // It left a full list: the next one down is only in the database.
    if was_listed && full && !stays {
        return None;
    }
    Some(())
}
