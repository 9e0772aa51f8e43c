//! The `monostat` command line, run as a real process.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::common::TestDb;

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
