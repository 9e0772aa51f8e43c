//! The incident state machine of SPEC §2.
//!
//! ```text
//!  alert fires ─▶ suspected ─confirm─▶ confirmed ◀──▶ watching
//!                    │ dismiss            └──resolve──┴──▶ resolved ─reopen─▶ confirmed
//!                    ▼                                         
//!                 dismissed ─reopen─▶ confirmed      planned ─start─▶ confirmed
//! ```
//!
//! Choices where the spec is silent, written down here so there is one place to look:
//! - "Update" applies to planned, confirmed, watching and resolved incidents, and may
//!   move them to confirmed, watching or resolved. Moving a planned incident to resolved
//!   is how a maintenance is called off; that needs an update text saying why (the
//!   service refuses it without one), as a generic sentence would leave visitors guessing.
//! - Only a suspected incident can be dismissed; an incident a human confirmed is
//!   resolved instead, so the public history keeps it.

use super::incident::IncidentStatus::{
    self, Confirmed, Dismissed, Planned, Resolved, Suspected, Watching,
};

/// What someone wants to do to an existing incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Confirm,
    Dismiss,
    /// An update entry, optionally moving the incident to a new status.
    Update {
        new_status: Option<IncidentStatus>,
    },
    Reopen,
    StartMaintenance,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Dismiss => "dismiss",
            Self::Update { .. } => "update",
            Self::Reopen => "reopen",
            Self::StartMaintenance => "start maintenance on",
        }
    }

    /// The statuses an incident may be in for this action.
    pub fn allowed_from(self) -> &'static [IncidentStatus] {
        match self {
            Self::Confirm | Self::Dismiss => &[Suspected],
            Self::Update { .. } => &[Planned, Confirmed, Watching, Resolved],
            Self::Reopen => &[Resolved, Dismissed],
            Self::StartMaintenance => &[Planned],
        }
    }

    /// The status the incident ends up in, or why the action is not allowed.
    pub fn apply(self, current: IncidentStatus) -> Result<IncidentStatus, TransitionError> {
        if !self.allowed_from().contains(&current) {
            return Err(TransitionError::NotFrom {
                action: self.verb(),
                current,
                allowed: self.allowed_from(),
            });
        }
        match self {
            Self::Confirm | Self::Reopen | Self::StartMaintenance => Ok(Confirmed),
            Self::Dismiss => Ok(Dismissed),
            Self::Update { new_status: None } => Ok(current),
            Self::Update {
                new_status: Some(target),
            } => {
                if matches!(target, Confirmed | Watching | Resolved) {
                    Ok(target)
                } else {
                    Err(TransitionError::UpdateTarget { target })
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransitionError {
    #[error(
        "cannot {action} an incident that is {current}; allowed only when it is {}",
        list(allowed)
    )]
    NotFrom {
        action: &'static str,
        current: IncidentStatus,
        allowed: &'static [IncidentStatus],
    },
    #[error(
        "an update cannot move an incident to {target}; choose confirmed, watching or resolved"
    )]
    UpdateTarget { target: IncidentStatus },
}

fn list(statuses: &[IncidentStatus]) -> String {
    statuses
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Whether a timeline entry written with this change should carry `status` as its
/// `new_status`: when the status changed, or when no earlier entry carries it yet (so the
/// timeline shows every status the incident went through exactly once).
pub fn update_entry_carries_status(
    before: IncidentStatus,
    after: IncidentStatus,
    earlier_entry_statuses: &[IncidentStatus],
) -> bool {
    before != after || !earlier_entry_statuses.contains(&after)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[IncidentStatus] = IncidentStatus::ALL;

    fn outcomes(action: Action) -> Vec<(IncidentStatus, Result<IncidentStatus, TransitionError>)> {
        ALL.iter().map(|s| (*s, action.apply(*s))).collect()
    }

    #[test]
    fn confirm_and_dismiss_only_act_on_suspected_incidents() {
        for (from, outcome) in outcomes(Action::Confirm) {
            assert_eq!(outcome.is_ok(), from == Suspected, "confirm from {from}");
        }
        assert_eq!(Action::Confirm.apply(Suspected), Ok(Confirmed));
        assert_eq!(Action::Dismiss.apply(Suspected), Ok(Dismissed));
        for (from, outcome) in outcomes(Action::Dismiss) {
            assert_eq!(outcome.is_ok(), from == Suspected, "dismiss from {from}");
        }
    }

    #[test]
    fn updates_are_refused_for_suspected_and_dismissed_incidents() {
        let update = Action::Update { new_status: None };
        for (from, outcome) in outcomes(update) {
            let allowed = !matches!(from, Suspected | Dismissed);
            assert_eq!(outcome.is_ok(), allowed, "update from {from}");
            if allowed {
                assert_eq!(outcome, Ok(from));
            }
        }
    }

    #[test]
    fn updates_move_only_to_confirmed_watching_or_resolved() {
        for target in ALL {
            let outcome = Action::Update {
                new_status: Some(*target),
            }
            .apply(Confirmed);
            let allowed = matches!(target, Confirmed | Watching | Resolved);
            assert_eq!(outcome.is_ok(), allowed, "update to {target}");
        }
        assert_eq!(
            Action::Update {
                new_status: Some(Resolved)
            }
            .apply(Watching),
            Ok(Resolved)
        );
    }

    #[test]
    fn reopen_brings_closed_incidents_back_to_confirmed() {
        for (from, outcome) in outcomes(Action::Reopen) {
            let allowed = matches!(from, Resolved | Dismissed);
            assert_eq!(outcome.is_ok(), allowed, "reopen from {from}");
        }
        assert_eq!(Action::Reopen.apply(Dismissed), Ok(Confirmed));
    }

    #[test]
    fn only_planned_maintenance_can_start() {
        for (from, outcome) in outcomes(Action::StartMaintenance) {
            assert_eq!(outcome.is_ok(), from == Planned, "start from {from}");
        }
    }

    #[test]
    fn a_refusal_says_what_is_allowed() {
        let error = Action::Confirm.apply(Resolved).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot confirm an incident that is resolved; allowed only when it is suspected"
        );
        let error = Action::Update { new_status: None }
            .apply(Dismissed)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot update an incident that is dismissed; allowed only when it is planned or confirmed or watching or resolved"
        );
    }

    #[test]
    fn timeline_entries_carry_a_status_once() {
        assert!(update_entry_carries_status(
            Confirmed,
            Watching,
            &[Confirmed]
        ));
        assert!(!update_entry_carries_status(
            Watching,
            Watching,
            &[Confirmed, Watching]
        ));
        assert!(update_entry_carries_status(Confirmed, Confirmed, &[]));
    }
}
