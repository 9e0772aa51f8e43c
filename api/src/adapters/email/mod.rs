//! E-mail: the job handlers that send subscriber notifications and subscription mails,
//! the public subscription pages, the mail composition and the transport.
//!
//! The notification fan-out (`notify.subscribers`) is one job per (incident, status,
//! episode).
//! It asks the notification service to create the delivery rows, then sends the pending
//! ones through the pooled SMTP transport, [`transport::POOL_SIZE`] at a time, and
//! records each acceptance as it comes. On a temporary failure (4xx, connection lost)
//! it stops starting new sends, records what finished, and fails the job as temporary
//! so the queue retries it with back-off; the retry sends only what is still pending.
//! A set-up the server refuses (wrong password, untrusted certificate) parks the job
//! as dead with the reason, its deliveries still pending for a retry after the fix.
//! It starts no send once its job lease is no longer held (another worker may have
//! taken the job over). A crash between the server's "250 OK" and the recorded
//! acceptance is the one window in which a mail can go out twice — at most the mails in
//! flight; such a copy carries the same Message-ID (it is derived from the delivery),
//! which mail stores use to show it once.

pub mod compose;
pub mod transport;
pub mod web;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::config::Config;
use crate::domain::{ClassifiedError, ErrorKind};
use crate::jobs::{JobError, JobHandler, Lease};
use crate::services::follow_up::{
    NOTIFY_SUBSCRIBERS, NotifySubscribers, SUBSCRIBER_MAIL, SubscriberMail, SubscriberMailKind,
};
use crate::services::{FanOut, PendingDelivery, Preparation, Services};
use crate::store::job;

pub use compose::{NotificationTemplate, Sender};
pub use transport::{Mailer, SendError};

/// Pending deliveries read per query.
const BATCH: u64 = 500;
fn temporary(error: impl std::fmt::Display) -> JobError {
    JobError::Temporary(error.to_string())
}

/// Reads the sender details in force now (settings may change between jobs).
async fn current_sender(services: &Services, config: &Config) -> Result<Sender, JobError> {
    let site = services.settings.branding().await.map_err(temporary)?;
    let notifications = services.settings.notifications().await.map_err(temporary)?;
    // A bad MONOSTAT_MAIL_FROM needs a restart to fix; retrying until then is right.
    Sender::new(config, &site, &notifications).map_err(JobError::Temporary)
}

/// Sends `notify.subscribers` jobs.
pub struct NotifyHandler {
    services: Services,
    config: Arc<Config>,
    mailer: Arc<Mailer>,
    concurrency: usize,
}

impl NotifyHandler {
    pub fn new(services: Services, config: Arc<Config>, mailer: Arc<Mailer>) -> Self {
        Self {
            services,
            config,
            mailer,
            concurrency: transport::POOL_SIZE as usize,
        }
    }

    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Records accepted mails, waiting out a database that is away for up to half the
    /// job lease: an acceptance that is not recorded sends the mail again next run.
    async fn record_sent(&self, ids: &[i64]) -> Result<(), JobError> {
        let deadline = Instant::now() + self.config.job_lease / 2;
        let mut pause = Duration::from_millis(100);
        loop {
            match self.services.notifications.mark_sent(ids).await {
                Ok(()) => return Ok(()),
                Err(error)
                    if error.kind() == ErrorKind::Unavailable && Instant::now() < deadline =>
                {
                    tracing::warn!(%error, sent = ids.len(), "cannot record sent mails yet; the database may be away");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(error) => return Err(temporary(error)),
            }
        }
    }

    async fn send_pending(
        &self,
        sender: &Sender,
        fanout: &FanOut,
        template: &NotificationTemplate,
        lease: &Lease,
    ) -> Result<(), JobError> {
        let notifications = &self.services.notifications;
        let mut queue: VecDeque<PendingDelivery> = VecDeque::new();
        let mut after = 0;
        let mut exhausted = false;
        let mut in_flight: JoinSet<(i64, Result<(), SendError>)> = JoinSet::new();
        // Set when sending must stop for this run: the reason the job is retried.
        let mut halt: Option<JobError> = None;
        let mut retry_ids = Vec::new();
        loop {
            if halt.is_none() && !lease.held() {
                halt = Some(JobError::RetryAfter {
                    after: Duration::from_secs(1),
                    reason: "the job's lease could not be renewed; sending stopped".into(),
                });
            }
            if halt.is_none() && queue.is_empty() && !exhausted {
                let batch = notifications
                    .pending(fanout, after, BATCH)
                    .await
                    .map_err(temporary)?;
                exhausted = (batch.len() as u64) < BATCH;
                if let Some(last) = batch.last() {
                    after = last.id;
                }
                queue.extend(batch);
            }
            while halt.is_none() && in_flight.len() < self.concurrency {
                let Some(delivery) = queue.pop_front() else {
                    break;
                };
                let message =
                    template.message(sender, &delivery.email, &delivery.token, delivery.id);
                match message {
                    Ok(message) => {
                        let mailer = self.mailer.clone();
                        in_flight.spawn(async move { (delivery.id, mailer.send(message).await) });
                    }
                    Err(reason) => notifications
                        .mark_failed(delivery.id, &reason)
                        .await
                        .map_err(temporary)?,
                }
            }
            if in_flight.is_empty() {
                if halt.is_some() || (queue.is_empty() && exhausted) {
                    break;
                }
                continue;
            }
            let mut finished = Vec::new();
            if let Some(joined) = in_flight.join_next().await {
                finished.push(joined);
            }
            // Whatever else is done by now goes into the same database write.
            while let Some(joined) = in_flight.try_join_next() {
                finished.push(joined);
            }
            let mut sent = Vec::with_capacity(finished.len());
            for joined in finished {
                match joined {
                    Ok((id, Ok(()))) => sent.push(id),
                    Ok((id, Err(SendError::Permanent(reason)))) => {
                        tracing::debug!(delivery = id, %reason, "the server refused a delivery");
                        notifications
                            .mark_failed(id, &reason)
                            .await
                            .map_err(temporary)?;
                    }
                    Ok((id, Err(SendError::Temporary(reason)))) => {
                        retry_ids.push(id);
                        if halt.is_none() {
                            halt = Some(JobError::Temporary(reason));
                        }
                    }
                    // The delivery stays pending: once the set-up is fixed, retrying
                    // the parked job sends it.
                    Ok((_, Err(SendError::Misconfigured(reason)))) => {
                        if !matches!(halt, Some(JobError::Permanent(_))) {
                            halt = Some(JobError::Permanent(reason));
                        }
                    }
                    Err(panic) => {
                        // The delivery stays pending; its id is lost with the task, so
                        // the next run finds it again.
                        halt.get_or_insert_with(|| {
                            temporary(format!("a send task failed: {panic}"))
                        });
                    }
                }
            }
            self.record_sent(&sent).await?;
        }
        if let Some(error) = halt {
            if let JobError::Temporary(reason) = &error {
                notifications
                    .note_retry(&retry_ids, reason)
                    .await
                    .map_err(temporary)?;
            }
            return Err(error);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl JobHandler for NotifyHandler {
    fn kind(&self) -> &'static str {
        NOTIFY_SUBSCRIBERS
    }

    async fn run(&self, job: &job::Model, lease: &Lease) -> Result<(), JobError> {
        let payload: NotifySubscribers = serde_json::from_str(&job.payload)
            .map_err(|error| JobError::Permanent(format!("bad payload: {error}")))?;
        let fanout = match self
            .services
            .notifications
            .prepare_fanout(payload.incident_id, payload.status, payload.episode)
            .await
            .map_err(temporary)?
        {
            Preparation::Ready(fanout) => fanout,
            Preparation::Skip(reason) => {
                tracing::info!(incident = %payload.incident_id, status = %payload.status, reason, "subscribers not notified");
                return Ok(());
            }
        };
        let sender = current_sender(&self.services, &self.config).await?;
        let template = NotificationTemplate::new(&sender, &fanout, payload.kind)
            .map_err(JobError::Permanent)?;
        let outcome = self.send_pending(&sender, &fanout, &template, lease).await;
        if let Ok(progress) = self
            .services
            .notifications
            .progress(payload.incident_id, payload.status)
            .await
        {
            tracing::info!(
                incident = %payload.incident_id,
                status = %payload.status,
                sent = progress.sent,
                failed = progress.failed,
                pending = progress.pending,
                "subscriber notification progress"
            );
        }
        outcome
    }
}

/// Sends `subscriber.mail` jobs: opt-in and "already subscribed" mails.
pub struct SubscriberMailHandler {
    services: Services,
    config: Arc<Config>,
    mailer: Arc<Mailer>,
}

impl SubscriberMailHandler {
    pub fn new(services: Services, config: Arc<Config>, mailer: Arc<Mailer>) -> Self {
        Self {
            services,
            config,
            mailer,
        }
    }
}

#[async_trait::async_trait]
impl JobHandler for SubscriberMailHandler {
    fn kind(&self) -> &'static str {
        SUBSCRIBER_MAIL
    }

    async fn run(&self, job: &job::Model, _lease: &Lease) -> Result<(), JobError> {
        let payload: SubscriberMail = serde_json::from_str(&job.payload)
            .map_err(|error| JobError::Permanent(format!("bad payload: {error}")))?;
        let Some(subscriber) = self
            .services
            .subscribers
            .get(payload.subscriber_id)
            .await
            .map_err(temporary)?
        else {
            // Unsubscribed or removed meanwhile: nothing to say any more.
            return Ok(());
        };
        let sender = current_sender(&self.services, &self.config).await?;
        let message = match payload.kind {
            SubscriberMailKind::OptIn if subscriber.active => return Ok(()),
            SubscriberMailKind::OptIn => {
                compose::opt_in(&sender, &subscriber.email, &subscriber.token)
            }
            SubscriberMailKind::AlreadySubscribed => {
                compose::already_subscribed(&sender, &subscriber.email, &subscriber.token)
            }
        }
        .map_err(JobError::Permanent)?;
        self.mailer
            .send(message)
            .await
            .map_err(|error| match error {
                SendError::Temporary(reason) => JobError::Temporary(reason),
                SendError::Permanent(reason) | SendError::Misconfigured(reason) => {
                    JobError::Permanent(reason)
                }
            })
    }
}
