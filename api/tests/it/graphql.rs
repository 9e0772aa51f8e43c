//! The GraphQL API over real HTTP and WebSocket.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use monostat::domain::{Actor, IncidentStatus, Severity};
use monostat::services::NewIncident;
use monostat::services::StepUp;
use monostat::store::admin_user;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::alerts::report;
use crate::common::{TestApp, TestDb, both_databases};

pub(crate) const PASSWORD: &str = "correct horse battery";

pub(crate) async fn gql(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

pub(crate) fn code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<no error>")
}

pub(crate) async fn login(app: &TestApp) -> String {
    app.services
        .users
        .create("alice", PASSWORD, &Actor::System, &StepUp::command_line())
        .await
        .ok();
    let response = gql(
        app,
        None,
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken user { username } } }",
        json!({ "u": "alice", "p": PASSWORD }),
    )
    .await;
    response["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn planned(title: &str) -> NewIncident {
    NewIncident {
        title: title.into(),
        status: IncidentStatus::Planned,
        severity: Severity::Maintenance,
        start: Some(chrono::Utc::now() + chrono::TimeDelta::days(2)),
        text: None,
        summary: None,
        silent: false,
        auto_start: false,
        do_not_notify: false,
    }
}

#[test]
fn schema_graphql_is_current() {
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql")).unwrap();
    assert!(
        checked_in == monostat::graphql::sdl(),
        "schema.graphql is out of date: run `cargo run -p monostat -- export-schema > schema.graphql`"
    );
}

both_databases! {
    async fn public_queries_show_everything_but_dismissed_incidents(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let incidents = &app.services.incidents;
        let dismissed = incidents.alert_opened(report("a1", "flap")).await.unwrap().incident_id;
        incidents.dismiss(dismissed, &Actor::System).await.unwrap();
        let suspected = incidents.alert_opened(report("a2", "db down")).await.unwrap().incident_id;
        let maintenance = incidents.create(&Actor::System, planned("Database upgrade")).await.unwrap();

        // The status is served from the in-memory snapshot, which follows changes
        // within moments of their events.
        let mut status = Value::Null;
        for _ in 0..50 {
            status = gql(&app, None, "{ status { headline site { systemName subscriptionsOpen theme { primary } }
                current { id status severity title path updates { message newStatus } } recent { id } planned { id title } } }", json!({})).await;
            if status["data"]["status"]["planned"].as_array().is_some_and(|p| !p.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let status = &status["data"]["status"];
        assert_eq!(status["headline"], "MIGHT_HAVE_ISSUES");
        assert_eq!(status["site"]["systemName"], "Our product");
        assert_eq!(status["site"]["subscriptionsOpen"], false);
        assert_eq!(status["current"].as_array().unwrap().len(), 1);
        assert_eq!(status["current"][0]["id"], suspected.0);
        assert_eq!(status["current"][0]["status"], "SUSPECTED");
        assert_eq!(status["current"][0]["updates"][0]["newStatus"], "SUSPECTED");
        assert!(status["current"][0]["path"].as_str().unwrap().ends_with(&format!("/{}", suspected.0)));
        assert_eq!(status["planned"][0]["title"], "Database upgrade");

        let hidden = gql(&app, None, "query($id: Int!) { incident(id: $id) { id } }", json!({ "id": dismissed.0 })).await;
        assert_eq!(hidden["data"]["incident"], Value::Null);
        let shown = gql(&app, None, "query($id: Int!) { incident(id: $id) { title } }", json!({ "id": maintenance.id.0 })).await;
        assert_eq!(shown["data"]["incident"]["title"], "Database upgrade");

        let page = gql(&app, None, "{ incidents(first: 1) { items { id } nextCursor } }", json!({})).await;
        assert_eq!(page["data"]["incidents"]["items"][0]["id"], maintenance.id.0);
        let cursor = page["data"]["incidents"]["nextCursor"].as_str().unwrap().to_owned();
        let next = gql(&app, None, "query($c: String) { incidents(first: 5, after: $c) { items { id } nextCursor } }", json!({ "c": cursor })).await;
        let ids: Vec<&Value> = next["data"]["incidents"]["items"].as_array().unwrap().iter().map(|i| &i["id"]).collect();
        assert_eq!(ids, vec![&json!(suspected.0)], "dismissed incidents are not listed");
        assert_eq!(next["data"]["incidents"]["nextCursor"], Value::Null);
        let filtered = gql(&app, None, "{ incidents(filter: { statuses: [PLANNED] }) { items { id } } }", json!({})).await;
        assert_eq!(filtered["data"]["incidents"]["items"].as_array().unwrap().len(), 1);

        let history = gql(&app, None, "{ history { date worstSeverity } }", json!({})).await;
        let days = history["data"]["history"].as_array().unwrap();
        assert!(days.len() >= 334 && days.len() <= 366, "{}", days.len());
        assert_eq!(days.last().unwrap()["worstSeverity"], "OUTAGE", "today had a suspected outage");
        assert_eq!(days[0]["worstSeverity"], Value::Null);
        let today = days.last().unwrap()["date"].as_str().unwrap().to_owned();
        let day = gql(&app, None, "query($d: String!) { day(date: $d) { id } }", json!({ "d": today })).await;
        assert_eq!(day["data"]["day"].as_array().unwrap().len(), 1, "only the suspected one: dismissed and planned are not on the day");
        app.stop().await;
    }

    async fn console_mutations_need_a_valid_token(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let create = "mutation { createIncident(input: { title: \"Slow search\", status: CONFIRMED, severity: BUG }) { id status } }";
        assert_eq!(code(&gql(&app, None, create, json!({})).await), "UNAUTHENTICATED");
        assert_eq!(code(&gql(&app, Some("not-a-token"), create, json!({})).await), "UNAUTHENTICATED");

        let token = login(&app).await;
        let created = gql(&app, Some(&token), create, json!({})).await;
        assert_eq!(created["data"]["createIncident"]["status"], "CONFIRMED", "{created}");
        let id = created["data"]["createIncident"]["id"].as_i64().unwrap();
        let resolved = gql(&app, Some(&token), "mutation($id: Int!) { resolveIncident(id: $id, text: \"Fixed.\") { status end } }", json!({ "id": id })).await;
        assert_eq!(resolved["data"]["resolveIncident"]["status"], "RESOLVED");
        let refused = gql(&app, Some(&token), "mutation($id: Int!) { confirmIncident(id: $id) { id } }", json!({ "id": id })).await;
        assert_eq!(code(&refused), "CONFLICT");
        assert!(refused["errors"][0]["message"].as_str().unwrap().contains("allowed only when it is suspected"));
        let missing = gql(&app, Some(&token), "mutation { reopenIncident(id: 4242) { id } }", json!({})).await;
        assert_eq!(code(&missing), "NOT_FOUND");
        let invalid = gql(&app, Some(&token), "mutation { createIncident(input: { title: \" \", status: CONFIRMED, severity: BUG }) { id } }", json!({})).await;
        assert_eq!(code(&invalid), "BAD_USER_INPUT");
        assert_eq!(invalid["errors"][0]["extensions"]["field"], "title");

        let sources = gql(&app, Some(&token), "{ alertSources { source webhookUrl setByEnvironment } }", json!({})).await;
        let opsgenie = sources["data"]["alertSources"].as_array().unwrap().iter().find(|s| s["source"] == "OPSGENIE").unwrap().clone();
        assert!(opsgenie["webhookUrl"].as_str().unwrap().contains("/integrations/opsgenie/hook/"));
        let rotated = gql(&app, Some(&token), "mutation { rotateAlertSourceSecret(source: OPSGENIE) { webhookUrl } }", json!({})).await;
        assert_ne!(rotated["data"]["rotateAlertSourceSecret"]["webhookUrl"], opsgenie["webhookUrl"]);
        let audit = gql(&app, Some(&token), "{ auditLog(first: 50) { actorName message } }", json!({})).await;
        assert!(audit["data"]["auditLog"].as_array().unwrap().iter().any(|e| e["message"] == "Rotated the opsgenie webhook secret" && e["actorName"] == "alice"));
        let jobs = gql(&app, Some(&token), "{ jobCounts { state count } }", json!({})).await;
        assert_eq!(jobs["data"]["jobCounts"].as_array().unwrap().len(), 4);
        app.stop().await;
    }

    async fn console_settings_subscribers_and_notification_progress(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let token = login(&app).await;
        let bad = gql(&app, Some(&token), "mutation { updateSiteSettings(input: { systemName: \"Acme\", theme: { primary: \"blue\" } }) }", json!({})).await;
        assert_eq!(code(&bad), "BAD_USER_INPUT", "{bad}");
        assert_eq!(bad["errors"][0]["extensions"]["field"], "primary colour");
        let zone = gql(&app, Some(&token), "mutation { updateSiteSettings(input: { timeZone: \"Mars/Olympus\" }) }", json!({})).await;
        assert_eq!(zone["errors"][0]["extensions"]["field"], "time zone", "{zone}");
        let saved = gql(&app, Some(&token), "mutation { updateSiteSettings(input: { systemName: \"Acme\", timeZone: \"Europe/Berlin\", theme: { primary: \"#1F2937\" } }) }", json!({})).await;
        assert_eq!(saved["data"]["updateSiteSettings"], true, "{saved}");
        let reply_to = gql(&app, Some(&token), "mutation { updateNotificationSettings(input: { allowSubscriptions: true, replyTo: \"nobody\" }) }", json!({})).await;
        assert_eq!(reply_to["errors"][0]["extensions"]["field"], "reply-to", "{reply_to}");
        let opened = gql(&app, Some(&token), "mutation { updateNotificationSettings(input: { allowSubscriptions: true, replyTo: \"help@acme.example\" }) }", json!({})).await;
        assert_eq!(opened["data"]["updateNotificationSettings"], true, "{opened}");
        // The public side follows from its snapshot, rebuilt after the change.
        let mut site = Value::Null;
        for _ in 0..100 {
            site = gql(&app, None, "{ status { site { systemName timeZone subscriptionsOpen theme { primary } } } }", json!({})).await["data"]["status"]["site"].clone();
            if site["systemName"] == "Acme" && site["subscriptionsOpen"] == true {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(site, json!({ "systemName": "Acme", "timeZone": "Europe/Berlin", "subscriptionsOpen": true, "theme": { "primary": "#1f2937" } }));

        let added = gql(&app, Some(&token), "mutation { addSubscriber(email: \"Ann@Example.com\", consented: true) { email active } }", json!({})).await;
        assert_eq!(added["data"]["addSubscriber"], json!({ "email": "ann@example.com", "active": true }), "{added}");
        let created = gql(&app, Some(&token), "mutation { createIncident(input: { title: \"Checkout fails\", status: CONFIRMED, severity: OUTAGE }) { id } }", json!({})).await;
        let id = created["data"]["createIncident"]["id"].as_i64().unwrap();
        // No SMTP host: the worker writes the mail as an .eml file and marks it sent.
        let mut progress = Value::Null;
        for _ in 0..200 {
            progress = gql(&app, Some(&token), "query($id: Int!) { notificationProgress(incidentId: $id, status: CONFIRMED) { total sent failed pending } }", json!({ "id": id })).await["data"]["notificationProgress"].clone();
            if progress["sent"] == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(progress, json!({ "total": 1, "sent": 1, "failed": 0, "pending": 0 }));
        let anonymous = gql(&app, None, "query($id: Int!) { notificationProgress(incidentId: $id, status: CONFIRMED) { total } }", json!({ "id": id })).await;
        assert_eq!(code(&anonymous), "UNAUTHENTICATED");
        app.stop().await;
    }

    async fn forged_expired_and_revoked_tokens_are_refused(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let token = login(&app).await;
        let me = "{ me { username } }";
        assert_eq!(gql(&app, Some(&token), me, json!({})).await["data"]["me"]["username"], "alice");

        let key = std::fs::read_to_string(db.dir.path().join("secret.key")).unwrap();
        let now = chrono::Utc::now().timestamp();
        let user_id = app.services.auth.authenticate(&token).await.unwrap().id.to_string();
        let sign = |alg: Algorithm, secret: &str, exp: i64, ver: i32| {
            jsonwebtoken::encode(
                &Header::new(alg),
                &json!({ "sub": user_id, "ver": ver, "iat": now, "exp": exp }),
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap()
        };
        assert_eq!(gql(&app, Some(&sign(Algorithm::HS256, key.trim(), now + 600, 0)), me, json!({})).await["data"]["me"]["username"], "alice", "a token made with the real key works");
        let expired = sign(Algorithm::HS256, key.trim(), now - 600, 0);
        let wrong_key = sign(Algorithm::HS256, "not the key at all, not at all", now + 600, 0);
        let wrong_algorithm = sign(Algorithm::HS512, key.trim(), now + 600, 0);
        let mut tampered = token.clone();
        tampered.insert(tampered.len() - 3, 'x');
        for bad in [expired, wrong_key, wrong_algorithm, tampered] {
            assert_eq!(code(&gql(&app, Some(&bad), me, json!({})).await), "UNAUTHENTICATED");
        }

        // Bumping the token version (password change, deactivation) revokes the token.
        admin_user::ActiveModel { id: Set(user_id.parse().unwrap()), token_version: Set(1), ..Default::default() }
            .update(&db.conn)
            .await
            .unwrap();
        assert_eq!(code(&gql(&app, Some(&token), me, json!({})).await), "UNAUTHENTICATED");
        assert_eq!(admin_user::Entity::find().all(&db.conn).await.unwrap().len(), 1);
        app.stop().await;
    }

    async fn refresh_cookies_rotate_and_logout_ends_them(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        app.services.users.create("alice", PASSWORD, &Actor::System, &StepUp::command_line()).await.unwrap();
        let response = app.client.post(app.url("/graphql"))
            .json(&json!({ "query": "mutation { login(username: \"alice\", password: \"correct horse battery\") { accessToken } }" }))
            .send().await.unwrap();
        let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Strict"), "{cookie}");
        let first = cookie.split(';').next().unwrap().to_owned();

        let refresh = |cookie: String| {
            let app = &app;
            async move {
                let response = app.client.post(app.url("/graphql"))
                    .header("cookie", cookie)
                    .json(&json!({ "query": "mutation { refresh { accessToken } }" }))
                    .send().await.unwrap();
                let next = response.headers().get("set-cookie").map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
                (response.json::<Value>().await.unwrap(), next)
            }
        };
        let (refreshed, second) = refresh(first.clone()).await;
        assert!(refreshed["data"]["refresh"]["accessToken"].is_string(), "{refreshed}");
        let (reused, _) = refresh(first).await;
        assert_eq!(code(&reused), "UNAUTHENTICATED", "a refresh token works once");

        let second = second.unwrap();
        let logout = app.client.post(app.url("/graphql")).header("cookie", second.clone())
            .json(&json!({ "query": "mutation { logout }" })).send().await.unwrap();
        assert!(logout.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
        let (after_logout, _) = refresh(second).await;
        assert_eq!(code(&after_logout), "UNAUTHENTICATED");
        app.stop().await;
    }
}

both_databases! {
    async fn failed_logins_are_limited_and_uniform(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        app.services
            .users
            .create("alice", PASSWORD, &Actor::System, &StepUp::command_line())
            .await
            .unwrap();
        let attempt = |user: &'static str, password: &'static str| {
            let app = &app;
            async move {
                gql(app, None, "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }", json!({ "u": user, "p": password })).await
            }
        };
        let unknown = attempt("mallory", "whatever it is").await;
        let wrong = attempt("alice", "wrong password!").await;
        assert_eq!(
            unknown["errors"][0]["message"],
            wrong["errors"][0]["message"]
        );
        assert_eq!(code(&wrong), "UNAUTHENTICATED");
        for _ in 0..4 {
            attempt("alice", "wrong password!").await;
        }
        let limited = attempt("alice", PASSWORD).await;
        assert_eq!(code(&limited), "TOO_MANY_REQUESTS");
        assert!(
            limited["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("too many failed logins; try again in")
        );
        app.stop().await;
    }
}

both_databases! {
    async fn bad_requests_get_coded_errors_never_500(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let bad_enum = gql(
            &app,
            None,
            "{ incidents(filter: { statuses: [EXPLODED] }) { items { id } } }",
            json!({}),
        )
        .await;
        assert_eq!(code(&bad_enum), "BAD_USER_INPUT");
        let wrong_type = gql(
            &app,
            None,
            "query($id: Int!) { incident(id: $id) { id } }",
            json!({ "id": "seven" }),
        )
        .await;
        assert_eq!(code(&wrong_type), "BAD_USER_INPUT");
        let unknown_field = gql(&app, None, "{ status { nonsense } }", json!({})).await;
        assert_eq!(code(&unknown_field), "BAD_USER_INPUT");
        let bad_page = gql(
            &app,
            None,
            "{ incidents(first: 1000) { items { id } } }",
            json!({}),
        )
        .await;
        assert_eq!(code(&bad_page), "BAD_USER_INPUT");
        let bad_cursor = gql(
            &app,
            None,
            "{ incidents(after: \"zzz\") { items { id } } }",
            json!({}),
        )
        .await;
        assert_eq!(code(&bad_cursor), "BAD_USER_INPUT");
        let bad_date = gql(&app, None, "{ day(date: \"yesterday\") { id } }", json!({})).await;
        assert_eq!(
            bad_date["errors"][0]["message"],
            "date must look like 2026-11-25"
        );
        assert!(
            gql(
                &app,
                None,
                "{ status { site { theme { primary } } } }",
                json!({})
            )
            .await["errors"]
                .is_null()
        );
        let aliases = (0..600).map(|n| format!("a{n}: status {{ headline }}")).collect::<Vec<_>>().join(" ");
        let too_complex = gql(&app, None, &format!("{{ {aliases} }}"), json!({})).await;
        assert_eq!(code(&too_complex), "BAD_USER_INPUT", "{too_complex}");
        assert!(too_complex["errors"][0]["message"].as_str().unwrap().contains("complex"), "{too_complex}");
        let too_deep = "query { __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } }";
        assert_eq!(
            code(&gql(&app, None, too_deep, json!({})).await),
            "BAD_USER_INPUT"
        );

        let malformed = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(malformed.status(), 400);
        assert_eq!(code(&malformed.json().await.unwrap()), "BAD_USER_INPUT");
        let huge =
            json!({ "query": "{ status { headline } }", "variables": { "x": "a".repeat(100 * 1024) } });
        let oversized = app
            .client
            .post(app.url("/graphql"))
            .json(&huge)
            .send()
            .await
            .unwrap();
        assert_eq!(oversized.status(), 413);

        let get = app
            .client
            .get(app.url("/graphql?query=%7Bstatus%7Bheadline%7D%7D"))
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), 200);
        assert_eq!(get.headers()["cache-control"], "public, max-age=5, stale-while-revalidate=30, stale-if-error=86400");
        assert_eq!(get.headers()["access-control-allow-origin"], "*");
        assert_eq!(
            get.json::<Value>().await.unwrap()["data"]["status"]["headline"],
            "OPERATIONAL"
        );
        let get_mutation = app
            .client
            .get(app.url("/graphql?query=mutation%7Blogout%7D"))
            .send()
            .await
            .unwrap();
        assert_eq!(get_mutation.status(), 405);

        // Persisted queries: registered once over POST, then fetched by hash over GET.
        let status_query = "{ status { headline } }";
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(status_query));
        let persisted = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
        let unknown = app.client.get(app.url("/graphql")).query(&[("extensions", persisted.to_string())]).send().await.unwrap();
        assert_eq!(unknown.json::<Value>().await.unwrap()["errors"][0]["message"], "PersistedQueryNotFound");
        app.client.post(app.url("/graphql")).json(&json!({ "query": status_query, "extensions": persisted })).send().await.unwrap();
        let by_hash = app.client.get(app.url("/graphql")).query(&[("extensions", persisted.to_string())]).send().await.unwrap();
        assert_eq!(by_hash.json::<Value>().await.unwrap()["data"]["status"]["headline"], "OPERATIONAL");
        // A mutation registered over POST stays POST-only, even by hash.
        let logout = "mutation { logout }";
        let mutation_hash = json!({ "persistedQuery": { "version": 1, "sha256Hash": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(logout)) } });
        app.client.post(app.url("/graphql")).json(&json!({ "query": logout, "extensions": mutation_hash })).send().await.unwrap();
        let sneaky = app.client.get(app.url("/graphql")).query(&[("extensions", mutation_hash.to_string())]).send().await.unwrap();
        let sneaky: Value = sneaky.json().await.unwrap();
        assert_eq!(sneaky["errors"][0]["message"], "mutations need POST", "{sneaky}");
        let graphiql = app
            .client
            .get(app.url("/graphql"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert!(graphiql.text().await.unwrap().contains("graphiql"));
        app.stop().await;
    }
}

/// Opens a `graphql-transport-ws` subscription and returns a function yielding payloads.
pub(crate) async fn subscribe(
    app: &TestApp,
    query: &str,
    init: Value,
) -> tokio::sync::mpsc::Receiver<Value> {
    subscribe_with(app, "graphql-transport-ws", query, init).await
}

/// The same over `protocol`: `graphql-transport-ws`, or the legacy `graphql-ws` that
/// older clients (subscriptions-transport-ws) speak.
async fn subscribe_with(
    app: &TestApp,
    protocol: &str,
    query: &str,
    init: Value,
) -> tokio::sync::mpsc::Receiver<Value> {
    let legacy = protocol == "graphql-ws";
    let mut request = app
        .url("/graphql")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket
        .send(Message::text(
            json!({ "type": "connection_init", "payload": init }).to_string(),
        ))
        .await
        .unwrap();
    socket
        .send(Message::text(
            json!({ "id": "1", "type": if legacy { "start" } else { "subscribe" }, "payload": { "query": query } }).to_string(),
        ))
        .await
        .unwrap();
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(&text).unwrap();
                if (value["type"] == "next" || value["type"] == "data" || value["type"] == "error")
                    && sender.send(value["payload"].clone()).await.is_err()
                {
                    break;
                }
            }
        }
    });
    receiver
}

pub(crate) async fn next(receiver: &mut tokio::sync::mpsc::Receiver<Value>) -> Value {
    // Shorter than the resync of the two-replica test: only an event can be in time.
    tokio::time::timeout(Duration::from_secs(2), receiver.recv())
        .await
        .expect("no subscription message within 2 s")
        .unwrap()
}

/// A page open on replica B shows an alert that reached replica A, through Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn subscriptions_hear_changes_made_on_another_replica() {
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
    let mut status = subscribe(
        &replica_b,
        "subscription { statusChanged { headline current { title } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        next(&mut status).await["data"]["statusChanged"]["headline"],
        "OPERATIONAL"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    replica_a
        .services
        .incidents
        .alert_opened(report("a1", "checkout down"))
        .await
        .unwrap();
    let changed = next(&mut status).await;
    assert_eq!(
        changed["data"]["statusChanged"]["headline"],
        "MIGHT_HAVE_ISSUES"
    );

    // Console events need a token in the connection's init payload.
    let mut anonymous = subscribe(
        &replica_b,
        "subscription { events { kind incidentId } }",
        json!({}),
    )
    .await;
    let refused = next(&mut anonymous).await;
    let errors = if refused.is_array() {
        &refused
    } else {
        &refused["errors"]
    };
    assert_eq!(
        errors[0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );
    let token = login(&replica_b).await;
    let mut events = subscribe(
        &replica_b,
        "subscription { events { kind incidentId } }",
        json!({ "token": token }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = replica_a
        .services
        .incidents
        .alert_opened(report("a2", "search down"))
        .await
        .unwrap()
        .incident_id;
    let event = next(&mut events).await;
    assert_eq!(
        event["data"]["events"],
        json!({ "kind": "incident_changed", "incidentId": id.0 })
    );
    replica_a.stop().await;
    replica_b.stop().await;
}

both_databases! {
    async fn visitors_subscribe_confirm_and_unsubscribe(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let subscribe = "mutation($e: String!, $c: Boolean!) { subscribe(email: $e, consent: $c) }";
        let closed = gql(&app, None, subscribe, json!({ "e": "ada@example.com", "c": true })).await;
        assert_eq!(code(&closed), "FORBIDDEN", "subscriptions are closed by default");

        let token = login(&app).await;
        gql(&app, Some(&token), "mutation { setSubscriptionsOpen(open: true) }", json!({})).await;
        assert_eq!(gql(&app, None, subscribe, json!({ "e": "ada@example.com", "c": true })).await["data"]["subscribe"], true);
        // The same answer for a known address: nothing to learn about who is subscribed.
        assert_eq!(gql(&app, None, subscribe, json!({ "e": "ADA@example.com", "c": true })).await["data"]["subscribe"], true);
        let no_consent = gql(&app, None, subscribe, json!({ "e": "bob@example.com", "c": false })).await;
        assert_eq!((code(&no_consent), &no_consent["errors"][0]["extensions"]["field"]), ("BAD_USER_INPUT", &json!("consent")));
        let invalid = gql(&app, None, subscribe, json!({ "e": "not an address", "c": true })).await;
        assert_eq!(invalid["errors"][0]["extensions"]["field"], "email");

        let counts = gql(&app, Some(&token), "{ subscriberCounts { active pending } subscribers { email active } }", json!({})).await;
        assert_eq!(counts["data"]["subscriberCounts"], json!({ "active": 0, "pending": 1 }));
        assert_eq!(counts["data"]["subscribers"][0]["email"], "ada@example.com");
        assert_eq!(code(&gql(&app, None, "{ subscriberCounts { active } }", json!({})).await), "UNAUTHENTICATED");

        let stored = monostat::store::subscriber::Entity::find().all(&db.conn).await.unwrap();
        let confirm = "mutation($t: String!) { confirmSubscription(token: $t) }";
        let unsubscribe = "mutation($t: String!) { unsubscribe(token: $t) }";
        let token_value = json!({ "t": stored[0].token });
        assert_eq!(gql(&app, None, confirm, token_value.clone()).await["data"]["confirmSubscription"], "DONE");
        assert_eq!(gql(&app, None, confirm, token_value.clone()).await["data"]["confirmSubscription"], "ALREADY_DONE");
        assert_eq!(gql(&app, None, unsubscribe, token_value.clone()).await["data"]["unsubscribe"], "DONE");
        assert_eq!(gql(&app, None, unsubscribe, json!({ "t": "made-up" })).await["data"]["unsubscribe"], "UNKNOWN");

        // Five requests per address per ten minutes (refused ones before the limit do
        // not count): the sixth is refused.
        let mut last = Value::Null;
        for n in 0..4 {
            last = gql(&app, None, subscribe, json!({ "e": format!("p{n}@example.com"), "c": true })).await;
        }
        assert_eq!(code(&last), "TOO_MANY_REQUESTS", "{last}");
        app.stop().await;
    }
}

both_databases! {
    async fn deactivation_and_password_resets_end_sessions_at_once(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let alice = login(&app).await;
        let created = gql(
            &app,
            Some(&alice),
            "mutation { createUser(username: \"bob\", password: \"bobs long password\") { id } }",
            json!({}),
        )
        .await;
        let bob_id = created["data"]["createUser"]["id"].as_i64().unwrap();
        let bob_login = |password: &'static str| {
            let app = &app;
            async move {
                gql(
                    app,
                    None,
                    "mutation($p: String!) { login(username: \"bob\", password: $p) { accessToken } }",
                    json!({ "p": password }),
                )
                .await
            }
        };
        let bob = bob_login("bobs long password").await["data"]["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            gql(&app, Some(&bob), "{ me { username } }", json!({})).await["data"]["me"]["username"],
            "bob"
        );

        let deactivated = gql(
            &app,
            Some(&alice),
            "mutation($id: Int!) { setUserActive(id: $id, active: false) { active } }",
            json!({ "id": bob_id }),
        )
        .await;
        assert_eq!(deactivated["data"]["setUserActive"]["active"], false);
        assert_eq!(
            code(&gql(&app, Some(&bob), "{ me { username } }", json!({})).await),
            "UNAUTHENTICATED"
        );
        assert_eq!(
            code(&bob_login("bobs long password").await),
            "UNAUTHENTICATED"
        );

        let alice_id = gql(&app, Some(&alice), "{ me { id } }", json!({})).await["data"]["me"]["id"]
            .as_i64()
            .unwrap();
        let own = gql(
            &app,
            Some(&alice),
            "mutation($id: Int!) { setUserActive(id: $id, active: false) { active } }",
            json!({ "id": alice_id }),
        )
        .await;
        assert_eq!(code(&own), "CONFLICT");

        gql(
            &app,
            Some(&alice),
            "mutation($id: Int!) { setUserActive(id: $id, active: true) { active } }",
            json!({ "id": bob_id }),
        )
        .await;
        let bob = bob_login("bobs long password").await["data"]["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let weak = gql(
            &app,
            Some(&alice),
            "mutation($id: Int!) { resetPassword(id: $id, password: \"short\") }",
            json!({ "id": bob_id }),
        )
        .await;
        assert_eq!(code(&weak), "BAD_USER_INPUT");
        let reset = gql(
            &app,
            Some(&alice),
            "mutation($id: Int!) { resetPassword(id: $id, password: \"a brand new passphrase\") }",
            json!({ "id": bob_id }),
        )
        .await;
        assert_eq!(reset["data"]["resetPassword"], true, "{reset}");
        assert_eq!(
            code(&gql(&app, Some(&bob), "{ me { username } }", json!({})).await),
            "UNAUTHENTICATED"
        );
        assert!(bob_login("a brand new passphrase").await["data"]["login"]["accessToken"].is_string());
        let users = gql(
            &app,
            Some(&alice),
            "{ users { username active } }",
            json!({}),
        )
        .await;
        assert_eq!(
            users["data"]["users"],
            json!([{ "username": "alice", "active": true }, { "username": "bob", "active": true }])
        );
        app.stop().await;
    }
}

both_databases! {
    async fn one_incident_is_followed_live_over_the_legacy_protocol(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let token = login(&app).await;
        let created = gql(&app, Some(&token), "mutation { createIncident(input: { title: \"Slow search\", status: CONFIRMED, severity: BUG }) { id } }", json!({})).await;
        let id = created["data"]["createIncident"]["id"].as_i64().unwrap();
        let query = format!("subscription {{ incidentChanged(id: {id}) {{ status updates {{ message }} }} }}");
        let mut incident = subscribe_with(&app, "graphql-ws", &query, json!({})).await;
        assert_eq!(next(&mut incident).await["data"]["incidentChanged"]["status"], "CONFIRMED");
        tokio::time::sleep(Duration::from_millis(200)).await;
        gql(&app, Some(&token), "mutation($id: Int!) { updateIncident(id: $id, input: { newStatus: WATCHING, text: \"A fix is out.\" }) { id } }", json!({ "id": id })).await;
        let watching = next(&mut incident).await;
        assert_eq!(watching["data"]["incidentChanged"]["status"], "WATCHING", "{watching}");
        assert_eq!(watching["data"]["incidentChanged"]["updates"][0]["message"], "A fix is out.");
        gql(&app, Some(&token), "mutation($id: Int!) { deleteIncident(id: $id) }", json!({ "id": id })).await;
        assert_eq!(next(&mut incident).await["data"]["incidentChanged"], Value::Null, "gone from the public");
        app.stop().await;
    }
}

// A token sent over a WebSocket is not a session: console queries and mutations go over
// HTTP, where every request is checked; the console subscription checks the token when it
// starts and ends when the token does.
both_databases! {
    async fn a_socket_is_not_a_session(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let token = login(&app).await;
        let errors = |payload: &Value| if payload.is_array() { payload.clone() } else { payload["errors"].clone() };
        let mut mutation = subscribe(&app, "mutation { createUser(username: \"mallory\", password: \"a long password here\") { id } }", json!({ "token": token })).await;
        let refused = next(&mut mutation).await;
        assert_eq!(errors(&refused)[0]["extensions"]["code"], "UNAUTHENTICATED", "{refused}");
        let mut forged = subscribe(&app, "subscription { events { kind } }", json!({ "token": "not.a.token" })).await;
        let refused = next(&mut forged).await;
        assert_eq!(errors(&refused)[0]["extensions"]["code"], "UNAUTHENTICATED", "{refused}");
        let users = gql(&app, Some(&token), "{ users { username } }", json!({})).await;
        assert_eq!(users["data"]["users"], json!([{ "username": "alice" }]));
        app.stop().await;
    }
}
