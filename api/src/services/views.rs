//! What services hand to adapters when a row is the answer: plain data, so that GraphQL
//! types and other adapters depend on these rather than on sea-orm entities, and a
//! renamed column changes one `From` here instead of the API.

use chrono::{DateTime, Utc};

use crate::domain::{FactorKind, IncidentId, IncidentStatus, JobState};
use crate::store::{
    admin_user, alert, audit_entry, incident_update, job, notification_settings, second_factor,
    site_settings, subscriber,
};

/// One entry of an incident's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    pub id: i64,
    pub incident_id: IncidentId,
    pub created: DateTime<Utc>,
    /// Markdown.
    pub message: String,
    /// The status the incident moved to with this entry, if it did.
    pub new_status: Option<IncidentStatus>,
    /// Who wrote it, as the timeline names them.
    pub author: String,
}

impl From<incident_update::Model> for TimelineEntry {
    fn from(row: incident_update::Model) -> Self {
        Self {
            id: row.id,
            incident_id: IncidentId(row.incident_id),
            created: row.created_at,
            message: row.message,
            new_status: row.new_status,
            author: row.author,
        }
    }
}

/// An alert monitoring attached to an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    pub id: i64,
    pub incident_id: IncidentId,
    /// The source as stored; it may name a source this version no longer knows.
    pub source: String,
    pub external_id: String,
    pub message: String,
    pub description: Option<String>,
    pub created: DateTime<Utc>,
    pub resolved: Option<DateTime<Utc>>,
}

impl From<alert::Model> for Alert {
    fn from(row: alert::Model) -> Self {
        Self {
            id: row.id,
            incident_id: IncidentId(row.incident_id),
            source: row.source,
            external_id: row.external_id,
            message: row.message,
            description: row.description,
            created: row.created_at,
            resolved: row.resolved_at,
        }
    }
}

/// A background job as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    /// The job's data, as JSON.
    pub payload: String,
    pub state: JobState,
    pub attempts: i32,
    pub max_attempts: i32,
    pub last_error: Option<String>,
    pub run_at: DateTime<Utc>,
    pub created: DateTime<Utc>,
}

impl From<job::Model> for Job {
    fn from(row: job::Model) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            payload: row.payload,
            state: row.status,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            last_error: row.last_error,
            run_at: row.run_at,
            created: row.created_at,
        }
    }
}

/// A console user as the user list shows it; never the password hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAccount {
    pub id: i64,
    pub username: String,
    pub active: bool,
    pub created: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
}

impl From<admin_user::Model> for UserAccount {
    fn from(user: admin_user::Model) -> Self {
        Self {
            id: user.id,
            username: user.username,
            active: user.active,
            created: user.created_at,
            last_login: user.last_login_at,
        }
    }
}

/// An e-mail subscriber.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    /// What their confirm and unsubscribe links carry: for mails, not for the console.
    pub token: String,
    pub active: bool,
    pub created: DateTime<Utc>,
    pub confirmed: Option<DateTime<Utc>>,
}

impl From<subscriber::Model> for Subscriber {
    fn from(row: subscriber::Model) -> Self {
        Self {
            id: row.id,
            email: row.email,
            token: row.token,
            active: row.active,
            created: row.created_at,
            confirmed: row.confirmed_at,
        }
    }
}

/// A second factor of a console user; never its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecondFactor {
    pub id: i64,
    pub kind: FactorKind,
    pub name: String,
    pub created: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
}

impl From<second_factor::Model> for SecondFactor {
    fn from(row: second_factor::Model) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            name: row.name,
            created: row.created_at,
            last_used: row.last_used_at,
        }
    }
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `user`, `slack`, `alert_source` or `system`.
    pub actor_kind: String,
    pub actor_name: String,
    pub incident_id: Option<IncidentId>,
    pub message: String,
}

impl From<audit_entry::Model> for AuditEntry {
    fn from(row: audit_entry::Model) -> Self {
        Self {
            id: row.id,
            at: row.at,
            actor_kind: row.actor_kind,
            actor_name: row.actor_name,
            incident_id: row.incident_id.map(IncidentId),
            message: row.message,
        }
    }
}

/// Who may subscribe and what they hear about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationSettings {
    pub allow_subscriptions: bool,
    /// The Reply-To of notification mails; absent for none.
    pub reply_to: Option<String>,
    /// Whether planned maintenance is announced too.
    pub notify_maintenance: bool,
}

impl From<notification_settings::Model> for NotificationSettings {
    fn from(row: notification_settings::Model) -> Self {
        Self {
            allow_subscriptions: row.allow_subscriptions,
            reply_to: row.reply_to,
            notify_maintenance: row.notify_maintenance,
        }
    }
}

/// What mails and the subscription pages take from the site settings: the product's
/// name and the colours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branding {
    pub system_name: String,
    /// `#rrggbb`, as stored; mails check them before use.
    pub color_primary: String,
    pub color_link: String,
    pub color_text_primary: String,
    pub color_text_secondary: String,
}

impl From<site_settings::Model> for Branding {
    fn from(row: site_settings::Model) -> Self {
        Self {
            system_name: row.system_name,
            color_primary: row.color_primary,
            color_link: row.color_link,
            color_text_primary: row.color_text_primary,
            color_text_secondary: row.color_text_secondary,
        }
    }
}
