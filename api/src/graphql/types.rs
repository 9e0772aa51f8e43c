//! GraphQL types: mirrors of the domain and views of the service layer, documented for
//! GraphiQL and `schema.graphql`.

use std::sync::Arc;

use async_graphql::{Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain;
use crate::markdown::markdown_html;
use crate::services::{HistoryDay, PublicIncident, PublicUpdate, SiteInfo, StatusView};

/// Mirrors a domain enum as a GraphQL enum with conversions both ways.
macro_rules! mirror_enum {
    ($(#[$meta:meta])* $name:ident = $domain:path { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl From<$domain> for $name {
            fn from(value: $domain) -> Self {
                match value { $(<$domain>::$variant => Self::$variant),+ }
            }
        }

        impl From<$name> for $domain {
            fn from(value: $name) -> Self {
                match value { $($name::$variant => Self::$variant),+ }
            }
        }
    };
}

mirror_enum!(
    /// Where an incident stands in its lifecycle.
    IncidentStatus = domain::IncidentStatus {
        /// Planned maintenance that has not started.
        Planned,
        /// Monitoring fired; nobody has confirmed the problem yet.
        Suspected,
        /// A false alarm; never shown publicly.
        Dismissed,
        /// The team confirmed the problem and is working on it.
        Confirmed,
        /// A fix is in place and the team is watching.
        Watching,
        /// Over.
        Resolved,
    }
);

mirror_enum!(
    /// How bad an incident is, from least to most severe.
    Severity = domain::Severity {
        /// Planned maintenance.
        Maintenance,
        /// Something worth knowing; the product works.
        Notice,
        /// A known bug (shown as "Known bug").
        Bug,
        /// Part of the product is unavailable.
        Partial,
        /// The product is down.
        Outage,
    }
);

mirror_enum!(
    /// The one-line state the status page leads with, by the precedence of the spec.
    Headline = domain::Headline {
        /// A confirmed outage: the product is down.
        Down,
        /// A confirmed partial outage.
        PartiallyUnavailable,
        /// Monitoring fired; the team was alerted and will confirm.
        MightHaveIssues,
        /// A confirmed significant known issue.
        KnownIssue,
        /// Up and running, with notices.
        UpWithNotice,
        /// Undergoing planned maintenance.
        Maintenance,
        /// Recovering; the team is monitoring.
        Recovering,
        /// Up and running.
        Operational,
    }
);

mirror_enum!(
    /// A monitoring source that can send alerts.
    AlertSourceKind = domain::Origin {
        /// Not an alert source: incidents created by people.
        Manual,
        /// OpsGenie (or Jira Service Management) outgoing webhooks.
        Opsgenie,
        /// Prometheus Alertmanager.
        Alertmanager,
        /// Grafana Alerting.
        Grafana,
        /// PagerDuty.
        Pagerduty,
        /// Any other monitoring tool, through the generic webhook.
        Generic,
    }
);

/// An optional list of GraphQL enum values as their domain values; absent is empty
/// (a filter that does not filter).
pub fn domain_list<T: Into<D>, D>(list: Option<Vec<T>>) -> Vec<D> {
    list.unwrap_or_default()
        .into_iter()
        .map(Into::into)
        .collect()
}

/// An incident as the public sees it.
pub struct Incident(pub PublicIncident);

/// A status incident: what went wrong, when, and what the team said about it.
#[Object]
impl Incident {
    /// The public number of the incident.
    async fn id(&self) -> i64 {
        self.0.incident.id.0
    }

    /// Where it stands now; never `DISMISSED` here.
    async fn status(&self) -> IncidentStatus {
        self.0.incident.status.into()
    }

    /// How bad it is (or was).
    async fn severity(&self) -> Severity {
        self.0.incident.severity.into()
    }

    /// One line, plain text.
    async fn title(&self) -> &str {
        &self.0.incident.title
    }

    /// Markdown; absent when the team has not written one yet.
    async fn summary(&self) -> Option<&str> {
        self.0.incident.summary.as_deref()
    }

    /// The summary as sanitised HTML, safe to insert into a page.
    async fn summary_html(&self) -> Option<String> {
        self.0.incident.summary.as_deref().map(markdown_html)
    }

    /// When it started (or, for planned maintenance, will start).
    async fn start(&self) -> DateTime<Utc> {
        self.0.incident.start
    }

    /// When it ended; absent while it lasts.
    async fn end(&self) -> Option<DateTime<Utc>> {
        self.0.incident.end
    }

    /// The path of the incident's page: `/{YYYY-MM-DD of start, UTC}/{id}`.
    async fn path(&self) -> String {
        domain::incident_path(self.0.incident.start, self.0.incident.id)
    }

    /// The timeline, newest entry first.
    async fn updates(&self) -> Vec<IncidentUpdate> {
        self.0.updates.iter().cloned().map(IncidentUpdate).collect()
    }
}

pub struct IncidentUpdate(pub PublicUpdate);

/// One timeline entry of an incident.
#[Object]
impl IncidentUpdate {
    /// Identifies the entry; stable across edits.
    async fn id(&self) -> i64 {
        self.0.id
    }

    /// When it was posted.
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }

    /// Markdown.
    async fn message(&self) -> &str {
        &self.0.message
    }

    /// The message as sanitised HTML, safe to insert into a page.
    async fn message_html(&self) -> String {
        markdown_html(&self.0.message)
    }

    /// The status the incident moved to with this entry, if it did.
    async fn new_status(&self) -> Option<IncidentStatus> {
        self.0.new_status.map(Into::into)
    }
}

/// The colours of the status page.
#[derive(SimpleObject)]
pub struct Theme {
    /// `#rrggbb`: the header and buttons.
    pub primary: String,
    /// `#rrggbb`: links and notices.
    pub link: String,
    /// `#rrggbb`: the operational headline and resolved incidents.
    pub success: String,
    /// `#rrggbb`: suspected incidents and known bugs.
    pub warning: String,
    /// `#rrggbb`: outages, partial outages and confirmed incidents.
    pub danger: String,
    /// `#rrggbb`: planned maintenance, recovery and incidents being watched.
    pub info: String,
    /// `#rrggbb`: body text.
    pub text_primary: String,
    /// `#rrggbb`: secondary text such as dates and labels.
    pub text_secondary: String,
}

/// The site's public settings.
#[derive(SimpleObject)]
pub struct Site {
    /// The product's name, as in "{name} is down".
    pub system_name: String,
    /// An e-mail address visitors may write to; absent when not set.
    pub support_email: Option<String>,
    /// A phone number for visitors, as entered; absent when not set.
    pub support_phone: Option<String>,
    /// Full `http(s)://` URL of the legal notice (imprint); absent when not set.
    pub legal_notice_url: Option<String>,
    /// Full `http(s)://` URL of the privacy policy; absent when not set.
    pub privacy_url: Option<String>,
    /// The page's colours.
    pub theme: Theme,
    /// Path of the uploaded logo; absent without one.
    pub logo_url: Option<String>,
    /// IANA time zone for the history calendar's day boundaries.
    pub time_zone: String,
    /// Language of the page and mails when the visitor's is not known: `en` or `de`.
    pub default_language: String,
    /// Whether visitors may subscribe to e-mail notifications.
    pub subscriptions_open: bool,
}

impl From<SiteInfo> for Site {
    fn from(site: SiteInfo) -> Self {
        Self {
            logo_url: site
                .logo
                .as_ref()
                .map(|logo| format!("/logo?v={}", logo.version)),
            system_name: site.system_name,
            support_email: site.support_email,
            support_phone: site.support_phone,
            legal_notice_url: site.legal_notice_url,
            privacy_url: site.privacy_url,
            theme: Theme {
                primary: site.theme.primary,
                link: site.theme.link,
                success: site.theme.success,
                warning: site.theme.warning,
                danger: site.theme.danger,
                info: site.theme.info,
                text_primary: site.theme.text_primary,
                text_secondary: site.theme.text_secondary,
            },
            time_zone: site.time_zone,
            default_language: site.default_language,
            subscriptions_open: site.subscriptions_open,
        }
    }
}

pub struct Status {
    pub view: Arc<StatusView>,
    pub stale: bool,
}

/// The current state of the product: everything the front page shows.
#[Object]
impl Status {
    /// The one-line state the page leads with.
    async fn headline(&self) -> Headline {
        self.view.headline.into()
    }

    /// The site's public settings.
    async fn site(&self) -> Site {
        self.view.site.clone().into()
    }

    /// Suspected, confirmed and watching incidents, newest first.
    async fn current(&self) -> Vec<Incident> {
        self.view.current.iter().cloned().map(Incident).collect()
    }

    /// Resolved incidents that started or ended in the last 24 hours.
    async fn recent(&self) -> Vec<Incident> {
        self.view.recent.iter().cloned().map(Incident).collect()
    }

    /// Planned maintenance that has not started, soonest first.
    async fn planned(&self) -> Vec<Incident> {
        self.view.planned.iter().cloned().map(Incident).collect()
    }

    /// When this state was computed.
    async fn generated_at(&self) -> DateTime<Utc> {
        self.view.generated_at
    }

    /// The database could not be read lately: this is the last state known, as of
    /// `generatedAt`.
    async fn stale(&self) -> bool {
        self.stale
    }
}

/// One day of the history calendar.
#[derive(SimpleObject)]
pub struct Day {
    /// `YYYY-MM-DD` in the site's time zone.
    pub date: String,
    /// The worst severity of the incidents that overlapped the day; absent for a quiet day.
    pub worst_severity: Option<Severity>,
}

impl From<HistoryDay> for Day {
    fn from(day: HistoryDay) -> Self {
        Self {
            date: day.date.format("%Y-%m-%d").to_string(),
            worst_severity: day.worst.map(Into::into),
        }
    }
}

/// A page of incidents.
#[derive(SimpleObject)]
pub struct IncidentPage {
    /// The incidents of this page, newest first.
    pub items: Vec<Incident>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}
