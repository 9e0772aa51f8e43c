//! "Who gets notified" (SPEC §2), decided once, here.

use super::incident::{IncidentStatus, Severity};

/// Everything the rule looks at, after a change has been applied.
#[derive(Clone, Copy, Debug)]
pub struct NotificationContext {
    pub status: IncidentStatus,
    pub severity: Severity,
    pub last_notified_status: Option<IncidentStatus>,
    /// The episode of the last announcement; 0 before the first.
    pub notified_episode: i32,
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
    /// A resolved incident is open again: the first announcement of a new episode.
    Reopened(IncidentStatus),
    /// A maintenance was put on the calendar.
    MaintenanceScheduled,
}

/// One announcement to subscribers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announcement {
    pub kind: NotificationKind,
    /// Which stretch of the incident being open it belongs to: 1 until the incident is
    /// reopened after subscribers were told it was resolved, then 2, and so on. Each
    /// status is announced at most once per episode (the fan-out's dedupe key and
    /// delivery rows carry the episode).
    pub episode: i32,
}

/// Decides whether subscribers hear about the incident's current status. A `Some`
/// obliges the caller to record `ctx.status` and the episode as the incident's last
/// announcement in the same transaction.
pub fn decide_notification(ctx: NotificationContext) -> Option<Announcement> {
    if ctx.silent || ctx.do_not_notify {
        return None;
    }
    if ctx.severity == Severity::Maintenance && !ctx.notify_maintenance {
        return None;
    }
    // Subscribers were told it ended; now it is open again.
    let reopened = ctx.last_notified_status == Some(IncidentStatus::Resolved)
        && ctx.status.is_open()
        && ctx.status.is_announceable();
    if !reopened && Some(ctx.status) == ctx.last_notified_status {
        return None;
    }
    let kind = match ctx.status {
        IncidentStatus::Planned if ctx.severity == Severity::Maintenance => {
            NotificationKind::MaintenanceScheduled
        }
        status if reopened && status.is_announceable() => NotificationKind::Reopened(status),
        IncidentStatus::Confirmed if ctx.last_notified_status.is_none() => {
            NotificationKind::NewIncident
        }
        status if status.is_announceable() => NotificationKind::StatusUpdate(status),
        _ => return None,
    };
    let episode = if reopened {
        ctx.notified_episode + 1
    } else {
        ctx.notified_episode.max(1)
    };
    Some(Announcement { kind, episode })
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
            notified_episode: i32::from(last.is_some()),
            silent: false,
            do_not_notify: false,
            notify_maintenance: false,
        }
    }

    #[test]
    fn the_rule_table() {
        use NotificationKind::{NewIncident, Reopened, StatusUpdate};
        let table = [
            (Suspected, None, None),
            (Dismissed, None, None),
            (Planned, None, None),
            (Confirmed, None, Some(NewIncident)),
            (Confirmed, Some(Confirmed), None),
            (Watching, Some(Confirmed), Some(StatusUpdate(Watching))),
            (Resolved, Some(Watching), Some(StatusUpdate(Resolved))),
            (Resolved, Some(Resolved), None),
            // Reopened after resolution: "the incident is back".
            (Confirmed, Some(Resolved), Some(Reopened(Confirmed))),
            (Watching, Some(Resolved), Some(Reopened(Watching))),
            // Resolved without ever having been announced: still tell subscribers.
            (Resolved, None, Some(StatusUpdate(Resolved))),
        ];
        for (status, last, expected) in table {
            assert_eq!(
                decide_notification(ctx(status, last)).map(|a| a.kind),
                expected,
                "{status} after {last:?}"
            );
        }
    }

    #[test]
    fn reopening_starts_an_episode_whose_statuses_are_announced_again() {
        let announce = |status, last, episode| {
            decide_notification(NotificationContext {
                notified_episode: episode,
                ..ctx(status, last)
            })
        };
        let first = announce(Confirmed, None, 0).expect("announced");
        assert_eq!(first.episode, 1);
        assert_eq!(
            announce(Resolved, Some(Confirmed), 1).map(|a| a.episode),
            Some(1)
        );
        let back = announce(Confirmed, Some(Resolved), 1).expect("announced");
        assert_eq!(
            (back.kind, back.episode),
            (NotificationKind::Reopened(Confirmed), 2)
        );
        let again = announce(Resolved, Some(Confirmed), 2).expect("announced");
        assert_eq!(
            (again.kind, again.episode),
            (NotificationKind::StatusUpdate(Resolved), 2)
        );
        assert_eq!(
            announce(Confirmed, Some(Resolved), 2).map(|a| a.episode),
            Some(3)
        );
        // A reopening nobody is told of starts no episode; resolving it again is news
        // to no one.
        let mut quiet_reopen = ctx(Confirmed, Some(Resolved));
        quiet_reopen.do_not_notify = true;
        assert_eq!(decide_notification(quiet_reopen), None);
        assert_eq!(announce(Resolved, Some(Resolved), 1), None);
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
            decide_notification(scheduled).map(|a| a.kind),
            Some(NotificationKind::MaintenanceScheduled)
        );

        let mut started = ctx(Confirmed, Some(Planned));
        started.severity = Severity::Maintenance;
        assert_eq!(decide_notification(started), None);
        started.notify_maintenance = true;
        assert_eq!(
            decide_notification(started).map(|a| a.kind),
            Some(NotificationKind::StatusUpdate(Confirmed))
        );
    }
}
