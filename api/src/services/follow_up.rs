//! The jobs that changes enqueue: Slack messages and subscriber notifications.
//! Their handlers live with the adapters (Slack, e-mail); the payloads live here so the
//! service layer decides *what* must happen and adapters only decide *how*.

use serde::{Deserialize, Serialize};

use crate::domain::{Actor, Announcement, IncidentId, IncidentStatus, NotificationKind, Origin};
use crate::jobs::NewJob;

pub const SLACK_SYNC: &str = "slack.sync";
pub const NOTIFY_SUBSCRIBERS: &str = "notify.subscribers";
pub const SUBSCRIBER_MAIL: &str = "subscriber.mail";

/// Bring the incident's Slack parent message up to date and, with a note, add a reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackSync {
    pub incident_id: IncidentId,
    pub note: Option<SlackNote>,
}

/// What a thread reply tells the team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SlackNote {
    /// The incident was just created; the parent message is its announcement.
    Opened,
    /// Someone changed the incident; `what` is the audit sentence.
    Changed { actor: Actor, what: String },
    /// Another alert joined an open incident.
    AlertAttached { source: Origin, message: String },
    /// Every alert of a suspected incident closed and it was dismissed by itself:
    /// broadcast, asking the team whether it was real.
    AutoDismissed,
    /// Every alert of a confirmed incident closed: broadcast, reminding the team to
    /// resolve it when it is really over.
    AlertsClosed,
    /// A planned maintenance reached its start time and does not start by itself:
    /// ask the team whether to start it now.
    MaintenanceDue,
    /// Activity on an alert in the monitoring tool (acknowledged, note added).
    AlertActivity {
        source: Origin,
        by: String,
        what: String,
    },
}

/// E-mail every active subscriber about the incident's `status`. One per (incident,
/// status, episode): the dedupe key and the delivery table make it exactly once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifySubscribers {
    pub incident_id: IncidentId,
    pub status: IncidentStatus,
    pub kind: NotificationKindPayload,
    /// Jobs queued before episodes existed belong to the first.
    #[serde(default = "first_episode")]
    pub episode: i32,
}

fn first_episode() -> i32 {
    1
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKindPayload {
    NewIncident,
    StatusUpdate,
    Reopened,
    MaintenanceScheduled,
}

impl From<NotificationKind> for NotificationKindPayload {
    fn from(kind: NotificationKind) -> Self {
        match kind {
            NotificationKind::NewIncident => Self::NewIncident,
            NotificationKind::StatusUpdate(_) => Self::StatusUpdate,
            NotificationKind::Reopened(_) => Self::Reopened,
            NotificationKind::MaintenanceScheduled => Self::MaintenanceScheduled,
        }
    }
}

pub fn slack_sync(incident_id: IncidentId, note: Option<SlackNote>) -> NewJob {
    // One incident's messages go out in order: the parent before its replies.
    NewJob::new(SLACK_SYNC, &SlackSync { incident_id, note }).serial(format!("slack:{incident_id}"))
}

pub fn notify_subscribers(
    incident_id: IncidentId,
    status: IncidentStatus,
    announcement: Announcement,
) -> NewJob {
    let episode = announcement.episode;
    NewJob::new(
        NOTIFY_SUBSCRIBERS,
        &NotifySubscribers {
            incident_id,
            status,
            kind: announcement.kind.into(),
            episode,
        },
    )
    .dedupe(format!("notify:{incident_id}:{status}:{episode}"))
}

/// A mail to one subscriber about their subscription itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriberMail {
    pub subscriber_id: i64,
    pub kind: SubscriberMailKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriberMailKind {
    /// "Confirm your subscription", with the confirmation link.
    OptIn,
    /// Someone asked to subscribe an address that already is.
    AlreadySubscribed,
}

pub fn subscriber_mail(subscriber_id: i64, kind: SubscriberMailKind) -> NewJob {
    // A mail server refusing for days means the address is bad; stop sooner than for
    // notifications (which use the default).
    NewJob::new(
        SUBSCRIBER_MAIL,
        &SubscriberMail {
            subscriber_id,
            kind,
        },
    )
    .max_attempts(12)
}
