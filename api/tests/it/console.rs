//! The console API beyond the lifecycle: corrections, the full incident list, jobs,
//! Slack and notification settings, the logo — over real HTTP GraphQL.

use monostat::store::job;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};

use crate::common::{TestApp, TestDb, both_databases};
use crate::graphql::{code, gql, login};

const INCIDENT_FIELDS: &str = "id status severity title summary start end silent origin autoStart path updates { id message newStatus author } alerts { externalId }";

async fn create(app: &TestApp, token: &str, title: &str, status: &str) -> i64 {
    let created = gql(app, Some(token), "mutation($t: String!, $s: IncidentStatus!) { createIncident(input: { title: $t, status: $s, severity: PARTIAL }) { id } }", json!({ "t": title, "s": status })).await;
    created["data"]["createIncident"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{created}"))
}

async fn incident(app: &TestApp, token: &str, id: i64) -> Value {
    let query = format!("query($id: Int!) {{ consoleIncident(id: $id) {{ {INCIDENT_FIELDS} }} }}");
    gql(app, Some(token), &query, json!({ "id": id })).await["data"]["consoleIncident"].clone()
}

/// A tiny valid PNG (1×1, transparent).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

async fn upload(app: &TestApp, token: Option<&str>, name: &str, bytes: &[u8]) -> reqwest::Response {
    let operations = json!({ "query": "mutation($file: Upload!) { uploadLogo(file: $file) }", "variables": { "file": null } });
    let boundary = "monostat-test-boundary";
    let mut body = Vec::new();
    for (field, value) in [
        ("operations", operations.to_string()),
        ("map", json!({ "0": ["variables.file"] }).to_string()),
    ] {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    body.extend(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

both_databases! {
    async fn incidents_and_their_timelines_can_be_corrected(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let token = login(&app).await;
        let id = create(&app, &token, "Serach is slow", "CONFIRMED").await;

        let edit = "mutation($id: Int!, $input: EditIncidentInput!) { editIncident(id: $id, input: $input) { title severity silent end } }";
        let fixed = gql(&app, Some(&token), edit, json!({ "id": id, "input": { "title": "Search is slow", "severity": "BUG", "silent": true } })).await;
        assert_eq!(fixed["data"]["editIncident"], json!({ "title": "Search is slow", "severity": "BUG", "silent": true, "end": null }), "{fixed}");
        let open_end = gql(&app, Some(&token), edit, json!({ "id": id, "input": { "end": "2026-01-01T00:00:00Z" } })).await;
        assert_eq!((code(&open_end), &open_end["errors"][0]["extensions"]["field"]), ("BAD_USER_INPUT", &json!("end")), "{open_end}");
        let blank = gql(&app, Some(&token), edit, json!({ "id": id, "input": { "title": "  " } })).await;
        assert_eq!(code(&blank), "BAD_USER_INPUT");

        gql(&app, Some(&token), "mutation($id: Int!) { updateIncident(id: $id, input: { text: \"We found the cause.\" }) { id } }", json!({ "id": id })).await;
        gql(&app, Some(&token), "mutation($id: Int!) { resolveIncident(id: $id, text: \"Fixed.\") { id } }", json!({ "id": id })).await;
        let start = incident(&app, &token, id).await["start"].as_str().unwrap().to_owned();
        let before_start = gql(&app, Some(&token), edit, json!({ "id": id, "input": { "end": "2000-01-01T00:00:00Z" } })).await;
        assert!(before_start["errors"][0]["message"].as_str().unwrap().contains("not be before the start"), "{before_start}");
        let ended = gql(&app, Some(&token), edit, json!({ "id": id, "input": { "end": "2099-01-01T00:00:00Z" } })).await;
        assert_eq!(ended["data"]["editIncident"]["end"], "2099-01-01T00:00:00+00:00", "{ended} (start {start})");

        let detail = incident(&app, &token, id).await;
        let updates = detail["updates"].as_array().unwrap();
        assert_eq!(updates.len(), 3, "{detail}");
        assert_eq!(updates[0]["message"], "Fixed.");
        assert_eq!(updates[0]["author"], "alice");
        let middle = updates[1]["id"].as_i64().unwrap();
        let edited = gql(&app, Some(&token), "mutation($id: Int!) { editIncidentUpdate(id: $id, message: \"We found the cause: a full disk.\") { message } }", json!({ "id": middle })).await;
        assert_eq!(edited["data"]["editIncidentUpdate"]["message"], "We found the cause: a full disk.");
        let empty = gql(&app, Some(&token), "mutation($id: Int!) { editIncidentUpdate(id: $id, message: \" \") { message } }", json!({ "id": middle })).await;
        assert_eq!(code(&empty), "BAD_USER_INPUT");
        let unknown = gql(&app, Some(&token), "mutation { editIncidentUpdate(id: 987654, message: \"x\") { message } }", json!({})).await;
        assert_eq!(code(&unknown), "NOT_FOUND");
        for update in &updates[..2] {
            let deleted = gql(&app, Some(&token), "mutation($id: Int!) { deleteIncidentUpdate(id: $id) }", json!({ "id": update["id"] })).await;
            assert_eq!(deleted["data"]["deleteIncidentUpdate"], true, "{deleted}");
        }
        let last = gql(&app, Some(&token), "mutation($id: Int!) { deleteIncidentUpdate(id: $id) }", json!({ "id": updates[2]["id"] })).await;
        assert_eq!(code(&last), "BAD_USER_INPUT", "the only entry stays: {last}");

        let deleted = gql(&app, Some(&token), "mutation($id: Int!) { deleteIncident(id: $id) }", json!({ "id": id })).await;
        assert_eq!(deleted["data"]["deleteIncident"], true);
        assert_eq!(incident(&app, &token, id).await, Value::Null);
        // The public reads the snapshot, which follows within moments.
        crate::common::eventually("the public to lose the incident", std::time::Duration::from_secs(2), || async {
            gql(&app, None, "query($id: Int!) { incident(id: $id) { id } }", json!({ "id": id })).await["data"]["incident"].is_null().then_some(())
        })
        .await;
        let audit = gql(&app, Some(&token), "{ auditLog(first: 50) { message } }", json!({})).await;
        let messages: Vec<&str> = audit["data"]["auditLog"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap()).collect();
        assert!(messages.iter().any(|m| m.starts_with(&format!("Deleted incident {id} \u{201c}Search is slow\u{201d}"))), "{messages:?}");
        assert!(messages.iter().any(|m| m.starts_with("Corrected the incident: title")), "{messages:?}");
        app.stop().await;
    }

    async fn the_console_lists_every_incident_with_filters(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let token = login(&app).await;
        let outage = app.services.incidents.alert_opened(crate::alerts::report("a1", "Checkout down")).await.unwrap().incident_id;
        app.services.incidents.dismiss(outage, &monostat::domain::Actor::System).await.unwrap();
        create(&app, &token, "Slow SEARCH", "CONFIRMED").await;
        create(&app, &token, "Database upgrade", "PLANNED").await;

        let list = "query($f: ConsoleIncidentFilter) { consoleIncidents(filter: $f, first: 10) { total incidents { title status } } }";
        let all = gql(&app, Some(&token), list, json!({ "f": null })).await;
        assert_eq!(all["data"]["consoleIncidents"]["total"], 3, "{all}");
        let dismissed = gql(&app, Some(&token), list, json!({ "f": { "statuses": ["DISMISSED"] } })).await;
        assert_eq!(dismissed["data"]["consoleIncidents"]["incidents"], json!([{ "title": "Outage", "status": "DISMISSED" }]));
        let text = gql(&app, Some(&token), list, json!({ "f": { "text": "search" } })).await;
        assert_eq!(text["data"]["consoleIncidents"]["incidents"], json!([{ "title": "Slow SEARCH", "status": "CONFIRMED" }]));
        let none = gql(&app, Some(&token), list, json!({ "f": { "text": "100%_" } })).await;
        assert_eq!(none["data"]["consoleIncidents"]["total"], 0);
        let severity = gql(&app, Some(&token), list, json!({ "f": { "severities": ["OUTAGE"], "statuses": ["DISMISSED", "CONFIRMED"] } })).await;
        assert_eq!(severity["data"]["consoleIncidents"]["total"], 1);
        let future = gql(&app, Some(&token), list, json!({ "f": { "from": "2099-01-01T00:00:00Z" } })).await;
        assert_eq!(future["data"]["consoleIncidents"]["total"], 2, "the open ones: {future}");
        app.stop().await;
    }

    async fn jobs_slack_settings_and_notification_settings(db: TestDb) {
        // A job of a kind no worker knows, retried from the console: it waits for one.
        db.expect_queued("test.never");
        let app = TestApp::start(db.app_config(&[])).await;
        let token = login(&app).await;
        let now = chrono::Utc::now();
        let dead = job::ActiveModel {
            kind: Set("test.never".into()), payload: Set("{}".into()), status: Set("dead".parse().unwrap()),
            attempts: Set(25), max_attempts: Set(25), run_at: Set(now), last_error: Set(Some("invalid_auth: the token is not valid".into())),
            created_at: Set(now), updated_at: Set(now), ..Default::default()
        }.insert(&db.conn).await.unwrap();
        let jobs = gql(&app, Some(&token), "{ jobs(state: DEAD) { id kind lastError attempts } }", json!({})).await;
        assert_eq!(jobs["data"]["jobs"], json!([{ "id": dead.id, "kind": "test.never", "lastError": "invalid_auth: the token is not valid", "attempts": 25 }]));
        let retried = gql(&app, Some(&token), "mutation($id: Int!) { retryJob(id: $id) }", json!({ "id": dead.id })).await;
        assert_eq!(retried["data"]["retryJob"], true);
        assert_eq!(gql(&app, Some(&token), "{ jobs(state: DEAD) { id } }", json!({})).await["data"]["jobs"], json!([]));

        let set = "mutation($i: SlackSettingsInput!) { setSlackSettings(input: $i) { botTokenSet signingSecretSet channel botTokenFromEnvironment } }";
        let bad = gql(&app, Some(&token), set, json!({ "i": { "botToken": "xoxp-user-token" } })).await;
        assert_eq!((code(&bad), &bad["errors"][0]["extensions"]["field"]), ("BAD_USER_INPUT", &json!("bot token")), "{bad}");
        let saved = gql(&app, Some(&token), set, json!({ "i": { "botToken": "xoxb-1-2-abc", "signingSecret": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "channel": "#status" } })).await;
        assert_eq!(saved["data"]["setSlackSettings"], json!({ "botTokenSet": true, "signingSecretSet": true, "channel": "status", "botTokenFromEnvironment": false }), "{saved}");
        let slack = app.services.settings.slack().await.unwrap();
        assert_eq!(slack.bot_token.unwrap().expose(), "xoxb-1-2-abc");

        let notifications = gql(&app, Some(&token), "{ notificationSettings { allowSubscriptions replyTo notifyMaintenance } }", json!({})).await;
        assert_eq!(notifications["data"]["notificationSettings"], json!({ "allowSubscriptions": false, "replyTo": null, "notifyMaintenance": false }));
        app.stop().await;
    }

    async fn the_logo_is_uploaded_checked_and_served_from_memory(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let token = login(&app).await;
        let refused = upload(&app, None, "logo.png", PNG).await;
        assert_eq!(refused.status(), 400, "uploads need a session");
        let html: Value = upload(&app, Some(&token), "logo.png", b"<html><script>alert(1)</script></html>").await.json().await.unwrap();
        assert_eq!((code(&html), &html["errors"][0]["extensions"]["field"]), ("BAD_USER_INPUT", &json!("logo")), "{html}");
        let huge: Value = upload(&app, Some(&token), "logo.png", &[PNG, &vec![0u8; 520 * 1024]].concat()).await.json().await.unwrap();
        assert!(huge["errors"][0]["message"].as_str().unwrap().contains("at most 512 KiB"), "{huge}");

        let uploaded: Value = upload(&app, Some(&token), "logo.png", PNG).await.json().await.unwrap();
        let url = uploaded["data"]["uploadLogo"].as_str().unwrap_or_else(|| panic!("{uploaded}")).to_owned();
        assert!(url.starts_with("/logo?v="), "{url}");
        let mut public = Value::Null;
        for _ in 0..100 {
            public = gql(&app, None, "{ status { site { logoUrl } } }", json!({})).await["data"]["status"]["site"]["logoUrl"].clone();
            if public == json!(url) { break; }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(public, json!(url));
        let served = app.client.get(app.url(&url)).send().await.unwrap();
        assert_eq!(served.headers()["content-type"], "image/png");
        assert!(served.headers()["cache-control"].to_str().unwrap().contains("immutable"));
        assert!(served.headers()["content-security-policy"].to_str().unwrap().contains("sandbox"));
        assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);

        let removed = gql(&app, Some(&token), "mutation { removeLogo }", json!({})).await;
        assert_eq!(removed["data"]["removeLogo"], true);
        for _ in 0..100 {
            if app.client.get(app.url("/logo")).send().await.unwrap().status() == 404 { break; }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(app.client.get(app.url("/logo")).send().await.unwrap().status(), 404);
        app.stop().await;
    }

    async fn retrying_a_dead_job_is_audited_with_who_retried_it(db: TestDb) {
        // A kind no worker knows, so the retried job waits instead of running.
        db.expect_queued("test.never");
        let app = TestApp::start(db.app_config(&[])).await;
        let token = login(&app).await;
        let now = chrono::Utc::now();
        let dead = job::ActiveModel {
            kind: Set("test.never".into()), payload: Set("{}".into()), status: Set("dead".parse().unwrap()),
            attempts: Set(25), max_attempts: Set(25), run_at: Set(now), last_error: Set(Some("gave up".into())),
            created_at: Set(now), updated_at: Set(now), ..Default::default()
        }.insert(&db.conn).await.unwrap();
        let retry = "mutation($id: Int!) { retryJob(id: $id) }";
        let audit = "{ auditLog(first: 50) { actorKind actorName incidentId message } }";

        let retried = gql(&app, Some(&token), retry, json!({ "id": dead.id })).await;
        assert_eq!(retried["data"]["retryJob"], true, "{retried}");
        let entries = gql(&app, Some(&token), audit, json!({})).await["data"]["auditLog"].clone();
        let message = format!("Retried the dead job {} (test.never)", dead.id);
        let recorded: Vec<&Value> = entries.as_array().unwrap().iter().filter(|e| e["message"] == json!(message)).collect();
        assert_eq!(recorded, [&json!({ "actorKind": "user", "actorName": "alice", "incidentId": null, "message": message })], "{entries}");

        // No longer dead: nothing changes, so nothing is recorded.
        let again = gql(&app, Some(&token), retry, json!({ "id": dead.id })).await;
        assert_eq!(again["data"]["retryJob"], false, "{again}");
        let after = gql(&app, Some(&token), audit, json!({})).await["data"]["auditLog"].clone();
        assert_eq!(after, entries, "a retry that changed nothing left an entry");
        app.stop().await;
    }
}

/// Every console field refuses callers without a session, and no mutation slips
/// through untested: the list below must cover every mutation that is not public.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_field_needs_a_session() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(db.app_config(&[])).await;
    let public_mutations = [
        "subscribe",
        "confirmSubscription",
        "unsubscribe",
        "login",
        "loginTotp",
        "loginWebauthn",
        "refresh",
        "logout",
    ];
    let console = [
        (
            "createIncident",
            "mutation { createIncident(input: { title: \"x\", status: CONFIRMED, severity: BUG }) { id } }",
        ),
        (
            "updateIncident",
            "mutation { updateIncident(id: 1, input: { text: \"x\" }) { id } }",
        ),
        (
            "confirmIncident",
            "mutation { confirmIncident(id: 1) { id } }",
        ),
        ("dismissIncident", "mutation { dismissIncident(id: 1) }"),
        (
            "resolveIncident",
            "mutation { resolveIncident(id: 1) { id } }",
        ),
        (
            "reopenIncident",
            "mutation { reopenIncident(id: 1) { id } }",
        ),
        (
            "startMaintenance",
            "mutation { startMaintenance(id: 1) { id } }",
        ),
        (
            "rotateAlertSourceSecret",
            "mutation { rotateAlertSourceSecret(source: OPSGENIE) { webhookUrl } }",
        ),
        (
            "updateSiteSettings",
            "mutation { updateSiteSettings(input: { systemName: \"x\" }) }",
        ),
        (
            "updateNotificationSettings",
            "mutation { updateNotificationSettings(input: { allowSubscriptions: true }) }",
        ),
        (
            "setSubscriptionsOpen",
            "mutation { setSubscriptionsOpen(open: true) }",
        ),
        (
            "addSubscriber",
            "mutation { addSubscriber(email: \"a@example.com\") { id } }",
        ),
        ("removeSubscriber", "mutation { removeSubscriber(id: 1) }"),
        (
            "importSubscribers",
            "mutation { importSubscribers(csv: \"a@example.com\") { added } }",
        ),
        (
            "createUser",
            "mutation { createUser(username: \"bob\", password: \"a long password\") { id } }",
        ),
        (
            "setUserActive",
            "mutation { setUserActive(id: 1, active: false) { id } }",
        ),
        (
            "resetPassword",
            "mutation { resetPassword(id: 1, password: \"a long password\") }",
        ),
        ("retryJob", "mutation { retryJob(id: 1) }"),
        (
            "editIncident",
            "mutation { editIncident(id: 1, input: { title: \"x\" }) { id } }",
        ),
        (
            "editIncidentUpdate",
            "mutation { editIncidentUpdate(id: 1, message: \"x\") { id } }",
        ),
        (
            "deleteIncidentUpdate",
            "mutation { deleteIncidentUpdate(id: 1) }",
        ),
        ("deleteIncident", "mutation { deleteIncident(id: 1) }"),
        (
            "setSlackSettings",
            "mutation { setSlackSettings(input: { channel: \"x\" }) { channel } }",
        ),
        ("testSlack", "mutation { testSlack { ok } }"),
        (
            "beginTotpEnrolment",
            "mutation { beginTotpEnrolment { factorId } }",
        ),
        (
            "confirmTotpEnrolment",
            "mutation { confirmTotpEnrolment(factorId: 1, code: \"123456\") { id } }",
        ),
        (
            "beginWebauthnRegistration",
            "mutation { beginWebauthnRegistration { registrationId } }",
        ),
        (
            "finishWebauthnRegistration",
            "mutation { finishWebauthnRegistration(registrationId: 1, credential: \"{}\") { id } }",
        ),
        (
            "removeSecondFactor",
            "mutation { removeSecondFactor(id: 1) }",
        ),
        (
            "resetSecondFactors",
            "mutation { resetSecondFactors(userId: 1) }",
        ),
        ("secondFactors", "{ secondFactors { id } }"),
        (
            "reauthenticate",
            "mutation { reauthenticate(password: \"x\") { accessToken } }",
        ),
        ("removeLogo", "mutation { removeLogo }"),
        ("me", "{ me { id } }"),
        ("alertSources", "{ alertSources { webhookUrl } }"),
        ("auditLog", "{ auditLog { message } }"),
        ("subscribers", "{ subscribers { email } }"),
        ("subscriberCounts", "{ subscriberCounts { active } }"),
        ("exportSubscribers", "{ exportSubscribers }"),
        (
            "notificationProgress",
            "{ notificationProgress(incidentId: 1, status: CONFIRMED) { total } }",
        ),
        ("users", "{ users { id } }"),
        ("jobCounts", "{ jobCounts { count } }"),
        ("consoleIncidents", "{ consoleIncidents { total } }"),
        ("consoleIncident", "{ consoleIncident(id: 1) { id } }"),
        ("jobs", "{ jobs(state: DEAD) { id } }"),
        (
            "notificationSettings",
            "{ notificationSettings { replyTo } }",
        ),
        ("slackSettings", "{ slackSettings { channel } }"),
    ];
    for (name, query) in console {
        let answer = gql(&app, None, query, json!({})).await;
        assert_eq!(code(&answer), "UNAUTHENTICATED", "{name}: {answer}");
        assert!(
            answer["data"].is_null() || answer["data"][name].is_null(),
            "{name}: {answer}"
        );
    }
    // uploadLogo takes a file; its refusal without a session is in the logo test.
    let tested: Vec<&str> = console
        .iter()
        .map(|(name, _)| *name)
        .chain(["uploadLogo"])
        .collect();
    let schema = gql(
        &app,
        None,
        "{ __schema { mutationType { fields { name } } } }",
        json!({}),
    )
    .await;
    for field in schema["data"]["__schema"]["mutationType"]["fields"]
        .as_array()
        .unwrap()
    {
        let name = field["name"].as_str().unwrap();
        assert!(
            public_mutations.contains(&name) || tested.contains(&name),
            "mutation {name} is neither public nor tested here"
        );
    }
    app.stop().await;
}
