//! Queries anyone may run, without a token.

use async_graphql::{Context, Enum, InputObject, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};

use super::context::ClientAddress;
use super::errors::Code;
use super::errors::GqlResultExt;
use super::types::{Day, Incident, IncidentPage, IncidentStatus, Severity, Status, domain_list};
use crate::domain::{IncidentId, SubscriberEmail};
use crate::public::PublicSnapshot;
use crate::services::{IncidentFilter, MAX_PAGE, Services, SubscriberError, TokenOutcome};

#[derive(Default)]
pub struct PublicQuery;

/// Which incidents to list; every part is optional.
#[derive(InputObject, Default)]
pub struct IncidentFilterInput {
    /// Only these statuses (dismissed incidents are never listed).
    statuses: Option<Vec<IncidentStatus>>,
    /// Only these severities.
    severities: Option<Vec<Severity>>,
    /// Only incidents still going on at or after this time.
    from: Option<DateTime<Utc>>,
    /// Only incidents that started before this time.
    to: Option<DateTime<Utc>>,
}

#[Object]
impl PublicQuery {
    /// The current state: headline, open, recent and planned incidents, site settings.
    /// Served from memory: it keeps answering while the database is away (see `stale`).
    async fn status(&self, ctx: &Context<'_>) -> Result<Status> {
        if let Some(snapshot) = ctx.data::<PublicSnapshot>()?.get() {
            return Ok(Status {
                view: snapshot.view.clone(),
                stale: snapshot.stale,
            });
        }
        let view = ctx.data::<Services>()?.public.status().await.gql()?;
        Ok(Status {
            view: view.into(),
            stale: false,
        })
    }

    /// One incident by its number; absent when unknown. Served from memory for the
    /// months of the history calendar.
    async fn incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number, as in its page's path.")] id: i64,
    ) -> Result<Option<Incident>> {
        let found = ctx
            .data::<PublicSnapshot>()?
            .incident(IncidentId(id))
            .await
            .gql()?;
        Ok(found.map(Incident))
    }

    /// Incidents, newest first, page by page.
    #[graphql(complexity = "first.unwrap_or(20).min(100) as usize * child_complexity")]
    async fn incidents(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which incidents; omit to list all public ones.")] filter: Option<
            IncidentFilterInput,
        >,
        #[graphql(desc = "Page size, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "The `nextCursor` of the previous page.")] after: Option<String>,
    ) -> Result<IncidentPage> {
        let filter = filter.unwrap_or_default();
        let first = first.unwrap_or(20);
        if !(1..=i32::try_from(MAX_PAGE).unwrap_or(100)).contains(&first) {
            return Err(Code::BadUserInput.error(format!("first must be between 1 and {MAX_PAGE}")));
        }
        let after = after
            .map(|cursor| cursor.parse::<i64>().map(IncidentId))
            .transpose()
            .map_err(|_| Code::BadUserInput.error("after is not a cursor this API gave out"))?;
        let filter = IncidentFilter {
            statuses: domain_list(filter.statuses),
            severities: domain_list(filter.severities),
            from: filter.from,
            to: filter.to,
        };
        let (items, more) = ctx
            .data::<PublicSnapshot>()?
            .incidents(&filter, after, u64::try_from(first).unwrap_or(20))
            .await
            .gql()?;
        let next_cursor = more
            .then(|| items.last().map(|last| last.incident.id.to_string()))
            .flatten();
        Ok(IncidentPage {
            items: items.into_iter().map(Incident).collect(),
            next_cursor,
        })
    }

    /// Every day from the first of the month eleven months ago until today, with the
    /// worst severity of that day, in the site's time zone.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<Day>> {
        if let Some(snapshot) = ctx.data::<PublicSnapshot>()?.get() {
            return Ok(snapshot.history.iter().copied().map(Into::into).collect());
        }
        let days = ctx.data::<Services>()?.public.history().await.gql()?;
        Ok(days.into_iter().map(Into::into).collect())
    }

    /// The incidents that overlapped one day (`YYYY-MM-DD`, site time zone).
    async fn day(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`YYYY-MM-DD`, in the site's time zone.")] date: String,
    ) -> Result<Vec<Incident>> {
        let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map_err(|_| Code::BadUserInput.error("date must look like 2026-11-25"))?;
        let incidents = ctx.data::<PublicSnapshot>()?.day(date).await.gql()?;
        Ok(incidents.into_iter().map(Incident).collect())
    }
}

/// What a confirmation or unsubscribe link did.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum TokenResult {
    /// Done now.
    Done,
    /// Done before (a second click); nothing changed.
    AlreadyDone,
    /// The link is unknown or no longer valid.
    Unknown,
}

impl From<TokenOutcome> for TokenResult {
    fn from(outcome: TokenOutcome) -> Self {
        match outcome {
            TokenOutcome::Done => Self::Done,
            TokenOutcome::AlreadyDone => Self::AlreadyDone,
            TokenOutcome::Unknown => Self::Unknown,
        }
    }
}

#[derive(Default)]
pub struct PublicMutation;

#[Object]
impl PublicMutation {
    /// Asks for e-mail notifications. The answer is the same whether or not the
    /// address is already on the list; a confirmation mail follows.
    async fn subscribe(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The address to notify.")] email: String,
        #[graphql(desc = "The visitor agreed to receive notifications.")] consent: bool,
    ) -> Result<bool> {
        let email = SubscriberEmail::parse(&email)
            .map_err(SubscriberError::from)
            .gql()?;
        let client = ctx.data::<ClientAddress>()?.0;
        ctx.data::<Services>()?
            .subscribers
            .subscribe(&email, consent, client)
            .await
            .gql()?;
        Ok(true)
    }

    /// Confirms a subscription with the token from the confirmation mail.
    async fn confirm_subscription(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token from the confirmation link.")] token: String,
    ) -> Result<TokenResult> {
        let outcome = ctx
            .data::<Services>()?
            .subscribers
            .confirm(&token)
            .await
            .gql()?;
        Ok(outcome.into())
    }

    /// Ends a subscription with the token from any notification mail.
    async fn unsubscribe(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The token from the unsubscribe link.")] token: String,
    ) -> Result<TokenResult> {
        let outcome = ctx
            .data::<Services>()?
            .subscribers
            .unsubscribe(&token)
            .await
            .gql()?;
        Ok(outcome.into())
    }
}
