//! PostgreSQL cut away by a TCP proxy (`common::chaos`) while Slack and mail work goes
//! on: a click is still answered (through its `response_url`, which needs no
//! database), and jobs queued meanwhile run exactly once after the database is back,
//! with no restart: the workers recover by themselves.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use monostat::adapters::slack::jobs as slack_jobs;
use monostat::domain::{Actor, IncidentStatus, SubscriberEmail};
use monostat::secret::Secret;
use monostat::services::{SlackSettingsChange, StepUp};
use monostat::store::{incident, job};
use sea_orm::EntityTrait;
use serde_json::json;

use crate::alerts::report;
use crate::common::TestDb;
use crate::common::chaos::ChaosProxy;
use crate::common::slack::FakeSlack;
use crate::common::smtp::SmtpSink;
use crate::common::{TestApp, fixture};
use crate::slack::{EVENTS, FORM, JSON, SECRET, interaction, signed};

/// Visitors in these tests ask from the test's own machine.
const LOOPBACK: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// A database whose connection from the app goes through a proxy that can cut it.
async fn through_proxy() -> Option<(TestDb, ChaosProxy)> {
    let db = TestDb::postgres().await?;
    let proxy = ChaosProxy::start(SocketAddr::from(([127, 0, 0, 1], 5432))).await;
    Some((db, proxy))
}

/// A server whose database connection goes through `proxy`, with `env` besides.
async fn start(db: &TestDb, proxy: &ChaosProxy, mut env: Vec<(&str, String)>) -> TestApp {
    env.push(("MONOSTAT_DB_PORT", proxy.address.port().to_string()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::start(db.app_config(&env)).await
}

/// Slack set up through the environment, talking to the stand-in.
fn slack_env(slack: &FakeSlack) -> Vec<(&'static str, String)> {
    vec![
        ("MONOSTAT_SLACK_API_URL", slack.url.clone()),
        ("MONOSTAT_SLACK_BOT_TOKEN", "xoxb-test-token".into()),
        ("MONOSTAT_SLACK_SIGNING_SECRET", SECRET.into()),
        ("MONOSTAT_SLACK_CHANNEL", "#statuspage".into()),
    ]
}

async fn all_jobs(db: &TestDb) -> Vec<job::Model> {
    job::Entity::find().all(&db.conn).await.unwrap()
}

/// A click on "Confirm" while PostgreSQL is away: Slack gets its 200 at once, and the
/// person who clicked is told through the click's `response_url` — not through a job,
/// which could not be queued. The signing secret is the one stored in the database,
/// read before the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_click_while_the_database_is_away_is_answered_through_its_response_url() {
    let Some((db, proxy)) = through_proxy().await else {
        return;
    };
    let slack = FakeSlack::start().await;
    let app = start(
        &db,
        &proxy,
        vec![("MONOSTAT_SLACK_API_URL", slack.url.clone())],
    )
    .await;
    // Through the service: the database keeps it sealed with the server's key.
    app.services
        .settings
        .update_slack(
            SlackSettingsChange {
                signing_secret: Some(Secret::new(SECRET)),
                ..Default::default()
            },
            &Actor::System,
            Some(&StepUp::command_line()),
        )
        .await
        .unwrap();
    let opened = app
        .services
        .incidents
        .alert_opened(report("away-1", "Checkout down"))
        .await
        .unwrap();
    // Any signed request while the database is up: the secret is read and kept.
    let (status, _) = signed(&app, EVENTS, &fixture("slack/url_verification.json"), JSON).await;
    assert_eq!(status, 200);

    proxy.cut();
    let response_url = slack.response_url();
    let click = interaction(
        "block_actions_confirm",
        Some(opened.incident_id),
        |payload| {
            payload["response_url"] = json!(response_url);
        },
    );
    let started = Instant::now();
    let (status, body) = signed(&app, EVENTS, &click, FORM).await;
    let answered_in = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(
        answered_in < Duration::from_millis(2500),
        "Slack waits 3 s; answered in {answered_in:?}"
    );
    let calls = slack.exactly(1).await;
    assert_eq!(calls[0].method, "response_url");
    assert_eq!(
        calls[0].body,
        json!({
            "response_type": "ephemeral",
            "replace_original": false,
            "text": "The status page cannot save changes right now; try again in a minute.",
        })
    );
    eprintln!("click answered in {answered_in:?} with the database away");

    proxy.restore();
    let row = incident::Entity::find_by_id(opened.incident_id.0)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, IncidentStatus::Suspected, "nothing was saved");
    assert!(
        db.jobs_of_kind(slack_jobs::SLACK_EPHEMERAL)
            .await
            .is_empty(),
        "no job was queued for the answer"
    );
    app.stop().await;
}

/// Slack and mail jobs queued while the app's database connection is cut (another
/// replica, say, still reaches the database) wait, and once it is back each runs
/// exactly once: one parent message, one ephemeral per text, one mail per address.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_queued_during_a_database_outage_run_once_when_it_is_back() {
    let Some((db, proxy)) = through_proxy().await else {
        return;
    };
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let slack = FakeSlack::start().await;
    let mut env = sink.env();
    env.extend(slack_env(&slack));
    let app = start(&db, &proxy, env).await;

    proxy.cut();
    // The workers fail to claim for a while.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Queued on the direct connection, as another replica would.
    let other = db.services().await.services;
    let admin = Actor::User("admin".into());
    let report_ = other
        .subscribers
        .import_csv(&admin, "alice@example.com\nbob@example.com", true)
        .await
        .unwrap();
    assert_eq!(report_.added, 2);
    other
        .settings
        .set_allow_subscriptions(true, &admin)
        .await
        .unwrap();
    other
        .subscribers
        .subscribe(
            &SubscriberEmail::parse("carol@example.com").unwrap(),
            true,
            LOOPBACK,
        )
        .await
        .unwrap();
    let opened = other
        .incidents
        .alert_opened(report("away-2", "Checkout down"))
        .await
        .unwrap();
    other
        .incidents
        .confirm(opened.incident_id, &Actor::Slack("bob".into()), false)
        .await
        .unwrap();
    for text in ["first", "second", "third"] {
        slack_jobs::ephemeral("C0STATUS01", "U0PERSON01", text)
            .enqueue(&db.conn)
            .await
            .unwrap();
    }
    let queued = all_jobs(&db).await;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for job in &queued {
        *kinds.entry(job.kind.clone()).or_default() += 1;
    }
    eprintln!("queued while the database was away: {kinds:?}");
    assert!(kinds.contains_key("notify.subscribers") && kinds.contains_key("subscriber.mail"));
    assert!(kinds.contains_key("slack.sync") && kinds["slack.ephemeral"] == 3);

    // Due, but nobody can run them.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(slack.calls().is_empty(), "{:?}", slack.methods());
    assert!(sink.mails().is_empty());
    assert!(
        all_jobs(&db)
            .await
            .iter()
            .all(|j| j.status.as_str() == "pending")
    );

    proxy.restore();
    let restored = Instant::now();
    db.jobs_done(None, Duration::from_mins(1)).await;
    eprintln!(
        "all jobs done {:?} after the database came back",
        restored.elapsed()
    );
    // Long enough for a second run of anything to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        all_jobs(&db)
            .await
            .iter()
            .all(|j| j.status.as_str() == "done")
    );

    let mails = sink.count_by_recipient();
    let expected: BTreeMap<String, usize> =
        ["alice@example.com", "bob@example.com", "carol@example.com"]
            .into_iter()
            .map(|address| (address.to_owned(), 1))
            .collect();
    assert_eq!(mails, expected);

    let calls = slack.calls();
    let parents = calls
        .iter()
        .filter(|c| c.method == "chat.postMessage" && c.body.get("thread_ts").is_none())
        .count();
    assert_eq!(parents, 1, "{:?}", slack.methods());
    let mut ephemerals: BTreeMap<String, usize> = BTreeMap::new();
    for call in calls.iter().filter(|c| c.method == "chat.postEphemeral") {
        *ephemerals
            .entry(call.body["text"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = ["first", "second", "third"]
        .into_iter()
        .map(|t| (t.to_owned(), 1))
        .collect();
    assert_eq!(ephemerals, expected);
    // What one run of each sync makes: find and join the channel, post the parent
    // (opened), then edit it and reply in its thread (confirmed).
    let mut by_method: BTreeMap<&str, usize> = BTreeMap::new();
    for call in &calls {
        *by_method.entry(call.method.as_str()).or_default() += 1;
    }
    let expected = BTreeMap::from([
        ("chat.postEphemeral", 3),
        ("chat.postMessage", 2),
        ("chat.update", 1),
        ("conversations.join", 1),
        ("conversations.list", 2),
    ]);
    assert_eq!(by_method, expected);
    app.stop().await;
}

/// A job whose Slack call is under way when the database goes: the call succeeds and
/// its outcome is recorded once the database is back, so the job does not run again
/// when its lease (3 s here, shorter than the outage's aftermath) runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_in_flight_when_the_database_goes_runs_once() {
    let Some((db, proxy)) = through_proxy().await else {
        return;
    };
    let slack = FakeSlack::start().await;
    let mut env = slack_env(&slack);
    env.push(("MONOSTAT_JOB_LEASE_SECS", "3".into()));
    let app = start(&db, &proxy, env).await;
    slack.hold("chat.postEphemeral");
    slack_jobs::ephemeral("C0STATUS01", "U0PERSON01", "once")
        .enqueue(&db.conn)
        .await
        .unwrap();
    slack.wait_for_calls(1).await;
    proxy.cut();
    slack.release("chat.postEphemeral");
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.restore();
    db.jobs_done(None, Duration::from_secs(20)).await;
    // Past two leases, so a second run would have shown.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(slack.methods(), ["chat.postEphemeral"]);
    app.stop().await;
}

/// PostgreSQL goes away halfway through a fan-out: the mails the server accepted
/// meanwhile are recorded once it is back, in the same run, so none goes out twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fanout_outlives_a_database_outage_without_duplicates() {
    let Some((db, proxy)) = through_proxy().await else {
        return;
    };
    let Some(sink) = SmtpSink::start_with(None, Some(0.2)).await else {
        return;
    };
    let app = start(&db, &proxy, sink.env()).await;
    let addresses: Vec<String> = (0..60).map(|i| format!("user{i:02}@example.com")).collect();
    let admin = Actor::User("admin".into());
    app.services
        .subscribers
        .import_csv(&admin, &addresses.join("\n"), true)
        .await
        .unwrap();
    let opened = app
        .services
        .incidents
        .alert_opened(report("away-3", "Checkout down"))
        .await
        .unwrap();
    app.services
        .incidents
        .confirm(opened.incident_id, &Actor::Slack("bob".into()), false)
        .await
        .unwrap();

    sink.wait_for(16).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.restore();
    db.jobs_done(None, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let expected: BTreeMap<String, usize> = addresses.into_iter().map(|a| (a, 1)).collect();
    assert_eq!(sink.count_by_recipient(), expected);
    app.stop().await;
}
