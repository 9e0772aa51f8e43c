//! The one place Slack turns a service's refusal into words for the person who clicked
//! or submitted a form: by the error's [`ErrorKind`], never by its variant or message;
//! and the words for a request that is not trusted ([`TrustError`]).

use super::trust::TrustError;
use crate::domain::{ClassifiedError, ErrorKind};

pub(super) const NOT_ALLOWED: &str = "You are not allowed to change the status page.";
pub(super) const SLACK_UNREACHABLE: &str = "Slack could not be asked who you are; try again.";

/// What the person is told when their request is not trusted, or [`DatabaseAway`].
/// Why exactly (another workspace, not in the channel) is in the log, not in Slack.
pub(super) fn untrusted(error: &TrustError) -> Result<&'static str, DatabaseAway> {
    match error {
        TrustError::ForeignTeam { .. }
        | TrustError::ForeignApp { .. }
        | TrustError::NotAllowed { .. } => Ok(NOT_ALLOWED),
        TrustError::NoToken => Ok(
            "The status page's Slack app is not fully set up (no bot token), so nobody may change it from Slack yet.",
        ),
        TrustError::NoChannel => {
            Ok("The status page has no Slack channel set, so nobody may change it from Slack yet.")
        }
        TrustError::SlackUnreachable(_) => Ok(SLACK_UNREACHABLE),
        TrustError::SettingsAway(_) => Err(DatabaseAway),
    }
}

/// The database is away. Nothing that needs it (a job, a second try) can answer the
/// person now, so the caller answers through a path that does not.
pub(super) struct DatabaseAway;

/// The sentence to show, or [`DatabaseAway`].
pub(super) fn explain(error: &impl ClassifiedError) -> Result<String, DatabaseAway> {
    match error.kind() {
        ErrorKind::Unavailable => Err(DatabaseAway),
        ErrorKind::Internal => {
            tracing::error!(%error, "a change from Slack could not be saved");
            Ok("Could not save this; the error has been logged.".into())
        }
        // Slack shows the message under the field's input, so the field's name in front
        // of it would only repeat the label.
        ErrorKind::Invalid { field: Some(field) } => {
            let text = error.to_string();
            let message = text
                .strip_prefix(field.as_str())
                .and_then(|rest| rest.strip_prefix(": "))
                .unwrap_or(&text);
            Ok(sentence(message))
        }
        ErrorKind::Invalid { field: None }
        | ErrorKind::NotFound
        | ErrorKind::Conflict
        | ErrorKind::Unauthenticated
        | ErrorKind::Forbidden
        | ErrorKind::StepUpRequired
        | ErrorKind::RateLimited
        | ErrorKind::Unconfigured => Ok(sentence(&error.to_string())),
    }
}

/// `message` as a sentence: capitalised, one full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => String::new(),
    }
}
