//! What the public may see: the current status, incidents, the history calendar and
//! single days. Dismissed incidents never leave this module; every public surface
//! (GraphQL, feeds, Statuspage JSON, the page itself) reads through it.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use sea_orm::DbErr;

use super::deps::Deps;
use crate::domain::{Headline, Incident, IncidentId, IncidentStatus, Severity, headline};
use crate::store::{incident, incidents, settings, timeline};

/// How long a resolved incident stays under "recent incidents".
const RECENT: TimeDelta = TimeDelta::hours(24);
/// The largest page of incidents one request may ask for.
pub const MAX_PAGE: u64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum PublicError {
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// An incident with its timeline, newest entry first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicIncident {
    pub incident: Incident,
    pub updates: Vec<PublicUpdate>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUpdate {
    pub id: i64,
    pub created: DateTime<Utc>,
    pub message: String,
    pub new_status: Option<IncidentStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteInfo {
    pub system_name: String,
    pub support_email: Option<String>,
    pub support_phone: Option<String>,
    pub legal_notice_url: Option<String>,
    pub privacy_url: Option<String>,
    pub theme: Theme,
    pub logo: Option<Logo>,
    pub time_zone: String,
    pub default_language: String,
    pub subscriptions_open: bool,
}

impl SiteInfo {
    /// The zone the site's days are counted in; UTC for a name chrono-tz does not know.
    pub fn tz(&self) -> Tz {
        self.time_zone.parse().unwrap_or(Tz::UTC)
    }
}

/// The uploaded logo, carried with the public state so it is served without the
/// database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logo {
    pub content_type: String,
    pub data: std::sync::Arc<[u8]>,
    /// Changes with the image; part of its URL, so browsers may keep it for good.
    pub version: String,
}

impl Logo {
    /// Where the public pages link it.
    pub fn url(&self) -> String {
        format!("/logo?v={}", self.version)
    }

    fn new(content_type: String, data: Vec<u8>) -> Self {
        use sha2::{Digest, Sha256};
        let version = hex::encode(&Sha256::digest(&data)[..8]);
        Self {
            content_type,
            data: data.into(),
            version,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Theme {
    pub primary: String,
    pub link: String,
    pub success: String,
    pub warning: String,
    pub danger: String,
    pub info: String,
    pub text_primary: String,
    pub text_secondary: String,
}

/// Everything the front page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusView {
    pub headline: Headline,
    pub site: SiteInfo,
    /// Suspected, confirmed and watching incidents, newest first.
    pub current: Vec<PublicIncident>,
    /// Resolved incidents that started or ended in the last 24 hours.
    pub recent: Vec<PublicIncident>,
    /// Planned maintenance that has not started, soonest first.
    pub planned: Vec<PublicIncident>,
    pub generated_at: DateTime<Utc>,
}

impl StatusView {
    /// The front page from its incidents (those [`on_front_page`]), newest first.
    pub fn assemble(site: SiteInfo, incidents: Vec<PublicIncident>, now: DateTime<Utc>) -> Self {
        let mut view = Self {
            headline: headline(
                incidents
                    .iter()
                    .map(|i| (i.incident.status, i.incident.severity)),
            ),
            site,
            current: Vec::new(),
            recent: Vec::new(),
            planned: Vec::new(),
            generated_at: now,
        };
        for incident in incidents {
            match incident.incident.status {
                IncidentStatus::Planned => view.planned.push(incident),
                IncidentStatus::Resolved => view.recent.push(incident),
                _ => view.current.push(incident),
            }
        }
        view.planned
            .sort_by_key(|i| (i.incident.start, i.incident.id));
        view
    }
}

/// Whether the front page shows `incident` at `now`: open, planned, or resolved within
/// the last day (`store::incidents::front_page` asks the same of the database).
pub fn on_front_page(incident: &Incident, now: DateTime<Utc>) -> bool {
    let since = now - RECENT;
    match incident.status {
        IncidentStatus::Resolved => {
            incident.start >= since || incident.end.is_some_and(|end| end >= since)
        }
        IncidentStatus::Dismissed => false,
        _ => true,
    }
}

/// One day of the history calendar, in the site's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryDay {
    pub date: NaiveDate,
    /// The worst severity among incidents overlapping the day; `None` for a quiet day.
    pub worst: Option<Severity>,
}

/// Filters for the public incident list; empty lists mean "any".
#[derive(Clone, Debug, Default)]
pub struct IncidentFilter {
    pub statuses: Vec<IncidentStatus>,
    pub severities: Vec<Severity>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl IncidentFilter {
    /// Whether `incident` is listed (`store::incidents::Filter` asks the same of the
    /// database).
    pub fn matches(&self, incident: &Incident) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&incident.status))
            && (self.severities.is_empty() || self.severities.contains(&incident.severity))
            && self.to.is_none_or(|to| incident.start < to)
            && self
                .from
                .is_none_or(|from| incident.end.is_none_or(|end| end >= from))
    }
}

#[derive(Clone)]
pub struct PublicService {
    pub(super) deps: Deps,
}

impl PublicService {
    pub(super) fn new(deps: Deps) -> Self {
        Self { deps }
    }

    pub async fn site(&self) -> Result<SiteInfo, PublicError> {
        let db = &self.deps.db;
        let site = settings::site(db).await?.ok_or_else(missing_settings)?;
        let notifications = settings::notifications(db).await?;
        Ok(SiteInfo {
            system_name: site.system_name,
            support_email: site.support_email,
            support_phone: site.support_phone,
            legal_notice_url: site.legal_notice_url,
            privacy_url: site.privacy_url,
            theme: Theme {
                primary: site.color_primary,
                link: site.color_link,
                success: site.color_success,
                warning: site.color_warning,
                danger: site.color_danger,
                info: site.color_info,
                text_primary: site.color_text_primary,
                text_secondary: site.color_text_secondary,
            },
            logo: site
                .logo_data
                .map(|data| Logo::new(site.logo_content_type.unwrap_or_default(), data)),
            time_zone: site.time_zone,
            default_language: site.default_language,
            subscriptions_open: notifications.is_some_and(|n| n.allow_subscriptions),
        })
    }

    pub async fn status(&self) -> Result<StatusView, PublicError> {
        let now = Utc::now();
        let site = self.site().await?;
        let rows = incidents::front_page(&self.deps.db, now - RECENT).await?;
        let incidents = self.with_updates(rows).await?;
        Ok(StatusView::assemble(site, incidents, now))
    }

    /// The newest `limit` incidents the team has confirmed (neither suspected nor
    /// dismissed), by start: planned maintenance when `maintenance`, else the others.
    /// What feeds and the Statuspage JSON list.
    pub async fn latest(
        &self,
        limit: u64,
        maintenance: bool,
    ) -> Result<Vec<PublicIncident>, PublicError> {
        let rows = incidents::latest_confirmed(&self.deps.db, limit, maintenance).await?;
        self.with_updates(rows).await
    }

    /// One incident, unless it does not exist or was dismissed.
    pub async fn incident(&self, id: IncidentId) -> Result<Option<PublicIncident>, PublicError> {
        let row = incidents::find_public(&self.deps.db, id).await?;
        Ok(self.with_updates(row.into_iter().collect()).await?.pop())
    }

    /// Public incidents, newest first, `first` at most, after the incident `after`.
    /// Returns the page and whether more follow.
    pub async fn incidents(
        &self,
        filter: &IncidentFilter,
        after: Option<IncidentId>,
        first: u64,
    ) -> Result<(Vec<PublicIncident>, bool), PublicError> {
        let first = first.clamp(1, MAX_PAGE);
        let store_filter = incidents::Filter {
            statuses: &filter.statuses,
            severities: &filter.severities,
            from: filter.from,
            to: filter.to,
            text: None,
        };
        let mut rows =
            incidents::public_page(&self.deps.db, &store_filter, after, first + 1).await?;
        let more = rows.len() as u64 > first;
        rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
        Ok((self.with_updates(rows).await?, more))
    }

    /// The worst severity of every day from the first day of the month eleven months
    /// ago up to today, in the site's time zone.
    pub async fn history(&self) -> Result<Vec<HistoryDay>, PublicError> {
        let tz = self.time_zone().await?;
        let now = Utc::now();
        let rows = incidents::history_spans(&self.deps.db, history_start(tz, now), now).await?;
        Ok(history_days(rows, tz, now))
    }

    /// The incidents that overlap one day in the site's time zone, by start.
    pub async fn day(&self, date: NaiveDate) -> Result<Vec<PublicIncident>, PublicError> {
        let (start, end) = day_bounds(self.time_zone().await?, date);
        let rows = incidents::overlapping(&self.deps.db, start, end).await?;
        self.with_updates(rows).await
    }

    async fn time_zone(&self) -> Result<Tz, PublicError> {
        let site = settings::site(&self.deps.db)
            .await?
            .ok_or_else(missing_settings)?;
        Ok(site.time_zone.parse().unwrap_or(Tz::UTC))
    }

    /// Attaches each incident's timeline with one query for all of them.
    pub(super) async fn with_updates(
        &self,
        rows: Vec<incident::Model>,
    ) -> Result<Vec<PublicIncident>, PublicError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let mut by_incident = timeline::of_incidents(&self.deps.db, ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let updates = by_incident
                    .remove(&row.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|entry| PublicUpdate {
                        id: entry.id,
                        created: entry.created_at,
                        message: entry.message,
                        new_status: entry.new_status,
                    })
                    .collect();
                PublicIncident {
                    incident: Incident::from(row),
                    updates,
                }
            })
            .collect())
    }
}

/// The first day of the history calendar: the first of the month eleven months ago.
fn history_first_day(tz: Tz, now: DateTime<Utc>) -> NaiveDate {
    let today = now.with_timezone(&tz).date_naive();
    today
        .with_day(1)
        .and_then(|d| d.checked_sub_months(chrono::Months::new(11)))
        .unwrap_or(today)
}

/// The instant the history calendar begins.
pub fn history_start(tz: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    local_midnight(tz, history_first_day(tz, now))
}

/// The history calendar from the spans (severity, start, end) of the public, started
/// incidents that overlap it.
pub fn history_days(
    spans: impl IntoIterator<Item = (Severity, DateTime<Utc>, Option<DateTime<Utc>>)>,
    tz: Tz,
    now: DateTime<Utc>,
) -> Vec<HistoryDay> {
    let today = now.with_timezone(&tz).date_naive();
    let first_day = history_first_day(tz, now);
    let mut worst: BTreeMap<NaiveDate, Severity> = BTreeMap::new();
    for (severity, start, end) in spans {
        let mut day = start.with_timezone(&tz).date_naive().max(first_day);
        let last = end
            .unwrap_or(now)
            .with_timezone(&tz)
            .date_naive()
            .min(today);
        while day <= last {
            worst
                .entry(day)
                .and_modify(|w| *w = (*w).max(severity))
                .or_insert(severity);
            let Some(next) = day.checked_add_days(Days::new(1)) else {
                break;
            };
            day = next;
        }
    }
    first_day
        .iter_days()
        .take_while(|day| *day <= today)
        .map(|date| HistoryDay {
            date,
            worst: worst.get(&date).copied(),
        })
        .collect()
}

/// The instants one local day begins and ends.
pub fn day_bounds(tz: Tz, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = local_midnight(tz, date);
    let end = date
        .succ_opt()
        .map_or(start + TimeDelta::days(1), |next| local_midnight(tz, next));
    (start, end)
}

/// The instant a local day begins; on a day starting in a DST gap, the first instant
/// that exists.
fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(midnight + TimeDelta::hours(1)))
                .earliest()
        })
        .map_or_else(
            || Utc.from_utc_datetime(&midnight),
            |local| local.with_timezone(&Utc),
        )
}

fn missing_settings() -> PublicError {
    PublicError::Database(DbErr::RecordNotFound(
        "the site settings row is missing; run `monostat migrate`".into(),
    ))
}
