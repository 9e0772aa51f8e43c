//! Planned maintenance: starting it by hand, starting it by itself at its time, and
//! asking the team in Slack when its time has come and it does not start by itself.

use chrono::Utc;

use super::service::{IncidentError, IncidentService};
use super::transition::Transition;
use crate::domain::{Action, Actor, Incident, IncidentId, Severity};
use crate::services::follow_up::{self, SlackNote};
use crate::store::incidents;

impl IncidentService {
    /// Planned maintenance begins: confirmed, severity maintenance, starting now.
    pub async fn start_maintenance(
        &self,
        id: IncidentId,
        actor: &Actor,
        do_not_notify: bool,
    ) -> Result<Incident, IncidentError> {
        self.transition(id, actor, || Transition {
            action: Action::StartMaintenance,
            severity: Some(Severity::Maintenance),
            summary: None,
            entry: Some("The maintenance has started.".into()),
            audit: "Started the maintenance".into(),
            do_not_notify,
            restart: true,
        })
        .await
    }

    /// Starts every planned maintenance set to start by itself whose time has come.
    pub async fn start_due_maintenance(&self) -> Result<Vec<IncidentId>, IncidentError> {
        let due = incidents::due_maintenance(&self.deps.db, true, Utc::now()).await?;
        let mut started = Vec::new();
        for id in due.into_iter().map(|(id, _)| IncidentId(id)) {
            match self.start_maintenance(id, &Actor::System, false).await {
                Ok(_) => started.push(id),
                // Someone started or cancelled it in the meantime.
                Err(IncidentError::Transition(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(started)
    }

    /// Asks the team in Slack, once per planned start time, whether to start each
    /// planned maintenance whose time has come and that does not start by itself.
    /// Returns how many prompts were enqueued (0 when all were asked before).
    pub async fn prompt_due_maintenance(&self) -> Result<usize, IncidentError> {
        let due = incidents::due_maintenance(&self.deps.db, false, Utc::now()).await?;
        let mut prompted = 0;
        for (id, start) in due {
            let job = follow_up::slack_sync(IncidentId(id), Some(SlackNote::MaintenanceDue))
                .dedupe(format!("maintenance-due:{id}:{}", start.timestamp()));
            if job.enqueue(&self.deps.db).await?.is_some() {
                prompted += 1;
            }
        }
        if prompted > 0 {
            self.deps.jobs.wake();
        }
        Ok(prompted)
    }
}
