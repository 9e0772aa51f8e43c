//! "Who gets notified" (SPEC §2), decided once, here.

use super::{IncidentStatus, Severity};

/// Everything the rule looks at, after a change has been applied.
#[derive(Clone, Copy, Debug)]
pub struct NotificationContext {
    pub status: IncidentStatus,
    pub severity: Severity,
    pub last_notified_status: Option<IncidentStatus>,
    pub silent: bool,
    /// The person making the change ticked "do not notify".
    pub do_not_notify: bool,
    /// Site setting; maintenance is only announced when it is on.
    pub notify_maintenance: bool,
}

/// What kind of mail subscribers get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationKind {
    /// The first announcement of a confirmed incident.
    NewIncident,
    /// A later change, carrying the new status.
    StatusUpdate(IncidentStatus),
    /// A maintenance was put on the calendar.
    MaintenanceScheduled,
}

/// Decides whether subscribers hear about the incident's current status. A `Some`
/// obliges the caller to record `ctx.status` as the incident's `last_notified_status`
/// in the same transaction, so each status is announced once.
pub fn decide_notification(ctx: NotificationContext) -> Option<NotificationKind> {
    if ctx.silent || ctx.do_not_notify {
        return None;
    }
    if Some(ctx.status) == ctx.last_notified_status {
        return None;
    }
    if ctx.severity == Severity::Maintenance && !ctx.notify_maintenance {
        return None;
    }
    match ctx.status {
        IncidentStatus::Planned if ctx.severity == Severity::Maintenance => {
            Some(NotificationKind::MaintenanceScheduled)
        }
        IncidentStatus::Confirmed if ctx.last_notified_status.is_none() => {
            Some(NotificationKind::NewIncident)
        }
        status if status.is_announceable() => Some(NotificationKind::StatusUpdate(status)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::IncidentStatus::{Confirmed, Dismissed, Planned, Resolved, Suspected, Watching};
    use super::*;

    fn ctx(status: IncidentStatus, last: Option<IncidentStatus>) -> NotificationContext {
        NotificationContext {
            status,
            severity: Severity::Outage,
            last_notified_status: last,
            silent: false,
            do_not_notify: false,
            notify_maintenance: false,
        }
    }

    #[test]
    fn the_rule_table() {
        use NotificationKind::{NewIncident, StatusUpdate};
        let table = [
            (Suspected, None, None),
            (Dismissed, None, None),
            (Planned, None, None),
            (Confirmed, None, Some(NewIncident)),
            (Confirmed, Some(Confirmed), None),
            (Watching, Some(Confirmed), Some(StatusUpdate(Watching))),
            (Resolved, Some(Watching), Some(StatusUpdate(Resolved))),
            (Resolved, Some(Resolved), None),
            // Reopened after resolution: announced again, as an update.
            (Confirmed, Some(Resolved), Some(StatusUpdate(Confirmed))),
            // Resolved without ever having been announced: still tell subscribers.
            (Resolved, None, Some(StatusUpdate(Resolved))),
        ];
        for (status, last, expected) in table {
            assert_eq!(
                decide_notification(ctx(status, last)),
                expected,
                "{status} after {last:?}"
            );
        }
    }

    #[test]
    fn silent_incidents_and_do_not_notify_changes_stay_quiet() {
        let mut silent = ctx(Confirmed, None);
        silent.silent = true;
        assert_eq!(decide_notification(silent), None);
        let mut quiet_change = ctx(Watching, Some(Confirmed));
        quiet_change.do_not_notify = true;
        assert_eq!(decide_notification(quiet_change), None);
    }

    #[test]
    fn maintenance_is_announced_only_when_the_site_enables_it() {
        let mut scheduled = ctx(Planned, None);
        scheduled.severity = Severity::Maintenance;
        assert_eq!(decide_notification(scheduled), None);
        scheduled.notify_maintenance = true;
        assert_eq!(
            decide_notification(scheduled),
            Some(NotificationKind::MaintenanceScheduled)
        );

        let mut started = ctx(Confirmed, Some(Planned));
        started.severity = Severity::Maintenance;
        assert_eq!(decide_notification(started), None);
        started.notify_maintenance = true;
        assert_eq!(
            decide_notification(started),
            Some(NotificationKind::StatusUpdate(Confirmed))
        );
    }
}
