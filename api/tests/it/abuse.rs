//! Hostile traffic, each case sent exactly as issue 16 tried it: the subscribe form
//! used to mail strangers, cross-site posts to GraphQL, guessing passwords to lock the
//! owner out, and a login flood meant to exhaust the CPU. Clients are told apart by
//! `X-Forwarded-For`, which the server believes from its loopback peer (the default
//! trusted proxy); the addresses in it are documentation ranges and never dialled.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};

use monostat::domain::Actor;
use monostat::services::StepUp;
use monostat::store::subscriber;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::common::smtp::SmtpSink;
use crate::common::{TestApp, TestDb, both_databases};
use crate::graphql::{PASSWORD, code, login};

const LOGIN: &str =
    "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }";
const SUBSCRIBE: &str = "mutation($e: String!, $c: Boolean!) { subscribe(email: $e, consent: $c) }";

async fn gql_from(app: &TestApp, client: &str, query: &str, variables: Value) -> Value {
    app.client
        .post(app.url("/graphql"))
        .header("x-forwarded-for", client)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn form_from(app: &TestApp, client: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let response = app
        .client
        .post(app.url("/subscribe"))
        .header("x-forwarded-for", client)
        .form(fields)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn subscribers(db: &TestDb) -> u64 {
    subscriber::Entity::find().count(&db.conn).await.unwrap()
}

both_databases! {
    async fn the_subscribe_form_needs_consent_and_cannot_mail_strangers_in_bulk(db: TestDb) {
        let Some(sink) = SmtpSink::start().await else { return };
        let mut env: Vec<(&str, String)> = sink.env();
        env.push(("MONOSTAT_OPTIN_MAILS_PER_HOUR", "3".into()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let app = TestApp::start(db.app_config(&env)).await;
        let token = login(&app).await;
        app.services.settings.set_allow_subscriptions(true, &Actor::System).await.unwrap();
        let attacker = "198.51.100.7";

        let (status, page) = form_from(&app, attacker, &[("email", "victim@example.com")]).await;
        assert_eq!(status, 422, "{page}");
        assert!(page.contains("please agree to receive notifications"), "{page}");
        assert_eq!(subscribers(&db).await, 0);

        // Twelve posts of victim+N from one address, as tried: three mails (the hourly
        // cap of this site), then "try later", then the address is refused outright.
        let mut answers = Vec::new();
        for n in 0..12 {
            let email = format!("victim+{n}@example.com");
            answers.push(form_from(&app, attacker, &[("email", &email), ("consent", "on")]).await);
        }
        let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
        assert_eq!(statuses, [200, 200, 200, 429, 429, 429, 429, 429, 429, 429, 429, 429]);
        assert!(answers[3].1.contains("many people are subscribing right now; please try again in"), "{}", answers[3].1);
        assert!(answers[5].1.contains("too many requests from your address; try again in 10 minutes"), "{}", answers[5].1);
        assert!(answers[5].1.contains("Please try again later"));

        // The cap holds for everyone, through the API too, and the console says why.
        let other = gql_from(&app, "203.0.113.9", SUBSCRIBE, json!({ "e": "someone@example.com", "c": true })).await;
        assert_eq!(code(&other), "TOO_MANY_REQUESTS", "{other}");
        let counts = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": "{ subscriberCounts { pending optInMailsLastHour optInMailsPerHour } }" }))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(counts["data"]["subscriberCounts"], json!({ "pending": 3, "optInMailsLastHour": 3, "optInMailsPerHour": 3 }));

        let mails = sink.wait_for(3).await;
        let per_recipient: BTreeMap<String, usize> = crate::common::smtp::count_by_recipient(&mails);
        let expected: BTreeMap<String, usize> =
            (0..3).map(|n| (format!("victim+{n}@example.com"), 1)).collect();
        assert_eq!(per_recipient, expected);
        app.stop().await;
    }

    async fn graphql_runs_no_request_a_cross_site_form_can_send(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        app.services.settings.set_allow_subscriptions(true, &Actor::System).await.unwrap();
        let body = json!({ "query": SUBSCRIBE, "variables": { "e": "victim@example.com", "c": true } }).to_string();
        for content_type in ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", ""] {
            let mut request = app.client.post(app.url("/graphql")).body(body.clone());
            if !content_type.is_empty() {
                request = request.header("content-type", content_type);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 415, "{content_type}");
            let answer: Value = response.json().await.unwrap();
            assert!(answer["errors"][0]["message"].as_str().unwrap().contains("Content-Type: application/json"), "{answer}");
        }
        assert_eq!(subscribers(&db).await, 0);
        let json = app.client.post(app.url("/graphql")).header("content-type", "application/json; charset=utf-8").body(body).send().await.unwrap();
        assert_eq!(json.json::<Value>().await.unwrap()["data"]["subscribe"], true);
        assert_eq!(subscribers(&db).await, 1);
        app.stop().await;
    }

    async fn wrong_passwords_from_one_address_never_lock_the_owner_out_elsewhere(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        app.services.users.create("admin", PASSWORD, &Actor::System, &StepUp::command_line()).await.unwrap();
        let attacker = "198.51.100.20";
        let mut codes = Vec::new();
        for _ in 0..8 {
            let answer = gql_from(&app, attacker, LOGIN, json!({ "u": "admin", "p": "not the password" })).await;
            codes.push(code(&answer).to_owned());
        }
        assert_eq!(codes[..5], ["UNAUTHENTICATED"; 5]);
        assert_eq!(codes[5..], ["TOO_MANY_REQUESTS"; 3]);
        let attacker_right = gql_from(&app, attacker, LOGIN, json!({ "u": "admin", "p": PASSWORD })).await;
        assert_eq!(code(&attacker_right), "TOO_MANY_REQUESTS");

        let owner = gql_from(&app, "203.0.113.50", LOGIN, json!({ "u": "admin", "p": PASSWORD })).await;
        assert!(owner["data"]["login"]["accessToken"].is_string(), "{owner}");

        // Absurd input is refused before any work, with a message to act on.
        let long_name = gql_from(&app, "203.0.113.51", LOGIN, json!({ "u": "a".repeat(151), "p": PASSWORD })).await;
        assert_eq!(code(&long_name), "BAD_USER_INPUT");
        assert_eq!(long_name["errors"][0]["message"], "usernames have at most 150 characters");
        let long_password = gql_from(&app, "203.0.113.51", LOGIN, json!({ "u": "admin", "p": "p".repeat(1025) })).await;
        assert_eq!(code(&long_password), "BAD_USER_INPUT");
        assert_eq!(long_password["errors"][0]["message"], "passwords have at most 1024 bytes");
        app.stop().await;
    }

    async fn a_login_flood_gets_busy_answers_instead_of_queueing_password_hashes(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        // Each from its own address and for its own name, so no rate limit answers:
        // only the cap on parallel Argon2 work can.
        let attempts = (0..24).map(|n| {
            let app = &app;
            async move {
                let client = format!("198.51.100.{}", n + 100);
                let user = format!("guess{n}");
                gql_from(app, &client, LOGIN, json!({ "u": user, "p": "some password" })).await
            }
        });
        let answers = futures_util::future::join_all(attempts).await;
        let busy: Vec<&Value> = answers.iter().filter(|a| code(a) == "TOO_MANY_REQUESTS").collect();
        let checked = answers.iter().filter(|a| code(a) == "UNAUTHENTICATED").count();
        assert_eq!(busy.len() + checked, answers.len(), "{answers:?}");
        assert!(!busy.is_empty(), "24 parallel logins all waited for Argon2");
        assert!(checked >= 1);
        assert_eq!(
            busy[0]["errors"][0]["message"],
            "the server is checking many passwords at once; try again in a moment"
        );
        app.stop().await;
    }
}

/// A `graphql-transport-ws` socket on `app`, nothing sent yet.
async fn open_socket(
    app: &TestApp,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut request = app
        .url("/graphql")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// What the server does next on `socket`: its close code, or that it just went away.
async fn ending(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    within: Duration,
) -> Option<u16> {
    let ended = tokio::time::timeout(within, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await;
    ended.expect("the server kept the socket open")
}

#[tokio::test]
async fn sockets_that_never_say_hello_or_send_megabytes_are_closed() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(db.app_config(&[])).await;

    let mut silent = open_socket(&app).await;
    let mut polite = open_socket(&app).await;
    polite
        .send(Message::text(
            json!({ "type": "connection_init" }).to_string(),
        ))
        .await
        .unwrap();
    let mut shouting = open_socket(&app).await;
    shouting
        .send(Message::text(
            json!({ "type": "connection_init" }).to_string(),
        ))
        .await
        .unwrap();
    let huge = format!(
        r#"{{"id":"1","type":"subscribe","payload":{{"query":"{{ status {{ indicator }} }}","variables":{{"x":"{}"}}}}}}"#,
        "x".repeat(4 << 20)
    );
    // The server may close before the whole message is written.
    shouting.send(Message::text(huge)).await.ok();
    let shouted = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match shouting.next().await {
                Some(Ok(Message::Text(text))) if text.contains("\"next\"") => return false,
                Some(Ok(Message::Close(_)) | Err(_)) | None => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(
        shouted,
        Ok(true),
        "a 4 MiB message was answered, or the socket stayed open"
    );

    // The init timeout is 10 s; 15 s is only how long to wait before calling it a failure.
    assert_eq!(
        ending(&mut silent, Duration::from_secs(15)).await,
        Some(4408)
    );
    // A socket that said hello is still served after the deadline.
    polite
        .send(Message::text(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { statusChanged { indicator } }" } }).to_string()))
        .await
        .unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(message)) = polite.next().await {
            if message
                .into_text()
                .is_ok_and(|text| text.contains("\"next\""))
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        answered,
        Ok(true),
        "the socket that said hello was not served"
    );
    app.stop().await;
}

#[tokio::test]
async fn connections_that_never_finish_their_headers_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = TestDb::sqlite().await;
    let app = TestApp::start(db.app_config(&[])).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for n in 0..20 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        // Half of them send half a request line and a header; the others nothing.
        if n % 2 == 0 {
            stream
                .write_all(b"GET /api/v2/status.json HTTP/1.1\r\nHost: status\r\nX-Slow: ")
                .await
                .unwrap();
        }
        held.push(stream);
    }
    // The timeout is 10 s; 20 s is only how long to wait before calling it a failure.
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        for stream in &mut held {
            let mut buffer = [0u8; 1024];
            // A 408 answer or none; then the end of the stream.
            while matches!(stream.read(&mut buffer).await, Ok(read) if read > 0) {}
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "connections with unfinished headers were still open after 20 s"
    );
    let page = app
        .client
        .get(app.url("/api/v2/status.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the server still answers");
    app.stop().await;
}
