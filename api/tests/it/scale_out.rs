//! Several replicas as real processes (SPEC §6, issue 10): two `serve --role web`
//! processes on different ports and two `serve --role worker` processes, all on one
//! PostgreSQL database and one Redis, as `docker compose` would scale them.
//!
//! What must hold: an alert posted to replica A reaches a page open on replica B (its
//! GraphQL subscription and its Statuspage JSON) and a secret rotated through B is
//! refused by A, each within 2 s while the replicas' own periodic resync is 10 minutes
//! away (so only Redis can have carried it); every job runs once across the processes (one Slack parent message, one mail
//! per subscriber); and a worker killed with SIGKILL in the middle of a fan-out loses and
//! duplicates no mail, because its lease runs out and the other worker finishes the job.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use monostat::services::follow_up::NOTIFY_SUBSCRIBERS;
use monostat::store::{job, notification_delivery};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::process::{Process, replica_data_dirs};
use crate::common::slack::FakeSlack;
use crate::common::smtp::SmtpSink;
use crate::common::{REDIS_HOST, TestDb, fixture};

const PASSWORD: &str = "correct horse battery staple";
const SUBSCRIBERS: usize = 40;
/// Mails the SMTP sink accepts before it holds the rest of the fan-out in flight.
const ACCEPTED_BEFORE_THE_KILL: usize = 10;
/// Short, so the surviving worker takes the killed one's job over soon; long enough
/// that no job of a live worker outlasts it in this test.
const JOB_LEASE_SECS: &str = "8";
/// Generous bound for anything to happen on a slow, shared CI machine. Never an
/// assertion about speed: only how long to wait before calling it a failure.
const PATIENCE: Duration = Duration::from_mins(1);
/// How soon a change on one replica must be in force on another: Redis carries it. Far
/// shorter than the safety-net resync the processes run with ([`RESYNC_SECS`]), so only
/// the event can make these checks pass.
const EVENT_TRAVEL: Duration = Duration::from_secs(2);
const RESYNC_SECS: &str = "600";

/// Polls `check` until it holds; fails after `within`.
async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    crate::common::eventually(what, within, || {
        let holds = check();
        async move { holds.await.then_some(()) }
    })
    .await;
}

async fn gql(web: &Process, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(web.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response: Value = request.send().await.unwrap().json().await.unwrap();
    assert!(response["errors"].is_null(), "{response}");
    response["data"].clone()
}

async fn post_alert(url: &str, fixture_name: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(fixture(fixture_name))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A `graphql-transport-ws` subscription on `web`; yields each payload.
async fn subscribe(web: &Process, query: &str) -> tokio::sync::mpsc::Receiver<Value> {
    let mut request = web
        .url("/graphql")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    for message in [
        json!({ "type": "connection_init", "payload": {} }),
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }),
    ] {
        socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(&text).unwrap();
                if (value["type"] == "next" || value["type"] == "error")
                    && sender.send(value["payload"].clone()).await.is_err()
                {
                    break;
                }
            }
        }
    });
    receiver
}

async fn next(receiver: &mut tokio::sync::mpsc::Receiver<Value>, within: Duration) -> Value {
    tokio::time::timeout(within, receiver.recv())
        .await
        .expect("no subscription message")
        .expect("the subscription ended")
}

async fn deliveries(db: &TestDb, state: &str) -> u64 {
    notification_delivery::Entity::find()
        .filter(notification_delivery::Column::State.eq(state))
        .count(&db.conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_events_settings_and_jobs_and_survive_a_killed_worker() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    if !crate::events::redis_available().await {
        return;
    }
    let Some(sink) = SmtpSink::start_holding_after(ACCEPTED_BEFORE_THE_KILL).await else {
        return;
    };
    let slack = FakeSlack::start().await;

    let mut env = db.env();
    env.extend(sink.env().into_iter().map(|(k, v)| (k.to_owned(), v)));
    for (name, value) in [
        ("MONOSTAT_REDIS_HOST", REDIS_HOST),
        ("MONOSTAT_SLACK_API_URL", slack.url.as_str()),
        ("MONOSTAT_SLACK_BOT_TOKEN", "xoxb-test-token"),
        (
            "MONOSTAT_SLACK_SIGNING_SECRET",
            "8f742231b10e8888abcd99yyyzzz85a5",
        ),
        ("MONOSTAT_SLACK_CHANNEL", "#statuspage"),
        ("MONOSTAT_JOB_LEASE_SECS", JOB_LEASE_SECS),
        ("MONOSTAT_RESYNC_SECS", RESYNC_SECS),
        ("NUM_WORKERS", "2"),
        // The database is migrated once, before the replicas start (docs/deploy.md).
        ("AUTOMIGRATE", "skip"),
    ] {
        env.insert(name.to_owned(), value.to_owned());
    }

    let data_dirs = replica_data_dirs(&env, PASSWORD, 4).await;

    let replica_a = Process::start("web", &env, data_dirs[0].path()).await;
    let replica_b = Process::start("web", &env, data_dirs[1].path()).await;
    let mut workers = [
        Process::start("worker", &env, data_dirs[2].path()).await,
        Process::start("worker", &env, data_dirs[3].path()).await,
    ];
    assert_ne!(replica_a.base, replica_b.base);

    // --- an alert on A reaches a page open on B ---
    let mut status = subscribe(&replica_b, "subscription { statusChanged { headline } }").await;
    assert_eq!(
        next(&mut status, PATIENCE).await["data"]["statusChanged"]["headline"],
        "OPERATIONAL"
    );
    let login = gql(
        &replica_b,
        None,
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
        json!({ "u": "admin", "p": PASSWORD }),
    )
    .await;
    let token = login["login"]["accessToken"].as_str().unwrap().to_owned();
    let sources = gql(
        &replica_b,
        Some(&token),
        "{ alertSources { source webhookUrl } }",
        json!({}),
    )
    .await;
    let opsgenie_url = sources["alertSources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "OPSGENIE")
        .unwrap()["webhookUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let hook_path = &opsgenie_url[opsgenie_url.find("/integrations/").unwrap()..];
    let old_hook_on_a = replica_a.url(hook_path);

    let (answer, opened) = post_alert(&old_hook_on_a, "opsgenie/create.json").await;
    assert_eq!(answer, 200, "{opened}");
    let incident_id = opened["incident"].as_i64().unwrap();
    assert_eq!(
        next(&mut status, EVENT_TRAVEL).await["data"]["statusChanged"]["headline"],
        "MIGHT_HAVE_ISSUES"
    );
    let client = reqwest::Client::new();
    eventually(
        "B's status.json to show the incident",
        EVENT_TRAVEL,
        || async {
            let status: Value = client
                .get(replica_b.url("/api/v2/status.json"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            status["status"]["indicator"] != "none"
        },
    )
    .await;

    // --- a secret rotated through B is refused by A ---
    let rotated = gql(
        &replica_b,
        Some(&token),
        "mutation { rotateAlertSourceSecret(source: OPSGENIE) { webhookUrl } }",
        json!({}),
    )
    .await;
    let new_url = rotated["rotateAlertSourceSecret"]["webhookUrl"]
        .as_str()
        .unwrap();
    let new_hook_on_a = replica_a.url(&new_url[new_url.find("/integrations/").unwrap()..]);
    assert_ne!(new_hook_on_a, old_hook_on_a);
    // Redis carries the change to A; how soon is not this test's business.
    eventually("A to refuse the old secret", EVENT_TRAVEL, || async {
        post_alert(&old_hook_on_a, "opsgenie/unacknowledge.json")
            .await
            .0
            == 403
    })
    .await;
    assert_eq!(
        post_alert(&new_hook_on_a, "opsgenie/unacknowledge.json")
            .await
            .0,
        200
    );

    // --- subscribers, then the fan-out that a worker dies in the middle of ---
    let addresses: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| format!("subscriber{i:02}@example.com"))
        .collect();
    let imported = gql(
        &replica_b,
        Some(&token),
        "mutation($csv: String!) { importSubscribers(csv: $csv, consented: true) { added } }",
        json!({ "csv": addresses.join("\n") }),
    )
    .await;
    assert_eq!(imported["importSubscribers"]["added"], SUBSCRIBERS);
    gql(
        &replica_a,
        Some(&token),
        "mutation($id: Int!) { confirmIncident(id: $id) { id } }",
        json!({ "id": incident_id }),
    )
    .await;

    // The sink accepts the first mails and holds the rest in flight. Once the worker
    // has recorded every accepted mail, whatever it still sends is unanswered: killing
    // it now is "in the middle of the fan-out" with nothing in doubt.
    sink.wait_for(ACCEPTED_BEFORE_THE_KILL).await;
    eventually(
        "the accepted mails to be recorded as sent",
        PATIENCE,
        || async { deliveries(&db, "sent").await == ACCEPTED_BEFORE_THE_KILL as u64 },
    )
    .await;
    let fan_out = job::Entity::find()
        .filter(job::Column::Kind.eq(NOTIFY_SUBSCRIBERS))
        .filter(job::Column::Status.eq("running"))
        .one(&db.conn)
        .await
        .unwrap()
        .expect("the fan-out job is running");
    let holder = fan_out.locked_by.clone().unwrap();
    let dying = workers
        .iter()
        .position(|w| holder.starts_with(&format!("{}:", w.pool_id().unwrap())))
        .unwrap_or_else(|| panic!("no worker process holds {holder}"));
    workers[dying].kill().await;
    sink.release();

    // The lease runs out and the other worker finishes the job.
    eventually("the fan-out to finish", PATIENCE, || async {
        deliveries(&db, "pending").await == 0
    })
    .await;
    let mails = sink.wait_for(SUBSCRIBERS).await;
    eventually("the fan-out job to be done", PATIENCE, || async {
        job::Entity::find_by_id(fan_out.id)
            .one(&db.conn)
            .await
            .unwrap()
            .is_some_and(|job| job.status.as_str() == "done")
    })
    .await;
    let finished = job::Entity::find_by_id(fan_out.id)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap();
    assert!(
        finished.attempts >= 2,
        "taken over after the kill: {finished:?}"
    );

    let mut received: Vec<String> = sink.mails().into_iter().map(|m| m.rcpt).collect();
    received.sort();
    assert_eq!(mails.len(), received.len());
    assert_eq!(
        received, addresses,
        "every subscriber gets exactly one mail"
    );
    assert_eq!(deliveries(&db, "sent").await, SUBSCRIBERS as u64);

    // --- one Slack parent message for the incident, whichever worker posted it ---
    let parents = slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage" && c.body.get("thread_ts").is_none())
        .count();
    assert_eq!(parents, 1, "Slack calls: {:?}", slack.methods());
    eventually(
        "the confirmation to update the parent message",
        PATIENCE,
        || async { slack.methods().iter().any(|m| m == "chat.update") },
    )
    .await;
}
