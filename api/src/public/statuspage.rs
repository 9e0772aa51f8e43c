//! The Atlassian Statuspage v2 public JSON (protocols.md §5), so tools that read
//! Statuspage pages read monostat too. The whole product is one component named
//! after the system; `dismissed` never appears.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::snapshot::{LIST_LENGTH, Snapshot};
use crate::domain::{IncidentStatus, Severity, incident_path};
use crate::services::PublicIncident;

const PAGE_ID: &str = "monostat";
const COMPONENT_ID: &str = "product";

fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn impact(severity: Severity) -> &'static str {
    match severity {
        Severity::Outage => "critical",
        Severity::Partial => "major",
        Severity::Bug => "minor",
        Severity::Notice => "none",
        Severity::Maintenance => "maintenance",
    }
}

fn component_status(severity: Severity) -> &'static str {
    match severity {
        Severity::Outage => "major_outage",
        Severity::Partial => "partial_outage",
        Severity::Bug => "degraded_performance",
        Severity::Notice => "operational",
        Severity::Maintenance => "under_maintenance",
    }
}

fn incident_status(status: IncidentStatus, maintenance: bool) -> &'static str {
    match (status, maintenance) {
        (IncidentStatus::Planned, _) => "scheduled",
        (IncidentStatus::Confirmed | IncidentStatus::Suspected, true) => "in_progress",
        (IncidentStatus::Watching, true) => "verifying",
        (IncidentStatus::Resolved | IncidentStatus::Dismissed, true) => "completed",
        (IncidentStatus::Suspected, false) => "investigating",
        (IncidentStatus::Confirmed, false) => "identified",
        (IncidentStatus::Watching, false) => "monitoring",
        (IncidentStatus::Resolved | IncidentStatus::Dismissed, false) => "resolved",
    }
}

/// Worst first, so the first open incident decides.
fn impact_rank(severity: Severity) -> u8 {
    match severity {
        Severity::Outage => 4,
        Severity::Partial => 3,
        Severity::Bug => 2,
        Severity::Maintenance => 1,
        Severity::Notice => 0,
    }
}

fn worst_open(snapshot: &Snapshot) -> Option<Severity> {
    snapshot
        .view
        .current
        .iter()
        .map(|i| i.incident.severity)
        .max_by_key(|s| impact_rank(*s))
}

fn page(snapshot: &Snapshot) -> Value {
    json!({
        "id": PAGE_ID,
        "name": snapshot.view.site.system_name,
        "url": snapshot.site_url,
        "time_zone": snapshot.view.site.time_zone,
        "updated_at": timestamp(snapshot.built_at),
        "stale": snapshot.stale,
    })
}

fn status(snapshot: &Snapshot) -> Value {
    let (indicator, description) = match worst_open(snapshot) {
        None | Some(Severity::Notice) => ("none", "All Systems Operational"),
        Some(Severity::Bug) => ("minor", "Minor Service Outage"),
        Some(Severity::Partial) => ("major", "Partial System Outage"),
        Some(Severity::Outage) => ("critical", "Major Service Outage"),
        Some(Severity::Maintenance) => ("maintenance", "Service Under Maintenance"),
    };
    json!({ "indicator": indicator, "description": description })
}

fn component(snapshot: &Snapshot) -> Value {
    let status = worst_open(snapshot).map_or("operational", component_status);
    json!({
        "id": COMPONENT_ID,
        "name": snapshot.view.site.system_name,
        "status": status,
        "created_at": timestamp(snapshot.built_at),
        "updated_at": timestamp(snapshot.built_at),
        "position": 1,
        "description": null,
        "showcase": true,
        "start_date": null,
        "group_id": null,
        "page_id": PAGE_ID,
        "group": false,
        "only_show_if_degraded": false,
    })
}

fn incident(snapshot: &Snapshot, public: &PublicIncident) -> Value {
    let incident = &public.incident;
    let maintenance = incident.severity == Severity::Maintenance;
    let id = incident.id.to_string();
    // Each entry carries the status the incident had when it was written.
    let mut status = IncidentStatus::Suspected;
    let mut updates: Vec<Value> = public
        .updates
        .iter()
        .rev()
        .map(|update| {
            status = update.new_status.unwrap_or(status);
            json!({
                "id": update.id.to_string(),
                "status": incident_status(status, maintenance),
                "body": update.message,
                "incident_id": id,
                "created_at": timestamp(update.created),
                "updated_at": timestamp(update.created),
                "display_at": timestamp(update.created),
                "affected_components": null,
                "deliver_notifications": true,
                "custom_tweet": null,
                "tweet_id": null,
            })
        })
        .collect();
    updates.reverse();
    let monitoring_at = public
        .updates
        .iter()
        .filter(|u| u.new_status == Some(IncidentStatus::Watching))
        .map(|u| u.created)
        .min();
    let resolved_at = (incident.status == IncidentStatus::Resolved)
        .then_some(incident.end)
        .flatten();
    let mut value = json!({
        "id": id,
        "name": incident.title,
        "status": incident_status(incident.status, maintenance),
        "created_at": timestamp(incident.created),
        "updated_at": timestamp(incident.updated),
        "monitoring_at": monitoring_at.map(timestamp),
        "resolved_at": resolved_at.map(timestamp),
        "impact": impact(incident.severity),
        "shortlink": format!("{}{}", snapshot.site_url, incident_path(incident.start, incident.id)),
        "started_at": timestamp(incident.start),
        "page_id": PAGE_ID,
        "incident_updates": updates,
        "components": [component(snapshot)],
    });
    if maintenance {
        value["scheduled_for"] = json!(timestamp(incident.start));
        value["scheduled_until"] = json!(incident.end.map(timestamp));
    }
    value
}

fn list<'a>(
    snapshot: &Snapshot,
    incidents: impl IntoIterator<Item = &'a PublicIncident>,
) -> Vec<Value> {
    incidents
        .into_iter()
        .map(|i| incident(snapshot, i))
        .collect()
}

/// Every endpoint's body, by path.
pub fn render(snapshot: &Snapshot) -> Vec<(&'static str, Value)> {
    let is_maintenance = |i: &&PublicIncident| i.incident.severity == Severity::Maintenance;
    let unresolved: Vec<&PublicIncident> = snapshot
        .view
        .current
        .iter()
        .filter(|i| !is_maintenance(i))
        .collect();
    let active: Vec<&PublicIncident> = snapshot
        .view
        .current
        .iter()
        .filter(is_maintenance)
        .collect();
    let upcoming: Vec<&PublicIncident> = snapshot.view.planned.iter().collect();

    // The newest incidents of every state: the open ones (suspected included) and the
    // confirmed history, without duplicates.
    let mut recent: Vec<&PublicIncident> = unresolved.clone();
    recent.extend(
        snapshot
            .incidents
            .iter()
            .filter(|i| !unresolved.iter().any(|u| u.incident.id == i.incident.id)),
    );
    recent.sort_by_key(|i| std::cmp::Reverse((i.incident.start, i.incident.id)));
    recent.truncate(usize::try_from(LIST_LENGTH).unwrap_or(50));

    let page = page(snapshot);
    let status = status(snapshot);
    let components = json!([component(snapshot)]);
    let mut scheduled = list(snapshot, upcoming.iter().copied());
    scheduled.extend(list(snapshot, active.iter().copied()));
    vec![
        (
            "/api/v2/summary.json",
            json!({
                "page": page,
                "components": components,
                "incidents": list(snapshot, unresolved.iter().copied()),
                "scheduled_maintenances": scheduled,
                "status": status,
            }),
        ),
        (
            "/api/v2/status.json",
            json!({ "page": page, "status": status }),
        ),
        (
            "/api/v2/components.json",
            json!({ "page": page, "components": components }),
        ),
        (
            "/api/v2/incidents.json",
            json!({ "page": page, "incidents": list(snapshot, recent) }),
        ),
        (
            "/api/v2/incidents/unresolved.json",
            json!({ "page": page, "incidents": list(snapshot, unresolved.iter().copied()) }),
        ),
        (
            "/api/v2/scheduled-maintenances.json",
            json!({ "page": page, "scheduled_maintenances": list(snapshot, &snapshot.maintenances) }),
        ),
        (
            "/api/v2/scheduled-maintenances/upcoming.json",
            json!({ "page": page, "scheduled_maintenances": list(snapshot, upcoming) }),
        ),
        (
            "/api/v2/scheduled-maintenances/active.json",
            json!({ "page": page, "scheduled_maintenances": list(snapshot, active) }),
        ),
    ]
}
