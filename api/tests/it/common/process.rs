//! `monostat` as real processes, started and killed as an operator (or a crash) would.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// How long a process may take to start on a slow, shared CI machine: only how long to
/// wait before calling it a failure, never an assertion about speed.
const STARTUP: Duration = Duration::from_mins(1);

/// One `monostat serve` process.
pub struct Process {
    child: Child,
    /// `http://127.0.0.1:{port}` for a web process.
    pub base: Option<String>,
    /// The job worker pool's id, which `job.locked_by` starts with.
    pool: Arc<Mutex<Option<String>>>,
}

impl Process {
    pub async fn start(role: &'static str, env: &HashMap<String, String>, data_dir: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_monostat"))
            .args(["serve", "--role", role])
            .env_clear()
            .envs(env)
            .env("MONOSTAT_DATA_DIR", data_dir)
            .env("MONOSTAT_LISTEN", "127.0.0.1:0")
            .env("MONOSTAT_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn,monostat::jobs=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pool = Arc::new(Mutex::new(None));
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let seen = pool.clone();
        // Reads the logs to the end (a full pipe would stall the process) and keeps
        // the pool id; other lines are shown when the test fails.
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                match serde_json::from_str::<Value>(&line) {
                    Ok(log) if log["pool"].is_string() => {
                        *seen.lock().unwrap() = log["pool"].as_str().map(str::to_owned);
                    }
                    _ => eprintln!("[{role}] {line}"),
                }
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = if role == "worker" {
            None
        } else {
            let line = tokio::time::timeout(STARTUP, stdout.next_line())
                .await
                .expect("the web process did not start")
                .unwrap()
                .expect("the web process exited");
            let address = line
                .split("listening on ")
                .nth(1)
                .unwrap()
                .trim_end_matches(')');
            Some(format!("http://{address}"))
        };
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        let process = Self { child, base, pool };
        if role == "worker" {
            crate::common::eventually("the worker's pool to start", STARTUP, || async {
                process.pool_id().is_some().then_some(())
            })
            .await;
        }
        process
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_deref().expect("a web process"))
    }

    pub fn pool_id(&self) -> Option<String> {
        self.pool.lock().unwrap().clone()
    }

    /// SIGKILL: no shutdown, no lease handed back.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
        assert!(!self.child.wait().await.unwrap().success());
    }
}

/// Runs a one-off `monostat` command, as `docker exec … monostat …` would.
pub async fn monostat(env: &HashMap<String, String>, data_dir: &Path, args: &[&str], stdin: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_monostat"))
        .args(args)
        .env_clear()
        .envs(env)
        .env("MONOSTAT_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "monostat {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `count` data directories for replicas of one site, each holding the same
/// `secret.key`, so a console session works whichever replica answers. Making the
/// first console user (`admin`) on the way is what makes the key.
pub async fn replica_data_dirs(
    env: &HashMap<String, String>,
    password: &str,
    count: usize,
) -> Vec<tempfile::TempDir> {
    let first = tempfile::tempdir().unwrap();
    monostat(
        env,
        first.path(),
        &["createsuperuser", "--username", "admin", "--password-stdin"],
        &format!("{password}\n"),
    )
    .await;
    (0..count)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            std::fs::copy(
                first.path().join("secret.key"),
                dir.path().join("secret.key"),
            )
            .unwrap();
            dir
        })
        .collect()
}
