//! The one place where service errors become GraphQL errors with a stable code, by
//! their [`ErrorKind`].

use async_graphql::{Error, ErrorExtensions, Response};

use crate::domain::{ClassifiedError, ErrorKind, UNAVAILABLE_MESSAGE};

/// Stable values of `extensions.code`, for clients to branch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    TooManyRequests,
    ReauthenticationRequired,
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
            Self::ReauthenticationRequired => "REAUTHENTICATION_REQUIRED",
            Self::Unavailable => "UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }

    pub fn error(self, message: impl Into<String>) -> Error {
        Error::new(message).extend_with(|_, extensions| extensions.set("code", self.as_str()))
    }
}

/// A service error as a GraphQL error with a code, by its [`ErrorKind`]. async-graphql
/// converts any `Display` error with `?`, without a code and with its raw message;
/// resolvers call `.gql()` instead, and [`ensure_codes`] hides whatever slipped through.
pub trait ToGql {
    fn to_gql(self) -> Error;
}

impl<E: ClassifiedError> ToGql for E {
    fn to_gql(self) -> Error {
        let code = match self.kind() {
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::Invalid { field: Some(field) } => {
                return Code::BadUserInput
                    .error(self.to_string())
                    .extend_with(|_, e| e.set("field", field.as_str()));
            }
            ErrorKind::Invalid { field: None } => Code::BadUserInput,
            ErrorKind::Conflict => Code::Conflict,
            ErrorKind::Unauthenticated => Code::Unauthenticated,
            ErrorKind::Forbidden => Code::Forbidden,
            ErrorKind::StepUpRequired => Code::ReauthenticationRequired,
            ErrorKind::RateLimited => Code::TooManyRequests,
            ErrorKind::Unconfigured => Code::Unavailable,
            // The details name the database; the log has them.
            ErrorKind::Unavailable => {
                return Code::Unavailable.error(UNAVAILABLE_MESSAGE);
            }
            ErrorKind::Internal => {
                tracing::error!(error = %self, "internal error in a GraphQL resolver");
                return Code::Internal.error("internal error; it has been logged");
            }
        };
        code.error(self.to_string())
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
