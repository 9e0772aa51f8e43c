//! Who is logged in to the console. Sessions hand it out and second factors belong to
//! it; it lives apart from `auth` because `auth` checks the second factors, and they
//! must name the user without importing `auth` back.
//!
//! Also the step-up rule: changes that would let a stolen session keep or widen its
//! hold (passwords, users, second factors of others, secrets) need the user's password
//! or second factor given within the last [`STEP_UP_WINDOW`]. The services that make
//! them take a [`StepUp`], which only a recent sign-in (or the command line) can give.

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::{ClassifiedError, ErrorKind};

/// How recent the password or second factor must be for a step-up change.
pub const STEP_UP_WINDOW: TimeDelta = TimeDelta::minutes(5);

/// A logged-in console user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleUser {
    pub id: i64,
    pub username: String,
    /// The sign-in this session belongs to (its refresh-token family).
    pub session: String,
    /// When the user last gave a password or second factor in this sign-in.
    pub authenticated_at: DateTime<Utc>,
}

impl ConsoleUser {
    /// Permission for a step-up change, if the user proved who they are recently.
    pub fn step_up(&self) -> Result<StepUp, StepUpRequired> {
        if Utc::now() - self.authenticated_at <= STEP_UP_WINDOW {
            Ok(StepUp(()))
        } else {
            Err(StepUpRequired)
        }
    }
}

/// Proof that the change comes from someone who just gave a password or second factor.
#[derive(Debug)]
pub struct StepUp(());

impl StepUp {
    /// Whoever runs `monostat` on the server's command line owns it already.
    pub fn command_line() -> Self {
        Self(())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("confirm your password first: this change needs it given within the last 5 minutes")]
pub struct StepUpRequired;

impl ClassifiedError for StepUpRequired {
    fn kind(&self) -> ErrorKind {
        ErrorKind::StepUpRequired
    }
}
