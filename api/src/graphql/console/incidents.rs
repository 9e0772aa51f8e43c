//! Incidents as the console runs them: the full list with dismissed ones, the lifecycle
//! (open, update, confirm, dismiss, resolve, reopen, start maintenance), corrections of
//! incidents and timeline entries, and the audit log.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::access::actor;
use crate::domain::{self, ClassifiedError, ErrorKind, IncidentId};
use crate::graphql::errors::GqlResultExt;
use crate::graphql::types::{AlertSourceKind, Incident, IncidentStatus, Severity, domain_list};
use crate::services::views;
use crate::services::{ConsoleFilter, IncidentChange, IncidentEdit, NewIncident, Services};

/// Reads the public view of an incident after a console change.
async fn public_view(services: &Services, id: IncidentId) -> Result<Option<Incident>> {
    Ok(services.public.incident(id).await.gql()?.map(Incident))
}

/// A new incident or planned maintenance.
#[derive(InputObject)]
pub struct CreateIncidentInput {
    /// One line, plain text.
    title: String,
    /// planned, confirmed or watching.
    status: IncidentStatus,
    /// How bad it is; `MAINTENANCE` for planned maintenance.
    severity: Severity,
    /// Defaults to now.
    start: Option<DateTime<Utc>>,
    /// The first timeline entry (Markdown).
    text: Option<String>,
    /// Markdown.
    summary: Option<String>,
    /// Never notify subscribers about this incident.
    #[graphql(default)]
    silent: bool,
    /// Planned maintenance only: start by itself at `start`.
    #[graphql(default)]
    auto_start: bool,
    /// Do not notify subscribers about this change.
    #[graphql(default)]
    do_not_notify: bool,
}

/// A change to an incident; every part is optional.
#[derive(InputObject)]
pub struct UpdateIncidentInput {
    /// confirmed, watching or resolved.
    new_status: Option<IncidentStatus>,
    /// A timeline entry (Markdown).
    text: Option<String>,
    /// A new severity.
    severity: Option<Severity>,
    /// An empty string removes the summary.
    summary: Option<String>,
    /// Do not notify subscribers about this change.
    #[graphql(default)]
    do_not_notify: bool,
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

/// One page of the console's incident list.
#[derive(SimpleObject)]
pub struct ConsoleIncidentPage {
    /// The incidents of this page, newest start first.
    incidents: Vec<ConsoleIncident>,
    /// How many incidents match the filter in all.
    total: u64,
}

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
            .then(|| domain::incident_path(self.0.start, self.0.id))
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
pub struct TimelineEntry(views::TimelineEntry);

/// One timeline entry as the console edits it.
#[Object]
impl TimelineEntry {
    /// Pass to `editIncidentUpdate` or `deleteIncidentUpdate`.
    async fn id(&self) -> i64 {
        self.0.id
    }
    /// When it was posted.
    async fn created(&self) -> DateTime<Utc> {
        self.0.created
    }
    /// Markdown.
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// The status the incident moved to with this entry, if it did.
    async fn new_status(&self) -> Option<IncidentStatus> {
        self.0.new_status.map(Into::into)
    }
    /// Who wrote it: a console user, a Slack user, or "system".
    async fn author(&self) -> &str {
        &self.0.author
    }
}

/// An alert from monitoring.
pub struct Alert(views::Alert);

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
        self.0.created
    }
    /// When monitoring closed it; absent while it is open.
    async fn resolved(&self) -> Option<DateTime<Utc>> {
        self.0.resolved
    }
}

/// One line of the audit log.
#[derive(SimpleObject)]
pub struct AuditEntry {
    /// Identifies the entry; later entries have larger ids.
    id: i64,
    /// When it happened.
    at: DateTime<Utc>,
    /// `user`, `slack`, `alert_source` or `system`.
    actor_kind: String,
    /// Who did it: a console username, a Slack user name, an alert source such as
    /// `opsgenie`, or `system`.
    actor_name: String,
    /// The incident it concerns; absent when it concerns none (settings, users…).
    incident_id: Option<i64>,
    /// What happened, in plain words.
    message: String,
}

#[derive(Default)]
pub struct IncidentsQuery;

#[Object]
impl IncidentsQuery {
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
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).gql(),
        }
    }

    /// The audit log, newest first: of one incident, or of everything.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this incident's entries; omit for the whole log.")]
        incident_id: Option<i64>,
        #[graphql(default = 100, desc = "At most this many entries, 1 to 500.")] first: i32,
    ) -> Result<Vec<AuditEntry>> {
        let (_, services) = actor(ctx)?;
        let entries = services
            .audit
            .entries(
                incident_id.map(IncidentId),
                u64::try_from(first).unwrap_or(1),
            )
            .await
            .gql()?;
        Ok(entries
            .into_iter()
            .map(|e| AuditEntry {
                id: e.id,
                at: e.at,
                actor_kind: e.actor_kind,
                actor_name: e.actor_name,
                incident_id: e.incident_id.map(|id| id.0),
                message: e.message,
            })
            .collect())
    }
}

#[derive(Default)]
pub struct IncidentsMutation;

#[Object]
impl IncidentsMutation {
    /// Opens an incident or plans a maintenance.
    async fn create_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new incident.")] input: CreateIncidentInput,
    ) -> Result<Option<Incident>> {
        let (actor, services) = actor(ctx)?;
        let created = services
            .incidents
            .create(
                &actor,
                NewIncident {
                    title: input.title,
                    status: input.status.into(),
                    severity: input.severity.into(),
                    start: input.start,
                    text: input.text,
                    summary: input.summary,
                    silent: input.silent,
                    auto_start: input.auto_start,
                    do_not_notify: input.do_not_notify,
                },
            )
            .await
            .gql()?;
        public_view(services, created.id).await
    }

    /// Posts an update, changes status, severity or summary.
    async fn update_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
        #[graphql(desc = "What to change.")] input: UpdateIncidentInput,
    ) -> Result<Option<Incident>> {
        let (actor, services) = actor(ctx)?;
        let change = IncidentChange {
            new_status: input.new_status.map(Into::into),
            text: input.text,
            severity: input.severity.map(Into::into),
            summary: input.summary,
            do_not_notify: input.do_not_notify,
        };
        services
            .incidents
            .update(IncidentId(id), &actor, change)
            .await
            .gql()?;
        public_view(services, IncidentId(id)).await
    }

    /// Confirms a suspected incident; subscribers are notified unless told otherwise.
    async fn confirm_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
        #[graphql(default, desc = "Do not notify subscribers about this change.")]
        do_not_notify: bool,
    ) -> Result<Option<Incident>> {
        let (actor, services) = actor(ctx)?;
        services
            .incidents
            .confirm(IncidentId(id), &actor, do_not_notify)
            .await
            .gql()?;
        public_view(services, IncidentId(id)).await
    }

    /// Dismisses a suspected incident as a false alarm. Returns whether it was dismissed.
    async fn dismiss_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
    ) -> Result<bool> {
        let (actor, services) = actor(ctx)?;
        services
            .incidents
            .dismiss(IncidentId(id), &actor)
            .await
            .gql()?;
        Ok(true)
    }

    /// Resolves an incident, with an optional last word.
    async fn resolve_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
        #[graphql(desc = "A last timeline entry (Markdown).")] text: Option<String>,
        #[graphql(default, desc = "Do not notify subscribers about this change.")]
        do_not_notify: bool,
    ) -> Result<Option<Incident>> {
        let (actor, services) = actor(ctx)?;
        let change = IncidentChange {
            new_status: Some(domain::IncidentStatus::Resolved),
            text,
            do_not_notify,
            ..IncidentChange::default()
        };
        services
            .incidents
            .update(IncidentId(id), &actor, change)
            .await
            .gql()?;
        public_view(services, IncidentId(id)).await
    }

    /// Brings a resolved or dismissed incident back as confirmed.
    async fn reopen_incident(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The incident's number.")] id: i64,
        #[graphql(default, desc = "Do not notify subscribers about this change.")]
        do_not_notify: bool,
    ) -> Result<Option<Incident>> {
        let (actor, services) = actor(ctx)?;
        services
            .incidents
            .reopen(IncidentId(id), &actor, do_not_notify)
            .await
            .gql()?;
        public_view(services, IncidentId(id)).await
    }

    /// Starts a planned maintenance now.
    async fn start_maintenance(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The planned maintenance's number.")] id: i64,
        #[graphql(default, desc = "Do not notify subscribers about this change.")]
        do_not_notify: bool,
    ) -> Result<Option<Incident>> {
        let (actor, services) = actor(ctx)?;
        services
            .incidents
            .start_maintenance(IncidentId(id), &actor, do_not_notify)
            .await
            .gql()?;
        public_view(services, IncidentId(id)).await
    }

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
}
