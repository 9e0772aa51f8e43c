//! What one replica lets live sockets and connections hold: sockets per replica and
//! per client address, operations per socket, keep-alive pings, HTTP connections. Clients are told apart by
//! `X-Forwarded-For`, which the server believes from its loopback peer; the addresses
//! in it are documentation ranges, never dialled.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::common::{TestApp, TestDb};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A refused upgrade: its status, `Retry-After` and body.
#[derive(Debug)]
struct Refused {
    status: u16,
    retry_after: Option<String>,
    body: String,
}

/// A socket speaking `protocol` from `client` (an `X-Forwarded-For`), nothing sent yet.
async fn socket_from(app: &TestApp, client: &str, protocol: &str) -> Result<Socket, Refused> {
    let mut request = app
        .url("/graphql")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert("sec-websocket-protocol", protocol.parse().unwrap());
    headers.insert("x-forwarded-for", client.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(Refused {
            status: response.status().as_u16(),
            retry_after: response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: String::from_utf8_lossy(&response.body().clone().unwrap_or_default())
                .into_owned(),
        }),
        Err(error) => panic!("cannot open a socket: {error}"),
    }
}

async fn socket(app: &TestApp, client: &str) -> Result<Socket, Refused> {
    socket_from(app, client, "graphql-transport-ws").await
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// The next protocol message, skipping pings; panics on a close or after 5 s.
async fn next_message(socket: &mut Socket) -> Value {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    if message["type"] != "ping" {
                        return message;
                    }
                }
                Some(Ok(Message::Close(frame))) => panic!("closed: {frame:?}"),
                Some(Ok(_)) => {}
                other => panic!("the socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("no message within 5 s")
}

/// A socket that has said hello and been acknowledged.
async fn ready(app: &TestApp, client: &str) -> Socket {
    let mut socket = socket(app, client).await.unwrap();
    send(&mut socket, json!({ "type": "connection_init" })).await;
    assert_eq!(next_message(&mut socket).await["type"], "connection_ack");
    socket
}

/// How the server ended `socket`: its close frame, or `None` when it just went away.
async fn closing(socket: &mut Socket, within: Duration) -> Option<CloseFrame> {
    tokio::time::timeout(within, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("the server kept the socket open")
}

/// Tries `open` for a few seconds: the server notices a closed socket a moment later.
async fn once_freed<T, F, Fut>(mut open: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..50 {
        if let Some(opened) = open().await {
            return opened;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the closed one still counted after 5 s");
}

#[tokio::test]
async fn a_full_replica_refuses_sockets_with_503_until_one_closes() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(db.app_config(&[("MONOSTAT_MAX_SOCKETS", "2")])).await;
    // Two clients, so the address limit is not what refuses.
    let mut first = socket(&app, "198.51.100.1").await.unwrap();
    let _second = socket(&app, "198.51.100.2").await.unwrap();

    let refused = socket(&app, "198.51.100.3").await.unwrap_err();
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.retry_after.as_deref(), Some("30"));
    let body: Value = serde_json::from_str(&refused.body).unwrap();
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("already holds 2 live connections")
            && message.contains("updates itself every 30 seconds"),
        "{message}"
    );

    first.close(None).await.unwrap();
    let mut third = once_freed(|| async { socket(&app, "198.51.100.3").await.ok() }).await;
    send(&mut third, json!({ "type": "connection_init" })).await;
    assert_eq!(next_message(&mut third).await["type"], "connection_ack");
    app.stop().await;
}

#[tokio::test]
async fn one_address_is_held_to_its_sockets_and_another_is_not() {
    let db = TestDb::sqlite().await;
    let config = db.app_config(&[]);
    let per_address = config.sockets_per_address;
    let app = TestApp::start(config).await;
    let crowd = "198.51.100.10";
    let mut open = Vec::new();
    for _ in 0..per_address {
        open.push(socket(&app, crowd).await.unwrap());
    }
    let refused = socket(&app, crowd).await.unwrap_err();
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.retry_after.as_deref(), Some("60"));
    assert!(
        refused.body.contains(&format!(
            "already holds {per_address} live connections, the most one address may"
        )),
        "{}",
        refused.body
    );
    let mut other = ready(&app, "198.51.100.11").await;
    other.close(None).await.ok();
    drop(open);
    app.stop().await;
}

#[tokio::test]
async fn a_socket_that_stops_answering_pings_is_closed_and_one_that_answers_stays() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(db.app_config(&[("MONOSTAT_SOCKET_PING_SECS", "1")])).await;
    let mut deaf = ready(&app, "198.51.100.20").await;
    let mut polite = ready(&app, "198.51.100.21").await;

    let deaf_ends = async {
        // It hears the pings, and answers none.
        let mut pings = 0;
        let frame = tokio::time::timeout(Duration::from_secs(6), async {
            loop {
                match deaf.next().await {
                    Some(Ok(Message::Text(text))) if text.as_str() == r#"{"type":"ping"}"# => {
                        pings += 1;
                    }
                    Some(Ok(Message::Close(frame))) => return frame,
                    Some(Ok(_)) => {}
                    other => panic!("the socket ended without a close: {other:?}"),
                }
            }
        })
        .await
        .expect("a socket that answers no ping was still open after 6 s");
        (pings, frame)
    };
    let polite_stays = async {
        let mut pongs = 0;
        let until = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Ok(message) = tokio::time::timeout_at(until, polite.next()).await {
            match message {
                Some(Ok(Message::Text(text))) if text.as_str() == r#"{"type":"ping"}"# => {
                    polite
                        .send(Message::text(r#"{"type":"pong"}"#))
                        .await
                        .unwrap();
                    pongs += 1;
                }
                Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("the socket that answers pings ended: {other:?}"),
            }
        }
        pongs
    };
    let ((pings_heard, frame), pongs) = tokio::join!(deaf_ends, polite_stays);
    assert!(pings_heard >= 1, "no ping before the close");
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(3008));
    assert!(pongs >= 3, "{pongs} pings in 5 s at one a second");
    // Still served after five intervals.
    send(&mut polite, json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ status { headline } }" } })).await;
    assert_eq!(next_message(&mut polite).await["type"], "next");

    // The legacy protocol has no pong; its clients are sent `ka` and kept.
    let mut legacy = socket_from(&app, "198.51.100.22", "graphql-ws")
        .await
        .unwrap();
    send(&mut legacy, json!({ "type": "connection_init" })).await;
    let mut heard = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(until, legacy.next()).await {
        heard.push(message);
    }
    assert!(heard.iter().all(Message::is_text), "{heard:?}");
    assert!(
        heard
            .iter()
            .filter(|m| m.to_text().unwrap() == r#"{"type":"ka"}"#)
            .count()
            >= 2,
        "{heard:?}"
    );
    app.stop().await;
}

fn subscribe(id: &str) -> Value {
    json!({ "id": id, "type": "subscribe", "payload": { "query": "subscription { statusChanged { headline } }" } })
}

/// Waits for the first `next` of each of `ids`.
async fn running(socket: &mut Socket, ids: &[String]) {
    let mut waiting: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    while !waiting.is_empty() {
        let message = next_message(socket).await;
        assert_eq!(message["type"], "next", "{message}");
        assert!(message["payload"]["errors"].is_null(), "{message}");
        waiting.remove(message["id"].as_str().unwrap());
    }
}

#[tokio::test]
async fn a_socket_runs_at_most_sixteen_operations_and_no_two_under_one_id() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(db.app_config(&[])).await;
    let mut socket = ready(&app, "198.51.100.30").await;
    let ids: Vec<String> = (1..=16).map(|n| n.to_string()).collect();
    for id in &ids {
        send(&mut socket, subscribe(id)).await;
    }
    running(&mut socket, &ids).await;

    // The 17th is refused alone; the sixteen go on.
    send(&mut socket, subscribe("17")).await;
    let refused = next_message(&mut socket).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "17");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "TOO_MANY_REQUESTS"
    );
    assert!(
        refused["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already runs 16 operations"),
        "{refused}"
    );

    // A completed operation frees its place, even when its id is used again at once:
    // the server's answer to the first `complete` must not end the second. Both go in
    // one write, every id in turn, so the answer and the reuse race each time.
    for id in &ids {
        socket
            .feed(Message::text(
                json!({ "id": id, "type": "complete" }).to_string(),
            ))
            .await
            .unwrap();
        socket
            .feed(Message::text(subscribe(id).to_string()))
            .await
            .unwrap();
        socket.flush().await.unwrap();
        let mut saw_next = false;
        while !saw_next {
            let message = next_message(&mut socket).await;
            assert_eq!(&message["id"], id, "{message}");
            saw_next = message["type"] == "next";
        }
    }
    send(&mut socket, subscribe("18")).await;
    let refused = next_message(&mut socket).await;
    assert_eq!(
        (refused["type"].as_str(), refused["id"].as_str()),
        (Some("error"), Some("18")),
        "{refused}"
    );

    // A query ends by itself and frees its place too.
    send(&mut socket, json!({ "id": "2", "type": "complete" })).await;
    send(&mut socket, json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ status { headline } }" } })).await;
    let mut seen = Vec::new();
    while seen
        .last()
        .map(|m: &Value| (m["id"].clone(), m["type"].clone()))
        != Some((json!("q"), json!("complete")))
    {
        seen.push(next_message(&mut socket).await);
    }
    send(&mut socket, subscribe("19")).await;
    running(&mut socket, &["19".to_owned()]).await;

    // An id still running, used again: the protocol says close with 4409.
    send(&mut socket, subscribe("3")).await;
    let frame = closing(&mut socket, Duration::from_secs(5))
        .await
        .expect("a close frame");
    assert_eq!(u16::from(frame.code), 4409);
    assert_eq!(frame.reason.as_str(), "Subscriber for 3 already exists");
    app.stop().await;
}

/// Sends a request on a fresh connection and reads the whole answer.
async fn raw_get(address: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: status\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("no answer within 5 s")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn connections_past_the_cap_are_answered_503_until_one_closes() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(db.app_config(&[("MONOSTAT_MAX_CONNECTIONS", "2")])).await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut held = vec![
        TcpStream::connect(&address).await.unwrap(),
        TcpStream::connect(&address).await.unwrap(),
    ];
    // The listener hands connections over in order: both are counted by now.
    let answer = raw_get(&address, "/healthz").await;
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer}"
    );
    assert!(answer.contains("retry-after: 5\r\n"), "{answer}");
    assert!(answer.contains("try again in a few seconds"), "{answer}");

    held.remove(0);
    let served = once_freed(|| async {
        let answer = raw_get(&address, "/healthz").await;
        answer.starts_with("HTTP/1.1 200").then_some(answer)
    })
    .await;
    assert!(served.contains("200 OK"), "{served}");
    drop(held);
    app.stop().await;
}

/// The page's own subscription, as the frontend sends it.
fn page_subscription() -> String {
    let generated = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../web/src/graphql/generated.ts"
    ))
    .unwrap();
    let start = "StatusChangedSubscriptionDocument = ";
    let from = generated.find(start).unwrap() + start.len();
    let literal = &generated[from..from + generated[from..].find(" as Document").unwrap()];
    serde_json::from_str(literal).unwrap()
}

#[test]
fn the_live_status_subscription_is_the_one_the_page_sends() {
    assert_eq!(page_subscription(), monostat::public::STATUS_SUBSCRIPTION);
}

#[tokio::test]
async fn the_page_subscription_is_answered_from_the_snapshot_as_the_resolvers_would() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(db.app_config(&[])).await;
    let query = page_subscription();
    // Served from the snapshot: exactly the page's text, no operation name.
    let mut page = ready(&app, "198.51.100.30").await;
    send(
        &mut page,
        json!({ "id": "p", "type": "subscribe", "payload": { "query": query, "variables": {} } }),
    )
    .await;
    // The same operation named: async-graphql's resolvers answer it.
    let mut resolved = ready(&app, "198.51.100.31").await;
    send(&mut resolved, json!({ "id": "r", "type": "subscribe", "payload": { "query": query, "operationName": "StatusChanged" } })).await;
    let first = next_message(&mut page).await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("monostat_page_subscriptions_from_snapshot_total"),
        "the page's subscription went to the resolvers"
    );
    assert_eq!(first["id"], "p");
    assert_eq!(first["type"], "next");
    assert_eq!(
        first["payload"],
        next_message(&mut resolved).await["payload"]
    );
    assert_eq!(
        first["payload"]["data"]["statusChanged"]["headline"],
        "OPERATIONAL"
    );

    app.services
        .incidents
        .alert_opened(crate::alerts::report("a1", "Checkout is failing"))
        .await
        .unwrap();
    let changed = next_message(&mut page).await;
    assert_eq!(
        changed["payload"],
        next_message(&mut resolved).await["payload"]
    );
    assert_ne!(
        changed["payload"]["data"]["statusChanged"]["headline"], "OPERATIONAL",
        "{changed}"
    );

    // Its id is taken while it runs, and free once the client completes it.
    send(
        &mut page,
        json!({ "id": "p", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    assert_eq!(
        closing(&mut page, Duration::from_secs(5))
            .await
            .map(|f| u16::from(f.code)),
        Some(4409)
    );
    let mut again = ready(&app, "198.51.100.30").await;
    send(
        &mut again,
        json!({ "id": "a", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    assert_eq!(next_message(&mut again).await["id"], "a");
    send(&mut again, json!({ "id": "a", "type": "complete" })).await;
    send(
        &mut again,
        json!({ "id": "a", "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
    assert_eq!(
        next_message(&mut again).await["id"],
        "a",
        "the completed id starts again"
    );
    app.stop().await;
}
