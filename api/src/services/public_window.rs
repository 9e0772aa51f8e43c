//! The public incidents of the last months, held in memory by the public snapshot so
//! that every public question about them is answered without the database: one
//! incident, pages of the list, a day, the history calendar. Each answer says when it
//! cannot be given from memory alone (it reaches further back), and the caller asks
//! the database then.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::public::{
    HistoryDay, IncidentFilter, MAX_PAGE, PublicError, PublicIncident, PublicService, day_bounds,
    history_days, history_start,
};
use crate::domain::{IncidentId, IncidentStatus};
use crate::store::incidents;

/// The public incidents still going at `since` or ended after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublicWindow {
    /// From this instant on, every public incident is here: the history calendar's
    /// first day.
    pub since: DateTime<Utc>,
    /// Largest id first, as the public list orders them. Shared, so a snapshot that
    /// changes one incident copies pointers, not timelines.
    pub incidents: Vec<Arc<PublicIncident>>,
    /// The largest id among the public incidents that ended before `since`.
    pub newest_outside: Option<IncidentId>,
}

impl PublicService {
    /// Reads the window that starts with the history calendar.
    pub async fn window(&self, tz: Tz, now: DateTime<Utc>) -> Result<PublicWindow, PublicError> {
        let db = &self.deps.db;
        let since = history_start(tz, now);
        let rows = incidents::public_since(db, since).await?;
        let newest_outside = incidents::newest_ended_before(db, since).await?;
        Ok(PublicWindow {
            since,
            incidents: self
                .with_updates(rows)
                .await?
                .into_iter()
                .map(Arc::new)
                .collect(),
            newest_outside: newest_outside.map(IncidentId),
        })
    }

    /// `ids` as the public sees them now: `None` for one deleted or dismissed.
    pub async fn incidents_now(
        &self,
        ids: &BTreeSet<IncidentId>,
    ) -> Result<Vec<(IncidentId, Option<PublicIncident>)>, PublicError> {
        let rows =
            incidents::find_public_many(&self.deps.db, ids.iter().map(|id| id.0).collect()).await?;
        let mut found = self.with_updates(rows).await?;
        Ok(ids
            .iter()
            .map(|id| {
                let at = found.iter().position(|public| public.incident.id == *id);
                (*id, at.map(|at| found.swap_remove(at)))
            })
            .collect())
    }
}

impl PublicWindow {
    fn position(&self, id: IncidentId) -> Result<usize, usize> {
        // Largest id first: a probe with a larger id than `id` comes before it.
        self.incidents
            .binary_search_by(|probe| id.cmp(&probe.incident.id))
    }

    /// The public incident `id`, `Some(None)` when there is none, or `None` when only
    /// the database knows (it ended before the window).
    pub fn incident(&self, id: IncidentId) -> Option<Option<&PublicIncident>> {
        if let Ok(at) = self.position(id) {
            return Some(Some(self.incidents[at].as_ref()));
        }
        // A public incident missing here ended before the window (none has a larger
        // id than `newest_outside`), or is newer than this snapshot (a larger id than
        // any here): only the database can tell about those.
        let newer = self
            .incidents
            .first()
            .is_none_or(|newest| id > newest.incident.id);
        if newer || self.newest_outside.is_some_and(|newest| id <= newest) {
            return None;
        }
        Some(None)
    }

    /// A page of the public list, as [`PublicService::incidents`] gives it, or `None`
    /// when the page reaches incidents that ended before the window.
    pub fn page(
        &self,
        filter: &IncidentFilter,
        after: Option<IncidentId>,
        first: u64,
    ) -> Option<(Vec<PublicIncident>, bool)> {
        let first = usize::try_from(first.clamp(1, MAX_PAGE)).unwrap_or(100);
        let start = after.map_or(0, |after| match self.position(after) {
            Ok(at) => at + 1,
            Err(at) => at,
        });
        let mut page: Vec<PublicIncident> = self.incidents[start..]
            .iter()
            .filter(|public| filter.matches(&public.incident))
            .take(first + 1)
            .map(|public| PublicIncident::clone(public))
            .collect();
        // Older incidents can only come after (below) `newest_outside`; a page that
        // stays above it, or a filter that excludes everything that ended before the
        // window, is complete from memory.
        let complete = match self.newest_outside {
            None => true,
            Some(_) if filter.from.is_some_and(|from| from >= self.since) => true,
            Some(newest) => page.len() > first && page[first].incident.id > newest,
        };
        if !complete {
            return None;
        }
        let more = page.len() > first;
        page.truncate(first);
        Some((page, more))
    }

    /// The public, started incidents that overlap the local day `date`, by start, or
    /// `None` when the day begins before the window.
    pub fn day(&self, tz: Tz, date: NaiveDate) -> Option<Vec<PublicIncident>> {
        let (start, end) = day_bounds(tz, date);
        if start < self.since {
            return None;
        }
        let mut day: Vec<PublicIncident> = self
            .incidents
            .iter()
            .filter(|public| {
                let incident = &public.incident;
                incident.status != IncidentStatus::Planned
                    && incident.start < end
                    && incident.end.is_none_or(|ended| ended >= start)
            })
            .map(|public| PublicIncident::clone(public))
            .collect();
        day.sort_by_key(|public| (public.incident.start, public.incident.id));
        Some(day)
    }

    /// Whether the window still starts where the history calendar does at `now`
    /// (the first of a month ends that).
    pub fn is_current(&self, tz: Tz, now: DateTime<Utc>) -> bool {
        history_start(tz, now) == self.since
    }

    /// The window with `changes` (from [`PublicService::incidents_now`]) applied.
    #[must_use]
    pub fn with_changes(&self, changes: Vec<(IncidentId, Option<PublicIncident>)>) -> Self {
        let mut window = self.clone();
        for (id, now) in changes {
            if let Ok(at) = window.position(id) {
                window.incidents.remove(at);
            }
            let Some(public) = now else { continue };
            if public.incident.end.is_some_and(|end| end < window.since) {
                // Moved out of the window: the database answers for it from now on.
                window.newest_outside = window.newest_outside.max(Some(id));
            } else if let Err(at) = window.position(id) {
                window.incidents.insert(at, Arc::new(public));
            }
        }
        window
    }

    /// The history calendar at `now`.
    pub fn history(&self, tz: Tz, now: DateTime<Utc>) -> Vec<HistoryDay> {
        let spans = self
            .incidents
            .iter()
            .map(|public| &public.incident)
            .filter(|incident| incident.status != IncidentStatus::Planned && incident.start <= now)
            .map(|incident| (incident.severity, incident.start, incident.end));
        history_days(spans, tz, now)
    }
}
