//! E-mail subscribers: the list, counts, CSV import and export, adding and removing
//! addresses, and how far a notification to them got.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::access::actor;
use crate::domain::IncidentId;
use crate::graphql::errors::Code;
use crate::graphql::errors::GqlResultExt;
use crate::graphql::types::IncidentStatus;
use crate::services::views;

/// A subscriber, as the console lists them.
#[derive(SimpleObject)]
pub struct Subscriber {
    /// Identifies the subscriber, e.g. for `removeSubscriber`.
    id: i64,
    /// The e-mail address.
    email: String,
    /// Confirmed; receives notifications.
    active: bool,
    /// When the address was added.
    created: DateTime<Utc>,
    /// When the subscription was confirmed (or added with consent); absent while it
    /// waits for confirmation.
    confirmed: Option<DateTime<Utc>>,
}

impl From<views::Subscriber> for Subscriber {
    fn from(row: views::Subscriber) -> Self {
        Self {
            id: row.id,
            email: row.email,
            active: row.active,
            created: row.created,
            confirmed: row.confirmed,
        }
    }
}

/// How many subscribers there are.
#[derive(SimpleObject)]
pub struct SubscriberCounts {
    /// Confirmed; they receive notifications.
    active: u64,
    /// Waiting for their confirmation.
    pending: u64,
    /// Subscription mails (confirmation requests) sent in the last hour.
    opt_in_mails_last_hour: u64,
    /// `MONOSTAT_OPTIN_MAILS_PER_HOUR`: at this many, new subscriptions are answered
    /// "try again later".
    opt_in_mails_per_hour: u64,
}

/// How far a notification fan-out got.
#[derive(SimpleObject)]
pub struct NotificationProgress {
    /// Mails to send in all, one per subscriber; 0 when no notification went out.
    total: u64,
    /// Mails sent.
    sent: u64,
    /// Mails that failed for good.
    failed: u64,
    /// Mails still waiting to be sent.
    pending: u64,
}

/// What a CSV import did.
#[derive(SimpleObject)]
pub struct ImportResult {
    /// How many new addresses were added.
    added: u64,
    /// Addresses already on the list or repeated in the file.
    duplicates: Vec<String>,
    /// Lines that are not an address, as `line: text`.
    invalid: Vec<String>,
}

#[derive(Default)]
pub struct SubscribersQuery;

#[Object]
impl SubscribersQuery {
    /// Subscribers whose address contains `search`, in address order.
    async fn subscribers(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Part of the address; empty for all.")] search: String,
        #[graphql(default = 0, desc = "How many matching subscribers to skip.")] offset: i32,
        #[graphql(default = 50, desc = "At most this many, 1 to 500.")] first: i32,
    ) -> Result<Vec<Subscriber>> {
        let (_, services) = actor(ctx)?;
        let rows = services
            .subscribers
            .search(
                &search,
                u64::try_from(offset).unwrap_or(0),
                u64::try_from(first).unwrap_or(50).clamp(1, 500),
            )
            .await
            .gql()?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// How many subscribers are active and how many wait for confirmation.
    async fn subscriber_counts(&self, ctx: &Context<'_>) -> Result<SubscriberCounts> {
        let (_, services) = actor(ctx)?;
        let count = services.subscribers.count().await.gql()?;
        let optin = services.subscribers.optin_load().await;
        Ok(SubscriberCounts {
            active: count.active,
            pending: count.pending,
            opt_in_mails_last_hour: optin.last_hour,
            opt_in_mails_per_hour: optin.per_hour,
        })
    }

    /// Every subscriber as CSV (address, active, created, confirmed).
    async fn export_subscribers(&self, ctx: &Context<'_>) -> Result<String> {
        let (_, services) = actor(ctx)?;
        services.subscribers.export_csv().await.gql()
    }

    /// How far the notification about an incident's status got.
    async fn notification_progress(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] incident_id: i64,
        #[graphql(desc = "The status whose notification to follow.")] status: IncidentStatus,
    ) -> Result<NotificationProgress> {
        let (_, services) = actor(ctx)?;
        let progress = services
            .notifications
            .progress(IncidentId(incident_id), status.into())
            .await
            .gql()?;
        Ok(NotificationProgress {
            total: progress.total,
            sent: progress.sent,
            failed: progress.failed,
            pending: progress.pending,
        })
    }
}

#[derive(Default)]
pub struct SubscribersMutation;

#[Object]
impl SubscribersMutation {
    /// Adds an address. Active at once only if the person already consented elsewhere;
    /// otherwise they get the opt-in mail like any visitor.
    async fn add_subscriber(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The address to add.")] email: String,
        #[graphql(
            default,
            desc = "The person already agreed to notifications: active at once, no opt-in mail."
        )]
        consented: bool,
    ) -> Result<Subscriber> {
        let (actor, services) = actor(ctx)?;
        let email = crate::domain::SubscriberEmail::parse(&email)
            .map_err(|error| Code::BadUserInput.error(error.to_string()))?;
        Ok(services
            .subscribers
            .add(&actor, &email, consented)
            .await
            .gql()?
            .into())
    }

    /// Removes a subscriber.
    async fn remove_subscriber(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscriber's `id`.")] id: i64,
    ) -> Result<bool> {
        let (actor, services) = actor(ctx)?;
        services.subscribers.remove(&actor, id).await.gql()?;
        Ok(true)
    }

    /// Imports addresses from CSV (the first column), skipping and reporting invalid
    /// and duplicate ones.
    async fn import_subscribers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "CSV text; the first column of each line is an address.")] csv: String,
        #[graphql(
            default,
            desc = "The people already agreed to notifications: active at once, no opt-in mails."
        )]
        consented: bool,
    ) -> Result<ImportResult> {
        let (actor, services) = actor(ctx)?;
        let report = services
            .subscribers
            .import_csv(&actor, &csv, consented)
            .await
            .gql()?;
        Ok(ImportResult {
            added: report.added,
            duplicates: report.duplicates,
            invalid: report
                .invalid
                .into_iter()
                .map(|(line, text)| format!("{line}: {text}"))
                .collect(),
        })
    }
}
