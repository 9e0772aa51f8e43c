//! Subscribers: double opt-in subscription, confirmation and unsubscription by token,
//! and the console's list management (add, remove, search, count, CSV export/import).
//!
//! Rules decided here:
//! - Subscribing answers the same whether or not the address is known, so the form
//!   cannot be used to find out who subscribed. A known, unconfirmed address gets the
//!   opt-in mail again, a confirmed one a short "already subscribed" mail; either at
//!   most once per [`MAIL_INTERVAL`], so the form cannot be used to flood an inbox.
//! - Visitors' requests are limited per client address, and confirmation mails to new
//!   addresses per hour site-wide (`MONOSTAT_OPTIN_MAILS_PER_HOUR`), both across
//!   replicas when Redis is configured: past either, the answer is "try again later".
//! - Unsubscribing deletes the row (and its delivery history): the person asked to be
//!   forgotten, and a fresh subscription starts with a fresh token.
//! - Mails are jobs enqueued in the same transaction, so an SMTP outage delays them
//!   instead of losing them, and the web request never waits for SMTP.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    TryInsertResult,
};

use super::deps::Deps;
use super::follow_up::{self, SubscriberMailKind};
use super::views::Subscriber;
use super::{audit, tx};
use crate::domain::{Actor, InvalidEmail, SubscriberEmail, read_subscriber_csv};
use crate::events::DomainEvent;
use crate::ratelimit::{self, Limit};
use crate::store::{settings, subscriber, subscribers};

/// Subscriber tokens carry this much randomness (SPEC §1 asks for at least 128 bits).
const TOKEN_BITS: usize = 128;
/// At most one subscription mail per address in this interval.
pub const MAIL_INTERVAL: TimeDelta = TimeDelta::hours(24);
const SEARCH_LIMIT_MAX: u64 = 500;
const REQUESTS_PER_ADDRESS: usize = 5;
const REQUEST_WINDOW: Duration = Duration::from_mins(10);
const OPTIN_WINDOW: Duration = Duration::from_hours(1);

#[derive(Debug, thiserror::Error)]
pub enum SubscriberError {
    #[error("this status page does not take new subscriptions")]
    SubscriptionsClosed,
    #[error("please agree to receive notifications")]
    NoConsent,
    #[error("too many requests from your address; try again in {minutes} minutes")]
    TooManyRequests { minutes: u64 },
    #[error("many people are subscribing right now; please try again in {minutes} minutes")]
    TooManyOptIns { minutes: u64 },
    #[error(transparent)]
    InvalidEmail(#[from] InvalidEmail),
    #[error("{0} is already on the list")]
    AlreadySubscribed(SubscriberEmail),
    #[error("subscriber {0} does not exist")]
    NotFound(i64),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl tx::DbError for SubscriberError {
    fn db_error(&self) -> Option<&DbErr> {
        match self {
            Self::Database(error) => Some(error),
            _ => None,
        }
    }
}

/// Where a token stands, for the pages that ask before they act.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenState {
    /// Subscribed, waiting for confirmation.
    Pending,
    Active,
    /// Never issued, or its subscriber has unsubscribed.
    Unknown,
}

/// What confirming or unsubscribing did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenOutcome {
    Done,
    /// The same request came before (a second click); nothing changed.
    AlreadyDone,
    Unknown,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubscriberCount {
    pub active: u64,
    pub pending: u64,
}

/// Subscription mails of the last hour against `MONOSTAT_OPTIN_MAILS_PER_HOUR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptInLoad {
    pub last_hour: u64,
    pub per_hour: u64,
}

/// What one subscribe request did.
struct Subscribed {
    /// A new, unconfirmed row.
    created: bool,
    /// A mail is queued.
    mailed: bool,
}

/// What a CSV import did, line by line where it matters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub added: u64,
    /// Addresses already on the list or repeated in the file.
    pub duplicates: Vec<String>,
    /// `(line number, text)` of lines that are not an address.
    pub invalid: Vec<(usize, String)>,
}

#[derive(Clone)]
pub struct SubscriberService {
    deps: Deps,
    requests_per_address: Limit,
    optin_mails: Limit,
}

/// The one key of the site-wide opt-in window.
const ALL: &str = "all";

impl SubscriberService {
    pub(super) fn new(deps: Deps) -> Self {
        Self {
            requests_per_address: deps.limits.window(
                "subscribe-address",
                REQUEST_WINDOW,
                REQUESTS_PER_ADDRESS,
            ),
            optin_mails: deps.limits.window(
                "optin-mails",
                OPTIN_WINDOW,
                deps.config.optin_mails_per_hour,
            ),
            deps,
        }
    }

    /// A visitor asks for notifications. Answers `Ok` whether or not the address was
    /// known (see the module docs); refuses when subscriptions are closed, without
    /// consent, and past the limits.
    pub async fn subscribe(
        &self,
        email: &SubscriberEmail,
        consent: bool,
        client: IpAddr,
    ) -> Result<(), SubscriberError> {
        if !consent {
            return Err(SubscriberError::NoConsent);
        }
        self.requests_per_address
            .take(&crate::client_ip::limit_key(client))
            .await
            .map_err(|wait| SubscriberError::TooManyRequests {
                minutes: ratelimit::minutes(wait),
            })?;
        // Taken up front so parallel requests cannot all slip under the cap; given
        // back when no mail goes out after all.
        self.optin_mails
            .take(ALL)
            .await
            .map_err(|wait| SubscriberError::TooManyOptIns {
                minutes: ratelimit::minutes(wait),
            })?;
        let outcome = self.subscribe_in_tx(email).await;
        if !matches!(outcome, Ok(Subscribed { mailed: true, .. })) {
            self.optin_mails.give_back(ALL).await;
        }
        let Subscribed { created, mailed } = outcome?;
        if mailed {
            self.deps.jobs.wake();
        }
        if created {
            self.deps.events.publish(DomainEvent::SubscribersChanged);
        }
        Ok(())
    }

    async fn subscribe_in_tx(
        &self,
        email: &SubscriberEmail,
    ) -> Result<Subscribed, SubscriberError> {
        tx::write_tx!(&self.deps.db, SubscriberError, |txn| {
            let now = Utc::now();
            let open = settings::notifications(txn)
                .await?
                .is_some_and(|settings| settings.allow_subscriptions);
            if !open {
                return Err(SubscriberError::SubscriptionsClosed);
            }
            match subscribers::find_by_email(txn, email).await? {
                None => {
                    let row = insert(txn, email, false, now).await?;
                    follow_up::subscriber_mail(row.id, SubscriberMailKind::OptIn)
                        .enqueue(txn)
                        .await?;
                    // No address in the log: until confirmed, it may be someone else's.
                    audit::record(
                        txn,
                        &Actor::System,
                        None,
                        "A visitor subscribed; waiting for confirmation",
                    )
                    .await?;
                    Ok(Subscribed {
                        created: true,
                        mailed: true,
                    })
                }
                Some(row) => {
                    if row
                        .last_mail_at
                        .is_some_and(|last| now - last < MAIL_INTERVAL)
                    {
                        return Ok(Subscribed {
                            created: false,
                            mailed: false,
                        });
                    }
                    let kind = if row.active {
                        SubscriberMailKind::AlreadySubscribed
                    } else {
                        SubscriberMailKind::OptIn
                    };
                    let id = row.id;
                    let mut row = row.into_active_model();
                    row.last_mail_at = Set(Some(now));
                    row.update(txn).await?;
                    follow_up::subscriber_mail(id, kind).enqueue(txn).await?;
                    Ok(Subscribed {
                        created: false,
                        mailed: true,
                    })
                }
            }
        })
    }

    pub async fn token_state(&self, token: &str) -> Result<TokenState, SubscriberError> {
        Ok(
            match subscribers::find_by_token(&self.deps.db, token).await? {
                None => TokenState::Unknown,
                Some(row) if row.active => TokenState::Active,
                Some(_) => TokenState::Pending,
            },
        )
    }

    /// The subscriber clicked the opt-in link and then the button.
    pub async fn confirm(&self, token: &str) -> Result<TokenOutcome, SubscriberError> {
        let outcome = tx::write_tx!(&self.deps.db, SubscriberError, |txn| {
            let Some(row) = subscribers::find_by_token(txn, token).await? else {
                return Ok(TokenOutcome::Unknown);
            };
            if row.active {
                return Ok(TokenOutcome::AlreadyDone);
            }
            let email = row.email.clone();
            let mut row = row.into_active_model();
            row.active = Set(true);
            row.confirmed_at = Set(Some(Utc::now()));
            row.update(txn).await?;
            audit::record(
                txn,
                &Actor::System,
                None,
                format!("{email} confirmed their subscription"),
            )
            .await?;
            Ok(TokenOutcome::Done)
        })?;
        if outcome == TokenOutcome::Done {
            self.deps.events.publish(DomainEvent::SubscribersChanged);
        }
        Ok(outcome)
    }

    /// Removes the subscriber holding `token`. Idempotent: a second call finds nothing
    /// and says so, which the pages present as "you are not subscribed".
    pub async fn unsubscribe(&self, token: &str) -> Result<TokenOutcome, SubscriberError> {
        let outcome = tx::write_tx!(&self.deps.db, SubscriberError, |txn| {
            if !subscribers::delete_by_token(txn, token).await? {
                return Ok(TokenOutcome::Unknown);
            }
            // They asked to be forgotten, so the log does not keep the address either.
            audit::record(txn, &Actor::System, None, "A subscriber unsubscribed").await?;
            Ok(TokenOutcome::Done)
        })?;
        if outcome == TokenOutcome::Done {
            self.deps.events.publish(DomainEvent::SubscribersChanged);
        }
        Ok(outcome)
    }

    /// Console: adds one address. Active at once only if the person already consented
    /// elsewhere; otherwise they get the opt-in mail like any visitor.
    pub async fn add(
        &self,
        actor: &Actor,
        email: &SubscriberEmail,
        consented: bool,
    ) -> Result<Subscriber, SubscriberError> {
        let row = tx::write_tx!(&self.deps.db, SubscriberError, |txn| {
            if subscribers::find_by_email(txn, email).await?.is_some() {
                return Err(SubscriberError::AlreadySubscribed(email.clone()));
            }
            let row = insert(txn, email, consented, Utc::now()).await?;
            if !consented {
                follow_up::subscriber_mail(row.id, SubscriberMailKind::OptIn)
                    .enqueue(txn)
                    .await?;
            }
            let how = if consented {
                "as confirmed"
            } else {
                "and sent the opt-in mail"
            };
            audit::record(txn, actor, None, format!("Added subscriber {email} {how}")).await?;
            Ok(row)
        })?;
        self.deps.jobs.wake();
        self.deps.events.publish(DomainEvent::SubscribersChanged);
        Ok(row.into())
    }

    /// Console: removes one subscriber.
    pub async fn remove(&self, actor: &Actor, id: i64) -> Result<(), SubscriberError> {
        tx::write_tx!(&self.deps.db, SubscriberError, |txn| {
            let row = subscribers::find(txn, id)
                .await?
                .ok_or(SubscriberError::NotFound(id))?;
            subscribers::delete(txn, id).await?;
            audit::record(
                txn,
                actor,
                None,
                format!("Removed subscriber {}", row.email),
            )
            .await?;
            Ok(())
        })?;
        self.deps.events.publish(DomainEvent::SubscribersChanged);
        Ok(())
    }

    /// Console: subscribers whose address contains `query`, in address order.
    pub async fn search(
        &self,
        query: &str,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Subscriber>, SubscriberError> {
        let query = query.trim().to_lowercase();
        let rows =
            subscribers::search(&self.deps.db, &query, offset, limit.min(SEARCH_LIMIT_MAX)).await?;
        Ok(rows.into_iter().map(Subscriber::from).collect())
    }

    pub async fn count(&self) -> Result<SubscriberCount, SubscriberError> {
        let (all, active) = subscribers::count(&self.deps.db).await?;
        Ok(SubscriberCount {
            active,
            pending: all.saturating_sub(active),
        })
    }

    /// Console: how close new subscriptions are to being turned away.
    pub async fn optin_load(&self) -> OptInLoad {
        OptInLoad {
            last_hour: self.optin_mails.count(ALL).await as u64,
            per_hour: self.deps.config.optin_mails_per_hour as u64,
        }
    }

    /// Console: every subscriber as CSV (`email,active,created,confirmed`), the format
    /// [`Self::import_csv`] reads back.
    pub async fn export_csv(&self) -> Result<String, SubscriberError> {
        let rows = subscribers::all(&self.deps.db).await?;
        let mut csv = String::from("email,active,created,confirmed\n");
        for row in rows {
            // Validated addresses contain no comma, quote or line break, so no quoting.
            let _ = writeln!(
                csv,
                "{},{},{},{}",
                row.email,
                row.active,
                row.created_at.to_rfc3339(),
                row.confirmed_at
                    .map(|at| at.to_rfc3339())
                    .unwrap_or_default()
            );
        }
        Ok(csv)
    }

    /// Console: adds the addresses in the first column of `csv` (a header line starting
    /// with `email` is skipped). Invalid and duplicate addresses are skipped and
    /// reported. `consented`: the importer states these people already opted in
    /// elsewhere, so they are active at once; otherwise each gets the opt-in mail.
    pub async fn import_csv(
        &self,
        actor: &Actor,
        csv: &str,
        consented: bool,
    ) -> Result<ImportReport, SubscriberError> {
        let read = read_subscriber_csv(csv);
        let mut report = ImportReport {
            duplicates: read.duplicates,
            invalid: read.invalid,
            ..ImportReport::default()
        };
        let addresses = read.addresses;
        let (added, duplicates) = tx::write_tx!(&self.deps.db, SubscriberError, |txn| {
            let now = Utc::now();
            let mut added = 0_u64;
            let mut duplicates = Vec::new();
            for email in &addresses {
                match insert_if_new(txn, email, consented, now).await? {
                    Some(id) => {
                        added += 1;
                        if !consented {
                            follow_up::subscriber_mail(id, SubscriberMailKind::OptIn)
                                .enqueue(txn)
                                .await?;
                        }
                    }
                    None => duplicates.push(email.to_string()),
                }
            }
            audit::record(
                txn,
                actor,
                None,
                format!(
                    "Imported {added} subscribers ({}), skipped {} duplicates and {} invalid lines",
                    if consented {
                        "consent stated by the importer"
                    } else {
                        "opt-in mail sent"
                    },
                    duplicates.len(),
                    report.invalid.len()
                ),
            )
            .await?;
            Ok((added, duplicates))
        })?;
        report.added = added;
        report.duplicates.extend(duplicates);
        if added > 0 {
            self.deps.jobs.wake();
            self.deps.events.publish(DomainEvent::SubscribersChanged);
        }
        Ok(report)
    }

    pub async fn get(&self, id: i64) -> Result<Option<Subscriber>, SubscriberError> {
        Ok(subscribers::find(&self.deps.db, id)
            .await?
            .map(Subscriber::from))
    }
}

fn new_row(email: &SubscriberEmail, active: bool, now: DateTime<Utc>) -> subscriber::ActiveModel {
    subscriber::ActiveModel {
        email: Set(email.as_str().to_owned()),
        active: Set(active),
        token: Set(crate::secret::random_token(TOKEN_BITS)),
        created_at: Set(now),
        confirmed_at: Set(active.then_some(now)),
        // Only an inactive subscriber is sent the opt-in mail now.
        last_mail_at: Set((!active).then_some(now)),
        ..Default::default()
    }
}

async fn insert(
    conn: &impl ConnectionTrait,
    email: &SubscriberEmail,
    active: bool,
    now: DateTime<Utc>,
) -> Result<subscriber::Model, DbErr> {
    // A concurrent insert of the same address fails on the unique index, and write_tx
    // runs the whole change again, then finding the row.
    new_row(email, active, now).insert(conn).await
}

/// Inserts unless the address exists; `Some(id)` when inserted.
async fn insert_if_new(
    conn: &impl ConnectionTrait,
    email: &SubscriberEmail,
    active: bool,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    let inserted = subscriber::Entity::insert(new_row(email, active, now))
        .on_conflict_do_nothing_on([subscriber::Column::Email])
        .exec(conn)
        .await?;
    Ok(match inserted {
        TryInsertResult::Inserted(result) => Some(result.last_insert_id),
        TryInsertResult::Empty | TryInsertResult::Conflicted => None,
    })
}
