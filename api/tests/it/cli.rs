//! The `monostat` command line, run as a real process.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use std::time::Duration;

use monostat::domain::{IncidentId, IncidentStatus};

use crate::common::{TestApp, TestDb, both_databases};

fn monostat(db: &TestDb, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_monostat"))
        .args(args)
        .env_clear()
        .envs(db.env())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn createsuperuser_works_without_a_terminal_and_explains_refusals() {
    let db = TestDb::sqlite().await;
    let migrated = monostat(&db, &["migrate"], "");
    assert!(migrated.status.success(), "{}", stderr(&migrated));

    let created = monostat(
        &db,
        &["createsuperuser", "--username", "admin", "--password-stdin"],
        "correct horse battery\n",
    );
    assert!(created.status.success(), "{}", stderr(&created));
    assert_eq!(
        String::from_utf8_lossy(&created.stdout).trim(),
        "created the user admin"
    );

    let again = monostat(
        &db,
        &["createsuperuser", "--username", "admin", "--password-stdin"],
        "another good password\n",
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("a user named \"admin\" already exists"),
        "{}",
        stderr(&again)
    );

    let weak = monostat(
        &db,
        &["createsuperuser", "--username", "bob", "--password-stdin"],
        "short\n",
    );
    assert!(!weak.status.success());
    assert!(
        stderr(&weak).contains("the password is too weak: use at least 10 characters"),
        "{}",
        stderr(&weak)
    );

    let empty = monostat(
        &db,
        &["createsuperuser", "--username", "bob", "--password-stdin"],
        "\n",
    );
    assert!(stderr(&empty).contains("it is empty"), "{}", stderr(&empty));

    let no_password = monostat(&db, &["createsuperuser", "--username", "bob"], "");
    assert!(!no_password.status.success());
    assert!(stderr(&no_password).contains("--password-stdin or MONOSTAT_SUPERUSER_PASSWORD"));

    let bad_env = Command::new(env!("CARGO_BIN_EXE_monostat"))
        .arg("migrate")
        .env("MONOSTAT_DB_TYPE", "oracle")
        .output()
        .unwrap();
    assert_eq!(bad_env.status.code(), Some(2));
    assert!(stderr(&bad_env).contains("MONOSTAT_DB_TYPE is set to \"oracle\""));
}

/// The README's run command: `serve` prints where it listens, answers, and stops
/// cleanly on SIGTERM.
#[tokio::test]
async fn serve_prints_its_address_and_stops_on_sigterm() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let db = TestDb::sqlite().await;
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_monostat"))
        .arg("serve")
        .env_clear()
        .envs(db.env())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let address = line
        .split("listening on ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')');
    assert!(line.starts_with("monostat is running at http://"), "{line}");
    let health = reqwest::get(format!("http://{address}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // The container image's HEALTHCHECK: the binary asks its own /healthz.
    let healthcheck = Command::new(env!("CARGO_BIN_EXE_monostat"))
        .arg("healthcheck")
        .env_clear()
        .env("MONOSTAT_LISTEN", address)
        .output()
        .unwrap();
    assert!(healthcheck.status.success(), "{}", stderr(&healthcheck));

    let pid = server.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(20), server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");

    let unhealthy = Command::new(env!("CARGO_BIN_EXE_monostat"))
        .args(["healthcheck", "--timeout", "2"])
        .env_clear()
        .env("MONOSTAT_LISTEN", address)
        .output()
        .unwrap();
    assert!(!unhealthy.status.success());
    assert!(
        stderr(&unhealthy).contains("no answer from http://127.0.0.1:"),
        "{}",
        stderr(&unhealthy)
    );
}

// `simulate-alert` drives the running server's own webhook: a suspected incident while
// the alert is open, dismissed by itself once the operator presses Enter.
both_databases! {
    async fn simulate_alert_opens_and_closes_a_test_alert(db: TestDb) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

        let app = TestApp::start(db.app_config(&[])).await;
        let listen = app.base.trim_start_matches("http://").to_owned();
        let mut simulate = tokio::process::Command::new(env!("CARGO_BIN_EXE_monostat"))
            .arg("simulate-alert")
            .env_clear()
            .envs(db.env())
            .env("MONOSTAT_LISTEN", &listen)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(simulate.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), stdout.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(first.starts_with("sent a test alert"), "{first}");
        let opened: serde_json::Value =
            serde_json::from_str(first.split_once("): ").unwrap().1).unwrap();
        let id = IncidentId(opened["incident"].as_i64().unwrap());
        let incident = app.services.incidents.get(id).await.unwrap();
        assert_eq!(incident.status, IncidentStatus::Suspected);
        let alerts = app.services.incidents.alerts(id).await.unwrap();
        assert_eq!(alerts[0].message, monostat::simulate::MESSAGE);

        let mut stdin = simulate.stdin.take().unwrap();
        stdin.write_all(b"\n").await.unwrap();
        let output = tokio::time::timeout(Duration::from_secs(20), simulate.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let incident = app.services.incidents.get(id).await.unwrap();
        assert_eq!(incident.status, IncidentStatus::Dismissed);
        app.stop().await;
    }
}

#[tokio::test]
async fn simulate_alert_explains_when_no_server_runs() {
    let db = TestDb::sqlite().await;
    // Port 9 (discard) is closed on test machines.
    let output = Command::new(env!("CARGO_BIN_EXE_monostat"))
        .args(["simulate-alert", "--close-after", "0"])
        .env_clear()
        .envs(db.env())
        .env("MONOSTAT_LISTEN", "127.0.0.1:9")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("is `monostat serve` running?"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let db = TestDb::sqlite().await;
    let output = Command::new(env!("CARGO_BIN_EXE_monostat"))
        .args(["simulate-alert", "--close-after", "0"])
        .env_clear()
        .envs(db.env())
        .env("MONOSTAT_LISTEN", "127.0.0.1:9")
        .env("MONOSTAT_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let logs: Vec<serde_json::Value> = stderr(&output)
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(!logs.is_empty(), "{}", stderr(&output));
    assert!(
        logs.iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string())
    );
}
