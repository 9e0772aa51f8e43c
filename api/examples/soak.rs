//! Soak load client: steady mixed traffic against running servers, and every 10 s one
//! sample of what must stay flat. Run through `bench/soak.sh`, which starts the servers
//! and the SMTP sink and sets the environment:
//!
//! - `SOAK_URLS` (required): the servers, comma-separated; traffic goes round-robin
//! - `SOAK_PIDS` (required): their process ids, for memory and file descriptors
//! - `SOAK_OPSGENIE_SECRET`, `SOAK_USER`, `SOAK_PASSWORD`, `SOAK_SINK_DIR` (required)
//! - `SOAK_SECONDS` (default 1800), `SOAK_READ_RATE` (reads/s, default 200),
//!   `SOAK_WS_RATE` (WebSockets opened/s, default 50), `SOAK_PAGE_INCIDENTS` (default 5)
//! - `MONOSTAT_DATA_DIR` / `MONOSTAT_DB_*`: the servers' database, for row counts
//!
//! Reads are sent at a fixed rate (not as fast as possible), so latency is measured at
//! a constant load and the machine stays usable; a request that cannot start on time
//! still counts from its planned start. Prints one tab-separated line per sample.

#![allow(
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use monostat::config::{Config, DatabaseConfig};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const READS: &[&str] = &[
    "/",
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/incidents.json",
    "/feed/rss",
    "/feed/atom",
    "graphql",
];
const THIRD_PARTY_QUERY: &str =
    "{ status { headline } incidents(first: 20) { items { id title status } nextCursor } }";
const SUBSCRIPTION: &str = "subscription { statusChanged { headline current { id status } } }";
const TABLES: &[&str] = &[
    "job",
    "notification_delivery",
    "notification_summary",
    "subscriber",
    "refresh_token",
    "second_factor_challenge",
    "alert",
    "incident",
    "incident_update",
    "audit_entry",
];

/// Latencies (µs) and failures of one sampling window.
#[derive(Default)]
struct Window {
    reads: Vec<u32>,
    sockets: Vec<u32>,
    errors: u64,
}

#[derive(Clone)]
struct Soak {
    urls: Arc<Vec<String>>,
    http: reqwest::Client,
    window: Arc<Mutex<Window>>,
    turn: Arc<AtomicU64>,
    cycles: Arc<HashMap<&'static str, AtomicU64>>,
    /// The latest body size of each public surface: the live data the server renders
    /// and holds in memory grows with it, which is not a leak.
    sizes: Arc<Mutex<HashMap<&'static str, usize>>>,
}

impl Soak {
    fn url(&self) -> &str {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed) as usize;
        &self.urls[turn % self.urls.len()]
    }

    fn failed(&self, what: &str, error: &dyn std::fmt::Display) {
        self.window.lock().unwrap().errors += 1;
        eprintln!("soak: {what}: {error}");
    }

    fn done(&self, what: &str) {
        self.cycles[what].fetch_add(1, Ordering::Relaxed);
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is required"))
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |value| value.parse().unwrap())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let urls: Vec<String> = env("SOAK_URLS").split(',').map(str::to_owned).collect();
    let pids: Vec<u32> = env("SOAK_PIDS")
        .split(',')
        .map(|pid| pid.parse().unwrap())
        .collect();
    let seconds = env_or("SOAK_SECONDS", 1800);
    let soak = Soak {
        urls: Arc::new(urls),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?,
        window: Arc::default(),
        turn: Arc::default(),
        cycles: Arc::new(
            ["alerts", "console", "subscribers", "sockets"]
                .into_iter()
                .map(|what| (what, AtomicU64::new(0)))
                .collect(),
        ),
        sizes: Arc::default(),
    };
    let db = {
        let config = Config::from_env()?;
        monostat::store::connect(&config.database)
            .await
            .map(|conn| (conn, config.database))?
    };
    tokio::spawn(reads(soak.clone(), env_or("SOAK_READ_RATE", 200)));
    tokio::spawn(sockets(soak.clone(), env_or("SOAK_WS_RATE", 50)));
    tokio::spawn(alerts(soak.clone(), env("SOAK_OPSGENIE_SECRET")));
    tokio::spawn(console(
        soak.clone(),
        env("SOAK_USER"),
        env("SOAK_PASSWORD"),
    ));
    tokio::spawn(subscribers(soak.clone(), env("SOAK_SINK_DIR").into()));
    sample(&soak, &pids, &db.0, &db.1, seconds).await
}

/// Fixed-rate public reads, round-robin over the surfaces.
async fn reads(soak: Soak, rate: u64) {
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for turn in 0usize.. {
        ticker.tick().await;
        let planned = Instant::now();
        let soak = soak.clone();
        let surface = READS[turn % READS.len()];
        tokio::spawn(async move {
            let base = soak.url().to_owned();
            let request = if surface == "graphql" {
                soak.http
                    .post(format!("{base}/graphql"))
                    .json(&json!({ "query": THIRD_PARTY_QUERY }))
            } else {
                soak.http.get(format!("{base}{surface}"))
            };
            let result = match request.send().await {
                Ok(response) if response.status().is_success() => response
                    .bytes()
                    .await
                    .map_err(|e| e.to_string())
                    .map(|body| {
                        soak.sizes.lock().unwrap().insert(surface, body.len());
                    }),
                Ok(response) => Err(format!("{surface} answered {}", response.status())),
                Err(error) => Err(error.to_string()),
            };
            let micros = planned.elapsed().as_micros() as u32;
            match result {
                Ok(()) => soak.window.lock().unwrap().reads.push(micros),
                Err(error) => soak.failed("read", &error),
            }
        });
    }
}

/// WebSockets opened at a fixed rate, each subscribing to `statusChanged`, waiting for
/// the first status and holding on for a second before closing.
async fn sockets(soak: Soak, rate: u64) {
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    loop {
        ticker.tick().await;
        let soak = soak.clone();
        tokio::spawn(async move {
            match one_socket(soak.url()).await {
                Ok(first_status) => {
                    soak.window
                        .lock()
                        .unwrap()
                        .sockets
                        .push(first_status.as_micros() as u32);
                    soak.done("sockets");
                }
                Err(error) => soak.failed("websocket", &error),
            }
        });
    }
}

/// Returns the time from connecting to the first status.
async fn one_socket(base: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut request =
        format!("{}/graphql", base.replacen("http", "ws", 1)).into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let init = json!({ "type": "connection_init", "payload": {} });
    socket.send(Message::text(init.to_string())).await?;
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } });
    socket.send(Message::text(subscribe.to_string())).await?;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("closed before the first status"))??;
        if let Message::Text(text) = message
            && serde_json::from_str::<Value>(&text)?["type"] == "next"
        {
            break;
        }
    }
    let first_status = started.elapsed();
    // Holding on is the load; only the time to the first status is measured.
    tokio::time::sleep(Duration::from_secs(1)).await;
    socket.close(None).await?;
    Ok(first_status)
}

/// An OpsGenie alert opened and closed every four seconds.
async fn alerts(soak: Soak, secret: String) {
    for round in 0u64.. {
        let alert_id = format!("soak-{round}-{}", monostat::secret::random_token(8));
        for action in ["Create", "Close"] {
            let hook = format!("{}/integrations/opsgenie/hook/{secret}", soak.url());
            let body = json!({
                "action": action,
                "alert": { "alertId": alert_id, "message": "Soak alert", "tags": ["production"],
                           "entity": "app.example.com", "createdAt": 1_700_000_000_000_u64,
                           "username": "System", "priority": "P1", "source": "soak" },
                "source": { "name": "soak", "type": "API" },
                "integrationName": "monostat status page", "integrationType": "Webhook"
            });
            match soak.http.post(&hook).json(&body).send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => soak.failed("alert", &response.status()),
                Err(error) => soak.failed("alert", &error),
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        soak.done("alerts");
    }
}

/// A console session every five seconds: log in, change a setting, log out; once a
/// minute also open and resolve an incident, which mails the subscribers of the moment.
async fn console(soak: Soak, user: String, password: String) {
    let mut ticker = tokio::time::interval(Duration::from_secs(5));
    let mut on_the_page = VecDeque::new();
    for round in 0u64.. {
        ticker.tick().await;
        match console_round(&soak, &user, &password, round, &mut on_the_page).await {
            Ok(()) => soak.done("console"),
            Err(error) => soak.failed("console", &error),
        }
    }
}

async fn graphql(
    soak: &Soak,
    base: &str,
    auth: Option<(&str, &str)>,
    query: &str,
    variables: Value,
) -> anyhow::Result<(Value, Option<String>)> {
    let mut request = soak
        .http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some((token, cookie)) = auth {
        request = request.bearer_auth(token).header("cookie", cookie);
    }
    let response = request.send().await?;
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::to_owned);
    let body: Value = response.json().await?;
    anyhow::ensure!(
        body["errors"].is_null(),
        "GraphQL errors: {}",
        body["errors"]
    );
    Ok((body["data"].clone(), cookie))
}

async fn console_round(
    soak: &Soak,
    user: &str,
    password: &str,
    round: u64,
    on_the_page: &mut VecDeque<Value>,
) -> anyhow::Result<()> {
    let base = soak.url().to_owned();
    let (data, cookie) = graphql(
        soak,
        &base,
        None,
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
        json!({ "u": user, "p": password }),
    )
    .await?;
    let token = data["login"]["accessToken"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no access token"))?
        .to_owned();
    let auth = Some((token.as_str(), cookie.as_deref().unwrap_or("")));
    if round == 0 {
        // New installations take no subscribers until the team opens the list.
        let open = "mutation { setSubscriptionsOpen(open: true) }";
        graphql(soak, &base, auth, open, json!({})).await?;
    }
    if round.is_multiple_of(12) {
        on_the_page.push_back(open_and_resolve(soak, &base, auth, round).await?);
        if on_the_page.len() > page_incidents() {
            let oldest = on_the_page.pop_front();
            let delete = "mutation($id: Int!) { deleteIncident(id: $id) }";
            graphql(soak, &base, auth, delete, json!({ "id": oldest })).await?;
        }
    }
    graphql(
        soak,
        &base,
        auth,
        "mutation($e: String!) { updateSiteSettings(input: { supportEmail: $e }) }",
        json!({ "e": format!("support{}@example.com", round % 2) }),
    )
    .await?;
    graphql(soak, &base, auth, "mutation { logout }", json!({})).await?;
    Ok(())
}

/// How many of its incidents the soak leaves on the page (`SOAK_PAGE_INCIDENTS`, default
/// 5): every incident resolved within 24 h is on it, so keeping them all would make the
/// live data, and with it the memory that holds it, grow through the soak.
fn page_incidents() -> usize {
    usize::try_from(env_or("SOAK_PAGE_INCIDENTS", 5)).unwrap_or(usize::MAX)
}

/// Once a minute, not every round; returns the incident's id.
async fn open_and_resolve(
    soak: &Soak,
    base: &str,
    auth: Option<(&str, &str)>,
    round: u64,
) -> anyhow::Result<Value> {
    let (data, _) = graphql(
        soak,
        base,
        auth,
        "mutation($t: String!) { createIncident(input: { title: $t, status: CONFIRMED, severity: BUG, text: \"Looking into it\" }) { id } }",
        json!({ "t": format!("Soak incident {round}") }),
    )
    .await?;
    let id = data["createIncident"]["id"].clone();
    graphql(
        soak,
        base,
        auth,
        "mutation($id: Int!) { resolveIncident(id: $id, text: \"Fixed\") { id } }",
        json!({ "id": id }),
    )
    .await?;
    Ok(id)
}

/// Subscribe through the form, confirm with the link from the real mail, unsubscribe;
/// one person after another. Every mail the sink stored is removed once read.
async fn subscribers(soak: Soak, sink: std::path::PathBuf) {
    // The first console round opens the list.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for round in 0u64.. {
        let email = format!("soak{round}@example.com");
        match subscriber_round(&soak, &sink, &email).await {
            Ok(()) => soak.done("subscribers"),
            Err(error) => soak.failed("subscriber", &error),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn subscriber_round(soak: &Soak, sink: &std::path::Path, email: &str) -> anyhow::Result<()> {
    let base = soak.url().to_owned();
    let response = soak
        .http
        .post(format!("{base}/subscribe"))
        .form(&[("email", email)])
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "subscribe answered {}",
        response.status()
    );
    let token = confirmation_token(sink, email).await?;
    for path in [
        format!("/subscribe/confirm/{token}"),
        format!("/unsubscribe/{token}"),
    ] {
        let response = soak.http.post(format!("{base}{path}")).send().await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{path} answered {}",
            response.status()
        );
    }
    Ok(())
}

/// Waits for the opt-in mail to `email` and reads the token from its link. Removes
/// every other mail it sees (incident notifications), so the sink stays small.
async fn confirmation_token(sink: &std::path::Path, email: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        for entry in std::fs::read_dir(sink)? {
            let path = entry?.path();
            // The sink writes aside and renames; only finished messages end in .eml.
            if path.extension().is_none_or(|ext| ext != "eml") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let _ = std::fs::remove_file(&path);
            let text = text.replace("=\r\n", "").replace("=\n", "");
            if !text.lines().next().is_some_and(|rcpt| rcpt.contains(email)) {
                continue;
            }
            if let Some((_, rest)) = text.split_once("/subscribe/confirm/") {
                let token: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                return Ok(token);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("no confirmation mail for {email} within 30 s")
}

fn percentile(samples: &mut [u32], percent: usize) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let index = (samples.len() * percent)
        .div_ceil(100)
        .clamp(1, samples.len())
        - 1;
    f64::from(samples[index]) / 1000.0
}

fn proc_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn proc_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let statement = Statement::from_string(db.get_database_backend(), sql.to_owned());
    match db.query_one_raw(statement).await {
        Ok(Some(row)) => row.try_get_by_index::<i64>(0).unwrap_or(-1),
        _ => -1,
    }
}

/// Every 10 s: one line of memory, descriptors, connections, rows and latency.
async fn sample(
    soak: &Soak,
    pids: &[u32],
    db: &DatabaseConnection,
    database: &DatabaseConfig,
    seconds: u64,
) -> anyhow::Result<()> {
    let mut header = vec!["t_s", "rss_mb", "fds", "db_conns", "db_mb"];
    header.extend(TABLES);
    header.extend([
        "reads",
        "read_p50_ms",
        "read_p99_ms",
        "ws_p99_ms",
        "errors",
        "live_kb",
    ]);
    header.extend(["alerts", "console", "subscribers", "sockets"]);
    println!("{}", header.join("\t"));
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(10));
    ticker.tick().await;
    while started.elapsed().as_secs() < seconds {
        ticker.tick().await;
        let mut window = std::mem::take(&mut *soak.window.lock().unwrap());
        let rss: u64 = pids.iter().map(|pid| proc_rss_kib(*pid)).sum();
        let fds: usize = pids.iter().map(|pid| proc_fds(*pid)).sum();
        let (conns, db_bytes) = match database {
            DatabaseConfig::Sqlite { path } => {
                let size = |suffix: &str| {
                    std::fs::metadata(format!("{}{suffix}", path.display())).map_or(0, |m| m.len())
                };
                (0, size("") + size("-wal") + size("-shm"))
            }
            DatabaseConfig::Postgres { .. } => (
                // Our own sampling connection is not counted.
                scalar(db, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()").await,
                u64::try_from(scalar(db, "SELECT pg_database_size(current_database())").await).unwrap_or(0),
            ),
        };
        let mut row = vec![
            format!("{}", started.elapsed().as_secs()),
            format!("{:.1}", rss as f64 / 1024.0),
            fds.to_string(),
            conns.to_string(),
            format!("{:.2}", db_bytes as f64 / 1_048_576.0),
        ];
        for table in TABLES {
            row.push(
                scalar(db, &format!("SELECT COUNT(*) FROM {table}"))
                    .await
                    .to_string(),
            );
        }
        row.push(window.reads.len().to_string());
        row.push(format!("{:.2}", percentile(&mut window.reads, 50)));
        row.push(format!("{:.2}", percentile(&mut window.reads, 99)));
        row.push(format!("{:.2}", percentile(&mut window.sockets, 99)));
        row.push(window.errors.to_string());
        let live: usize = soak.sizes.lock().unwrap().values().sum();
        row.push(format!("{:.1}", live as f64 / 1024.0));
        for what in ["alerts", "console", "subscribers", "sockets"] {
            row.push(soak.cycles[what].load(Ordering::Relaxed).to_string());
        }
        println!("{}", row.join("\t"));
    }
    Ok(())
}
