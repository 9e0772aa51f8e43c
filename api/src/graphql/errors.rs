//! The one place where service errors become GraphQL errors with a stable code.

use async_graphql::{Error, ErrorExtensions, Response};

use crate::services::{
    AuthError, IncidentError, NotificationError, PublicError, SecondFactorError, SettingsError,
    SubscriberError, UserError,
};

/// Stable values of `extensions.code`, for clients to branch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    TooManyRequests,
    Unavailable,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Conflict => "CONFLICT",
            Self::TooManyRequests => "TOO_MANY_REQUESTS",
            Self::Unavailable => "UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }

    pub fn error(self, message: impl Into<String>) -> Error {
        Error::new(message).extend_with(|_, extensions| extensions.set("code", self.as_str()))
    }
}

fn internal(error: &dyn std::fmt::Display) -> Error {
    tracing::error!(%error, "internal error in a GraphQL resolver");
    Code::Internal.error("internal error; it has been logged")
}

fn database(error: &sea_orm::DbErr) -> Error {
    if crate::store::is_unreachable(error) {
        Code::Unavailable.error("the database is unreachable; try again shortly")
    } else {
        internal(error)
    }
}

impl ToGql for IncidentError {
    fn to_gql(self) -> Error {
        let error = self;
        match &error {
            IncidentError::NotFound(_) | IncidentError::EntryNotFound(_) => {
                Code::NotFound.error(error.to_string())
            }
            IncidentError::Transition(_) => Code::Conflict.error(error.to_string()),
            IncidentError::Invalid { field, .. } => Code::BadUserInput
                .error(error.to_string())
                .extend_with(|_, e| e.set("field", *field)),
            IncidentError::NothingToUpdate => Code::BadUserInput.error(error.to_string()),
            IncidentError::Database(db) => database(db),
        }
    }
}

impl ToGql for PublicError {
    fn to_gql(self) -> Error {
        let error = self;
        match &error {
            PublicError::Database(db) => database(db),
        }
    }
}

impl ToGql for SettingsError {
    fn to_gql(self) -> Error {
        let error = self;
        match &error {
            SettingsError::SetByEnvironment(_) | SettingsError::SlackSetByEnvironment { .. } => {
                Code::Conflict.error(error.to_string())
            }
            SettingsError::NotAnAlertSource(_) => Code::NotFound.error(error.to_string()),
            SettingsError::Invalid { field, .. } => Code::BadUserInput
                .error(error.to_string())
                .extend_with(|_, e| e.set("field", *field)),
            SettingsError::Database(db) => database(db),
        }
    }
}

impl ToGql for UserError {
    fn to_gql(self) -> Error {
        let error = self;
        match &error {
            UserError::UsernameTaken(_) | UserError::OwnAccount => {
                Code::Conflict.error(error.to_string())
            }
            UserError::NotFound(_) => Code::NotFound.error(error.to_string()),
            UserError::InvalidUsername | UserError::WeakPassword(_) => {
                Code::BadUserInput.error(error.to_string())
            }
            UserError::Hashing(_) => internal(&error),
            UserError::Database(db) => database(db),
        }
    }
}

impl ToGql for AuthError {
    fn to_gql(self) -> Error {
        let error = self;
        match error {
            AuthError::InvalidCredentials
            | AuthError::InvalidToken
            | AuthError::PendingLoginExpired
            | AuthError::InvalidSecondFactor
            | AuthError::CodeAlreadyUsed => Code::Unauthenticated.error(error.to_string()),
            AuthError::FactorNotEnrolled(_) => Code::BadUserInput.error(error.to_string()),
            AuthError::TooManyAttempts { .. } => Code::TooManyRequests.error(error.to_string()),
            AuthError::Database(db) => database(&db),
            AuthError::User(user) => user.to_gql(),
            AuthError::SecondFactor(factor) => factor.to_gql(),
        }
    }
}

impl ToGql for SecondFactorError {
    fn to_gql(self) -> Error {
        match &self {
            Self::NotFound(_) | Self::UserNotFound(_) => Code::NotFound.error(self.to_string()),
            Self::InvalidName | Self::WrongCode | Self::Expired | Self::InvalidCredential(_) => {
                Code::BadUserInput.error(self.to_string())
            }
            Self::AlreadyRegistered => Code::Conflict.error(self.to_string()),
            Self::WebauthnUnavailable(_) | Self::Unusable => {
                Code::Unavailable.error(self.to_string())
            }
            Self::Database(db) => database(db),
            Self::Corrupt(_) => internal(&self),
        }
    }
}

/// A service error as a GraphQL error with a code. async-graphql converts any
/// `Display` error with `?`, without a code and with its raw message; resolvers call
/// `.gql()` instead, and [`ensure_codes`] hides whatever slipped through.
pub trait ToGql {
    fn to_gql(self) -> Error;
}

impl ToGql for sea_orm::DbErr {
    fn to_gql(self) -> Error {
        database(&self)
    }
}

pub trait GqlResultExt<T> {
    fn gql(self) -> Result<T, Error>;
}

impl<T, E: ToGql> GqlResultExt<T> for Result<T, E> {
    fn gql(self) -> Result<T, Error> {
        self.map_err(ToGql::to_gql)
    }
}

impl ToGql for SubscriberError {
    fn to_gql(self) -> Error {
        match &self {
            Self::SubscriptionsClosed => Code::Forbidden.error(self.to_string()),
            Self::InvalidEmail(_) => Code::BadUserInput.error(self.to_string()),
            Self::AlreadySubscribed(_) => Code::Conflict.error(self.to_string()),
            Self::NotFound(_) => Code::NotFound.error(self.to_string()),
            Self::Database(db) => database(db),
        }
    }
}

impl ToGql for NotificationError {
    fn to_gql(self) -> Error {
        match &self {
            Self::Database(db) => database(db),
        }
    }
}

/// Errors raised before any resolver ran (parse errors, unknown fields, wrong types,
/// invalid enum values, depth and complexity limits) come without a code; they are all
/// the client's to fix.
/// An error from a resolver without a code was converted implicitly and may carry
/// internal detail: it is logged and replaced.
pub fn ensure_codes(response: &mut Response) {
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some());
        if has_code {
            continue;
        }
        let code = if error.path.is_empty() {
            Code::BadUserInput
        } else {
            tracing::error!(message = %error.message, "uncoded error from a GraphQL resolver");
            error.message = "internal error; it has been logged".into();
            Code::Internal
        };
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", code.as_str());
    }
}
