//! The public reader: what the snapshot answers from memory equals what the database
//! says, also for pages and days that reach incidents older than the snapshot's months;
//! and every public query keeps its answer while the database is cut away.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Months, TimeDelta, Utc};
use monostat::domain::{Actor, IncidentId, IncidentStatus, Severity};
use monostat::services::{IncidentChange, IncidentEdit, IncidentFilter, NewIncident};
use serde_json::{Value, json};

use crate::common::chaos::ChaosProxy;
use crate::common::{TestApp, TestDb, both_databases, eventually};
use crate::graphql::gql;

/// Incidents from three years ago to next week, so the snapshot's months (the history
/// calendar's) hold some and the database alone the others; one old incident is
/// entered last, so its id is larger than those of the newer ones.
async fn seed(app: &TestApp) -> Vec<IncidentId> {
    let now = Utc::now();
    let months = |n: u32| now.checked_sub_months(Months::new(n)).unwrap();
    let spans: [(Severity, DateTime<Utc>, Option<DateTime<Utc>>); 9] = [
        (
            Severity::Outage,
            months(36),
            Some(months(36) + TimeDelta::hours(2)),
        ),
        (
            Severity::Partial,
            months(24),
            Some(months(24) + TimeDelta::hours(1)),
        ),
        (Severity::Bug, months(14), None),
        (Severity::Outage, months(13), Some(months(10))),
        (
            Severity::Partial,
            months(6),
            Some(months(6) + TimeDelta::hours(3)),
        ),
        (
            Severity::Notice,
            months(2),
            Some(months(2) + TimeDelta::days(2)),
        ),
        (
            Severity::Outage,
            now - TimeDelta::hours(5),
            Some(now - TimeDelta::hours(4)),
        ),
        (Severity::Partial, now - TimeDelta::minutes(30), None),
        (
            Severity::Bug,
            months(20),
            Some(months(20) + TimeDelta::hours(6)),
        ),
    ];
    let incidents = &app.services.incidents;
    let mut ids = Vec::new();
    for (n, (severity, start, end)) in spans.into_iter().enumerate() {
        let created = incidents
            .create(
                &Actor::System,
                NewIncident {
                    title: format!("Incident {n}"),
                    status: IncidentStatus::Confirmed,
                    severity,
                    start: Some(start),
                    text: Some(format!("What happened in {n}.")),
                    summary: None,
                    silent: true,
                    auto_start: false,
                    do_not_notify: true,
                },
            )
            .await
            .unwrap();
        if let Some(end) = end {
            let resolve = IncidentChange {
                new_status: Some(IncidentStatus::Resolved),
                do_not_notify: true,
                ..IncidentChange::default()
            };
            incidents
                .update(created.id, &Actor::System, resolve)
                .await
                .unwrap();
            let edit = IncidentEdit {
                end: Some(end),
                ..IncidentEdit::default()
            };
            incidents
                .edit(created.id, &Actor::System, edit)
                .await
                .unwrap();
        }
        ids.push(created.id);
    }
    let planned = incidents
        .create(
            &Actor::System,
            NewIncident {
                title: "Database upgrade".into(),
                status: IncidentStatus::Planned,
                severity: Severity::Maintenance,
                start: Some(now + TimeDelta::days(7)),
                text: None,
                summary: None,
                silent: true,
                auto_start: false,
                do_not_notify: true,
            },
        )
        .await
        .unwrap();
    ids.push(planned.id);
    let gone = ids.remove(6);
    incidents.delete(gone, &Actor::System).await.unwrap();
    ids
}

fn filters() -> Vec<(Value, IncidentFilter)> {
    let now = Utc::now();
    let ago = |months: u32| now.checked_sub_months(Months::new(months)).unwrap();
    vec![
        (json!({}), IncidentFilter::default()),
        (
            json!({ "statuses": ["RESOLVED"] }),
            IncidentFilter {
                statuses: vec![IncidentStatus::Resolved],
                ..IncidentFilter::default()
            },
        ),
        (
            json!({ "severities": ["OUTAGE", "PARTIAL"] }),
            IncidentFilter {
                severities: vec![Severity::Outage, Severity::Partial],
                ..IncidentFilter::default()
            },
        ),
        (
            json!({ "from": ago(7).to_rfc3339(), "to": ago(1).to_rfc3339() }),
            IncidentFilter {
                from: Some(ago(7)),
                to: Some(ago(1)),
                ..IncidentFilter::default()
            },
        ),
        (
            json!({ "from": ago(30).to_rfc3339() }),
            IncidentFilter {
                from: Some(ago(30)),
                ..IncidentFilter::default()
            },
        ),
    ]
}

/// Every page of `filter` through GraphQL: ids per page.
async fn pages_from_graphql(app: &TestApp, filter: &Value, first: u64) -> Vec<Vec<i64>> {
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let answer = gql(
            app,
            None,
            "query($f: IncidentFilterInput, $n: Int, $a: String) { incidents(filter: $f, first: $n, after: $a) { items { id } nextCursor } }",
            json!({ "f": filter, "n": first, "a": after }),
        )
        .await;
        let page = &answer["data"]["incidents"];
        let ids = page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer}"))
            .iter()
            .map(|item| item["id"].as_i64().unwrap())
            .collect();
        pages.push(ids);
        match page["nextCursor"].as_str() {
            Some(cursor) => after = Some(cursor.to_owned()),
            None => return pages,
        }
    }
}

/// The same pages asked of the database directly.
async fn pages_from_database(app: &TestApp, filter: &IncidentFilter, first: u64) -> Vec<Vec<i64>> {
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let (items, more) = app
            .services
            .public
            .incidents(filter, after, first)
            .await
            .unwrap();
        after = items.last().map(|last| last.incident.id);
        pages.push(items.iter().map(|item| item.incident.id.0).collect());
        if !more {
            return pages;
        }
    }
}

/// The snapshot has caught up with `ids` (the newest change is in it).
async fn snapshot_holds(app: &TestApp, ids: &[IncidentId]) {
    let newest = ids.iter().max().unwrap().0;
    eventually(
        "the snapshot to hold the newest incident",
        Duration::from_secs(5),
        || async {
            let answer = gql(
                app,
                None,
                "{ incidents(first: 1) { items { id } } }",
                json!({}),
            )
            .await;
            (answer["data"]["incidents"]["items"][0]["id"] == newest).then_some(())
        },
    )
    .await;
}

both_databases! {
    async fn the_snapshot_answers_as_the_database_would(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let ids = seed(&app).await;
        snapshot_holds(&app, &ids).await;
        for (graphql_filter, filter) in filters() {
            for first in [1, 2, 3, 100] {
                assert_eq!(
                    pages_from_graphql(&app, &graphql_filter, first).await,
                    pages_from_database(&app, &filter, first).await,
                    "filter {graphql_filter}, {first} per page"
                );
            }
        }
        let unknown = IncidentId(ids.iter().max().unwrap().0 + 1000);
        for id in ids.iter().copied().chain([IncidentId(0), unknown]) {
            let answer = gql(&app, None, "query($id: Int!) { incident(id: $id) { id title updates { message } } }", json!({ "id": id.0 })).await;
            let expected = app.services.public.incident(id).await.unwrap();
            assert_eq!(
                answer["data"]["incident"]["title"].as_str(),
                expected.as_ref().map(|e| e.incident.title.as_str()),
                "incident {id}: {answer}"
            );
        }
        let now = Utc::now();
        let days = [0, 1, 60, 180, 300, 400, 730]
            .map(|back| (now - TimeDelta::days(back)).date_naive());
        for date in days {
            let answer = gql(&app, None, "query($d: String!) { day(date: $d) { id } }", json!({ "d": date.to_string() })).await;
            let ids: Vec<i64> = answer["data"]["day"].as_array().unwrap_or_else(|| panic!("{answer}")).iter().map(|i| i["id"].as_i64().unwrap()).collect();
            let expected: Vec<i64> = app.services.public.day(date).await.unwrap().iter().map(|i| i.incident.id.0).collect();
            assert_eq!(ids, expected, "day {date}");
        }
        let history = gql(&app, None, "{ history { date worstSeverity } }", json!({})).await;
        let expected: Vec<Value> = app.services.public.history().await.unwrap().iter().map(|day| json!({
            "date": day.date.to_string(),
            "worstSeverity": day.worst.map(|w| format!("{w:?}").to_uppercase()),
        })).collect();
        assert_eq!(history["data"]["history"], json!(expected));
        app.stop().await;
    }
}

/// Everything the public asks about the last months, answered before and during a cut:
/// `ids` are those of incidents of these months. (The list's first pages are not among
/// them: [`seed`] entered an old incident last, and only the database knows whether it
/// belongs on a page between the newer ones.)
async fn public_answers(app: &TestApp, ids: &[IncidentId]) -> Vec<Value> {
    let mut answers = Vec::new();
    let now = Utc::now();
    let today = now.date_naive().to_string();
    let recent = (now - TimeDelta::days(90)).to_rfc3339();
    for (query, variables) in [
        (
            "{ status { headline current { id title } recent { id } planned { id } } }",
            json!({}),
        ),
        (
            "query($f: DateTime!) { incidents(first: 2, filter: { from: $f }) { items { id title updates { message } } nextCursor } }",
            json!({ "f": recent }),
        ),
        (
            "query($f: DateTime!, $a: String) { incidents(first: 2, filter: { from: $f }, after: $a) { items { id } nextCursor } }",
            json!({ "f": recent, "a": ids[ids.len() - 1].to_string() }),
        ),
        ("{ history { date worstSeverity } }", json!({})),
        (
            "query($d: String!) { day(date: $d) { id title } }",
            json!({ "d": today }),
        ),
    ] {
        let answer = gql(app, None, query, variables).await;
        assert!(answer["errors"].is_null(), "{query}: {answer}");
        answers.push(answer);
    }
    for id in ids {
        answers.push(gql(app, None, "query($id: Int!) { incident(id: $id) { id title status updates { message newStatus } } }", json!({ "id": id.0 })).await);
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_queries_and_incident_subscriptions_outlive_a_database_cut() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let proxy = ChaosProxy::start(SocketAddr::from(([127, 0, 0, 1], 5432))).await;
    let port = proxy.address.port().to_string();
    let app = TestApp::start(db.app_config(&[("MONOSTAT_DB_PORT", port.as_str())])).await;
    let ids = seed(&app).await;
    snapshot_holds(&app, &ids).await;
    let open = *ids.iter().max_by_key(|id| id.0).unwrap();

    let mut live = crate::graphql::subscribe(
        &app,
        &format!(
            "subscription {{ incidentChanged(id: {open}) {{ status updates {{ message }} }} }}"
        ),
        json!({}),
    )
    .await;
    assert!(crate::graphql::next(&mut live).await["data"]["incidentChanged"].is_object());
    let note = IncidentChange {
        text: Some("Still looking.".into()),
        do_not_notify: true,
        ..IncidentChange::default()
    };
    app.services
        .incidents
        .update(open, &Actor::System, note)
        .await
        .unwrap();
    let update = crate::graphql::next(&mut live).await;
    assert_eq!(
        update["data"]["incidentChanged"]["updates"][0]["message"], "Still looking.",
        "{update}"
    );

    // Those of the last months: not the two oldest, nor the old one entered last.
    let recent: Vec<IncidentId> = ids[2..7].iter().chain(&ids[8..]).copied().collect();
    let before = public_answers(&app, &recent).await;
    proxy.cut();
    // The snapshot notices at its next rebuild; give it one, then ask again.
    app.events.publish(monostat::events::DomainEvent::Resync);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = public_answers(&app, &recent).await;
    assert_eq!(
        during, before,
        "the answers changed while the database was away"
    );
    // The socket stays open: it hears nothing, neither an error nor a close.
    let quiet = tokio::time::timeout(Duration::from_secs(2), live.recv()).await;
    assert!(
        quiet.is_err(),
        "the subscription said something during the cut: {quiet:?}"
    );
    proxy.restore();
    app.stop().await;
}

async fn memo_hits(app: &TestApp) -> u64 {
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("monostat_graphql_memo_hits_total "))
        .map_or(0, |count| count.trim().parse().unwrap())
}

both_databases! {
    async fn kept_answers_never_outlive_their_snapshot_and_console_calls_are_never_kept(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let ids = seed(&app).await;
        snapshot_holds(&app, &ids).await;
        let open = ids[7];
        let query = "query($id: Int!) { incident(id: $id) { title } }";
        let title = |answer: Value| answer["data"]["incident"]["title"].as_str().unwrap_or("<none>").to_owned();
        let first = title(gql(&app, None, query, json!({ "id": open.0 })).await);
        let hits = memo_hits(&app).await;
        assert_eq!(title(gql(&app, None, query, json!({ "id": open.0 })).await), first);
        assert!(memo_hits(&app).await > hits, "the same anonymous query twice ran twice");

        let token = crate::graphql::login(&app).await;
        let console = "query($id: Int!) { consoleIncident(id: $id) { title } }";
        let console_title = |answer: Value| answer["data"]["consoleIncident"]["title"].as_str().unwrap_or("<none>").to_owned();
        assert_eq!(console_title(gql(&app, Some(&token), console, json!({ "id": open.0 })).await), first);
        let rename = IncidentEdit { title: Some("Payments are slow".into()), ..IncidentEdit::default() };
        app.services.incidents.edit(open, &Actor::System, rename).await.unwrap();
        // At once for the console, which reads the database and is never kept.
        assert_eq!(console_title(gql(&app, Some(&token), console, json!({ "id": open.0 })).await), "Payments are slow");
        // For the public, with the next snapshot; from then on never the old answer.
        eventually("the public to see the new title", Duration::from_secs(3), || async {
            (title(gql(&app, None, query, json!({ "id": open.0 })).await) == "Payments are slow").then_some(())
        })
        .await;
        for _ in 0..10 {
            assert_eq!(title(gql(&app, None, query, json!({ "id": open.0 })).await), "Payments are slow");
        }
        app.stop().await;
    }
}

/// The public bodies as a client sees them, with the snapshot's own build time
/// blanked out (it is the only part two snapshots of the same data differ in).
async fn public_bodies(app: &TestApp) -> Vec<String> {
    let get = |path: &'static str| async move {
        app.client
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let summary = get("/api/v2/summary.json").await;
    let summary_json: Value = serde_json::from_str(&summary).unwrap();
    let built = summary_json["page"]["updated_at"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = gql(app, None, "{ status { headline current { id title severity updates { message } } recent { id } planned { id } } history { date worstSeverity } incidents(first: 100) { items { id title status } } }", json!({})).await;
    let mut bodies = vec![
        summary,
        get("/api/v2/incidents.json").await,
        get("/api/v2/scheduled-maintenances.json").await,
        status.to_string(),
    ];
    for body in &mut bodies {
        *body = body.replace(&built, "<built>");
    }
    bodies
}

both_databases! {
    async fn a_snapshot_updated_change_by_change_equals_one_read_afresh(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let ids = seed(&app).await;
        let incidents = &app.services.incidents;
        let worse = IncidentChange { severity: Some(Severity::Outage), text: Some("Worse.".into()), do_not_notify: true, ..IncidentChange::default() };
        incidents.update(ids[6], &Actor::System, worse).await.unwrap();
        let moved = IncidentEdit { start: Some(Utc::now() - TimeDelta::days(70)), title: Some("Renamed".into()), ..IncidentEdit::default() };
        incidents.edit(ids[5], &Actor::System, moved).await.unwrap();
        // Into the calendar's months from before them, and another out of them.
        let back = IncidentEdit { end: Some(Utc::now() - TimeDelta::days(3)), ..IncidentEdit::default() };
        incidents.edit(ids[7], &Actor::System, back).await.unwrap();
        let away = IncidentEdit { start: Some(Utc::now() - TimeDelta::days(800)), end: Some(Utc::now() - TimeDelta::days(799)), ..IncidentEdit::default() };
        incidents.edit(ids[3], &Actor::System, away).await.unwrap();
        incidents.delete(ids[4], &Actor::System).await.unwrap();
        let planned = *ids.last().unwrap();
        let start = IncidentChange { new_status: Some(IncidentStatus::Confirmed), do_not_notify: true, ..IncidentChange::default() };
        incidents.update(planned, &Actor::System, start).await.unwrap();
        eventually("the snapshot to follow the last change", Duration::from_secs(3), || async {
            let answer = gql(&app, None, "query($id: Int!) { incident(id: $id) { status } }", json!({ "id": planned.0 })).await;
            (answer["data"]["incident"]["status"] == "CONFIRMED").then_some(())
        })
        .await;
        let updated = public_bodies(&app).await;

        let before = gql(&app, None, "{ status { generatedAt } }", json!({})).await;
        app.events.publish(monostat::events::DomainEvent::Resync);
        eventually("a snapshot read afresh", Duration::from_secs(3), || async {
            let now = gql(&app, None, "{ status { generatedAt } }", json!({})).await;
            (now != before).then_some(())
        })
        .await;
        let afresh = public_bodies(&app).await;
        for (updated, afresh) in updated.iter().zip(&afresh) {
            assert_eq!(updated, afresh);
        }
        app.stop().await;
    }
}
