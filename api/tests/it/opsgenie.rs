//! The OpsGenie webhook end to end, over HTTP, with the shared fixtures.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use monostat::domain::{Actor, IncidentId, IncidentStatus, Origin};
use monostat::services::AlertSpool;
use monostat::services::StepUp;
use monostat::services::follow_up::{SLACK_SYNC, SlackNote, SlackSync};
use monostat::services::{AlertEvent, AlertReport, IncidentChange};
use monostat::store::{alert, incident};
use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder};
use serde_json::Value;

use crate::common::chaos::ChaosProxy;
use crate::common::{TestApp, TestDb, both_databases, fixture, payloads};

const FIRST_ALERT: &str = "5b1d3d7e-8c2a-4f6e-9a51-2f1e0c9d4b77-1700000000000";

async fn hook_url(app: &TestApp) -> String {
    let secret = app
        .services
        .settings
        .alert_source_secret(Origin::Opsgenie)
        .await
        .unwrap();
    app.url(&format!("/integrations/opsgenie/hook/{}", secret.expose()))
}

async fn post(app: &TestApp, url: &str, body: Vec<u8>) -> (u16, Value) {
    let response = app
        .client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn incidents(db: &TestDb) -> Vec<incident::Model> {
    incident::Entity::find()
        .order_by_asc(incident::Column::Id)
        .all(&db.conn)
        .await
        .unwrap()
}

both_databases! {
    async fn a_whole_alert_lifecycle_from_the_fixtures(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let url = hook_url(&app).await;

        let (status, body) = post(&app, &url, fixture("opsgenie/create.json")).await;
        assert_eq!(status, 200, "{body}");
        let id = body["incident"].as_i64().unwrap();
        // OpsGenie sends a second Create when the alert is routed to another team.
        let (status, again) = post(&app, &url, fixture("opsgenie/create.json")).await;
        assert_eq!((status, again["incident"].as_i64()), (200, Some(id)));
        // The 2017 shape of the same alert, numbers as strings, is the same alert.
        let (status, legacy) = post(&app, &url, fixture("opsgenie/create-legacy-string-numbers.json")).await;
        assert_eq!((status, legacy["incident"].as_i64()), (200, Some(id)), "{legacy}");
        let (_, second) = post(&app, &url, fixture("opsgenie/create-second-alert-no-description.json")).await;
        assert_eq!(second["incident"].as_i64(), Some(id), "the second alert joins the open incident");

        for name in ["acknowledge.json", "add-note.json", "update-message.json", "update-description.json"] {
            let (status, body) = post(&app, &url, fixture(&format!("opsgenie/{name}"))).await;
            assert_eq!(status, 200, "{name}: {body}");
        }
        for name in ["unacknowledge.json", "update-priority.json", "add-tags.json", "custom-action.json", "escalate-minimal-alert.json"] {
            let (status, body) = post(&app, &url, fixture(&format!("opsgenie/{name}"))).await;
            assert_eq!((status, body["result"].as_str()), (200, Some("ignored")), "{name}");
        }
        let alerts = alert::Entity::find().order_by_asc(alert::Column::Id).all(&db.conn).await.unwrap();
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[0].external_id, FIRST_ALERT);
        assert_eq!(alerts[0].description.as_deref(), Some("Root cause: bad deploy 2023-11-14.3. Rollback in progress."));

        post(&app, &url, fixture("opsgenie/close.json")).await;
        assert_eq!(incidents(&db).await[0].status.as_str(), "suspected", "the second alert is still open");
        let second_id = alerts[1].external_id.clone();
        let close_second = fixture("opsgenie/close.json");
        let close_second = String::from_utf8(close_second).unwrap().replace(FIRST_ALERT, &second_id);
        let (status, _) = post(&app, &url, close_second.into_bytes()).await;
        assert_eq!(status, 200);
        let all = incidents(&db).await;
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].status.as_str(), "dismissed");

        let notes: Vec<Option<SlackNote>> = payloads::<SlackSync>(&db.jobs_of_kind(SLACK_SYNC).await).into_iter().map(|j| j.note).collect();
        assert_eq!(notes.first(), Some(&Some(SlackNote::Opened)));
        assert!(notes.iter().any(|n| matches!(n, Some(SlackNote::AlertActivity { what, .. }) if what == "acknowledged the alert")));
        assert!(notes.iter().any(|n| matches!(n, Some(SlackNote::AlertActivity { what, .. }) if what.starts_with("added a note: Load balancer"))));
        assert_eq!(notes.last(), Some(&Some(SlackNote::AutoDismissed)));
        app.stop().await;
    }

    async fn bad_requests_get_clear_answers(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let url = hook_url(&app).await;
        let (status, body) = post(&app, &app.url("/integrations/opsgenie/hook/wrong"), fixture("opsgenie/create.json")).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("forbidden")));
        let (status, body) = post(&app, &url, fixture("opsgenie/invalid-not-json.txt")).await;
        assert_eq!(status, 400);
        assert!(body["error"].as_str().unwrap().starts_with("the body is not JSON"), "{body}");
        let (status, body) = post(&app, &url, fixture("opsgenie/invalid-missing-alert-id.json")).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("the body has no \"alert.alertId\"")));
        let huge = format!(r#"{{"action":"Create","alert":{{"alertId":"x","message":"{}"}}}}"#, "a".repeat(300 * 1024));
        let (status, _) = post(&app, &url, huge.into_bytes()).await;
        assert_eq!(status, 413);
        assert!(incidents(&db).await.is_empty());
        app.stop().await;
    }

    async fn concurrent_deliveries_open_one_incident(db: TestDb) {
        let app = Arc::new(TestApp::start(db.app_config(&[])).await);
        let url = hook_url(&app).await;
        let template = String::from_utf8(fixture("opsgenie/create.json")).unwrap();
        let mut requests = tokio::task::JoinSet::new();
        for n in 0..50 {
            let (app, url) = (app.clone(), url.clone());
            let body = template.replace(FIRST_ALERT, &format!("alert-{n}"));
            requests.spawn(async move { post(&app, &url, body.into_bytes()).await.0 });
        }
        assert!(requests.join_all().await.iter().all(|status| *status == 200));
        assert_eq!(incidents(&db).await.len(), 1);
        assert_eq!(alert::Entity::find().count(&db.conn).await.unwrap(), 50);
        Arc::into_inner(app).unwrap().stop().await;
    }

    async fn closing_the_last_alert_dismisses_only_a_suspected_incident(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let url = hook_url(&app).await;
        // Closed by the monitoring tool through OpsGenie's API, on a confirmed incident:
        // it stays, and the team is reminded to resolve it when it is really over.
        let (_, opened) = post(&app, &url, fixture("opsgenie/create.json")).await;
        let id = IncidentId(opened["incident"].as_i64().unwrap());
        app.services.incidents.confirm(id, &Actor::User("alice".into()), false).await.unwrap();
        let (status, body) = post(&app, &url, fixture("opsgenie/close-by-api.json")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(app.services.incidents.get(id).await.unwrap().status, IncidentStatus::Confirmed);
        let notes: Vec<Option<SlackNote>> = payloads::<SlackSync>(&db.jobs_of_kind(SLACK_SYNC).await).into_iter().map(|j| j.note).collect();
        assert_eq!(notes.last(), Some(&Some(SlackNote::AlertsClosed)));
        app.services.incidents.update(id, &Actor::User("alice".into()), IncidentChange { new_status: Some(IncidentStatus::Resolved), text: Some("Fixed.".into()), ..Default::default() }).await.unwrap();

        // A deleted alert counts as closed: the suspected incident it opened goes away.
        let (_, reopened) = post(&app, &url, fixture("opsgenie/create.json")).await;
        assert_eq!(reopened["incident"].as_i64(), Some(id.0), "a known alert stays with its incident");
        let fresh = String::from_utf8(fixture("opsgenie/create.json")).unwrap().replace(FIRST_ALERT, "deleted-later");
        let (_, suspected) = post(&app, &url, fresh.into_bytes()).await;
        let suspected = IncidentId(suspected["incident"].as_i64().unwrap());
        assert_ne!(suspected, id);
        let delete = String::from_utf8(fixture("opsgenie/delete.json")).unwrap().replace(FIRST_ALERT, "deleted-later");
        let (status, body) = post(&app, &url, delete.into_bytes()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(app.services.incidents.get(suspected).await.unwrap().status, IncidentStatus::Dismissed);
        app.stop().await;
    }

    async fn the_public_status_shows_a_suspected_incident_once_the_webhook_answers(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let url = hook_url(&app).await;
        let (status, _) = post(&app, &url, fixture("opsgenie/create.json")).await;
        assert_eq!(status, 200);
        // The snapshot rebuilds after the event; poll instead of racing it.
        let mut seen = None;
        for _ in 0..100 {
            let json: Value = app.client.get(app.url("/api/v2/status.json")).send().await.unwrap().json().await.unwrap();
            let graphql: Value = app.client.post(app.url("/graphql"))
                .json(&serde_json::json!({ "query": "{ status { headline current { status title } } }" }))
                .send().await.unwrap().json().await.unwrap();
            if json["status"]["indicator"] != "none" && graphql["data"]["status"]["current"].as_array().is_some_and(|a| !a.is_empty()) {
                seen = Some((json, graphql));
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (json, graphql) = seen.expect("the public status never showed the alert");
        assert_eq!(json["status"]["indicator"], "critical", "{json}");
        assert_eq!(graphql["data"]["status"]["headline"], "MIGHT_HAVE_ISSUES", "{graphql}");
        assert_eq!(graphql["data"]["status"]["current"][0]["status"], "SUSPECTED", "{graphql}");
        app.stop().await;
    }

    async fn a_rotated_secret_stops_working_at_once(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let old = hook_url(&app).await;
        app.services.settings.rotate_alert_source_secret(Origin::Opsgenie, &Actor::User("alice".into()), &StepUp::command_line()).await.unwrap();
        let new = hook_url(&app).await;
        assert_ne!(old, new);
        assert_eq!(post(&app, &old, fixture("opsgenie/create.json")).await.0, 403);
        assert_eq!(post(&app, &new, fixture("opsgenie/create.json")).await.0, 200);
        let shown = app.services.settings.webhook_url(Origin::Opsgenie, &app.services.settings.alert_source_secret(Origin::Opsgenie).await.unwrap());
        assert!(shown.ends_with(new.rsplit('/').next().unwrap()));
        assert!(shown.starts_with("http://127.0.0.1:0/integrations/opsgenie/hook/"), "{shown}");
        app.stop().await;
    }

    async fn a_secret_from_the_environment_wins(db: TestDb) {
        let app = TestApp::start(db.app_config(&[("MONOSTAT_OPSGENIE_SECRET", "from-the-environment-0123456789")])).await;
        assert_eq!(post(&app, &app.url("/integrations/opsgenie/hook/from-the-environment-0123456789"), fixture("opsgenie/create.json")).await.0, 200);
        let error = app.services.settings.rotate_alert_source_secret(Origin::Opsgenie, &Actor::System, &StepUp::command_line()).await.unwrap_err();
        assert_eq!(error.to_string(), "the opsgenie secret is set by the environment (MONOSTAT_OPSGENIE_SECRET); change it there");
        app.stop().await;
    }

    async fn replaying_the_spool_after_a_crash_applies_nothing_twice(db: TestDb) {
        let harness = db.services().await;
        let spool = AlertSpool::open(db.dir.path(), Duration::from_hours(24)).unwrap();
        let opened = |id: &str| AlertEvent::Opened(AlertReport {
            source: Origin::Opsgenie,
            external_id: id.into(),
            message: format!("alert {id}"),
            description: None,
        });
        let events = [opened("a1"), opened("a2"), AlertEvent::Closed { source: Origin::Opsgenie, external_id: "a1".into() }];
        for event in &events {
            spool.append(event).await.unwrap();
        }
        assert!(spool.has_backlog());
        // The first entry was applied, then the process died before recording progress.
        harness.services.incidents.apply_alert_event(&events[0]).await.unwrap();
        let reopened = AlertSpool::open(db.dir.path(), Duration::from_hours(24)).unwrap();
        assert!(reopened.has_backlog());
        let report = reopened.replay(&harness.services.incidents).await.unwrap();
        assert_eq!((report.applied, report.rejected, report.interrupted), (3, 0, false));
        assert!(!reopened.has_backlog());

        let all = incidents(&db).await;
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].status, IncidentStatus::Suspected, "a2 is still open");
        assert_eq!(alert::Entity::find().count(&db.conn).await.unwrap(), 2);
        let notes: Vec<Option<SlackNote>> = payloads::<SlackSync>(&db.jobs_of_kind(SLACK_SYNC).await).into_iter().map(|j| j.note).collect();
        assert_eq!(notes, vec![Some(SlackNote::Opened), Some(SlackNote::AlertAttached { source: Origin::Opsgenie, message: "alert a2".into() })]);
        // Nothing left: a second replay is a no-op.
        assert_eq!(reopened.replay(&harness.services.incidents).await.unwrap().applied, 0);
    }
}

/// PostgreSQL goes away mid-incident: alerts are spooled and answered 202, the public
/// health stays up, and when the database is back they apply in the order they came.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_survive_a_database_outage() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let proxy = ChaosProxy::start(SocketAddr::from(([127, 0, 0, 1], 5432))).await;
    let port = proxy.address.port().to_string();
    let app = TestApp::start(db.app_config(&[("MONOSTAT_DB_PORT", &port)])).await;
    let url = hook_url(&app).await;
    assert_eq!(
        post(&app, &url, fixture("opsgenie/create.json")).await.0,
        200
    );

    proxy.cut();
    // Close the first alert, then a new alert arrives: applied in this order, the first
    // incident is dismissed and the new alert opens a second one.
    let (status, body) = post(&app, &url, fixture("opsgenie/close.json")).await;
    assert_eq!(
        (status, body["result"].as_str()),
        (202, Some("queued")),
        "{body}"
    );
    let (status, _) = post(
        &app,
        &url,
        fixture("opsgenie/create-second-alert-no-description.json"),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert!(app.spool.has_backlog());

    proxy.restore();
    crate::common::eventually(
        "the spool to be replayed",
        Duration::from_secs(15),
        || async { (!app.spool.has_backlog()).then_some(()) },
    )
    .await;
    let all = incidents(&db).await;
    let statuses: Vec<&str> = all.iter().map(|i| i.status.as_str()).collect();
    assert_eq!(statuses, vec!["dismissed", "suspected"]);
    assert_eq!(
        post(&app, &url, fixture("opsgenie/acknowledge.json"))
            .await
            .0,
        200,
        "back to normal"
    );
    app.stop().await;
}

/// Two replicas share PostgreSQL and Redis: a secret rotated through one is refused by
/// the other at once, without waiting for its cache to expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_on_one_replica_is_in_force_on_the_other() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    if !crate::events::redis_available().await {
        return;
    }
    // The periodic resync far away: only Redis can carry the change in time.
    let with_redis = [
        ("MONOSTAT_REDIS_HOST", crate::common::REDIS_HOST),
        ("MONOSTAT_RESYNC_SECS", "600"),
    ];
    let replica_a = TestApp::start(db.app_config(&with_redis)).await;
    let replica_b = TestApp::start(db.app_config(&with_redis)).await;
    let old_on_a = hook_url(&replica_a).await;
    // Give both Redis subscriptions a moment to be established.
    tokio::time::sleep(Duration::from_millis(500)).await;

    replica_b
        .services
        .settings
        .rotate_alert_source_secret(Origin::Opsgenie, &Actor::System, &StepUp::command_line())
        .await
        .unwrap();
    crate::common::eventually(
        "replica A to refuse the old secret",
        Duration::from_secs(2),
        || async {
            let answer = post(
                &replica_a,
                &old_on_a,
                fixture("opsgenie/unacknowledge.json"),
            )
            .await;
            (answer.0 == 403).then_some(())
        },
    )
    .await;
    let new_on_a = hook_url(&replica_a).await;
    assert_eq!(
        post(
            &replica_a,
            &new_on_a,
            fixture("opsgenie/unacknowledge.json")
        )
        .await
        .0,
        200
    );
    replica_a.stop().await;
    replica_b.stop().await;
}
