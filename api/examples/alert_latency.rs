//! Alert latency benchmark: time from an OpsGenie webhook `POST` to the change arriving
//! on an open `statusChanged` subscription (graphql-transport-ws), as a status page
//! open in a browser would see it. Run through `bench/alert-latency.sh`, which starts
//! a server with no open incident and sets the environment:
//!
//! - `BENCH_URL` (required): the server, e.g. `http://127.0.0.1:8080`
//! - `BENCH_OPSGENIE_SECRET` (required): the server's OpsGenie webhook secret
//! - `BENCH_ROUNDS` (default 50)
//!
//! Each round: the alert fires (a suspected incident appears, the headline leaves
//! `OPERATIONAL`), then closes (it is dismissed, the page is operational again); both
//! are timed.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const SUBSCRIPTION: &str = "subscription { statusChanged { headline current { id status } } }";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("BENCH_URL")?;
    let secret = std::env::var("BENCH_OPSGENIE_SECRET")?;
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .map_or(Ok(50), |n| n.parse())?;
    let hook = format!("{base}/integrations/opsgenie/hook/{secret}");
    let client = reqwest::Client::new();

    let mut request =
        format!("{}/graphql", base.replacen("http", "ws", 1)).into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    socket
        .send(Message::text(
            json!({ "type": "connection_init", "payload": {} }).to_string(),
        ))
        .await?;
    socket
        .send(Message::text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } })
                .to_string(),
        ))
        .await?;
    let initial = next_status(&mut socket).await?;
    anyhow::ensure!(
        initial["headline"] == "OPERATIONAL",
        "the benchmark needs a page with no open incident, got {initial}"
    );

    let mut opened = Vec::with_capacity(rounds);
    let mut closed = Vec::with_capacity(rounds);
    let mut answered = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let alert_id = format!(
            "bench-latency-{round}-{}",
            monostat::secret::random_token(16)
        );
        let message = format!("Bench alert {round}");

        let started = Instant::now();
        let response = client
            .post(&hook)
            .json(&payload("Create", &alert_id, &message))
            .send()
            .await?;
        answered.push(started.elapsed());
        anyhow::ensure!(
            response.status().is_success(),
            "webhook answered {}",
            response.status()
        );
        while next_status(&mut socket).await?["headline"] == "OPERATIONAL" {}
        opened.push(started.elapsed());

        let started = Instant::now();
        let response = client
            .post(&hook)
            .json(&payload("Close", &alert_id, &message))
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "webhook answered {}",
            response.status()
        );
        while next_status(&mut socket).await?["headline"] != "OPERATIONAL" {}
        closed.push(started.elapsed());
    }

    println!(
        "alert latency over {rounds} rounds (webhook POST sent -> subscription message received):"
    );
    report("webhook answered", &mut answered);
    report("alert opened -> page suspected", &mut opened);
    report("alert closed -> page operational", &mut closed);
    Ok(())
}

/// The next `statusChanged` payload; fails after 10 s of silence.
async fn next_status(socket: &mut Socket) -> anyhow::Result<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .map_err(|_| anyhow::anyhow!("no subscription message within 10 s"))?
            .ok_or_else(|| anyhow::anyhow!("the server closed the WebSocket"))??;
        let Message::Text(text) = message else {
            continue;
        };
        let value: Value = serde_json::from_str(&text)?;
        match value["type"].as_str() {
            Some("next") => return Ok(value["payload"]["data"]["statusChanged"].clone()),
            Some("error" | "complete") => anyhow::bail!("subscription ended: {value}"),
            _ => {}
        }
    }
}

/// An OpsGenie webhook body, shaped like the shared fixtures.
fn payload(action: &str, alert_id: &str, message: &str) -> Value {
    json!({
        "action": action,
        "alert": {
            "alertId": alert_id,
            "message": message,
            "tags": ["production"],
            "entity": "app.example.com",
            "createdAt": 1_700_000_000_000_u64,
            "username": "System",
            "priority": "P1",
            "source": "bench"
        },
        "source": { "name": "bench", "type": "API" },
        "integrationName": "monostat status page",
        "integrationType": "Webhook"
    })
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    // Nearest-rank percentile.
    let at = |percent: usize| {
        let index = (samples.len() * percent)
            .div_ceil(100)
            .clamp(1, samples.len())
            - 1;
        samples[index].as_secs_f64() * 1000.0
    };
    println!(
        "  {what:<34} p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
        at(50),
        at(99),
        at(100)
    );
}
