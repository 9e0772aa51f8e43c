//! Alerts opening, joining and closing incidents — and the races between them.

use std::sync::Arc;

use monostat::domain::{Actor, IncidentStatus, Origin, Severity};
use monostat::services::follow_up::{SLACK_SYNC, SlackNote, SlackSync};
use monostat::services::{AlertActivity, AlertReport, NewIncident};
use monostat::store::{alert, incident};
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::common::{TestDb, both_databases, payloads};

pub fn report(external_id: &str, message: &str) -> AlertReport {
    AlertReport {
        source: Origin::Opsgenie,
        external_id: external_id.into(),
        message: message.into(),
        description: None,
    }
}

async fn count_incidents(db: &TestDb) -> u64 {
    incident::Entity::find().count(&db.conn).await.unwrap()
}

async fn slack_notes(db: &TestDb) -> Vec<Option<SlackNote>> {
    payloads::<SlackSync>(&db.jobs_of_kind(SLACK_SYNC).await)
        .into_iter()
        .map(|job| job.note)
        .collect()
}

both_databases! {
    async fn an_alert_opens_a_suspected_outage(db: TestDb) {
        let app = db.services().await;
        let outcome = app.services.incidents.alert_opened(report("a1", "API 5xx rate high")).await.unwrap();
        assert!(outcome.opened_incident && outcome.new_alert);
        let incident = app.services.incidents.get(outcome.incident_id).await.unwrap();
        assert_eq!(incident.status, IncidentStatus::Suspected);
        assert_eq!(incident.severity, Severity::Outage);
        assert_eq!(incident.title, "Outage");
        assert_eq!(incident.origin, Origin::Opsgenie);
        let timeline = app.services.incidents.timeline(incident.id).await.unwrap();
        assert_eq!(timeline.len(), 1);
        assert_eq!(timeline[0].author, "system");
        assert!(timeline[0].message.contains("monitoring detected a problem"));
        assert_eq!(slack_notes(&db).await, vec![Some(SlackNote::Opened)]);
    }

    async fn the_same_alert_twice_changes_nothing(db: TestDb) {
        let app = db.services().await;
        let first = app.services.incidents.alert_opened(report("a1", "API down")).await.unwrap();
        let again = app.services.incidents.alert_opened(report("a1", "API down")).await.unwrap();
        assert_eq!(again.incident_id, first.incident_id);
        assert!(!again.opened_incident && !again.new_alert);
        assert_eq!(slack_notes(&db).await.len(), 1, "a repeated delivery enqueues nothing");

        // UpdateMessage: same alert, new text, updated in place.
        app.services.incidents.alert_opened(report("a1", "API down in eu-west")).await.unwrap();
        let alerts = app.services.incidents.alerts(first.incident_id).await.unwrap();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].message, "API down in eu-west");
        assert_eq!(count_incidents(&db).await, 1);
    }

    async fn fifty_alerts_at_once_open_one_incident(db: TestDb) {
        let app = Arc::new(db.services().await);
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..50 {
            let app = app.clone();
            tasks.spawn(async move { app.services.incidents.alert_opened(report(&format!("alert-{n}"), "storm")).await });
        }
        // And the same alert delivered ten times at once.
        for _ in 0..10 {
            let app = app.clone();
            tasks.spawn(async move { app.services.incidents.alert_opened(report("twin", "storm")).await });
        }
        let outcomes: Vec<_> = tasks.join_all().await.into_iter().map(Result::unwrap).collect();
        assert_eq!(count_incidents(&db).await, 1);
        assert_eq!(outcomes.iter().filter(|o| o.opened_incident).count(), 1);
        assert!(outcomes.windows(2).all(|w| w[0].incident_id == w[1].incident_id));
        assert_eq!(alert::Entity::find().count(&db.conn).await.unwrap(), 51);
        assert_eq!(outcomes.iter().filter(|o| o.new_alert).count(), 51);
    }

    async fn closing_the_last_alert_dismisses_a_suspected_incident(db: TestDb) {
        let app = db.services().await;
        let incidents = &app.services.incidents;
        let id = incidents.alert_opened(report("a1", "db")).await.unwrap().incident_id;
        incidents.alert_opened(report("a2", "api")).await.unwrap();

        incidents.alert_closed(Origin::Opsgenie, "a1").await.unwrap().unwrap();
        assert_eq!(incidents.get(id).await.unwrap().status, IncidentStatus::Suspected, "a2 is still open");
        assert!(incidents.alert_closed(Origin::Opsgenie, "unknown").await.unwrap().is_none());

        incidents.alert_closed(Origin::Opsgenie, "a2").await.unwrap().unwrap();
        let dismissed = incidents.get(id).await.unwrap();
        assert_eq!(dismissed.status, IncidentStatus::Dismissed);
        assert!(dismissed.end.is_some());
        assert_eq!(slack_notes(&db).await.last(), Some(&Some(SlackNote::AutoDismissed)));

        // A repeated Close changes nothing.
        let notes_before = slack_notes(&db).await.len();
        incidents.alert_closed(Origin::Opsgenie, "a2").await.unwrap();
        assert_eq!(slack_notes(&db).await.len(), notes_before);

        // The next alert opens a new incident: the dismissed one is closed.
        let next = incidents.alert_opened(report("a3", "db again")).await.unwrap();
        assert!(next.opened_incident);
        assert_ne!(next.incident_id, id);
    }

    async fn closing_the_last_alert_of_a_confirmed_incident_only_reminds(db: TestDb) {
        let app = db.services().await;
        let incidents = &app.services.incidents;
        let id = incidents.alert_opened(report("a1", "db")).await.unwrap().incident_id;
        incidents.confirm(id, &Actor::Slack("bob".into()), false).await.unwrap();
        incidents.alert_closed(Origin::Opsgenie, "a1").await.unwrap();
        assert_eq!(incidents.get(id).await.unwrap().status, IncidentStatus::Confirmed);
        assert_eq!(slack_notes(&db).await.last(), Some(&Some(SlackNote::AlertsClosed)));
    }

    async fn alerts_join_an_open_outage_but_not_a_known_bug(db: TestDb) {
        let app = db.services().await;
        let incidents = &app.services.incidents;
        let manual = |severity| NewIncident {
            title: "Checkout slow".into(),
            status: IncidentStatus::Confirmed,
            severity,
            start: None,
            text: None,
            summary: None,
            silent: false,
            auto_start: false,
            do_not_notify: false,
        };
        let bug = incidents.create(&Actor::System, manual(Severity::Bug)).await.unwrap();
        let opened = incidents.alert_opened(report("a1", "slow")).await.unwrap();
        assert!(opened.opened_incident);
        assert_ne!(opened.incident_id, bug.id);
        incidents.dismiss(opened.incident_id, &Actor::System).await.unwrap();

        let partial = incidents.create(&Actor::System, manual(Severity::Partial)).await.unwrap();
        let joined = incidents.alert_opened(report("a2", "slow")).await.unwrap();
        assert_eq!(joined.incident_id, partial.id);
        assert!(!joined.opened_incident);
        assert_eq!(
            slack_notes(&db).await.last(),
            Some(&Some(SlackNote::AlertAttached { source: Origin::Opsgenie, message: "slow".into() }))
        );
    }

    async fn alert_descriptions_and_activity(db: TestDb) {
        let app = db.services().await;
        let incidents = &app.services.incidents;
        let mut with_description = report("a1", "db");
        with_description.description = Some("replica lag".into());
        let id = incidents.alert_opened(with_description).await.unwrap().incident_id;
        // UpdateMessage without a description keeps the stored one.
        incidents.alert_opened(report("a1", "db lag")).await.unwrap();
        assert_eq!(incidents.alerts(id).await.unwrap()[0].description.as_deref(), Some("replica lag"));
        incidents.alert_description_updated(Origin::Opsgenie, "a1", "replica lag 30s").await.unwrap();
        assert_eq!(incidents.alerts(id).await.unwrap()[0].description.as_deref(), Some("replica lag 30s"));

        incidents
            .alert_activity(Origin::Opsgenie, "a1", AlertActivity::Note { by: "carol".into(), text: "on it".into() })
            .await
            .unwrap();
        assert_eq!(
            slack_notes(&db).await.last(),
            Some(&Some(SlackNote::AlertActivity { source: Origin::Opsgenie, by: "carol".into(), what: "added a note: on it".into() }))
        );
        assert!(incidents.alert_activity(Origin::Opsgenie, "nope", AlertActivity::Acknowledged { by: "x".into() }).await.unwrap().is_none());
        let error = incidents.alert_opened(report("  ", "x")).await.unwrap_err();
        assert_eq!(error.to_string(), "alert id: must be 1 to 255 characters");
    }
}
