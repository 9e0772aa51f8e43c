//! Who is calling a console field: the logged-in user, or the error that says why not.

use async_graphql::{Context, Result};

use crate::domain::Actor;
use crate::graphql::context::Caller;
use crate::graphql::errors::{Code, GqlResultExt};
use crate::services::{ConsoleUser, Services, StepUp};

/// The logged-in user, or UNAUTHENTICATED.
pub(super) fn console_user<'a>(ctx: &'a Context<'_>) -> Result<&'a ConsoleUser> {
    match ctx.data::<Caller>()? {
        Caller::Console(user) => Ok(user),
        Caller::InvalidToken => {
            Err(Code::Unauthenticated.error("the session has expired or was revoked; log in again"))
        }
        Caller::Anonymous => Err(Code::Unauthenticated.error("log in to use the console")),
    }
}

pub(super) fn actor<'a>(ctx: &'a Context<'_>) -> Result<(Actor, &'a Services)> {
    let user = console_user(ctx)?;
    Ok((Actor::User(user.username.clone()), ctx.data::<Services>()?))
}

/// The caller, and their permission for a step-up change; REAUTHENTICATION_REQUIRED
/// when their password or second factor is not recent (the console then asks for it
/// and calls `reauthenticate`).
pub(super) fn stepped_up<'a>(
    ctx: &'a Context<'_>,
) -> Result<(&'a ConsoleUser, StepUp, &'a Services)> {
    let user = console_user(ctx)?;
    let step_up = user.step_up().gql()?;
    Ok((user, step_up, ctx.data::<Services>()?))
}
