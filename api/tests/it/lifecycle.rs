//! Every transition of SPEC §2, the refusals, and who gets notified.

use chrono::{TimeDelta, Utc};
use monostat::domain::{Actor, Field, IncidentStatus, Severity};
use monostat::events::DomainEvent;
use monostat::services::follow_up::{
    NOTIFY_SUBSCRIBERS, NotificationKindPayload, NotifySubscribers, SLACK_SYNC, SlackNote,
    SlackSync,
};
use monostat::services::{IncidentChange, IncidentError, NewIncident};
use monostat::store::{audit_entry, notification_settings};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::common::{TestDb, both_databases, payloads};

fn alice() -> Actor {
    Actor::User("alice".into())
}

fn new_incident(status: IncidentStatus, severity: Severity) -> NewIncident {
    NewIncident {
        title: "Payments fail".into(),
        status,
        severity,
        start: None,
        text: Some("Card payments fail for some customers.".into()),
        summary: None,
        silent: false,
        auto_start: false,
        do_not_notify: false,
    }
}

async fn notifications(db: &TestDb) -> Vec<(i64, IncidentStatus)> {
    payloads::<NotifySubscribers>(&db.jobs_of_kind(NOTIFY_SUBSCRIBERS).await)
        .into_iter()
        .map(|job| (job.incident_id.0, job.status))
        .collect()
}

async fn enable_maintenance_notifications(db: &TestDb) {
    notification_settings::ActiveModel {
        id: Set(1),
        notify_maintenance: Set(true),
        ..Default::default()
    }
    .update(&db.conn)
    .await
    .unwrap();
}

both_databases! {
    async fn confirming_a_suspected_incident_notifies_once(db: TestDb) {
        let app = db.services().await;
        let mut events = app.events.subscribe();
        let opened = app.services.incidents.alert_opened(crate::alerts::report("a1", "DB down")).await.unwrap();
        let id = opened.incident_id;
        assert_eq!(events.recv().await.unwrap(), DomainEvent::IncidentChanged { incident_id: id });
        assert!(notifications(&db).await.is_empty(), "a suspected incident notifies nobody");

        let confirmed = app.services.incidents.confirm(id, &Actor::Slack("bob".into()), false).await.unwrap();
        assert_eq!(confirmed.status, IncidentStatus::Confirmed);
        assert_eq!(confirmed.last_notified_status, Some(IncidentStatus::Confirmed));
        assert_eq!(events.recv().await.unwrap(), DomainEvent::IncidentChanged { incident_id: id });
        assert_eq!(notifications(&db).await, vec![(id.0, IncidentStatus::Confirmed)]);

        let timeline = app.services.incidents.timeline(id).await.unwrap();
        assert_eq!(timeline.len(), 2);
        assert_eq!(timeline[1].new_status.map(IncidentStatus::as_str), Some("confirmed"));
        assert_eq!(timeline[1].author, "bob (Slack)");

        let audit = audit_entry::Entity::find()
            .filter(audit_entry::Column::IncidentId.eq(id.0))
            .all(&db.conn)
            .await
            .unwrap();
        assert!(audit.iter().any(|entry| entry.actor_kind == "slack" && entry.message == "Confirmed the incident"));

        let error = app.services.incidents.confirm(id, &alice(), false).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot confirm an incident that is confirmed; allowed only when it is suspected"
        );
        assert_eq!(notifications(&db).await.len(), 1, "a refused change enqueues nothing");

        let slack: Vec<SlackSync> = payloads(&db.jobs_of_kind(SLACK_SYNC).await);
        assert_eq!(slack[0].note, Some(SlackNote::Opened));
        assert!(matches!(&slack[1].note, Some(SlackNote::Changed { actor: Actor::Slack(name), .. }) if name == "bob"));
    }

    async fn dismissing_ends_the_incident_and_blocks_updates(db: TestDb) {
        let app = db.services().await;
        let id = app.services.incidents.alert_opened(crate::alerts::report("a1", "CPU high")).await.unwrap().incident_id;
        let dismissed = app.services.incidents.dismiss(id, &alice()).await.unwrap();
        assert_eq!(dismissed.status, IncidentStatus::Dismissed);
        assert!(dismissed.end.is_some());

        let error = app
            .services
            .incidents
            .update(id, &alice(), IncidentChange { text: Some("hello".into()), ..Default::default() })
            .await
            .unwrap_err();
        assert!(matches!(error, IncidentError::Transition(_)), "{error}");
        assert!(matches!(app.services.incidents.dismiss(id, &alice()).await, Err(IncidentError::Transition(_))));
        assert!(notifications(&db).await.is_empty());
    }

    async fn updates_move_through_watching_to_resolved(db: TestDb) {
        let app = db.services().await;
        let incidents = &app.services.incidents;
        let created = incidents.create(&alice(), new_incident(IncidentStatus::Confirmed, Severity::Partial)).await.unwrap();
        let id = created.id;
        assert_eq!(notifications(&db).await, vec![(id.0, IncidentStatus::Confirmed)]);

        let error = incidents.update(id, &alice(), IncidentChange::default()).await.unwrap_err();
        assert!(matches!(error, IncidentError::NothingToUpdate));
        let error = incidents
            .update(id, &alice(), IncidentChange { new_status: Some(IncidentStatus::Suspected), ..Default::default() })
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "an update cannot move an incident to suspected; choose confirmed, watching or resolved");

        // Text only, same status: the entry carries no status (the first one already did).
        incidents
            .update(id, &alice(), IncidentChange { text: Some("Still digging.".into()), ..Default::default() })
            .await
            .unwrap();
        let watching = incidents
            .update(
                id,
                &alice(),
                IncidentChange {
                    new_status: Some(IncidentStatus::Watching),
                    severity: Some(Severity::Outage),
                    summary: Some("Card payments".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(watching.status, IncidentStatus::Watching);
        assert_eq!(watching.severity, Severity::Outage);
        assert_eq!(watching.summary.as_deref(), Some("Card payments"));
        assert!(watching.end.is_none());

        let resolved = incidents
            .update(id, &alice(), IncidentChange { new_status: Some(IncidentStatus::Resolved), summary: Some(String::new()), ..Default::default() })
            .await
            .unwrap();
        assert!(resolved.end.is_some(), "resolving sets the end");
        assert_eq!(resolved.summary, None, "an empty summary removes it");

        let timeline = incidents.timeline(id).await.unwrap();
        let statuses: Vec<Option<&str>> = timeline.iter().map(|entry| entry.new_status.map(IncidentStatus::as_str)).collect();
        assert_eq!(statuses, vec![Some("confirmed"), None, Some("watching"), Some("resolved")]);
        assert_eq!(timeline[3].message, "This incident has been resolved.");
        assert_eq!(
            notifications(&db).await,
            vec![(id.0, IncidentStatus::Confirmed), (id.0, IncidentStatus::Watching), (id.0, IncidentStatus::Resolved)]
        );

        // A note on a resolved incident keeps its end and notifies nobody again.
        let noted = incidents
            .update(id, &alice(), IncidentChange { text: Some("Post-mortem follows.".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(noted.end, resolved.end);
        assert_eq!(notifications(&db).await.len(), 3);
    }

    async fn reopening_brings_closed_incidents_back(db: TestDb) {
        let app = db.services().await;
        let incidents = &app.services.incidents;
        let id = incidents.create(&alice(), new_incident(IncidentStatus::Confirmed, Severity::Bug)).await.unwrap().id;
        let error = incidents.reopen(id, &alice(), false).await.unwrap_err();
        assert!(error.to_string().contains("allowed only when it is resolved or dismissed"), "{error}");

        incidents
            .update(id, &alice(), IncidentChange { new_status: Some(IncidentStatus::Resolved), ..Default::default() })
            .await
            .unwrap();
        let reopened = incidents.reopen(id, &alice(), false).await.unwrap();
        assert_eq!(reopened.status, IncidentStatus::Confirmed);
        assert!(reopened.end.is_none());
        incidents
            .update(id, &alice(), IncidentChange { new_status: Some(IncidentStatus::Resolved), ..Default::default() })
            .await
            .unwrap();
        // Reopening starts a new episode: subscribers hear that the incident is back,
        // and that it ended again.
        let announced: Vec<_> = payloads::<NotifySubscribers>(&db.jobs_of_kind(NOTIFY_SUBSCRIBERS).await)
            .into_iter()
            .map(|job| (job.status, job.episode, job.kind))
            .collect();
        assert_eq!(
            announced,
            vec![
                (IncidentStatus::Confirmed, 1, NotificationKindPayload::NewIncident),
                (IncidentStatus::Resolved, 1, NotificationKindPayload::StatusUpdate),
                (IncidentStatus::Confirmed, 2, NotificationKindPayload::Reopened),
                (IncidentStatus::Resolved, 2, NotificationKindPayload::StatusUpdate),
            ]
        );

        let suspected = incidents.alert_opened(crate::alerts::report("a9", "disk")).await.unwrap().incident_id;
        incidents.dismiss(suspected, &alice()).await.unwrap();
        assert_eq!(incidents.reopen(suspected, &alice(), false).await.unwrap().status, IncidentStatus::Confirmed);
    }

    async fn silent_incidents_and_quiet_changes_notify_nobody(db: TestDb) {
        let app = db.services().await;
        let incidents = &app.services.incidents;
        let mut silent = new_incident(IncidentStatus::Confirmed, Severity::Outage);
        silent.silent = true;
        let silent = incidents.create(&alice(), silent).await.unwrap();
        incidents
            .update(silent.id, &alice(), IncidentChange { new_status: Some(IncidentStatus::Resolved), ..Default::default() })
            .await
            .unwrap();
        assert!(notifications(&db).await.is_empty());

        let mut quiet = new_incident(IncidentStatus::Confirmed, Severity::Outage);
        quiet.do_not_notify = true;
        let quiet = incidents.create(&alice(), quiet).await.unwrap();
        assert!(notifications(&db).await.is_empty());
        assert_eq!(quiet.last_notified_status, None);
        // The next change that may notify announces the status it reaches.
        incidents
            .update(quiet.id, &alice(), IncidentChange { new_status: Some(IncidentStatus::Watching), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(notifications(&db).await, vec![(quiet.id.0, IncidentStatus::Watching)]);
    }

    async fn planned_maintenance_starts_by_hand_or_by_itself(db: TestDb) {
        let app = db.services().await;
        let incidents = &app.services.incidents;
        let mut planned = new_incident(IncidentStatus::Planned, Severity::Maintenance);
        planned.start = Some(Utc::now() + TimeDelta::hours(2));
        let by_hand = incidents.create(&alice(), planned.clone()).await.unwrap();
        assert_eq!(by_hand.status, IncidentStatus::Planned);
        assert!(notifications(&db).await.is_empty(), "maintenance notifications are off by default");

        let started = incidents.start_maintenance(by_hand.id, &alice(), false).await.unwrap();
        assert_eq!((started.status, started.severity), (IncidentStatus::Confirmed, Severity::Maintenance));
        assert!(started.start <= Utc::now());
        assert!(notifications(&db).await.is_empty());
        assert!(incidents.start_maintenance(by_hand.id, &alice(), false).await.is_err());

        enable_maintenance_notifications(&db).await;
        planned.auto_start = true;
        planned.start = Some(Utc::now() - TimeDelta::minutes(1));
        let automatic = incidents.create(&alice(), planned.clone()).await.unwrap();
        assert_eq!(notifications(&db).await, vec![(automatic.id.0, IncidentStatus::Planned)]);
        planned.start = Some(Utc::now() + TimeDelta::hours(1));
        let later = incidents.create(&alice(), planned).await.unwrap();

        let started = incidents.start_due_maintenance().await.unwrap();
        assert_eq!(started, vec![automatic.id]);
        assert_eq!(incidents.get(automatic.id).await.unwrap().status, IncidentStatus::Confirmed);
        assert_eq!(incidents.get(later.id).await.unwrap().status, IncidentStatus::Planned);
        assert_eq!(notifications(&db).await.last(), Some(&(automatic.id.0, IncidentStatus::Confirmed)));
    }

    async fn creating_validates_its_input(db: TestDb) {
        let app = db.services().await;
        let incidents = &app.services.incidents;
        let mut blank = new_incident(IncidentStatus::Confirmed, Severity::Notice);
        blank.title = "   ".into();
        assert_eq!(incidents.create(&alice(), blank).await.unwrap_err().to_string(), "title: give the incident a title");
        let resolved = new_incident(IncidentStatus::Resolved, Severity::Notice);
        assert!(matches!(incidents.create(&alice(), resolved).await, Err(IncidentError::Invalid { field: Field::Status, .. })));
        let mut auto = new_incident(IncidentStatus::Confirmed, Severity::Notice);
        auto.auto_start = true;
        assert!(matches!(incidents.create(&alice(), auto).await, Err(IncidentError::Invalid { field: Field::AutoStart, .. })));
        assert!(matches!(incidents.get(monostat::domain::IncidentId(999)).await, Err(IncidentError::NotFound(_))));
    }
}
