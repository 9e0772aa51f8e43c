//! Which [`ErrorKind`] each service error is. Kept together so the whole
//! classification reads as one table, and an edge never has to look at variants.

use sea_orm::DbErr;

use super::alert_intake::service::IntakeError;
use super::auth::AuthError;
use super::incidents::service::IncidentError;
use super::notifications::NotificationError;
use super::public::PublicError;
use super::second_factors::service::SecondFactorError;
use super::sessions::SessionError;
use super::settings::service::SettingsError;
use super::subscribers::SubscriberError;
use super::users::UserError;
use crate::domain::{ClassifiedError, ErrorKind, Field};

/// A database that cannot be reached is worth retrying; any other database error is a
/// bug or corrupt data.
fn database_kind(error: &DbErr) -> ErrorKind {
    if crate::store::is_unreachable(error) {
        ErrorKind::Unavailable
    } else {
        ErrorKind::Internal
    }
}

impl ClassifiedError for DbErr {
    fn kind(&self) -> ErrorKind {
        database_kind(self)
    }
}

impl ClassifiedError for IncidentError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound(_) | Self::EntryNotFound(_) => ErrorKind::NotFound,
            Self::Transition(_) => ErrorKind::Conflict,
            Self::Invalid { field, .. } => ErrorKind::Invalid {
                field: Some(*field),
            },
            Self::NothingToUpdate => ErrorKind::Invalid { field: None },
            Self::Database(error) => database_kind(error),
        }
    }
}

impl ClassifiedError for SettingsError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::SetByEnvironment(_) | Self::SlackSetByEnvironment { .. } => ErrorKind::Conflict,
            Self::NotAnAlertSource(_) => ErrorKind::NotFound,
            Self::Invalid { field, .. } => ErrorKind::Invalid {
                field: Some(*field),
            },
            Self::StepUp(error) => error.kind(),
            // Retrying will not help until someone sets the secret again.
            Self::Unreadable(_) => ErrorKind::Unconfigured,
            Self::Database(error) => database_kind(error),
        }
    }
}

impl ClassifiedError for SubscriberError {
    fn kind(&self) -> ErrorKind {
        match self {
            // Closed is a decision of the site, not a mistake in the request.
            Self::SubscriptionsClosed => ErrorKind::Forbidden,
            Self::InvalidEmail(_) => ErrorKind::Invalid {
                field: Some(Field::Email),
            },
            Self::NoConsent => ErrorKind::Invalid {
                field: Some(Field::Consent),
            },
            Self::TooManyRequests { .. } | Self::TooManyOptIns { .. } => ErrorKind::RateLimited,
            Self::AlreadySubscribed(_) => ErrorKind::Conflict,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::Database(error) => database_kind(error),
        }
    }
}

impl ClassifiedError for UserError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::UsernameTaken(_) | Self::OwnAccount => ErrorKind::Conflict,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::InvalidUsername | Self::WeakPassword(_) | Self::PasswordTooLong => {
                ErrorKind::Invalid { field: None }
            }
            Self::HashingBusy => ErrorKind::RateLimited,
            Self::Hashing(_) => ErrorKind::Internal,
            Self::Database(error) => database_kind(error),
        }
    }
}

impl ClassifiedError for AuthError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidCredentials
            | Self::PendingLoginExpired
            | Self::InvalidSecondFactor
            | Self::CodeAlreadyUsed => ErrorKind::Unauthenticated,
            // The session is fine; only the password given again was wrong.
            Self::FactorNotEnrolled(_)
            | Self::UsernameTooLong
            | Self::ReauthenticationFailed
            | Self::NothingToReauthenticateWith => ErrorKind::Invalid { field: None },
            Self::TooManyAttempts { .. } => ErrorKind::RateLimited,
            Self::Database(error) => database_kind(error),
            Self::User(error) => error.kind(),
            Self::SecondFactor(error) => error.kind(),
            Self::Session(error) => error.kind(),
        }
    }
}

impl ClassifiedError for SessionError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidToken => ErrorKind::Unauthenticated,
            Self::Database(error) => database_kind(error),
        }
    }
}

impl ClassifiedError for SecondFactorError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound(_) | Self::UserNotFound(_) => ErrorKind::NotFound,
            Self::InvalidName | Self::WrongCode | Self::Expired | Self::InvalidCredential(_) => {
                ErrorKind::Invalid { field: None }
            }
            Self::AlreadyRegistered => ErrorKind::Conflict,
            Self::WebauthnUnavailable(_) | Self::Unusable | Self::Unreadable(_) => {
                ErrorKind::Unconfigured
            }
            Self::Corrupt(_) => ErrorKind::Internal,
            Self::Database(error) => database_kind(error),
        }
    }
}

impl ClassifiedError for PublicError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Database(error) => database_kind(error),
        }
    }
}

impl ClassifiedError for NotificationError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Database(error) => database_kind(error),
        }
    }
}

impl ClassifiedError for IntakeError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Refused(error) => error.kind(),
            // Spooling happens only while the database is away.
            Self::SpoolUnwritable(_) => ErrorKind::Unavailable,
        }
    }
}
