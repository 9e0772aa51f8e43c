//! Rate limits shared by replicas: counted in Redis, so a guesser gains nothing by
//! spreading attempts over the replicas behind a load balancer; and still counted in
//! each process while Redis is away.

use std::time::Duration;

use monostat::config::RedisConfig;
use monostat::ratelimit::Limits;
use serde_json::{Value, json};

use crate::common::process::{Process, replica_data_dirs};
use crate::common::{REDIS_HOST, TestDb};
use crate::events::redis_available;

const PASSWORD: &str = "correct horse battery staple";

fn redis(port: u16) -> RedisConfig {
    RedisConfig {
        host: REDIS_HOST.into(),
        port,
        password: None,
        prefix: format!("test-{}", monostat::secret::random_token(64)),
    }
}

#[tokio::test]
async fn limits_count_together_through_redis_and_alone_without_it() {
    if !redis_available().await {
        return;
    }
    let config = redis(6379);
    let replica_a = Limits::new(Some(&config)).unwrap();
    let replica_b = Limits::new(Some(&config)).unwrap();
    let window = Duration::from_mins(1);
    let a = replica_a.window("test", window, 3);
    let b = replica_b.window("test", window, 3);
    assert!(a.take("k").await.is_ok());
    assert!(b.take("k").await.is_ok());
    assert!(a.take("k").await.is_ok());
    let wait = b.take("k").await.unwrap_err();
    assert!(wait > Duration::ZERO && wait <= window, "{wait:?}");
    assert_eq!(a.count("k").await, 3);
    assert!(a.take("other").await.is_ok(), "keys are counted apart");
    b.give_back("k").await;
    assert!(a.take("k").await.is_ok());
    b.forget("k").await;
    assert_eq!(a.count("k").await, 0);

    // Port 1 on loopback: nothing listens, so every call to Redis fails at once.
    let away = Limits::new(Some(&redis(1)))
        .unwrap()
        .window("test", window, 2);
    assert!(away.take("k").await.is_ok());
    assert!(away.take("k").await.is_ok());
    assert!(
        away.take("k").await.is_err(),
        "without Redis, the process counts alone"
    );
}

async fn login(replica: &Process, client: &str, password: &str) -> Value {
    reqwest::Client::new()
        .post(replica.url("/graphql"))
        .header("x-forwarded-for", client)
        .json(&json!({
            "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }",
            "variables": { "u": "admin", "p": password },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn code(answer: &Value) -> &str {
    answer["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<no error>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_refuse_the_sixth_failed_login_together() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    if !redis_available().await {
        return;
    }
    let mut env = db.env();
    env.insert("MONOSTAT_REDIS_HOST".into(), REDIS_HOST.into());
    let dirs = replica_data_dirs(&env, PASSWORD, 2).await;
    env.insert("AUTOMIGRATE".into(), "skip".into());
    let replicas = [
        Process::start("web", &env, dirs[0].path()).await,
        Process::start("web", &env, dirs[1].path()).await,
    ];

    let guesser = "198.51.100.66";
    for n in 0..5 {
        let answer = login(&replicas[n % 2], guesser, "a wrong guess").await;
        assert_eq!(
            code(&answer),
            "UNAUTHENTICATED",
            "attempt {}: {answer}",
            n + 1
        );
    }
    for replica in &replicas {
        let answer = login(replica, guesser, "a wrong guess").await;
        assert_eq!(code(&answer), "TOO_MANY_REQUESTS", "{answer}");
        let right = login(replica, guesser, PASSWORD).await;
        assert_eq!(code(&right), "TOO_MANY_REQUESTS", "{right}");
    }
    let owner = login(&replicas[1], "203.0.113.77", PASSWORD).await;
    assert!(owner["data"]["login"]["accessToken"].is_string(), "{owner}");
    // Dropping the processes kills them.
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `graphql-transport-ws` socket to `replica` as `client`, or the refusal's status
/// and message.
async fn live_socket(replica: &Process, client: &str) -> Result<Socket, (u16, String, String)> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = replica
        .url("/graphql")
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    headers.insert("x-forwarded-for", client.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            Err((
                response.status().as_u16(),
                String::from_utf8_lossy(&body).into_owned(),
                retry_after,
            ))
        }
        Err(error) => panic!("cannot open a socket: {error}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_hold_one_address_to_its_live_sockets_together() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    if !redis_available().await {
        return;
    }
    let mut env = db.env();
    env.insert("MONOSTAT_REDIS_HOST".into(), REDIS_HOST.into());
    env.insert("MONOSTAT_SOCKETS_PER_ADDRESS".into(), "3".into());
    let dirs = replica_data_dirs(&env, PASSWORD, 2).await;
    env.insert("AUTOMIGRATE".into(), "skip".into());
    let replicas = [
        Process::start("web", &env, dirs[0].path()).await,
        Process::start("web", &env, dirs[1].path()).await,
    ];

    let crowd = "198.51.100.20";
    let mut open = vec![
        live_socket(&replicas[0], crowd).await.unwrap(),
        live_socket(&replicas[1], crowd).await.unwrap(),
        live_socket(&replicas[0], crowd).await.unwrap(),
    ];
    for replica in &replicas {
        let Err((status, message, retry_after)) = live_socket(replica, crowd).await else {
            panic!("a 4th socket from one address was accepted");
        };
        assert_eq!(status, 429);
        assert!(
            retry_after.parse::<u32>().is_ok(),
            "Retry-After: {retry_after:?}"
        );
        assert!(message.contains("3 live connections"), "{message}");
    }
    assert!(
        live_socket(&replicas[1], "203.0.113.5").await.is_ok(),
        "another address is not held to the crowd's count"
    );

    // A socket closed on one replica frees a place on the other.
    open.remove(0).close(None).await.ok();
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(socket) = live_socket(&replicas[1], crowd).await {
            reopened = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "the closed socket still counted");
    // Dropping the processes kills them.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_dead_replica_held_open_is_freed_when_its_lease_runs_out() {
    if !redis_available().await {
        return;
    }
    let config = redis(6379);
    let lease = Duration::from_secs(2);
    // A replica in its own runtime: shutting the runtime down stops its renewals and
    // its releases at once, as SIGKILL would.
    let dead_config = config.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let limit = Limits::new(Some(&dead_config))
                .unwrap()
                .open_with_lease("sockets", 3, lease);
            let held = [
                limit.acquire("x").await.unwrap(),
                limit.acquire("x").await.unwrap(),
            ];
            std::mem::forget(held);
        });
    })
    .join()
    .unwrap();

    let alive = Limits::new(Some(&config))
        .unwrap()
        .open_with_lease("sockets", 3, lease);
    let mine = alive.acquire("x").await.expect("one place left");
    assert!(
        alive.acquire("x").await.is_none(),
        "the dead replica's sockets count until its lease runs out"
    );
    // Past the lease (and past several of the living replica's renewals).
    tokio::time::sleep(lease + Duration::from_millis(1500)).await;
    let freed = [alive.acquire("x").await, alive.acquire("x").await];
    assert!(
        freed.iter().all(Option::is_some),
        "the dead replica's places are free"
    );
    assert!(
        alive.acquire("x").await.is_none(),
        "the living replica's own sockets still count after its renewals"
    );
    drop((mine, freed));
}
