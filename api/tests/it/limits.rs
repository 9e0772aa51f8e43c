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
