//! What monostat shows in Slack, built from domain data: the incident's parent message,
//! thread replies, the update and create modals, the App Home tab and `/status`.
//!
//! Which buttons a message carries follows the lifecycle rules ([`Action::allowed_from`]):
//! confirm and dismiss while suspected, "update" while confirmed, watching or planned
//! (plus "start maintenance" while planned), none once resolved or dismissed. Updating
//! a resolved incident stays possible in the console.

use chrono::{DateTime, Utc};

use super::blocks::{
    Block, Button, ButtonStyle, ConfirmDialog, Element, SelectOption, Text, View, prefill,
};
use super::client::Message;
use crate::domain::{
    Action, Actor, Incident, IncidentId, IncidentStatus, Language, NotificationContext, Severity,
    decide_notification, incident_path, severity_label,
};
use crate::services::follow_up::SlackNote;

pub const CONFIRM: &str = "confirm_incident";
pub const DISMISS: &str = "dismiss_incident";
pub const UPDATE: &str = "update_incident";
pub const CREATE: &str = "create_incident";
pub const START_MAINTENANCE: &str = "start_maintenance";

pub const UPDATE_MODAL: &str = "update_incident_modal";
pub const CREATE_MODAL: &str = "create_incident_modal";

/// Links from Slack into monostat.
pub struct Links<'a> {
    pub site_url: &'a str,
}

impl Links<'_> {
    pub fn console(&self, incident: &Incident) -> String {
        format!("{}/admin/incidents/{}", self.site_url, incident.id)
    }

    pub fn public(&self, incident: &Incident) -> String {
        format!(
            "{}{}",
            self.site_url,
            incident_path(incident.start, incident.id)
        )
    }
}

/// Who made a change, as a thread reply names them.
pub fn who(actor: &Actor) -> String {
    match actor {
        Actor::User(name) => format!("{name} (console)"),
        Actor::Slack(name) => format!("{name} (Slack)"),
        Actor::AlertSource(source) => format!("{source} (monitoring)"),
        Actor::System => "monostat (automatically)".to_owned(),
    }
}

/// Slack's date formatting, shown in each reader's own time zone.
fn slack_time(at: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} {{time}}|{}>",
        at.timestamp(),
        at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// Escapes the three characters Slack's mrkdwn treats as control characters.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn headline(incident: &Incident) -> String {
    match incident.status {
        IncidentStatus::Suspected => {
            "Suspected incident from monitoring: confirm or dismiss.".to_owned()
        }
        IncidentStatus::Confirmed | IncidentStatus::Watching => "Ongoing incident:".to_owned(),
        IncidentStatus::Planned => "Planned maintenance:".to_owned(),
        IncidentStatus::Resolved => "Resolved incident:".to_owned(),
        IncidentStatus::Dismissed => "Dismissed incident:".to_owned(),
    }
}

fn state_line(incident: &Incident) -> String {
    match incident.status {
        IncidentStatus::Suspected => {
            ":warning: Monitoring detected a problem; nobody has confirmed it yet.".to_owned()
        }
        IncidentStatus::Confirmed => ":fire: Incident confirmed and ongoing.".to_owned(),
        IncidentStatus::Watching => ":eyes: A fix is in place; watching the results.".to_owned(),
        IncidentStatus::Planned => format!(":calendar: Starts {}.", slack_time(incident.start)),
        IncidentStatus::Resolved => format!(
            ":white_check_mark: Resolved{}.",
            incident
                .end
                .map(|end| format!(" {}", slack_time(end)))
                .unwrap_or_default()
        ),
        IncidentStatus::Dismissed => ":wastebasket: Dismissed as a false alarm.".to_owned(),
    }
}

/// The buttons that fit the incident's state, and only those.
pub fn buttons(incident: &Incident) -> Vec<Element> {
    let status = incident.status;
    let value = Some(incident.id.to_string());
    let allowed = |action: Action| action.allowed_from().contains(&status);
    let mut buttons = Vec::new();
    if allowed(Action::Confirm) {
        buttons.push(Element::button(
            Button::new(CONFIRM, "Confirm incident", value.clone()).style(ButtonStyle::Primary),
        ));
    }
    if allowed(Action::Dismiss) {
        buttons.push(Element::button(
            Button::new(DISMISS, "Dismiss incident", value.clone())
                .style(ButtonStyle::Danger)
                .confirm(ConfirmDialog::new(
                    "Are you sure?",
                    "Dismissing says it was a false alarm: the incident disappears from the status page.",
                    "Dismiss incident",
                    "Cancel",
                )),
        ));
    }
    if allowed(Action::StartMaintenance) {
        buttons.push(Element::button(
            Button::new(START_MAINTENANCE, "Start maintenance now", value.clone())
                .style(ButtonStyle::Primary),
        ));
    }
    // Closed incidents get no buttons in Slack; corrections happen in the console.
    if status != IncidentStatus::Resolved && allowed(Action::Update { new_status: None }) {
        buttons.push(Element::button(Button::new(
            UPDATE,
            "Update incident",
            value,
        )));
    }
    buttons
}

/// The parent message: the incident's current state and the buttons that fit it.
/// `alert` is the message of the alert that opened it, if any.
pub fn parent_message(incident: &Incident, alert: Option<&str>, links: &Links<'_>) -> Message {
    let headline = headline(incident);
    let mut blocks = vec![
        Block::section(&headline),
        Block::section(format!(
            "*Incident title:* {}\n*Severity:* {}{}",
            escape(&incident.title),
            severity_label(incident.severity, Language::En),
            if incident.silent {
                "  \u{2022}  _silent: subscribers are never notified_"
            } else {
                ""
            }
        )),
    ];
    if let Some(alert) = alert {
        blocks.push(Block::section(format!(
            "*Alert message:* {}",
            escape(alert)
        )));
    }
    blocks.push(Block::section(state_line(incident)));
    let buttons = buttons(incident);
    if !buttons.is_empty() {
        blocks.push(Block::actions(buttons));
    }
    let mut context = vec![Text::mrkdwn(format!(
        "<{}|Open in the console>",
        links.console(incident)
    ))];
    if incident.status.is_public() && incident.status != IncidentStatus::Suspected {
        context.push(Text::mrkdwn(format!(
            "<{}|Public incident page>",
            links.public(incident)
        )));
    }
    blocks.push(Block::Context { elements: context });
    Message {
        text: format!("{headline} {}", incident.title),
        blocks,
    }
}

/// The thread reply for a note, and whether it is also broadcast to the channel.
/// `None` for notes the parent message already tells.
pub fn reply(note: &SlackNote, incident: &Incident, links: &Links<'_>) -> Option<(Message, bool)> {
    let (text, broadcast) = match note {
        SlackNote::Opened => return None,
        SlackNote::Changed { actor, what } => (format!("{}: {}", who(actor), escape(what)), false),
        SlackNote::AlertAttached { source, message } => (
            format!(
                "Another {source} alert joined this incident: {}",
                escape(message)
            ),
            false,
        ),
        SlackNote::AutoDismissed => (
            format!(
                "Every alert closed before anyone confirmed this incident, so it was dismissed \
                 automatically. Was it real? Then reopen it and fix the history in the console: {}",
                links.console(incident)
            ),
            true,
        ),
        SlackNote::AlertsClosed => (
            "Every alert of this incident has closed. Remember to resolve the incident \
             when it is really over."
                .to_owned(),
            true,
        ),
        SlackNote::AlertActivity { source, by, what } => {
            (format!("{} ({source}) {}", escape(by), escape(what)), false)
        }
        SlackNote::MaintenanceDue => {
            let text = "The planned start time of this maintenance has come. Start it now?";
            let mut blocks = vec![Block::section(text)];
            if Action::StartMaintenance
                .allowed_from()
                .contains(&incident.status)
            {
                blocks.push(Block::actions(vec![Element::button(
                    Button::new(
                        START_MAINTENANCE,
                        "Start maintenance now",
                        Some(incident.id.to_string()),
                    )
                    .style(ButtonStyle::Primary),
                )]));
            }
            return Some((
                Message {
                    text: text.to_owned(),
                    blocks,
                },
                false,
            ));
        }
    };
    Some((
        Message {
            text,
            blocks: Vec::new(),
        },
        broadcast,
    ))
}

fn status_option(status: IncidentStatus) -> SelectOption {
    SelectOption::new(status.as_str(), status.as_str())
}

fn severity_options() -> Vec<SelectOption> {
    Severity::ALL
        .iter()
        .map(|s| SelectOption::new(severity_label(*s, Language::En), s.as_str()))
        .collect()
}

/// Whether subscribers would hear of the update, in one line (SPEC §2 "who gets
/// notified"); it must say "no" for a silent incident.
pub fn notification_hint(incident: &Incident, notify_maintenance: bool) -> String {
    if incident.silent {
        return ":no_bell: Subscribers will *not* be notified: this incident is silent.".to_owned();
    }
    let announced: Vec<&str> = [
        IncidentStatus::Confirmed,
        IncidentStatus::Watching,
        IncidentStatus::Resolved,
    ]
    .into_iter()
    .filter(|status| {
        decide_notification(NotificationContext {
            status: *status,
            severity: incident.severity,
            last_notified_status: incident.last_notified_status,
            notified_episode: incident.notified_episode,
            silent: incident.silent,
            do_not_notify: false,
            notify_maintenance,
        })
        .is_some()
    })
    .map(IncidentStatus::as_str)
    .collect();
    if announced.is_empty() {
        ":no_bell: Subscribers will not be notified: they already know every status you can choose."
            .to_owned()
    } else {
        format!(
            ":bell: Subscribers will be e-mailed if you set the status to {}; \
             an update without a new status notifies no one.",
            announced.join(" or ")
        )
    }
}

/// The "update incident" modal, pre-filled with the current summary.
pub fn update_modal(incident: &Incident, notify_maintenance: bool) -> View {
    let statuses = [
        IncidentStatus::Confirmed,
        IncidentStatus::Watching,
        IncidentStatus::Resolved,
    ]
    .into_iter()
    .map(status_option)
    .collect();
    let blocks = vec![
        Block::section(format!(
            "*{}* \u{2014} now {}, {}",
            escape(&incident.title),
            incident.status,
            severity_label(incident.severity, Language::En)
        )),
        Block::input(
            "new_status",
            "New incident status",
            Element::select("new_status", statuses, None, Some("Keep the status")),
            true,
        ),
        Block::section(notification_hint(incident, notify_maintenance)),
        Block::input(
            "update_text",
            "Update text",
            Element::text_input("update_text", true, None),
            true,
        ),
        Block::input(
            "new_severity",
            "New incident severity",
            Element::select(
                "new_severity",
                severity_options(),
                None,
                Some("Keep the severity"),
            ),
            true,
        ),
        Block::input(
            "new_summary",
            "Updated incident summary",
            Element::text_input("new_summary", true, incident.summary.as_deref()),
            true,
        ),
    ];
    View::modal(
        UPDATE_MODAL,
        "Update incident",
        "Submit",
        update_modal_metadata(incident.id, incident.summary.as_deref()),
        blocks,
    )
}

/// `{id}:{fingerprint of the pre-filled summary}`: on submit, a summary that still
/// reads as pre-filled was not touched and must not overwrite the stored one (which
/// may be longer than Slack could show, or changed in the console meanwhile).
pub fn update_modal_metadata(id: IncidentId, summary: Option<&str>) -> String {
    format!(
        "{id}:{}",
        summary_fingerprint(prefill(summary).as_deref().unwrap_or(""))
    )
}

/// Reads [`update_modal_metadata`]: the incident and, from modals that carry it, the
/// fingerprint of the summary they were pre-filled with.
pub fn parse_update_modal_metadata(metadata: &str) -> Option<(IncidentId, Option<&str>)> {
    let (id, fingerprint) = match metadata.trim().split_once(':') {
        Some((id, fingerprint)) => (id, Some(fingerprint)),
        None => (metadata.trim(), None),
    };
    Some((IncidentId(id.parse().ok()?), fingerprint))
}

pub fn summary_fingerprint(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(text.trim().as_bytes())[..8])
}

/// The "create incident" modal.
pub fn create_modal() -> View {
    let statuses = [
        IncidentStatus::Planned,
        IncidentStatus::Confirmed,
        IncidentStatus::Watching,
    ]
    .into_iter()
    .map(status_option)
    .collect();
    let blocks = vec![
        Block::input(
            "title",
            "Incident title",
            Element::text_input("title", false, None),
            false,
        ),
        Block::input(
            "status",
            "Incident status",
            Element::select(
                "status",
                statuses,
                Some(status_option(IncidentStatus::Confirmed)),
                None,
            ),
            false,
        ),
        Block::input(
            "severity",
            "Severity",
            Element::select("severity", severity_options(), None, Some("Choose")),
            false,
        ),
        Block::input(
            "start",
            "Start (empty: now)",
            Element::Datetimepicker {
                action_id: "start".to_owned(),
                initial_date_time: None,
            },
            true,
        ),
        Block::input(
            "update_text",
            "First update",
            Element::text_input("update_text", true, None),
            true,
        ),
        Block::input(
            "summary",
            "Summary",
            Element::text_input("summary", true, None),
            true,
        ),
    ];
    View::modal(
        CREATE_MODAL,
        "Create incident",
        "Create",
        String::new(),
        blocks,
    )
}

fn incident_line(incident: &Incident, links: &Links<'_>) -> String {
    format!(
        "*<{}|{}>* \u{2014} {}, {}\n{}",
        links.console(incident),
        escape(&incident.title),
        incident.status,
        severity_label(incident.severity, Language::En),
        state_line(incident)
    )
}

/// The App Home tab: a create button and the open incidents with their buttons.
pub fn home(open: &[Incident], links: &Links<'_>) -> View {
    let mut blocks = vec![Block::actions(vec![Element::button(
        Button::new(CREATE, "Create incident", None).style(ButtonStyle::Primary),
    )])];
    if open.is_empty() {
        blocks.push(Block::section("No open incidents. :sunny:"));
    }
    // Slack allows 100 blocks per view: three per incident after the first two.
    for incident in open.iter().take(32) {
        blocks.push(Block::Divider {});
        blocks.push(Block::section(incident_line(incident, links)));
        let buttons = buttons(incident);
        if !buttons.is_empty() {
            blocks.push(Block::actions(buttons));
        }
    }
    View::Home { blocks }
}

/// `/status`: the current state for the person who asked.
pub fn status_summary(open: &[Incident], links: &Links<'_>) -> Message {
    if open.is_empty() {
        return Message {
            text: "No open incidents: everything is operational. Use `/status new` to create one."
                .to_owned(),
            blocks: Vec::new(),
        };
    }
    let mut blocks = vec![Block::section(format!(
        "*{} open incident{}* (`/status new` creates one)",
        open.len(),
        if open.len() == 1 { "" } else { "s" }
    ))];
    for incident in open.iter().take(40) {
        blocks.push(Block::section(incident_line(incident, links)));
    }
    Message {
        text: format!("{} open incident(s)", open.len()),
        blocks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IncidentId, Origin};

    fn incident(status: IncidentStatus) -> Incident {
        let now = Utc::now();
        Incident {
            id: IncidentId(7),
            status,
            severity: Severity::Outage,
            title: "Outage <b>".into(),
            summary: None,
            start: now,
            end: None,
            silent: false,
            last_notified_status: None,
            notified_episode: 0,
            origin: Origin::Opsgenie,
            auto_start: false,
            slack_channel: None,
            slack_ts: None,
            created: now,
            updated: now,
        }
    }

    fn action_ids(message: &Message) -> Vec<String> {
        let json = serde_json::to_value(&message.blocks).unwrap();
        json.as_array()
            .unwrap()
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| b["elements"].as_array().unwrap().clone())
            .map(|e| e["action_id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_parent_message_shows_only_the_buttons_its_state_allows() {
        let links = Links {
            site_url: "https://status.example.com",
        };
        for status in IncidentStatus::ALL {
            let shown = action_ids(&parent_message(&incident(*status), None, &links));
            let expected: &[&str] = match status {
                IncidentStatus::Suspected => &[CONFIRM, DISMISS],
                IncidentStatus::Confirmed | IncidentStatus::Watching => &[UPDATE],
                IncidentStatus::Planned => &[START_MAINTENANCE, UPDATE],
                IncidentStatus::Resolved | IncidentStatus::Dismissed => &[],
            };
            assert_eq!(shown, expected, "{status}");
            for id in &shown {
                let action = match id.as_str() {
                    CONFIRM => Action::Confirm,
                    DISMISS => Action::Dismiss,
                    START_MAINTENANCE => Action::StartMaintenance,
                    _ => Action::Update { new_status: None },
                };
                assert!(action.apply(*status).is_ok(), "{id} on {status}");
            }
        }
    }

    #[test]
    fn titles_cannot_inject_slack_markup() {
        let links = Links {
            site_url: "https://status.example.com",
        };
        let message = parent_message(&incident(IncidentStatus::Confirmed), None, &links);
        let json = serde_json::to_string(&message.blocks).unwrap();
        assert!(json.contains("Outage &lt;b&gt;"), "{json}");
    }
}
