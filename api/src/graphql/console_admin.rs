//! Console fields for setting up and correcting: the full incident list with dismissed
//! ones, corrections of incidents and timeline entries, jobs, notification settings,
//! the logo. All need a console session.

use std::io::Read;

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, Upload};
use chrono::{DateTime, Utc};

use super::Code;
use super::console::{actor, console_user};
use super::errors::GqlResultExt;
use super::types::{AlertSourceKind, IncidentStatus, Severity, domain_list};
use crate::domain::{self, IncidentId};
use crate::jobs::Queue;
use crate::services::{ConsoleFilter, IncidentEdit, LOGO_MAX_BYTES, Services};
use crate::store::{alert, incident_update, job};

/// An incident with everything the console shows and may correct.
pub struct ConsoleIncident(domain::Incident);

/// An incident with everything the console shows and may correct.
#[Object]
impl ConsoleIncident {
    /// The incident's number, as on its public page.
    async fn id(&self) -> i64 {
        self.0.id.0
    }
    /// Where it stands now, `DISMISSED` included.
    async fn status(&self) -> IncidentStatus {
        self.0.status.into()
    }
    /// How bad it is (or was).
    async fn severity(&self) -> Severity {
        self.0.severity.into()
    }
    /// One line, plain text.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Markdown.
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }
    /// When it started (or, for planned maintenance, will start).
    async fn start(&self) -> DateTime<Utc> {
        self.0.start
    }
    /// When it was resolved or dismissed; absent while it lasts.
    async fn end(&self) -> Option<DateTime<Utc>> {
        self.0.end
    }
    /// Subscribers are never e-mailed about this incident.
    async fn silent(&self) -> bool {
        self.0.silent
    }
    /// The status subscribers were last told about.
    async fn last_notified_status(&self) -> Option<IncidentStatus> {
        self.0.last_notified_status.map(Into::into)
    }
    /// `MANUAL`, or the alert source that opened it.
    async fn origin(&self) -> AlertSourceKind {
        self.0.origin.into()
    }
    /// Planned maintenance that starts by itself at its start time.
    async fn auto_start(&self) -> bool {
        self.0.auto_start
    }
    /// The incident's parent message in Slack, once posted.
    async fn slack_url(&self) -> Option<String> {
        let (channel, ts) = (self.0.slack_channel.as_ref()?, self.0.slack_ts.as_ref()?);
        Some(format!(
            "https://slack.com/archives/{channel}/p{}",
            ts.replace('.', "")
        ))
    }
    /// The public page of the incident (dismissed incidents have none).
    async fn path(&self) -> Option<String> {
        (self.0.status != domain::IncidentStatus::Dismissed)
            .then(|| format!("/{}/{}", self.0.start.format("%Y-%m-%d"), self.0.id))
    }
    /// When it was opened or planned.
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
    /// When it last changed.
    async fn updated(&self) -> DateTime<Utc> {
        self.0.updated
    }
    /// The timeline, newest entry first, with ids to edit or delete entries.
    async fn updates(&self, ctx: &Context<'_>) -> Result<Vec<TimelineEntry>> {
        let services = ctx.data::<Services>()?;
        let mut entries = services.incidents.timeline(self.0.id).await.gql()?;
        entries.reverse();
        Ok(entries.into_iter().map(TimelineEntry).collect())
    }
    /// The alerts monitoring attached to it, oldest first.
    async fn alerts(&self, ctx: &Context<'_>) -> Result<Vec<Alert>> {
        let services = ctx.data::<Services>()?;
        Ok(services
            .incidents
            .alerts(self.0.id)
            .await
            .gql()?
            .into_iter()
            .map(Alert)
            .collect())
    }
}

/// One timeline entry as the console edits it.
pub struct TimelineEntry(incident_update::Model);

/// One timeline entry as the console edits it.
#[Object]
impl TimelineEntry {
    /// Pass to `editIncidentUpdate` or `deleteIncidentUpdate`.
    async fn id(&self) -> i64 {
        self.0.id
    }
    /// When it was posted.
    async fn created(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Markdown.
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// The status the incident moved to with this entry, if it did.
    async fn new_status(&self) -> Option<IncidentStatus> {
        self.0
            .new_status
            .as_deref()
            .and_then(|s| s.parse::<domain::IncidentStatus>().ok())
            .map(Into::into)
    }
    /// Who wrote it: a console user, a Slack user, or "system".
    async fn author(&self) -> &str {
        &self.0.author
    }
}

/// An alert from monitoring.
pub struct Alert(alert::Model);

/// An alert from monitoring.
#[Object]
impl Alert {
    /// Identifies the alert within monostat.
    async fn id(&self) -> i64 {
        self.0.id
    }
    /// The monitoring source that sent it; absent if the source is no longer known.
    async fn source(&self) -> Option<AlertSourceKind> {
        self.0.source.parse::<domain::Origin>().ok().map(Into::into)
    }
    /// The source's own id of the alert.
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }
    /// The alert's one-line message, as the source sent it.
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// The alert's longer description from the source; absent if it sent none.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// When monostat received it.
    async fn created(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When monitoring closed it; absent while it is open.
    async fn resolved(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
}

/// One page of the console's incident list.
#[derive(SimpleObject)]
pub struct ConsoleIncidentPage {
    /// The incidents of this page, newest start first.
    incidents: Vec<ConsoleIncident>,
    /// How many incidents match the filter in all.
    total: u64,
}

/// Which incidents the console lists; omitted parts do not filter.
#[derive(InputObject, Default)]
pub struct ConsoleIncidentFilter {
    /// Only these statuses, `DISMISSED` included.
    statuses: Option<Vec<IncidentStatus>>,
    /// Only these severities.
    severities: Option<Vec<Severity>>,
    /// Incidents still open at or ending after this moment.
    from: Option<DateTime<Utc>>,
    /// Incidents that started before this moment.
    to: Option<DateTime<Utc>>,
    /// Words in the title or summary, case-insensitive.
    text: Option<String>,
}

/// Corrections to an incident; omitted fields stay. No notification, no Slack message.
#[derive(InputObject, Default)]
pub struct EditIncidentInput {
    /// A new title: one line, plain text.
    title: Option<String>,
    /// A new severity.
    severity: Option<Severity>,
    /// Markdown; an empty string removes it.
    summary: Option<String>,
    /// A corrected start time.
    start: Option<DateTime<Utc>>,
    /// Only for resolved or dismissed incidents.
    end: Option<DateTime<Utc>>,
    /// Never e-mail subscribers about this incident.
    silent: Option<bool>,
    /// Planned maintenance only: start by itself at its start time.
    auto_start: Option<bool>,
}

/// A state of the job queue.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for its time or a worker.
    Pending,
    /// A worker holds it now.
    Running,
    /// Gave up after its attempts, or failed for good; waits for someone to retry it.
    Dead,
    /// Finished recently.
    Done,
}

impl JobState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Dead => "dead",
            Self::Done => "done",
        }
    }
}

/// Work the server does in the background: a Slack message, a mail fan-out.
pub struct Job(job::Model);

/// Work the server does in the background: a Slack message, a mail fan-out.
#[Object]
impl Job {
    /// Pass to `retryJob`.
    async fn id(&self) -> i64 {
        self.0.id
    }
    /// e.g. `slack.sync`, `notify.subscribers`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// `pending`, `running`, `dead` or `done`.
    async fn state(&self) -> &str {
        &self.0.status
    }
    /// How many times a worker has started it so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// After this many attempts a failing job is `dead`.
    async fn max_attempts(&self) -> i32 {
        self.0.max_attempts
    }
    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When it runs (next).
    async fn run_at(&self) -> DateTime<Utc> {
        self.0.run_at
    }
    /// When it was queued.
    async fn created(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The job's data, as JSON.
    async fn payload(&self) -> &str {
        &self.0.payload
    }
}

/// The notification settings.
#[derive(SimpleObject)]
pub struct NotificationSettings {
    /// Visitors may subscribe to e-mail notifications.
    allow_subscriptions: bool,
    /// Replies to notification mails go here.
    reply_to: Option<String>,
    /// Planned maintenance is announced when scheduled and when it starts.
    notify_maintenance: bool,
}

#[derive(Default)]
pub struct ConsoleAdminQuery;

#[Object]
impl ConsoleAdminQuery {
    /// Every incident, dismissed ones included, newest start first.
    async fn console_incidents(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which incidents; omit for all.")] filter: Option<ConsoleIncidentFilter>,
        #[graphql(default = 0, desc = "How many matching incidents to skip.")] offset: u64,
        #[graphql(default = 20, desc = "Page size, 1 to 100.")] first: u64,
    ) -> Result<ConsoleIncidentPage> {
        let (_, services) = actor(ctx)?;
        let filter = filter.unwrap_or_default();
        let filter = ConsoleFilter {
            statuses: domain_list(filter.statuses),
            severities: domain_list(filter.severities),
            from: filter.from,
            to: filter.to,
            text: filter.text,
        };
        let page = services
            .incidents
            .list(&filter, offset, first)
            .await
            .gql()?;
        Ok(ConsoleIncidentPage {
            incidents: page.incidents.into_iter().map(ConsoleIncident).collect(),
            total: page.total,
        })
    }

    /// One incident, whatever its status; absent when unknown.
    async fn console_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
    ) -> Result<Option<ConsoleIncident>> {
        let (_, services) = actor(ctx)?;
        match services.incidents.get(IncidentId(id)).await {
            Ok(incident) => Ok(Some(ConsoleIncident(incident))),
            Err(crate::services::IncidentError::NotFound(_)) => Ok(None),
            Err(error) => Err(error).gql(),
        }
    }

    /// Jobs in one state: pending ones oldest first, dead and done ones newest first.
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which state's jobs to list.")] state: JobState,
        #[graphql(default = 50, desc = "At most this many, 1 to 500.")] first: u64,
    ) -> Result<Vec<Job>> {
        console_user(ctx)?;
        let jobs = ctx
            .data::<Queue>()?
            .list(state.as_str(), first)
            .await
            .gql()?;
        Ok(jobs.into_iter().map(Job).collect())
    }

    /// The notification settings in force.
    async fn notification_settings(&self, ctx: &Context<'_>) -> Result<NotificationSettings> {
        let (_, services) = actor(ctx)?;
        let settings = services.settings.notifications().await.gql()?;
        Ok(NotificationSettings {
            allow_subscriptions: settings.allow_subscriptions,
            reply_to: settings.reply_to,
            notify_maintenance: settings.notify_maintenance,
        })
    }
}

#[derive(Default)]
pub struct ConsoleAdminMutation;

#[Object]
impl ConsoleAdminMutation {
    /// Corrects an incident's fields; no notification, no Slack message.
    async fn edit_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
        #[graphql(desc = "The corrections.")] input: EditIncidentInput,
    ) -> Result<ConsoleIncident> {
        let (actor, services) = actor(ctx)?;
        let edit = IncidentEdit {
            title: input.title,
            severity: input.severity.map(Into::into),
            summary: input.summary,
            start: input.start,
            end: input.end,
            silent: input.silent,
            auto_start: input.auto_start,
        };
        let incident = services
            .incidents
            .edit(IncidentId(id), &actor, edit)
            .await
            .gql()?;
        Ok(ConsoleIncident(incident))
    }

    /// Rewrites a timeline entry's text.
    async fn edit_incident_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The timeline entry's `id`.")] id: i64,
        #[graphql(desc = "The new text (Markdown).")] message: String,
    ) -> Result<TimelineEntry> {
        let (actor, services) = actor(ctx)?;
        let entry = services
            .incidents
            .edit_entry(id, &actor, &message)
            .await
            .gql()?;
        Ok(TimelineEntry(entry))
    }

    /// Deletes a timeline entry; an incident's only entry stays.
    async fn delete_incident_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The timeline entry's `id`.")] id: i64,
    ) -> Result<bool> {
        let (actor, services) = actor(ctx)?;
        services.incidents.delete_entry(id, &actor).await.gql()?;
        Ok(true)
    }

    /// Deletes an incident with its timeline and alerts; the audit log keeps a line.
    async fn delete_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
    ) -> Result<bool> {
        let (actor, services) = actor(ctx)?;
        services
            .incidents
            .delete(IncidentId(id), &actor)
            .await
            .gql()?;
        Ok(true)
    }

    /// Replaces the logo (PNG, JPEG, GIF, WebP or SVG, up to 512 KiB), sent as a
    /// GraphQL multipart request. Returns the logo's new URL.
    async fn upload_logo(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The image file, as a multipart upload.")] file: Upload,
    ) -> Result<String> {
        let (actor, services) = actor(ctx)?;
        let upload = file.value(ctx).map_err(|error| {
            Code::BadUserInput.error(format!("cannot read the uploaded file: {error}"))
        })?;
        let mut data = Vec::new();
        upload
            .into_read()
            .take(LOGO_MAX_BYTES as u64 + 1)
            .read_to_end(&mut data)
            .map_err(|error| {
                Code::BadUserInput.error(format!("cannot read the uploaded file: {error}"))
            })?;
        services.settings.set_logo(data, &actor).await.gql()?;
        let site = services.public.site().await.gql()?;
        Ok(site.logo.map(|logo| logo.url()).unwrap_or_default())
    }

    /// Removes the logo; the page then shows none. Returns true.
    async fn remove_logo(&self, ctx: &Context<'_>) -> Result<bool> {
        let (actor, services) = actor(ctx)?;
        services.settings.remove_logo(&actor).await.gql()?;
        Ok(true)
    }
}
