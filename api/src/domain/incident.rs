use std::fmt;

use serde::{Deserialize, Serialize};

/// The public number of an incident; it appears in URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentId(pub i64);

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

string_enum!(
    /// Where an incident stands in its lifecycle (SPEC §2).
    IncidentStatus, "incident status" {
        Planned => "planned",
        Suspected => "suspected",
        Dismissed => "dismissed",
        Confirmed => "confirmed",
        Watching => "watching",
        Resolved => "resolved",
    }
);

string_enum!(
    /// How bad an incident is, from least to most severe.
    Severity, "severity" {
        Maintenance => "maintenance",
        Notice => "notice",
        Bug => "bug",
        Partial => "partial",
        Outage => "outage",
    }
);

string_enum!(
    /// Who opened an incident: a person, or the monitoring source whose alert did.
    Origin, "origin" {
        Manual => "manual",
        Opsgenie => "opsgenie",
        Alertmanager => "alertmanager",
        Grafana => "grafana",
        Pagerduty => "pagerduty",
        Generic => "generic",
    }
);

impl IncidentStatus {
    /// Open incidents are the ones the team is still dealing with.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Suspected | Self::Confirmed | Self::Watching)
    }

    /// Dismissed incidents were false alarms and never appear anywhere public.
    pub fn is_public(self) -> bool {
        self != Self::Dismissed
    }

    /// Statuses that subscribers may hear about.
    pub fn is_announceable(self) -> bool {
        matches!(self, Self::Confirmed | Self::Watching | Self::Resolved)
    }
}

impl Severity {
    /// Severity ranks for "worst severity of the day"; higher is worse.
    pub fn rank(self) -> u8 {
        match self {
            Self::Maintenance => 0,
            Self::Notice => 1,
            Self::Bug => 2,
            Self::Partial => 3,
            Self::Outage => 4,
        }
    }

    /// Incidents of these severities collect alerts from monitoring while they are open.
    pub fn collects_alerts(self) -> bool {
        matches!(self, Self::Partial | Self::Outage)
    }
}

impl PartialOrd for Severity {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Severity {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_spelling() {
        for status in IncidentStatus::ALL {
            assert_eq!(status.as_str().parse::<IncidentStatus>(), Ok(*status));
        }
        for severity in Severity::ALL {
            assert_eq!(severity.as_str().parse::<Severity>(), Ok(*severity));
        }
    }

    #[test]
    fn a_bad_spelling_names_what_would_have_been_valid() {
        let error = "broken".parse::<Severity>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "\"broken\" is not a valid severity; expected one of: maintenance notice bug partial outage "
        );
    }

    #[test]
    fn outage_is_worse_than_everything() {
        let worst = Severity::ALL.iter().copied().max();
        assert_eq!(worst, Some(Severity::Outage));
        assert!(Severity::Maintenance < Severity::Notice);
    }
}

/// An incident as the rules see it (SPEC §1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    pub id: IncidentId,
    pub status: IncidentStatus,
    pub severity: Severity,
    pub title: String,
    pub summary: Option<String>,
    pub start: chrono::DateTime<chrono::Utc>,
    pub end: Option<chrono::DateTime<chrono::Utc>>,
    pub silent: bool,
    pub last_notified_status: Option<IncidentStatus>,
    /// The episode of the last announcement (0: none yet); see [`super::Announcement`].
    pub notified_episode: i32,
    pub origin: Origin,
    /// Planned maintenance that starts by itself at its start time.
    pub auto_start: bool,
    pub slack_channel: Option<String>,
    pub slack_ts: Option<String>,
    pub created: chrono::DateTime<chrono::Utc>,
    pub updated: chrono::DateTime<chrono::Utc>,
}

impl Incident {
    /// Whether alerts from monitoring join this incident instead of opening a new one.
    /// A suspected incident always collects them: it exists only because of alerts.
    pub fn collects_alerts(&self) -> bool {
        self.status == IncidentStatus::Suspected
            || (self.status.is_open() && self.severity.collects_alerts())
    }
}
