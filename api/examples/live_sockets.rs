//! The live-page benchmark's load client (`bench/live.sh`): many status pages open at
//! once, each a `graphql-transport-ws` socket subscribed to `statusChanged`, then one
//! alert. Prints what the servers' memory grew by per socket, and how long the alert
//! took to reach every socket. Written in Rust with tokio so that the client, on the
//! same cores as the server, is not what is measured.
//!
//! Environment (set by the script):
//! - `BENCH_URLS`: the servers, comma-separated; clients are spread over them evenly
//! - `BENCH_PIDS`: their process ids, for their resident memory
//! - `BENCH_OPSGENIE_SECRET`: the OpsGenie webhook secret; the alert goes to the first
//! - `BENCH_CLIENTS` (default 10,000)

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The page's generated documents: each socket subscribes exactly as an open page does.
const GENERATED: &str = include_str!("../../web/src/graphql/generated.ts");

/// The page's `StatusChanged` subscription, as the frontend sends it.
fn page_subscription() -> anyhow::Result<&'static str> {
    let start = "StatusChangedSubscriptionDocument = \"";
    let from = GENERATED
        .find(start)
        .ok_or_else(|| anyhow::anyhow!("no StatusChangedSubscriptionDocument in generated.ts"))?
        + start.len();
    let length = GENERATED[from..]
        .find('"')
        .ok_or_else(|| anyhow::anyhow!("an unterminated document in generated.ts"))?;
    Ok(&GENERATED[from..from + length])
}
/// Handshakes in flight at once: a browser crowd arrives over seconds, not in one
/// instant, and the kernel's accept queue is finite.
const CONNECTING_AT_ONCE: usize = 256;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let urls: Vec<String> = std::env::var("BENCH_URLS")?
        .split(',')
        .map(str::to_owned)
        .collect();
    let pids: Vec<u32> = std::env::var("BENCH_PIDS")?
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let secret = std::env::var("BENCH_OPSGENIE_SECRET")?;
    let clients: usize = std::env::var("BENCH_CLIENTS")
        .ok()
        .map_or(Ok(10_000), |n| n.parse())?;

    let idle = rss_kib(&pids)?;
    let started = Instant::now();
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let (alert_sent, alert) = watch::channel(false);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(clients);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..clients {
        let url = urls[n % urls.len()].clone();
        let connecting = connecting.clone();
        let ready = ready_tx.clone();
        let alert = alert.clone();
        tasks.spawn(async move {
            let mut socket = {
                let _turn = connecting.acquire().await?;
                open(&url).await?
            };
            // The first answer is the state now; then the page is ready.
            next_headline(&mut socket).await?;
            ready.send(()).await.ok();
            let mut alert = alert;
            alert.wait_for(|sent| *sent).await?;
            loop {
                if next_headline(&mut socket).await? != "OPERATIONAL" {
                    return anyhow::Ok((Instant::now(), socket));
                }
            }
        });
    }
    drop(ready_tx);
    for opened in 1..=clients {
        tokio::select! {
            ready = ready_rx.recv() => if ready.is_none() { break },
            Some(failed) = tasks.join_next() => {
                anyhow::bail!("a client failed after {opened} were live: {:?}", failed?.err());
            }
        }
    }
    let connected_in = started.elapsed();
    // Let allocations settle before reading memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let live = rss_kib(&pids)?;

    let hook = format!("{}/integrations/opsgenie/hook/{secret}", urls[0]);
    alert_sent.send_replace(true);
    let sent_at = Instant::now();
    let response = reqwest::Client::new()
        .post(&hook)
        .json(&alert_body())
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "webhook answered {}",
        response.status()
    );
    let mut latencies = Vec::with_capacity(clients);
    let mut sockets = Vec::with_capacity(clients);
    let deadline = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(deadline);
    while latencies.len() < clients {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                Some(Ok(Ok((at, socket)))) => {
                    latencies.push(at.duration_since(sent_at));
                    sockets.push(socket);
                }
                Some(Ok(Err(error))) => anyhow::bail!("a client failed: {error}"),
                Some(Err(error)) => anyhow::bail!("a client panicked: {error}"),
                None => break,
            },
            () = &mut deadline => break,
        }
    }

    let grew = live
        .iter()
        .sum::<u64>()
        .saturating_sub(idle.iter().sum::<u64>());
    println!(
        "{clients} sockets on {} replica(s), all subscribed in {:.1} s",
        urls.len(),
        connected_in.as_secs_f64()
    );
    for ((pid, before), after) in pids.iter().zip(&idle).zip(&live) {
        println!(
            "  server {pid}: RSS {} MiB idle -> {} MiB with its sockets",
            before / 1024,
            after / 1024
        );
    }
    // Tenths of a KiB, in integers: the figures are far below f64's exact range.
    let tenths = grew * 10 / u64::try_from(clients.max(1)).unwrap_or(1);
    println!(
        "  memory per socket: {}.{} KiB ({} MiB for all)",
        tenths / 10,
        tenths % 10,
        grew / 1024
    );
    latencies.sort();
    let at = |percent: usize| {
        let index = (latencies.len() * percent)
            .div_ceil(100)
            .clamp(1, latencies.len())
            - 1;
        latencies[index].as_secs_f64() * 1000.0
    };
    println!(
        "  alert -> socket: {} of {clients} heard it; p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        latencies.len(),
        at(50),
        at(99),
        at(100)
    );
    drop(sockets);
    Ok(())
}

async fn open(base: &str) -> anyhow::Result<Socket> {
    let mut request =
        format!("{}/graphql", base.replacen("http", "ws", 1)).into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    socket
        .send(Message::text(
            json!({ "type": "connection_init" }).to_string(),
        ))
        .await?;
    socket
        .send(Message::text(
            json!({
                "id": "1",
                "type": "subscribe",
                "payload": { "query": page_subscription()? },
            })
            .to_string(),
        ))
        .await?;
    Ok(socket)
}

/// The headline of the next `statusChanged` message, answering the protocol's pings.
async fn next_headline(socket: &mut Socket) -> anyhow::Result<String> {
    loop {
        let message = socket
            .next()
            .await
            .ok_or_else(|| anyhow::anyhow!("the server closed the socket"))??;
        let Message::Text(text) = message else {
            continue;
        };
        let value: Value = serde_json::from_str(&text)?;
        match value["type"].as_str() {
            Some("next") => {
                let headline = &value["payload"]["data"]["statusChanged"]["headline"];
                return Ok(headline.as_str().unwrap_or_default().to_owned());
            }
            Some("ping") => {
                socket
                    .send(Message::text(json!({ "type": "pong" }).to_string()))
                    .await?;
            }
            Some("error" | "complete") => anyhow::bail!("the subscription ended: {value}"),
            _ => {}
        }
    }
}

/// Resident memory of each process, in KiB.
fn rss_kib(pids: &[u32]) -> anyhow::Result<Vec<u64>> {
    pids.iter()
        .map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| anyhow::anyhow!("no VmRSS for process {pid}"))
        })
        .collect()
}

/// An OpsGenie alert, shaped like the shared fixtures.
fn alert_body() -> Value {
    json!({
        "action": "Create",
        "alert": {
            "alertId": format!("bench-live-{}", monostat::secret::random_token(16)),
            "message": "Checkout is failing",
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
