//! Who may act from Slack: requests signed correctly but from another workspace or
//! app, from people the settings do not allow, or sent a second time change nothing;
//! the signature is checked before the body is read. Over real HTTP against the fake
//! Slack Web API of `common::slack`, which answers `auth.test`, `bots.info` and a paged
//! `conversations.members` as Slack does.

use std::time::Duration;

use monostat::adapters::slack::replay::ReplayGuard;
use monostat::adapters::slack::verify::sign;
use monostat::config::RedisConfig;
use monostat::domain::{IncidentId, IncidentStatus};
use monostat::ratelimit::Limits;
use monostat::services::follow_up::{NOTIFY_SUBSCRIBERS, SLACK_SYNC};
use monostat::store::incident;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::common::slack::{Call, FakeSlack};
use crate::common::{REDIS_HOST, TestApp, TestDb, both_databases, fixture};
use crate::slack::{
    COMMANDS, EVENTS, FORM, JSON, SECRET, fresh_timestamp, gql, interaction, login, methods, now,
    post_raw, settled, signed, start, suspected,
};

const NOT_ALLOWED: &str = "You are not allowed to change the status page.";
const JANE: &str = "U0ABC5678";

/// The confirm button of incident `id`, clicked by the fixtures' jane.doe, with the
/// fake's `response_url` and whatever `edit` changes.
fn confirm_click(slack: &FakeSlack, id: IncidentId, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let response_url = slack.response_url();
    interaction("block_actions_confirm", Some(id), |payload| {
        payload["response_url"] = json!(response_url);
        edit(payload);
    })
}

/// What was said through the click's `response_url`.
async fn answered(slack: &FakeSlack) -> String {
    let calls = slack.exactly(1).await;
    assert_eq!(calls[0].method, "response_url", "{calls:?}");
    assert_eq!(calls[0].body["response_type"], "ephemeral");
    calls[0].body["text"].as_str().unwrap().to_owned()
}

async fn status_of(app: &TestApp, id: IncidentId) -> IncidentStatus {
    app.services.incidents.get(id).await.unwrap().status
}

async fn assert_refused_click(app: &TestApp, slack: &FakeSlack, db: &TestDb, id: IncidentId) {
    assert_eq!(answered(slack).await, NOT_ALLOWED);
    assert_eq!(
        status_of(app, id).await,
        IncidentStatus::Suspected,
        "nothing changed"
    );
    assert!(
        db.jobs_of_kind(NOTIFY_SUBSCRIBERS).await.is_empty(),
        "no subscriber hears of it"
    );
    assert!(
        db.jobs_of_kind(SLACK_SYNC)
            .await
            .iter()
            .all(|j| j.status.as_str() == "done")
    );
}

fn lookup_methods(calls: &[Call]) -> Vec<&str> {
    methods(calls)
}

async fn incidents(db: &TestDb) -> u64 {
    incident::Entity::find().count(&db.conn).await.unwrap()
}

both_databases! {
    async fn a_click_from_another_workspace_is_refused_and_changes_nothing(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = suspected(&app, &slack, &db).await;
        let click = confirm_click(&slack, id, |payload| {
            payload["team"]["id"] = json!("T0OTHER999");
            payload["user"]["team_id"] = json!("T0OTHER999");
        });
        let (status, body) = signed(&app, EVENTS, &click, FORM).await;
        assert_eq!((status, body.as_str()), (200, ""));
        assert_refused_click(&app, &slack, &db, id).await;

        // `/status new` from there opens no form; `/status` shows nothing either.
        slack.clear();
        let command = String::from_utf8(fixture("slack/slash_command.txt")).unwrap().replace("team_id=T0ABC1234", "team_id=T0OTHER999");
        let (status, body) = signed(&app, COMMANDS, command.as_bytes(), FORM).await;
        assert_eq!(status, 200);
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({ "response_type": "ephemeral", "text": NOT_ALLOWED }));
        let listing = command.replace("text=new", "text=");
        let (_, body) = signed(&app, COMMANDS, listing.as_bytes(), FORM).await;
        assert!(body.contains("not the one the status page is connected to"), "{body}");
        assert!(!body.contains("Outage"), "{body}");
        assert!(slack.calls().is_empty(), "{:?}", slack.methods());
        app.stop().await;
    }

    async fn a_request_for_another_app_is_refused(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = suspected(&app, &slack, &db).await;
        let click = confirm_click(&slack, id, |payload| payload["api_app_id"] = json!("A0OTHER999"));
        assert_eq!(signed(&app, EVENTS, &click, FORM).await.0, 200);
        assert_refused_click(&app, &slack, &db, id).await;

        // A form submitted through another app shows the refusal in the form.
        slack.clear();
        let before = incidents(&db).await;
        let submission = interaction("view_submission_create", None, |payload| payload["api_app_id"] = json!("A0OTHER999"));
        let (status, body) = signed(&app, EVENTS, &submission, FORM).await;
        assert_eq!(status, 200);
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({ "response_action": "errors", "errors": { "title": NOT_ALLOWED } }));
        assert_eq!(incidents(&db).await, before, "no incident was created");

        // The App Home tab is not published for another app's event.
        let mut event: Value = serde_json::from_slice(&fixture("slack/event_app_home_opened.json")).unwrap();
        event["api_app_id"] = json!("A0OTHER999");
        assert_eq!(signed(&app, EVENTS, event.to_string().as_bytes(), JSON).await.0, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(slack.calls().is_empty(), "{:?}", slack.methods());
        app.stop().await;
    }

    async fn someone_outside_the_channel_cannot_confirm_and_no_mail_is_queued(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = suspected(&app, &slack, &db).await;
        slack.set_members(&[&["U0BOT12345"], &["U0OTHER001"]]);
        let (status, _) = signed(&app, EVENTS, &confirm_click(&slack, id, |_| {}), FORM).await;
        assert_eq!(status, 200);
        assert_refused_click(&app, &slack, &db, id).await;
        let lookups = slack.lookups();
        assert_eq!(lookup_methods(&lookups), ["auth.test", "bots.info", "conversations.members", "conversations.members"]);
        assert_eq!(lookups[2].body["channel"], "C0STATUS01");
        assert_eq!(lookups[3].body["cursor"], "page:1", "every page is read");
        app.stop().await;
    }

    async fn a_member_of_the_channel_can_confirm(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = suspected(&app, &slack, &db).await;
        // jane.doe is on the second page of the channel's members.
        let (status, _) = signed(&app, EVENTS, &confirm_click(&slack, id, |_| {}), FORM).await;
        assert_eq!(status, 200);
        assert_eq!(status_of(&app, id).await, IncidentStatus::Confirmed);
        assert_eq!(db.jobs_of_kind(NOTIFY_SUBSCRIBERS).await.len(), 1);
        slack.exactly(2).await;
        settled(&db, SLACK_SYNC).await;

        // The answers are cached: the next click asks Slack nothing.
        let lookups = slack.lookups().len();
        slack.clear();
        let update = interaction("block_actions_update", Some(id), |_| {});
        assert_eq!(signed(&app, EVENTS, &update, FORM).await.0, 200);
        assert_eq!(slack.methods(), ["views.open"]);
        assert!(slack.lookups().is_empty(), "{lookups} lookups before, none now");
        app.stop().await;
    }

    async fn a_list_of_user_ids_overrides_the_channel(db: TestDb) {
        let (app, slack) = start(&db).await;
        let token = login(&app).await;
        let set = "mutation($ids: [String!]) { setSlackSettings(input: { allowedUserIds: $ids }) { allowedUserIds } }";
        let response = gql(&app, &token, set, json!({ "ids": ["jane.doe"] })).await;
        assert_eq!(response["errors"][0]["extensions"]["field"], "allowed users", "{response}");
        let response = gql(&app, &token, set, json!({ "ids": ["u0other001"] })).await;
        assert_eq!(response["data"]["setSlackSettings"]["allowedUserIds"], json!(["U0OTHER001"]), "{response}");

        // jane.doe is in the channel, but not on the list.
        let id = suspected(&app, &slack, &db).await;
        assert_eq!(signed(&app, EVENTS, &confirm_click(&slack, id, |_| {}), FORM).await.0, 200);
        assert_refused_click(&app, &slack, &db, id).await;
        assert!(!methods(&slack.lookups()).contains(&"conversations.members"), "the channel is not asked");

        // On the list (pasted as a mention), she may, even after leaving the channel.
        slack.set_members(&[&["U0BOT12345"]]);
        let response = gql(&app, &token, set, json!({ "ids": ["U0OTHER001, <@U0ABC5678>"] })).await;
        assert_eq!(response["data"]["setSlackSettings"]["allowedUserIds"], json!(["U0OTHER001", JANE]), "{response}");
        slack.clear();
        assert_eq!(signed(&app, EVENTS, &confirm_click(&slack, id, |_| {}), FORM).await.0, 200);
        assert_eq!(status_of(&app, id).await, IncidentStatus::Confirmed);

        // An empty list: the channel's members again.
        let response = gql(&app, &token, set, json!({ "ids": [] })).await;
        assert_eq!(response["data"]["setSlackSettings"]["allowedUserIds"], Value::Null, "{response}");
        app.stop().await;
    }

    async fn when_slack_cannot_be_asked_changes_are_refused(db: TestDb) {
        let (app, slack) = start(&db).await;
        let id = suspected(&app, &slack, &db).await;
        slack.script("conversations.members", 429, Some(30), json!({ "ok": false, "error": "ratelimited" }));
        assert_eq!(signed(&app, EVENTS, &confirm_click(&slack, id, |_| {}), FORM).await.0, 200);
        assert_eq!(answered(&slack).await, "Slack could not be asked who you are; try again.");
        assert_eq!(status_of(&app, id).await, IncidentStatus::Suspected);

        // The next try goes through once Slack answers.
        slack.clear();
        assert_eq!(signed(&app, EVENTS, &confirm_click(&slack, id, |_| {}), FORM).await.0, 200);
        assert_eq!(status_of(&app, id).await, IncidentStatus::Confirmed);
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_signed_request_is_refused_the_second_time() {
    let db = TestDb::sqlite().await;
    let (app, _slack) = start(&db).await;
    let body = fixture("slack/slash_command_no_text.txt");
    let ts = fresh_timestamp(&body);
    let headers = [
        ("x-slack-request-timestamp", ts.clone()),
        ("x-slack-signature", sign(SECRET.as_bytes(), &ts, &body)),
    ];
    let (status, answer) = post_raw(&app, COMMANDS, &body, FORM, &headers).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post_raw(&app, COMMANDS, &body, FORM, &headers).await;
    assert_eq!(
        (status, answer.as_str()),
        (401, r#"{"error":"invalid request"}"#)
    );
    // The same body signed anew (Slack's own retry) is another request.
    let (status, _) = signed(&app, COMMANDS, &body, FORM).await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_signature_is_checked_before_the_body_is_read() {
    let db = TestDb::sqlite().await;
    let (app, slack) = start(&db).await;
    for (body, content_type) in [
        (&b"payload=%ZZ{not json"[..], FORM),
        (&b"\xff\xfe not a form"[..], FORM),
        (&b"{\"type\": \"event_callback\", "[..], JSON),
    ] {
        let ts = fresh_timestamp(body);
        let wrong = sign(b"not the secret", &ts, body);
        let headers = [
            ("x-slack-request-timestamp", ts.clone()),
            ("x-slack-signature", wrong),
        ];
        let (status, answer) = post_raw(&app, EVENTS, body, content_type, &headers).await;
        assert_eq!(
            (status, answer.as_str()),
            (401, r#"{"error":"invalid request"}"#)
        );
        // Signed, the same bytes are read, and found wanting.
        let (status, _) = signed(&app, EVENTS, body, content_type).await;
        assert_eq!(status, 400);
    }
    assert!(slack.calls().is_empty() && slack.lookups().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn replicas_share_the_replay_cache_through_redis() {
    if !crate::events::redis_available().await {
        return;
    }
    let config = RedisConfig {
        host: REDIS_HOST.into(),
        port: 6379,
        password: None,
        prefix: format!("test-{}", monostat::secret::random_token(64)),
    };
    let replica = || ReplayGuard::new(&Limits::new(Some(&config)).unwrap());
    let (one, other) = (replica(), replica());
    let ts = now().to_string();
    assert!(one.first_time(&ts, "v0=aa").await);
    assert!(
        !other.first_time(&ts, "v0=aa").await,
        "seen by the other replica"
    );
    assert!(other.first_time(&ts, "v0=bb").await);
    assert!(!one.first_time(&ts, "v0=bb").await);

    // Redis away: each replica still remembers what it saw itself.
    let away = ReplayGuard::new(&Limits::new(Some(&RedisConfig { port: 1, ..config })).unwrap());
    assert!(away.first_time(&ts, "v0=aa").await);
    assert!(!away.first_time(&ts, "v0=aa").await);
}
