//! The one-line headline of the public page, by the precedence of SPEC §3.

use serde::Serialize;

use super::incident::{IncidentStatus, Severity};

/// The state the public page leads with. Ordered from most to least alarming.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Headline {
    /// A confirmed outage: "X is down".
    Down,
    /// A confirmed partial outage: "partially unavailable".
    PartiallyUnavailable,
    /// Monitoring fired, nobody confirmed yet: "might be having issues".
    MightHaveIssues,
    /// A confirmed known bug: "significant known issue".
    KnownIssue,
    /// A confirmed notice: "up and running", see notices.
    UpWithNotice,
    /// Confirmed maintenance: "undergoing planned maintenance".
    Maintenance,
    /// Watching: "recovering, we are monitoring".
    Recovering,
    /// Nothing open: "up and running".
    Operational,
}

/// The headline for a set of open incidents, given as (status, severity) pairs.
pub fn headline(open: impl IntoIterator<Item = (IncidentStatus, Severity)>) -> Headline {
    open.into_iter()
        .filter_map(|(status, severity)| match status {
            IncidentStatus::Suspected => Some(Headline::MightHaveIssues),
            IncidentStatus::Watching => Some(Headline::Recovering),
            IncidentStatus::Confirmed => Some(match severity {
                Severity::Outage => Headline::Down,
                Severity::Partial => Headline::PartiallyUnavailable,
                Severity::Bug => Headline::KnownIssue,
                Severity::Notice => Headline::UpWithNotice,
                Severity::Maintenance => Headline::Maintenance,
            }),
            _ => None,
        })
        .min()
        .unwrap_or(Headline::Operational)
}

#[cfg(test)]
mod tests {
    use super::IncidentStatus::{Confirmed, Dismissed, Planned, Resolved, Suspected, Watching};
    use super::Severity::{Bug, Maintenance, Notice, Outage, Partial};
    use super::*;

    #[test]
    fn nothing_open_is_operational() {
        assert_eq!(headline([]), Headline::Operational);
        assert_eq!(
            headline([
                (Resolved, Outage),
                (Dismissed, Outage),
                (Planned, Maintenance)
            ]),
            Headline::Operational
        );
    }

    #[test]
    fn precedence_follows_the_spec() {
        let ladder = [
            ((Confirmed, Outage), Headline::Down),
            ((Confirmed, Partial), Headline::PartiallyUnavailable),
            ((Suspected, Outage), Headline::MightHaveIssues),
            ((Confirmed, Bug), Headline::KnownIssue),
            ((Confirmed, Notice), Headline::UpWithNotice),
            ((Confirmed, Maintenance), Headline::Maintenance),
            ((Watching, Outage), Headline::Recovering),
        ];
        // Each rung wins over every rung below it.
        for (i, (incident, expected)) in ladder.iter().enumerate() {
            let below = ladder[i..].iter().map(|(incident, _)| *incident);
            assert_eq!(headline(below), *expected, "{incident:?}");
        }
    }
}
