//! The public read path: Statuspage v2 JSON and the badge from the in-memory snapshot,
//! kept current by events, and still served when the database is away.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use monostat::domain::{Actor, IncidentStatus, Severity};
use monostat::events::DomainEvent;
use monostat::services::{IncidentChange, NewIncident};
use serde_json::{Value, json};

use crate::alerts::report;
use crate::common::chaos::ChaosProxy;
use crate::common::{TestApp, TestDb, both_databases, fixture};

fn new_incident(status: IncidentStatus, severity: Severity, title: &str) -> NewIncident {
    NewIncident {
        title: title.into(),
        status,
        severity,
        start: (status == IncidentStatus::Planned)
            .then(|| chrono::Utc::now() + chrono::TimeDelta::hours(3)),
        text: Some("We are on it.".into()),
        summary: None,
        silent: false,
        auto_start: false,
        do_not_notify: false,
    }
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// Polls until `check` holds for the body at `path` (the snapshot follows events; the
/// wait is far shorter than its periodic rebuild).
async fn eventually(app: &TestApp, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    crate::common::eventually(path, Duration::from_secs(3), || async {
        Some(get_json(app, path).await).filter(|body| check(body))
    })
    .await
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

both_databases! {
    async fn statuspage_json_follows_the_incidents(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let summary = get_json(&app, "/api/v2/summary.json").await;
        assert_eq!(summary["status"], json!({ "indicator": "none", "description": "All Systems Operational" }));
        let reference: Value = serde_json::from_slice(&fixture("statuspage/summary.json")).unwrap();
        assert_eq!(keys(&summary), keys(&reference));
        assert!(keys(&summary["page"]).is_superset(&keys(&reference["page"])));
        assert_eq!(keys(&summary["components"][0]), keys(&reference["components"][0]));

        let incidents = &app.services.incidents;
        let partial = incidents.create(&Actor::System, new_incident(IncidentStatus::Confirmed, Severity::Partial, "Login fails")).await.unwrap();
        incidents.create(&Actor::System, new_incident(IncidentStatus::Planned, Severity::Maintenance, "Database upgrade")).await.unwrap();
        // Both changes, not only the first: a rebuild may fall between them.
        let summary = eventually(&app, "/api/v2/summary.json", |s| {
            s["status"]["indicator"] == "major" && s["scheduled_maintenances"].as_array().is_some_and(|m| !m.is_empty())
        })
        .await;
        assert_eq!(summary["status"]["description"], "Partial System Outage");
        assert_eq!(summary["components"][0]["status"], "partial_outage");
        assert_eq!(summary["incidents"][0]["name"], "Login fails");
        assert_eq!(summary["incidents"][0]["status"], "identified");
        assert!(keys(&summary["incidents"][0]).is_superset(&keys(&reference["incidents"][0])));
        assert!(keys(&summary["incidents"][0]["incident_updates"][0]).is_superset(&keys(&reference["incidents"][0]["incident_updates"][0])));
        assert_eq!(summary["scheduled_maintenances"][0]["status"], "scheduled");
        assert!(summary["scheduled_maintenances"][0]["scheduled_for"].is_string());

        incidents.update(partial.id, &Actor::System, IncidentChange { new_status: Some(IncidentStatus::Resolved), ..Default::default() }).await.unwrap();
        let unresolved = eventually(&app, "/api/v2/incidents/unresolved.json", |s| s["incidents"].as_array().unwrap().is_empty()).await;
        assert_eq!(unresolved["page"]["name"], "Our product");
        let all = get_json(&app, "/api/v2/incidents.json").await;
        assert_eq!(all["incidents"][0]["status"], "resolved");
        assert!(all["incidents"][0]["resolved_at"].is_string());
        let statuses: Vec<&str> = all["incidents"][0]["incident_updates"].as_array().unwrap().iter().map(|u| u["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, vec!["resolved", "identified"]);
        assert_eq!(get_json(&app, "/api/v2/scheduled-maintenances/upcoming.json").await["scheduled_maintenances"].as_array().unwrap().len(), 1);
        assert!(get_json(&app, "/api/v2/scheduled-maintenances/active.json").await["scheduled_maintenances"].as_array().unwrap().is_empty());
        assert_eq!(get_json(&app, "/api/v2/scheduled-maintenances.json").await["scheduled_maintenances"].as_array().unwrap().len(), 1);
        assert_eq!(get_json(&app, "/api/v2/components.json").await["components"][0]["status"], "operational");
        assert_eq!(get_json(&app, "/api/v2/status.json").await["status"]["indicator"], "none");

        // A suspected incident is "investigating"; a dismissed one vanishes.
        let suspected = incidents.alert_opened(report("a1", "db")).await.unwrap().incident_id;
        eventually(&app, "/api/v2/incidents/unresolved.json", |s| s["incidents"][0]["status"] == "investigating").await;
        incidents.dismiss(suspected, &Actor::System).await.unwrap();
        let all = eventually(&app, "/api/v2/incidents/unresolved.json", |s| s["incidents"].as_array().unwrap().is_empty()).await;
        assert!(all["incidents"].as_array().unwrap().is_empty());
        let everything = get_json(&app, "/api/v2/incidents.json").await;
        let ids: Vec<&str> = everything["incidents"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert!(!ids.contains(&suspected.0.to_string().as_str()), "dismissed incidents never appear: {ids:?}");
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_bodies_revalidate_compress_and_badge() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(db.app_config(&[])).await;
    let first = app
        .client
        .get(app.url("/api/v2/status.json"))
        .send()
        .await
        .unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(first.headers()["access-control-allow-origin"], "*");
    let again = app
        .client
        .get(app.url("/api/v2/status.json"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let zipped = app
        .client
        .get(app.url("/api/v2/summary.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let bytes = zipped.bytes().await.unwrap();
    let mut decoder = flate2::read::GzDecoder::new(&bytes[..]);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut decoder, &mut text).unwrap();
    assert!(text.contains("All Systems Operational"));
    let brotli = app
        .client
        .get(app.url("/api/v2/summary.json"))
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(brotli.headers()["content-encoding"], "br");
    assert!(
        brotli.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("stale-if-error"),
        "a CDN may keep serving it while this server is down"
    );
    let bytes = brotli.bytes().await.unwrap();
    let mut unbrotli = String::new();
    std::io::Read::read_to_string(
        &mut brotli::Decompressor::new(&bytes[..], 4096),
        &mut unbrotli,
    )
    .unwrap();
    assert_eq!(unbrotli, text, "the same body, compressed another way");

    let badge = app.client.get(app.url("/badge.svg")).send().await.unwrap();
    assert_eq!(badge.headers()["content-type"], "image/svg+xml");
    assert!(badge.text().await.unwrap().contains("operational"));
    app.services
        .incidents
        .alert_opened(report("a1", "db"))
        .await
        .unwrap();
    for _ in 0..50 {
        let badge = app
            .client
            .get(app.url("/badge.svg"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if badge.contains("possible issues") {
            let changed = app
                .client
                .get(app.url("/api/v2/status.json"))
                .header("if-none-match", &etag)
                .send()
                .await
                .unwrap();
            assert_eq!(changed.status(), 200, "a changed body has a new ETag");
            app.stop().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the badge never showed the suspected incident");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_list_confirmed_incidents_and_the_widget_is_served() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(db.app_config(&[])).await;
    let incidents = &app.services.incidents;
    incidents
        .create(
            &Actor::System,
            new_incident(
                IncidentStatus::Confirmed,
                Severity::Bug,
                "Exports <fail> & retry",
            ),
        )
        .await
        .unwrap();
    let suspected = incidents
        .alert_opened(report("a1", "db"))
        .await
        .unwrap()
        .incident_id;
    let mut rss = String::new();
    for _ in 0..50 {
        rss = app
            .client
            .get(app.url("/feed/rss"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if rss.contains("Exports") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        rss.contains("<title>Exports &lt;fail&gt; &amp; retry</title>"),
        "{rss}"
    );
    assert!(
        !rss.contains(&format!("/{}</link>", suspected.0)),
        "suspected incidents are not in feeds"
    );
    let atom = app.client.get(app.url("/feed/atom")).send().await.unwrap();
    assert_eq!(
        atom.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let atom = atom.text().await.unwrap();
    assert!(
        atom.contains("<feed") && atom.contains("Exports &lt;fail&gt; &amp; retry"),
        "{atom}"
    );
    // Both parse as what they claim to be, with the titles and sanitised HTML intact.
    let channel = rss::Channel::read_from(rss.as_bytes()).unwrap();
    assert_eq!(channel.items()[0].title(), Some("Exports <fail> & retry"));
    let description = channel.items()[0].description().unwrap();
    assert!(
        description.starts_with("<p><strong>confirmed</strong></p>"),
        "{description}"
    );
    assert!(channel.items()[0].pub_date().is_some() && channel.items()[0].guid().is_some());
    let feed = atom_syndication::Feed::read_from(atom.as_bytes()).unwrap();
    assert_eq!(feed.entries()[0].title().as_str(), "Exports <fail> & retry");
    assert_eq!(
        feed.entries()[0].summary().unwrap().r#type,
        atom_syndication::TextType::Html
    );
    assert!(feed.links().iter().any(|link| link.rel() == "self"));

    let widget = app.client.get(app.url("/widget.js")).send().await.unwrap();
    assert_eq!(
        widget.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let source = widget.text().await.unwrap();
    assert!(source.contains("graphql-transport-ws"));
    // Embedded on other sites' pages: it must stay small.
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gzip, source.as_bytes()).unwrap();
    let gzipped = gzip.finish().unwrap().len();
    assert!(gzipped < 6 * 1024, "widget.js is {gzipped} bytes gzipped");
    // The script must at least parse; Node is on every machine this runs on.
    let path = db.dir.path().join("widget.js");
    std::fs::write(&path, &source).unwrap();
    if let Ok(check) = std::process::Command::new("node")
        .arg("--check")
        .arg(&path)
        .output()
    {
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    app.stop().await;
}

/// With PostgreSQL cut, the public side keeps answering from the last snapshot, marked
/// stale, and comes back fresh when the database does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_public_side_survives_a_database_outage() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let proxy = ChaosProxy::start(SocketAddr::from(([127, 0, 0, 1], 5432))).await;
    let port = proxy.address.port().to_string();
    let app = TestApp::start(db.app_config(&[("MONOSTAT_DB_PORT", &port)])).await;
    app.services
        .incidents
        .alert_opened(report("a1", "checkout down"))
        .await
        .unwrap();
    eventually(&app, "/api/v2/status.json", |s| {
        s["status"]["indicator"] == "critical"
    })
    .await;

    proxy.cut();
    app.events.publish(DomainEvent::Resync);
    let stale = eventually(&app, "/api/v2/status.json", |s| s["page"]["stale"] == true).await;
    assert_eq!(
        stale["status"]["indicator"], "critical",
        "the last known state"
    );
    let response = app
        .client
        .get(app.url("/api/v2/summary.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-monostat-stale"], "true");
    let status: Value = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": "{ status { headline stale current { title } } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        status["data"]["status"]["headline"], "MIGHT_HAVE_ISSUES",
        "{status}"
    );
    assert_eq!(status["data"]["status"]["stale"], true);
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );

    proxy.restore();
    for _ in 0..100 {
        let body = get_json(&app, "/api/v2/status.json").await;
        if body["page"]["stale"] == false {
            app.stop().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the snapshot never became fresh again");
}

/// Checks that `ours` has the shape of `reference` (a protocols.md §5 fixture): every
/// key the reference has, with a value of the same JSON type wherever the reference
/// has one, recursively through objects and the first element of arrays.
fn assert_same_shape(ours: &Value, reference: &Value, path: &str) {
    match (ours, reference) {
        (Value::Object(ours), Value::Object(reference)) => {
            for (key, expected) in reference {
                let Some(value) = ours.get(key) else {
                    panic!("{path}.{key} is missing");
                };
                assert_same_shape(value, expected, &format!("{path}.{key}"));
            }
        }
        (Value::Array(ours), Value::Array(reference)) => {
            if let (Some(first), Some(expected)) = (ours.first(), reference.first()) {
                assert_same_shape(first, expected, &format!("{path}[0]"));
            }
        }
        // A null in the reference (e.g. resolved_at of an open incident) fits anything.
        (_, Value::Null) | (Value::Null, _) => {}
        (Value::String(ours), Value::String(reference)) => {
            let is_time = |s: &str| chrono::DateTime::parse_from_rfc3339(s).is_ok();
            if is_time(reference) {
                assert!(
                    is_time(ours) && ours.ends_with('Z') && ours.len() == 24,
                    "{path}: {ours} is not an ISO 8601 UTC time with milliseconds"
                );
            }
        }
        (ours, reference) => assert_eq!(
            std::mem::discriminant(ours),
            std::mem::discriminant(reference),
            "{path}: {ours} has another type than {reference}"
        ),
    }
}

both_databases! {
    async fn every_statuspage_endpoint_has_the_documented_shape(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let incidents = &app.services.incidents;
        // A false alarm first: an open partial outage would collect its alert.
        let dismissed = incidents.alert_opened(report("a1", "flaky probe")).await.unwrap().incident_id;
        incidents.dismiss(dismissed, &Actor::System).await.unwrap();
        let partial = incidents.create(&Actor::System, new_incident(IncidentStatus::Confirmed, Severity::Partial, "Login fails")).await.unwrap();
        incidents.update(partial.id, &Actor::System, IncidentChange { new_status: Some(IncidentStatus::Watching), text: Some("A fix is out.".into()), ..Default::default() }).await.unwrap();
        incidents.create(&Actor::System, new_incident(IncidentStatus::Planned, Severity::Maintenance, "Database upgrade")).await.unwrap();
        let mut running = new_incident(IncidentStatus::Planned, Severity::Maintenance, "Search reindex");
        running.start = Some(chrono::Utc::now() - chrono::TimeDelta::minutes(5));
        let running = incidents.create(&Actor::System, running).await.unwrap();
        incidents.start_maintenance(running.id, &Actor::System, false).await.unwrap();
        eventually(&app, "/api/v2/scheduled-maintenances/active.json", |s| !s["scheduled_maintenances"].as_array().unwrap().is_empty()).await;
        eventually(&app, "/api/v2/incidents/unresolved.json", |s| s["incidents"][0]["status"] == "monitoring").await;

        for (path, fixture_name) in [
            ("/api/v2/summary.json", "summary.json"),
            ("/api/v2/status.json", "status.json"),
            ("/api/v2/components.json", "components.json"),
            ("/api/v2/incidents.json", "incidents.json"),
            ("/api/v2/incidents/unresolved.json", "incidents_unresolved.json"),
            ("/api/v2/scheduled-maintenances.json", "scheduled-maintenances.json"),
            ("/api/v2/scheduled-maintenances/upcoming.json", "scheduled-maintenances_upcoming.json"),
            ("/api/v2/scheduled-maintenances/active.json", "scheduled-maintenances_active.json"),
        ] {
            let ours = get_json(&app, path).await;
            let reference: Value = serde_json::from_slice(&fixture(&format!("statuspage/{fixture_name}"))).unwrap();
            assert_same_shape(&ours, &reference, path);
            let text = ours.to_string();
            assert!(!text.contains("flaky probe") && !text.contains(&format!("\"id\":\"{dismissed}\"")), "{path} shows a dismissed incident");
        }

        let enums = |values: &[&str], allowed: &[&str], what: &str| {
            for value in values {
                assert!(allowed.contains(value), "{what}: {value} is not one of {allowed:?}");
            }
        };
        let summary = get_json(&app, "/api/v2/summary.json").await;
        let strings = |list: &Value, key: &str| -> Vec<String> {
            list.as_array().unwrap().iter().map(|item| item[key].as_str().unwrap().to_owned()).collect()
        };
        let incident_statuses = strings(&summary["incidents"], "status");
        enums(&incident_statuses.iter().map(String::as_str).collect::<Vec<_>>(), &["investigating", "identified", "monitoring", "resolved", "postmortem"], "incident status");
        let impacts = strings(&summary["incidents"], "impact");
        enums(&impacts.iter().map(String::as_str).collect::<Vec<_>>(), &["none", "minor", "major", "critical"], "impact");
        let maintenance_statuses = strings(&summary["scheduled_maintenances"], "status");
        enums(&maintenance_statuses.iter().map(String::as_str).collect::<Vec<_>>(), &["scheduled", "in_progress", "verifying", "completed"], "maintenance status");
        assert!(maintenance_statuses.contains(&"in_progress".to_owned()) && maintenance_statuses.contains(&"scheduled".to_owned()), "{maintenance_statuses:?}");
        enums(&[summary["status"]["indicator"].as_str().unwrap()], &["none", "minor", "major", "critical", "maintenance"], "indicator");
        enums(&[summary["components"][0]["status"].as_str().unwrap()], &["operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"], "component status");
        assert_eq!(summary["components"].as_array().unwrap().len(), 1, "the product is one component");
        assert_eq!(summary["components"][0]["name"], summary["page"]["name"]);
        assert_eq!(summary["incidents"][0]["incident_updates"][0]["body"], "A fix is out.", "newest update first");
        app.stop().await;
    }
}
