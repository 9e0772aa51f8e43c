//! The Slack app end to end: our endpoints over real HTTP with the shared fixtures,
//! re-signed with the test's secret and the current time, and a local stand-in for
//! Slack's Web API that records every call (see `common::slack`).

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use monostat::adapters::slack::verify::sign;
use monostat::domain::{Actor, IncidentId, IncidentStatus, Severity};
use monostat::services::StepUp;
use monostat::services::follow_up::{self, NOTIFY_SUBSCRIBERS, SLACK_SYNC, SlackNote};
use monostat::services::{IncidentChange, NewIncident};
use monostat::store::{incident, job, slack_settings};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::alerts::report;
use crate::common::slack::{Call, FakeSlack, api_fixture};
use crate::common::{TestApp, TestDb, both_databases, fixture};

/// The fixtures' signing secret (`fixtures/slack/signatures.json`).
pub(crate) const SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const SITE: &str = "https://status.example.com";
pub(crate) const CHANNEL: &str = "C0STATUS01";
const PARENT_TS: &str = "1700000000.000100";
pub(crate) const FORM: &str = "application/x-www-form-urlencoded";
pub(crate) const JSON: &str = "application/json";
pub(crate) const EVENTS: &str = "/integrations/slack/events";
pub(crate) const COMMANDS: &str = "/integrations/slack/commands";

pub(crate) async fn start(db: &TestDb) -> (TestApp, FakeSlack) {
    let slack = FakeSlack::start().await;
    let app = TestApp::start(db.app_config(&[
        ("MONOSTAT_SLACK_API_URL", &slack.url),
        ("MONOSTAT_SITE_URL", SITE),
        ("MONOSTAT_SLACK_BOT_TOKEN", "xoxb-test-token"),
        ("MONOSTAT_SLACK_SIGNING_SECRET", SECRET),
        ("MONOSTAT_SLACK_CHANNEL", "#statuspage"),
    ]))
    .await;
    (app, slack)
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The timestamp of a request with `body` sent now. Slack signs every request it sends
/// (a retry too) with the second it sends it, and the server refuses a (timestamp,
/// signature) pair it saw before. Tests send the same body twice within a second, so a
/// body already sent in this second gets the latest second it was not sent in (a
/// little in the past, well inside the five-minute window).
pub(crate) fn fresh_timestamp(body: &[u8]) -> String {
    static SENT: Mutex<BTreeSet<(Vec<u8>, i64)>> = Mutex::new(BTreeSet::new());
    let mut sent = SENT.lock().unwrap();
    let mut ts = now();
    while !sent.insert((body.to_vec(), ts)) {
        ts -= 1;
    }
    ts.to_string()
}

pub(crate) async fn post_raw(
    app: &TestApp,
    path: &str,
    body: &[u8],
    content_type: &str,
    headers: &[(&str, String)],
) -> (u16, String) {
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = tokio::time::timeout(Duration::from_secs(20), request.send())
        .await
        .expect("the endpoint answers without waiting for Slack")
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// POSTs `body` signed as Slack would sign it now.
pub(crate) async fn signed(
    app: &TestApp,
    path: &str,
    body: &[u8],
    content_type: &str,
) -> (u16, String) {
    signed_with(app, path, body, content_type, &[]).await
}

pub(crate) async fn signed_with(
    app: &TestApp,
    path: &str,
    body: &[u8],
    content_type: &str,
    extra: &[(&str, String)],
) -> (u16, String) {
    let ts = fresh_timestamp(body);
    let mut headers = vec![
        ("x-slack-request-timestamp", ts.clone()),
        ("x-slack-signature", sign(SECRET.as_bytes(), &ts, body)),
    ];
    headers.extend(extra.iter().cloned());
    post_raw(app, path, body, content_type, &headers).await
}

/// An interactivity fixture for incident `id` (the fixtures say 42), as a form body.
pub(crate) fn interaction(
    name: &str,
    id: Option<IncidentId>,
    edit: impl FnOnce(&mut Value),
) -> Vec<u8> {
    let mut payload: Value =
        serde_json::from_slice(&fixture(&format!("slack/{name}.json"))).unwrap();
    if let Some(id) = id {
        if let Some(actions) = payload["actions"].as_array_mut() {
            for action in actions {
                action["value"] = json!(id.to_string());
            }
        }
        if payload["type"] == "view_submission" {
            payload["view"]["private_metadata"] = json!(id.to_string());
        }
    }
    edit(&mut payload);
    serde_urlencoded::to_string([("payload", payload.to_string())])
        .unwrap()
        .into_bytes()
}

pub(crate) fn methods(calls: &[Call]) -> Vec<&str> {
    calls.iter().map(|c| c.method.as_str()).collect()
}

/// The action ids of the buttons in a message's blocks.
fn buttons(blocks: &Value) -> Vec<String> {
    blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["action_id"].as_str().map(str::to_owned))
        .collect()
}

pub(crate) async fn stored(db: &TestDb, id: IncidentId) -> incident::Model {
    incident::Entity::find_by_id(id.0)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap()
}

/// Waits until every job of `kind` is finished (done or dead) and returns them.
pub(crate) async fn settled(db: &TestDb, kind: &str) -> Vec<job::Model> {
    crate::common::eventually(
        &format!("{kind} jobs to finish"),
        Duration::from_secs(20),
        || async {
            let jobs = db.jobs_of_kind(kind).await;
            jobs.iter()
                .all(|j| j.status.as_str() == "done" || j.status.as_str() == "dead")
                .then_some(jobs)
        },
    )
    .await
}

/// An alert opens a suspected incident; waits for its parent message and forgets the
/// calls made so far.
pub(crate) async fn suspected(app: &TestApp, slack: &FakeSlack, db: &TestDb) -> IncidentId {
    let outcome = app
        .services
        .incidents
        .alert_opened(report(
            "alert-1",
            "HTTP check https://app.example.com/healthz failing",
        ))
        .await
        .unwrap();
    slack.exactly(4).await;
    settled(db, SLACK_SYNC).await;
    slack.clear();
    outcome.incident_id
}

async fn confirmed(app: &TestApp, slack: &FakeSlack, db: &TestDb) -> IncidentId {
    let id = suspected(app, slack, db).await;
    app.services
        .incidents
        .confirm(id, &Actor::User("admin".into()), false)
        .await
        .unwrap();
    slack.exactly(2).await;
    settled(db, SLACK_SYNC).await;
    slack.clear();
    id
}

fn assert_thread_reply(call: &Call, broadcast: bool) {
    assert_eq!(call.method, "chat.postMessage");
    assert_eq!(call.body["channel"], CHANNEL);
    assert_eq!(call.body["thread_ts"], PARENT_TS);
    assert_eq!(
        call.body
            .get("reply_broadcast")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        broadcast,
        "{}",
        call.body
    );
}

fn assert_parent_update(call: &Call, expected_buttons: &[&str]) {
    assert_eq!(call.method, "chat.update");
    assert_eq!(
        (call.body["channel"].as_str(), call.body["ts"].as_str()),
        (Some(CHANNEL), Some(PARENT_TS))
    );
    assert_eq!(
        buttons(&call.body["blocks"]),
        expected_buttons,
        "{}",
        call.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signatures_are_checked_and_url_verification_answered() {
    let db = TestDb::sqlite().await;
    let (app, _slack) = start(&db).await;
    let body = fixture("slack/url_verification.json");
    let challenge = serde_json::from_slice::<Value>(&body).unwrap()["challenge"].clone();

    let (status, answer) = signed(&app, EVENTS, &body, JSON).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap()["challenge"],
        challenge
    );

    let ts = fresh_timestamp(&body);
    let good = sign(SECRET.as_bytes(), &ts, &body);
    let wrong_secret = sign(b"not the secret", &ts, &body);
    let stale_ts = (now() - 301).to_string();
    let stale = sign(SECRET.as_bytes(), &stale_ts, &body);
    let cases = [
        ("wrong secret", ts.clone(), wrong_secret),
        ("stale", stale_ts, stale),
        (
            "changed body",
            ts.clone(),
            sign(SECRET.as_bytes(), &ts, b"{}"),
        ),
        ("not hex", ts.clone(), "v0=nothex".to_owned()),
        // The fixtures' own signatures are valid, but from 2023.
        (
            "recorded",
            "1700000000".to_owned(),
            "v0=9d284d9bc08e67abe7d396f4e0d5d6e2b03f428bcd8f8ad8ac82f46ac481620c".to_owned(),
        ),
    ];
    for (case, ts, signature) in cases {
        let headers = [
            ("x-slack-request-timestamp", ts),
            ("x-slack-signature", signature),
        ];
        let (status, answer) = post_raw(&app, EVENTS, &body, JSON, &headers).await;
        assert_eq!(
            (status, answer.as_str()),
            (401, r#"{"error":"invalid request"}"#),
            "{case}"
        );
    }
    let (status, _) = post_raw(&app, EVENTS, &body, JSON, &[]).await;
    assert_eq!(status, 401, "unsigned");
    // The same headers, capitalised differently, still count.
    let headers = [
        ("X-Slack-Request-Timestamp", ts.clone()),
        ("X-SLACK-SIGNATURE", good),
    ];
    assert_eq!(post_raw(&app, EVENTS, &body, JSON, &headers).await.0, 200);

    // Slack tests TLS of the command URL without a signature.
    let (status, _) = post_raw(&app, COMMANDS, &fixture("slack/ssl_check.txt"), FORM, &[]).await;
    assert_eq!(status, 200);
    // A raw recorded form body, re-signed now, verifies over its exact bytes.
    let (status, answer) = signed(
        &app,
        COMMANDS,
        &fixture("slack/slash_command_no_text.txt"),
        FORM,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    app.stop().await;
}

both_databases! {
    async fn an_alert_posts_the_parent_message_in_the_resolved_channel(db: TestDb) {
        let (app, slack) = start(&db).await;
        let outcome = app.services.incidents.alert_opened(report("alert-1", "HTTP check https://app.example.com/healthz failing from 3/3 locations")).await.unwrap();
        let calls = slack.exactly(4).await;
        assert_eq!(methods(&calls), ["conversations.list", "conversations.list", "conversations.join", "chat.postMessage"]);
        assert!(!calls[0].json && calls[0].body.get("cursor").is_none(), "conversations.list takes form arguments");
        assert_eq!(calls[1].body["cursor"], "dGVhbTpDMFNUQVRVUzAx", "the second page is asked for with the cursor");
        assert_eq!(calls[2].body["channel"], CHANNEL);
        assert_eq!(calls[3].authorization.as_deref(), Some("Bearer xoxb-test-token"));
        let post = &calls[3].body;
        assert_eq!(post["channel"], CHANNEL);
        assert!(post.get("thread_ts").is_none());
        assert_eq!(buttons(&post["blocks"]), ["confirm_incident", "dismiss_incident"]);
        let dismiss = &post["blocks"].as_array().unwrap().iter().find(|b| b["type"] == "actions").unwrap()["elements"][1];
        assert_eq!((dismiss["style"].as_str(), dismiss["confirm"]["confirm"]["text"].as_str()), (Some("danger"), Some("Dismiss incident")));
        assert_eq!(dismiss["value"], outcome.incident_id.to_string());
        assert!(post.to_string().contains("HTTP check https://app.example.com/healthz failing"), "the alert message is shown");
        assert!(post.to_string().contains(&format!("{SITE}/admin/incidents/{}", outcome.incident_id)), "console link");

        settled(&db, SLACK_SYNC).await;
        let row = stored(&db, outcome.incident_id).await;
        assert_eq!((row.slack_channel.as_deref(), row.slack_ts.as_deref()), (Some(CHANNEL), Some(PARENT_TS)));
        let settings = slack_settings::Entity::find_by_id(1).one(&db.conn).await.unwrap().unwrap();
        assert_eq!(settings.channel_id.as_deref(), Some(CHANNEL), "the channel id is remembered");

        // The same sync again (a worker died before finishing it): the parent is
        // edited, never posted twice.
        slack.clear();
        follow_up::slack_sync(outcome.incident_id, Some(SlackNote::Opened)).enqueue(&db.conn).await.unwrap();
        let calls = slack.exactly(1).await;
        assert_parent_update(&calls[0], &["confirm_incident", "dismiss_incident"]);
        settled(&db, SLACK_SYNC).await;

        // A second alert joins: the parent is edited, not posted again, and the channel
        // is not looked up again.
        slack.clear();
        app.services.incidents.alert_opened(report("alert-2", "Error rate above 5%")).await.unwrap();
        let calls = slack.exactly(2).await;
        assert_parent_update(&calls[0], &["confirm_incident", "dismiss_incident"]);
        assert_thread_reply(&calls[1], false);
        assert!(calls[1].body["text"].as_str().unwrap().contains("Error rate above 5%"));
        app.stop().await;
    }

    async fn confirm_click_is_acknowledged_then_updates_the_parent_and_replies(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = suspected(&app, &slack, &db).await;
        // Slack is slow: the click is still acknowledged at once.
        slack.hold("chat.update");
        let (status, body) = signed(&app, EVENTS, &interaction("block_actions_confirm", Some(id), |_| {}), FORM).await;
        assert_eq!((status, body.as_str()), (200, ""));
        assert_eq!(app.services.incidents.get(id).await.unwrap().status, IncidentStatus::Confirmed);
        slack.wait_for_calls(1).await;
        assert_eq!(slack.methods(), ["chat.update"], "the reply waits for the parent");
        slack.release("chat.update");

        let calls = slack.exactly(2).await;
        assert_parent_update(&calls[0], &["update_incident"]);
        assert_thread_reply(&calls[1], false);
        let reply = calls[1].body["text"].as_str().unwrap();
        assert!(reply.contains("jane.doe (Slack)") && reply.contains("Confirmed"), "{reply}");
        assert_eq!(db.jobs_of_kind(NOTIFY_SUBSCRIBERS).await.len(), 1, "subscribers hear of it");
        app.stop().await;
    }

    async fn dismiss_click_leaves_no_buttons(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = suspected(&app, &slack, &db).await;
        let (status, _) = signed(&app, EVENTS, &interaction("block_actions_dismiss", Some(id), |_| {}), FORM).await;
        assert_eq!(status, 200);
        let calls = slack.exactly(2).await;
        assert_parent_update(&calls[0], &[]);
        assert_thread_reply(&calls[1], false);
        assert_eq!(app.services.incidents.get(id).await.unwrap().status, IncidentStatus::Dismissed);

        // A second click (another person, an old message) is refused and explained to
        // that person only.
        slack.clear();
        let (status, _) = signed(&app, EVENTS, &interaction("block_actions_confirm", Some(id), |_| {}), FORM).await;
        assert_eq!(status, 200);
        let calls = slack.exactly(1).await;
        assert_eq!(calls[0].method, "chat.postEphemeral");
        assert_eq!((calls[0].body["channel"].as_str(), calls[0].body["user"].as_str()), (Some(CHANNEL), Some("U0ABC5678")));
        assert!(calls[0].body["text"].as_str().unwrap().contains("dismissed"), "{}", calls[0].body);
        app.stop().await;
    }

    async fn update_button_opens_the_modal_while_answering(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = confirmed(&app, &slack, &db).await;
        app.services.incidents.update(id, &Actor::System, IncidentChange { summary: Some("Most requests fail.".into()), ..Default::default() }).await.unwrap();
        slack.exactly(2).await;
        slack.clear();

        let (status, _) = signed(&app, EVENTS, &interaction("block_actions_update", Some(id), |_| {}), FORM).await;
        assert_eq!(status, 200);
        // views.open happened before the answer: the trigger id expires in 3 s.
        let calls = slack.calls();
        assert_eq!(methods(&calls), ["views.open"]);
        let open = &calls[0].body;
        assert_eq!(open["trigger_id"], "1700000123456.1234567890.0123456789abcdef0123456789abcdef");
        let view = &open["view"];
        assert_eq!(view["callback_id"], "update_incident_modal");
        // The incident, and a fingerprint of the summary it was pre-filled with.
        assert!(view["private_metadata"].as_str().unwrap().starts_with(&format!("{id}:")), "{view}");
        let blocks = view["blocks"].as_array().unwrap();
        let block_ids: Vec<&str> = blocks.iter().filter_map(|b| b["block_id"].as_str()).collect();
        assert_eq!(block_ids, ["new_status", "update_text", "new_severity", "new_summary"]);
        let summary = blocks.iter().find(|b| b["block_id"] == "new_summary").unwrap();
        assert_eq!(summary["element"]["initial_value"], "Most requests fail.");
        assert!(view.to_string().contains("Subscribers will be e-mailed"), "{view}");

        // Too slow a click: Slack refuses the trigger, the person is told.
        slack.clear();
        slack.fail_next("views.open", "expired_trigger_id");
        let (status, _) = signed(&app, EVENTS, &interaction("block_actions_update", Some(id), |_| {}), FORM).await;
        assert_eq!(status, 200);
        let calls = slack.exactly(2).await;
        assert_eq!(methods(&calls), ["views.open", "chat.postEphemeral"]);
        assert!(calls[1].body["text"].as_str().unwrap().contains("click again"));
        app.stop().await;
    }

    async fn a_silent_incident_says_no_one_will_be_notified(db: TestDb) {
        let (app, slack) = start(&db).await;
        let created = app.services.incidents.create(&Actor::System, NewIncident {
            title: "Internal tooling slow".into(), status: IncidentStatus::Confirmed, severity: Severity::Notice,
            start: None, text: None, summary: None, silent: true, auto_start: false, do_not_notify: false,
        }).await.unwrap();
        slack.exactly(4).await;
        slack.clear();
        signed(&app, EVENTS, &interaction("block_actions_update", Some(created.id), |_| {}), FORM).await;
        let view = slack.calls()[0].body["view"].to_string();
        assert!(view.contains("will *not* be notified"), "{view}");
        app.stop().await;
    }

    async fn update_modal_with_a_status_change_updates_replies_and_notifies(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = confirmed(&app, &slack, &db).await;
        let (status, body) = signed(&app, EVENTS, &interaction("view_submission_update", Some(id), |_| {}), FORM).await;
        assert_eq!((status, body.as_str()), (200, ""), "an empty answer closes the modal");
        let incident = app.services.incidents.get(id).await.unwrap();
        assert_eq!(incident.status, IncidentStatus::Watching);
        assert_eq!(incident.summary.as_deref(), Some("The web application returned errors for most requests between 22:13 and 22:41 UTC."));
        let timeline = app.services.incidents.timeline(id).await.unwrap();
        let last = timeline.last().unwrap();
        assert_eq!((last.message.as_str(), last.author.as_str()), ("A fix has been deployed. We are monitoring the results.", "jane.doe (Slack)"));

        let calls = slack.exactly(2).await;
        assert_parent_update(&calls[0], &["update_incident"]);
        assert!(calls[0].body.to_string().contains("watching"), "{}", calls[0].body);
        assert_thread_reply(&calls[1], false);
        assert!(calls[1].body["text"].as_str().unwrap().contains("confirmed \u{2192} watching"));
        let notifications: Vec<String> = db.jobs_of_kind(NOTIFY_SUBSCRIBERS).await.into_iter().map(|j| j.payload).collect();
        assert_eq!(notifications.len(), 2, "confirmed and watching: {notifications:?}");
        assert!(notifications[1].contains("\"watching\""));
        app.stop().await;
    }

    async fn an_untouched_prefilled_summary_is_not_written_back(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = confirmed(&app, &slack, &db).await;
        // Longer than a Slack input can show: the modal shows it clipped.
        let long = "The checkout failed for some customers. ".repeat(100);
        app.services.incidents.update(id, &Actor::User("admin".into()), IncidentChange { summary: Some(long.clone()), ..Default::default() }).await.unwrap();
        let incident = app.services.incidents.get(id).await.unwrap();
        let modal = monostat::adapters::slack::views::update_modal(&incident, false);
        let modal = serde_json::to_value(&modal).unwrap();
        let shown = modal.to_string();
        let prefilled = modal["blocks"].as_array().unwrap().iter()
            .find(|b| b["block_id"] == "new_summary").unwrap()["element"]["initial_value"].as_str().unwrap().to_owned();
        assert!(prefilled.len() < long.len(), "clipped: {shown:.200}");
        let metadata = modal["private_metadata"].as_str().unwrap().to_owned();
        let body = interaction("view_submission_update", Some(id), |p| {
            p["view"]["private_metadata"] = json!(metadata);
            p["view"]["state"]["values"]["new_summary"]["new_summary"]["value"] = json!(prefilled);
        });
        let (status, body) = signed(&app, EVENTS, &body, FORM).await;
        assert_eq!((status, body.as_str()), (200, ""));
        let after = app.services.incidents.get(id).await.unwrap();
        assert_eq!(after.status, IncidentStatus::Watching);
        assert_eq!(after.summary.as_deref(), Some(long.trim()), "the stored summary stays whole");
        app.stop().await;
    }

    async fn modal_validation_errors_come_back_inline(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = confirmed(&app, &slack, &db).await;
        let (status, body) = signed(&app, EVENTS, &interaction("view_submission_update_nothing_selected", Some(id), |_| {}), FORM).await;
        assert_eq!(status, 200);
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["response_action"], "errors");
        assert!(answer["errors"]["update_text"].as_str().unwrap().starts_with("Choose a new status"), "{answer}");

        // Calling off a planned maintenance without saying why.
        let planned = app.services.incidents.create(&Actor::System, NewIncident {
            title: "Database upgrade".into(), status: IncidentStatus::Planned, severity: Severity::Maintenance,
            start: Some(chrono::Utc::now() + chrono::TimeDelta::days(2)), text: None, summary: None, silent: false, auto_start: false, do_not_notify: false,
        }).await.unwrap();
        let body = interaction("view_submission_update", Some(planned.id), |p| {
            let values = &mut p["view"]["state"]["values"];
            values["new_status"]["new_status"]["selected_option"]["value"] = json!("resolved");
            values["update_text"]["update_text"]["value"] = Value::Null;
            values["new_summary"]["new_summary"]["value"] = Value::Null;
        });
        let (_, body) = signed(&app, EVENTS, &body, FORM).await;
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["errors"]["update_text"], "Say why the planned maintenance is called off.", "{answer}");
        assert_eq!(app.services.incidents.get(planned.id).await.unwrap().status, IncidentStatus::Planned);

        // Create without a title.
        let body = interaction("view_submission_create", None, |p| {
            p["view"]["state"]["values"]["title"]["title"]["value"] = json!("  ");
        });
        let (_, body) = signed(&app, EVENTS, &body, FORM).await;
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer, json!({ "response_action": "errors", "errors": { "title": "Please enter a title." } }));
        app.stop().await;
    }

    async fn create_modal_opens_from_home_and_slash_command_and_creates(db: TestDb) {
        let (app, slack) = start(&db).await;
        let (status, _) = signed(&app, EVENTS, &interaction("block_actions_create_from_home", None, |_| {}), FORM).await;
        assert_eq!(status, 200);
        let (status, body) = signed(&app, COMMANDS, &fixture("slack/slash_command.txt"), FORM).await;
        assert_eq!((status, body.as_str()), (200, ""));
        // No message named the channel yet: the first click finds it by name, once, to
        // ask for its members.
        let calls = slack.calls();
        assert_eq!(methods(&calls), ["conversations.list", "conversations.list", "views.open", "views.open"]);
        let calls = &calls[2..];
        for call in calls {
            assert_eq!(call.body["view"]["callback_id"], "create_incident_modal");
            let ids: Vec<&str> = call.body["view"]["blocks"].as_array().unwrap().iter().filter_map(|b| b["block_id"].as_str()).collect();
            assert_eq!(ids, ["title", "status", "severity", "start", "update_text", "summary"]);
        }
        assert!(calls[1].body["trigger_id"].as_str().unwrap().starts_with("1700000150123."));
        slack.clear();

        // The recorded start (2023) was in the future when recorded; keep it there.
        let start = (chrono::Utc::now() + chrono::TimeDelta::days(3)).timestamp();
        let create = interaction("view_submission_create", None, |p| p["view"]["state"]["values"]["start"]["start"]["selected_date_time"] = json!(start));
        let (status, body) = signed(&app, EVENTS, &create, FORM).await;
        assert_eq!((status, body.as_str()), (200, ""));
        let calls = slack.exactly(4).await;
        assert_eq!(methods(&calls), ["conversations.list", "conversations.list", "conversations.join", "chat.postMessage"]);
        assert_eq!(buttons(&calls[3].body["blocks"]), ["start_maintenance", "update_incident"]);
        let open = app.services.incidents.open().await.unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!((open[0].title.as_str(), open[0].status, open[0].severity), ("Database maintenance", IncidentStatus::Planned, Severity::Maintenance));
        assert_eq!(open[0].start.timestamp(), start);
        let timeline = app.services.incidents.timeline(open[0].id).await.unwrap();
        assert_eq!(timeline[0].author, "jane.doe (Slack)");

        slack.clear();
        let (status, _) = signed(&app, EVENTS, &fixture("slack/view_submission_create_start_now.txt"), FORM).await;
        assert_eq!(status, 200);
        let calls = slack.exactly(1).await;
        assert_eq!(buttons(&calls[0].body["blocks"]), ["update_incident"], "the channel id is remembered");
        let open = app.services.incidents.open().await.unwrap();
        let login = open.iter().find(|i| i.title == "Login failures for some customers").unwrap();
        assert_eq!((login.status, login.severity), (IncidentStatus::Confirmed, Severity::Partial));
        assert!(login.summary.as_deref().unwrap().contains("**cannot log in**"));
        app.stop().await;
    }

    async fn slash_status_shows_the_open_incidents_to_the_caller(db: TestDb) {
        let (app, _slack) = start(&db).await;
        let (status, body) = signed(&app, COMMANDS, &fixture("slack/slash_command_no_text.txt"), FORM).await;
        assert_eq!(status, 200);
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["response_type"], "ephemeral");
        assert!(answer["text"].as_str().unwrap().contains("No open incidents"));

        app.services.incidents.create(&Actor::System, NewIncident {
            title: "Search is slow".into(), status: IncidentStatus::Confirmed, severity: Severity::Bug,
            start: None, text: None, summary: None, silent: false, auto_start: false, do_not_notify: false,
        }).await.unwrap();
        let (_, body) = signed(&app, COMMANDS, &fixture("slack/slash_command_no_text.txt"), FORM).await;
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["response_type"], "ephemeral");
        assert!(answer["blocks"].to_string().contains("Search is slow"), "{answer}");
        app.stop().await;
    }

    async fn app_home_is_published_once_per_event(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = suspected(&app, &slack, &db).await;
        let body = fixture("slack/event_app_home_opened.json");
        assert_eq!(signed(&app, EVENTS, &body, JSON).await.0, 200);
        // Slack retries when it thinks we were too slow: same event id, nothing new.
        let retry = [("x-slack-retry-num", "1".to_owned()), ("x-slack-retry-reason", "http_timeout".to_owned())];
        assert_eq!(signed_with(&app, EVENTS, &body, JSON, &retry).await.0, 200);
        assert_eq!(signed(&app, EVENTS, &fixture("slack/event_app_home_opened_messages_tab.json"), JSON).await.0, 200);

        let calls = slack.exactly(1).await;
        assert_eq!(calls[0].method, "views.publish");
        assert_eq!(calls[0].body["user_id"], "U0ABC5678");
        let view = &calls[0].body["view"];
        assert_eq!(view["type"], "home");
        assert_eq!(buttons(&view["blocks"]), ["create_incident", "confirm_incident", "dismiss_incident"]);
        assert!(view.to_string().contains(&format!("/admin/incidents/{id}")));
        assert_eq!(db.jobs_of_kind("slack.home").await.len(), 1);

        // The first visit ever (no view yet) publishes too.
        slack.clear();
        assert_eq!(signed(&app, EVENTS, &fixture("slack/event_app_home_opened_first_time.json"), JSON).await.0, 200);
        assert_eq!(slack.exactly(1).await[0].method, "views.publish");

        // A confirm click in the Home tab refreshes it for that person.
        slack.clear();
        let click = interaction("block_actions_confirm", Some(id), |p| {
            p["container"] = json!({ "type": "view", "view_id": "V0HOME12345" });
            p.as_object_mut().unwrap().remove("channel");
        });
        assert_eq!(signed(&app, EVENTS, &click, FORM).await.0, 200);
        let calls = slack.exactly(3).await;
        let mut seen = methods(&calls);
        seen.sort_unstable();
        assert_eq!(seen, ["chat.postMessage", "chat.update", "views.publish"]);
        app.stop().await;
    }

    async fn auto_dismiss_updates_and_broadcasts(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = suspected(&app, &slack, &db).await;
        app.services.incidents.alert_closed(monostat::domain::Origin::Opsgenie, "alert-1").await.unwrap();
        let calls = slack.exactly(2).await;
        assert_parent_update(&calls[0], &[]);
        assert_thread_reply(&calls[1], true);
        assert!(calls[1].body["text"].as_str().unwrap().contains(&format!("{SITE}/admin/incidents/{id}")));
        app.stop().await;
    }

    async fn all_alerts_closed_reminds_with_a_broadcast(db: TestDb) {
        let (app, slack) = start(&db).await;
        confirmed(&app, &slack, &db).await;
        app.services.incidents.alert_closed(monostat::domain::Origin::Opsgenie, "alert-1").await.unwrap();
        let calls = slack.exactly(2).await;
        assert_parent_update(&calls[0], &["update_incident"]);
        assert_thread_reply(&calls[1], true);
        assert!(calls[1].body["text"].as_str().unwrap().contains("Remember to resolve"));
        app.stop().await;
    }

    async fn a_console_change_shows_up_in_slack(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = confirmed(&app, &slack, &db).await;
        let token = login(&app).await;
        let response = gql(&app, &token, "mutation($id: Int!) { updateIncident(id: $id, input: { newStatus: RESOLVED, text: \"Fixed.\" }) { status } }", json!({ "id": id.0 })).await;
        assert_eq!(response["data"]["updateIncident"]["status"], "RESOLVED", "{response}");
        let calls = slack.exactly(2).await;
        assert_parent_update(&calls[0], &[]);
        assert_thread_reply(&calls[1], false);
        assert!(calls[1].body["text"].as_str().unwrap().starts_with("alice (console): "), "{}", calls[1].body);
        app.stop().await;
    }

    async fn rate_limited_calls_are_retried_after_the_pause(db: TestDb) {
        let (app, slack) = start(&db).await;
        slack.script("chat.postMessage", 429, Some(1), api_fixture("error.ratelimited.429.json"));
        let outcome = app.services.incidents.alert_opened(report("alert-1", "Down")).await.unwrap();
        let calls = slack.exactly(5).await;
        assert_eq!(methods(&calls), ["conversations.list", "conversations.list", "conversations.join", "chat.postMessage", "chat.postMessage"]);
        let jobs = settled(&db, SLACK_SYNC).await;
        assert_eq!((jobs[0].status.as_str(), jobs[0].attempts), ("done", 2));
        assert_eq!(stored(&db, outcome.incident_id).await.slack_ts.as_deref(), Some(PARENT_TS));
        app.stop().await;
    }

    async fn a_rejected_token_parks_the_job_with_a_plain_reason(db: TestDb) {
        db.expect_dead_jobs();
        db.expect_error_log("job is dead");
        let (app, slack) = start(&db).await;
        slack.fail_next("conversations.list", "invalid_auth");
        app.services.incidents.alert_opened(report("alert-1", "Down")).await.unwrap();
        slack.exactly(1).await;
        let jobs = settled(&db, SLACK_SYNC).await;
        assert_eq!((jobs[0].status.as_str(), jobs[0].attempts), ("dead", 1));
        let reason = jobs[0].last_error.as_deref().unwrap();
        assert!(reason.contains("does not accept the bot token") && reason.contains("invalid_auth"), "{reason}");
        app.stop().await;
    }

    async fn a_channel_that_cannot_be_found_parks_the_job(db: TestDb) {
        db.expect_dead_jobs();
        db.expect_error_log("job is dead");
        let slack = FakeSlack::start().await;
        let app = TestApp::start(db.app_config(&[
            ("MONOSTAT_SLACK_API_URL", &slack.url),
            ("MONOSTAT_SLACK_BOT_TOKEN", "xoxb-test-token"),
            ("MONOSTAT_SLACK_SIGNING_SECRET", SECRET),
            ("MONOSTAT_SLACK_CHANNEL", "incidents"),
        ])).await;
        app.services.incidents.alert_opened(report("alert-1", "Down")).await.unwrap();
        assert_eq!(methods(&slack.exactly(2).await), ["conversations.list", "conversations.list"]);
        let jobs = settled(&db, SLACK_SYNC).await;
        assert_eq!(jobs[0].status.as_str(), "dead");
        assert!(jobs[0].last_error.as_deref().unwrap().contains("no channel named #incidents"), "{:?}", jobs[0].last_error);
        app.stop().await;
    }

    async fn another_channel_in_the_environment_is_found_after_a_restart(db: TestDb) {
        let (app, slack) = start(&db).await;
        let first = suspected(&app, &slack, &db).await;
        app.services.incidents.dismiss(first, &Actor::System).await.unwrap();
        slack.exactly(2).await;
        settled(&db, SLACK_SYNC).await;
        app.stop().await;
        slack.clear();

        let app = TestApp::start(db.app_config(&[
            ("MONOSTAT_SLACK_API_URL", &slack.url),
            ("MONOSTAT_SLACK_BOT_TOKEN", "xoxb-test-token"),
            ("MONOSTAT_SLACK_SIGNING_SECRET", SECRET),
            ("MONOSTAT_SLACK_CHANNEL", "#general"),
        ])).await;
        app.services.incidents.alert_opened(report("alert-2", "Down again")).await.unwrap();
        let calls = slack.exactly(3).await;
        assert_eq!(methods(&calls), ["conversations.list", "conversations.join", "chat.postMessage"]);
        assert_eq!((calls[1].body["channel"].as_str(), calls[2].body["channel"].as_str()), (Some("C0GENERAL1"), Some("C0GENERAL1")));
        app.stop().await;
    }

    async fn monitoring_activity_is_told_in_the_thread(db: TestDb) {
        let (app, slack) = start(&db).await;
        suspected(&app, &slack, &db).await;
        app.services.incidents.alert_activity(monostat::domain::Origin::Opsgenie, "alert-1", monostat::services::AlertActivity::Acknowledged { by: "ops@example.com".into() }).await.unwrap();
        let calls = slack.exactly(2).await;
        assert_parent_update(&calls[0], &["confirm_incident", "dismiss_incident"]);
        assert_thread_reply(&calls[1], false);
        assert_eq!(calls[1].body["text"], "ops@example.com (opsgenie) acknowledged the alert");
        app.stop().await;
    }

    async fn a_lost_channel_is_found_and_joined_again(db: TestDb) {
        let (app, slack) = start(&db).await;
        let first = suspected(&app, &slack, &db).await;
        app.services.incidents.dismiss(first, &Actor::System).await.unwrap();
        slack.exactly(2).await;
        settled(&db, SLACK_SYNC).await;
        slack.clear();
        slack.fail_next("chat.postMessage", "not_in_channel");
        app.services.incidents.alert_opened(report("alert-9", "Down again")).await.unwrap();
        let calls = slack.exactly(5).await;
        assert_eq!(methods(&calls), ["chat.postMessage", "conversations.list", "conversations.list", "conversations.join", "chat.postMessage"]);
        let jobs = settled(&db, SLACK_SYNC).await;
        assert!(jobs.iter().all(|j| j.status.as_str() == "done"));
        app.stop().await;
    }

    async fn due_maintenance_is_prompted_once_with_a_start_button(db: TestDb) {
        let (app, slack) = start(&db).await;
        let planned = app.services.incidents.create(&Actor::System, NewIncident {
            title: "Database upgrade".into(), status: IncidentStatus::Planned, severity: Severity::Maintenance,
            start: Some(chrono::Utc::now() - chrono::TimeDelta::minutes(1)), text: None, summary: None, silent: false, auto_start: false, do_not_notify: false,
        }).await.unwrap();
        // The app's own timer may ask first; either way the team is asked once.
        app.services.incidents.prompt_due_maintenance().await.unwrap();
        assert_eq!(app.services.incidents.prompt_due_maintenance().await.unwrap(), 0, "asked once");
        let calls = slack.exactly(6).await;
        assert_eq!(methods(&calls[..4]), ["conversations.list", "conversations.list", "conversations.join", "chat.postMessage"]);
        assert_parent_update(&calls[4], &["start_maintenance", "update_incident"]);
        assert_thread_reply(&calls[5], false);
        assert_eq!(buttons(&calls[5].body["blocks"]), ["start_maintenance"]);
        settled(&db, SLACK_SYNC).await;

        slack.clear();
        let click = interaction("block_actions_confirm", Some(planned.id), |p| p["actions"][0]["action_id"] = json!("start_maintenance"));
        assert_eq!(signed(&app, EVENTS, &click, FORM).await.0, 200);
        let incident = app.services.incidents.get(planned.id).await.unwrap();
        assert_eq!((incident.status, incident.severity), (IncidentStatus::Confirmed, Severity::Maintenance));
        let calls = slack.exactly(2).await;
        assert_parent_update(&calls[0], &["update_incident"]);
        app.stop().await;
    }

    async fn the_console_can_test_the_slack_settings(db: TestDb) {
        let (app, slack) = start(&db).await;
        let token = login(&app).await;
        let query = "mutation { testSlack { ok message } }";
        let response = gql(&app, &token, query, json!({})).await;
        assert_eq!(response["data"]["testSlack"]["ok"], true, "{response}");
        assert_eq!(methods(&slack.lookups()), ["auth.test"]);
        assert_eq!(methods(&slack.calls()), ["conversations.list", "conversations.list", "conversations.join"]);

        slack.fail_next("auth.test", "token_revoked");
        let response = gql(&app, &token, query, json!({})).await;
        assert_eq!(response["data"]["testSlack"]["ok"], false);
        let message = response["data"]["testSlack"]["message"].as_str().unwrap();
        assert!(message.contains("revoked") && message.contains("reinstall"), "{message}");

        slack.fail_next("conversations.info", "channel_not_found");
        let response = gql(&app, &token, query, json!({})).await;
        let message = response["data"]["testSlack"]["message"].as_str().unwrap();
        assert!(message.contains("#statuspage") && message.contains("does not exist"), "{message}");
        app.stop().await;
    }
}

both_databases! {
    async fn slack_settings_changed_in_the_console_are_in_force_at_once(db: TestDb) {
        let slack = FakeSlack::start().await;
        let app = TestApp::start(db.app_config(&[("MONOSTAT_SLACK_API_URL", &slack.url), ("MONOSTAT_SITE_URL", SITE)])).await;
        let token = login(&app).await;
        let body = fixture("slack/url_verification.json");
        assert_eq!(signed(&app, EVENTS, &body, JSON).await.0, 401, "no signing secret yet");

        let set = "mutation($input: SlackSettingsInput!) { setSlackSettings(input: $input) { botTokenSet signingSecretSet channel channelId channelFromEnvironment } }";
        let response = gql(&app, &token, set, json!({ "input": { "botToken": "xoxb-console-token", "signingSecret": SECRET, "channel": "#StatusPage" } })).await;
        assert_eq!(response["data"]["setSlackSettings"], json!({ "botTokenSet": true, "signingSecretSet": true, "channel": "statuspage", "channelId": null, "channelFromEnvironment": false }), "{response}");
        assert_eq!(signed(&app, EVENTS, &body, JSON).await.0, 200, "the new secret is used at once");

        app.services.incidents.alert_opened(report("alert-1", "Down")).await.unwrap();
        let calls = slack.exactly(4).await;
        assert_eq!(calls[3].authorization.as_deref(), Some("Bearer xoxb-console-token"));
        settled(&db, SLACK_SYNC).await;
        slack.clear();

        // Another channel: the remembered id is forgotten and the new one found.
        let response = gql(&app, &token, set, json!({ "input": { "channel": "general", "signingSecret": "a-new-secret" } })).await;
        assert_eq!(response["data"]["setSlackSettings"]["channelId"], Value::Null, "{response}");
        assert_eq!(signed(&app, EVENTS, &body, JSON).await.0, 401, "the old secret stops working at once");
        let response = gql(&app, &token, "mutation { testSlack { ok message } }", json!({})).await;
        assert_eq!(response["data"]["testSlack"]["ok"], true, "{response}");
        assert_eq!(methods(&slack.lookups()), ["auth.test"]);
        assert_eq!(methods(&slack.calls()), ["conversations.list", "conversations.join"]);
        let settings = gql(&app, &token, "{ slackSettings { channel channelId } }", json!({})).await;
        assert_eq!(settings["data"]["slackSettings"], json!({ "channel": "general", "channelId": "C0GENERAL1" }));
        assert!(!settings.to_string().contains("xoxb"), "secrets never leave the server");

        let bad = gql(&app, &token, set, json!({ "input": { "botToken": "xoxp-user-token" } })).await;
        assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{bad}");
        let audit = gql(&app, &token, "{ auditLog { message } }", json!({})).await;
        assert!(audit.to_string().contains("Changed the Slack bot token, signing secret, channel"), "{audit}");
        app.stop().await;
    }
}

const PASSWORD: &str = "correct horse battery";

pub(crate) async fn login(app: &TestApp) -> String {
    app.services
        .users
        .create("alice", PASSWORD, &Actor::System, &StepUp::command_line())
        .await
        .ok();
    let response = gql(
        app,
        "",
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
        json!({ "u": "alice", "p": PASSWORD }),
    )
    .await;
    response["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn gql(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if !token.is_empty() {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}
