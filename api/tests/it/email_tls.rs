//! SMTP as mail providers run it: STARTTLS and implicit TLS with AUTH against a real
//! server (aiosmtpd) whose certificate comes from a throw-away CA. Mail goes out only
//! over a verified connection; a refused password or an untrusted certificate parks
//! the fan-out with a reason an operator can act on, and sends nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use monostat::domain::Actor;
use monostat::services::follow_up::NOTIFY_SUBSCRIBERS;
use monostat::store::job;

use crate::common::smtp::{SmtpSink, TlsMode};
use crate::common::tls::TestCa;
use crate::common::{TestApp, TestDb, both_databases};

const USER: &str = "status-mailer";
const PASSWORD: &str = "correct horse battery staple";

fn recipients() -> Vec<String> {
    vec!["alice@example.com".into(), "bob@example.com".into()]
}

/// The sink's environment with some variables replaced ("" unsets one).
fn config(db: &TestDb, sink: &SmtpSink, changes: &[(&str, &str)]) -> monostat::config::Config {
    let mut env: BTreeMap<&str, String> = sink.env().into_iter().collect();
    for (name, value) in changes {
        env.insert(name, (*value).to_owned());
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    db.app_config(&env)
}

/// Two subscribers and a confirmed incident: one fan-out job for two mails.
async fn announce(app: &TestApp) {
    let s = &app.services;
    let report = s
        .subscribers
        .import_csv(&Actor::User("admin".into()), &recipients().join("\n"), true)
        .await
        .unwrap();
    assert_eq!(report.added, 2);
    let opened = s
        .incidents
        .alert_opened(crate::alerts::report("tls", "Database down"))
        .await
        .unwrap();
    s.incidents
        .confirm(opened.incident_id, &Actor::Slack("bob".into()), false)
        .await
        .unwrap();
}

/// The fan-out job once it is done or dead.
async fn settled_fanout(db: &TestDb) -> job::Model {
    for _ in 0..1500 {
        if let Some(job) = db.jobs_of_kind(NOTIFY_SUBSCRIBERS).await.pop()
            && (job.status.as_str() == "done" || job.status.as_str() == "dead")
        {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the fan-out job never settled");
}

async fn delivers_over(db: TestDb, mode: TlsMode) {
    let Some(ca) = TestCa::new() else { return };
    let Some(sink) = SmtpSink::start_secure(mode, &ca, USER, PASSWORD).await else {
        return;
    };
    let app = TestApp::start(config(&db, &sink, &[])).await;
    announce(&app).await;
    let job = settled_fanout(&db).await;
    assert_eq!(job.status.as_str(), "done", "{:?}", job.last_error);
    sink.wait_for(2).await;
    // A little longer, so a second copy would have arrived too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let expected: BTreeMap<String, usize> = recipients().into_iter().map(|r| (r, 1)).collect();
    assert_eq!(sink.count_by_recipient(), expected);
    app.stop().await;
}

/// Runs a fan-out that must fail for good: nothing is stored, the job is dead with a
/// reason containing every one of `reason`.
async fn parks_the_job(db: &TestDb, sink: &SmtpSink, changes: &[(&str, &str)], reason: &[&str]) {
    let app = TestApp::start(config(db, sink, changes)).await;
    announce(&app).await;
    let job = settled_fanout(db).await;
    assert_eq!(job.status.as_str(), "dead", "{job:?}");
    assert_eq!(job.attempts, 1, "a set-up problem is not retried: {job:?}");
    let error = job.last_error.unwrap_or_default();
    for part in reason {
        assert!(error.contains(part), "{part:?} not in {error:?}");
    }
    assert!(sink.mails().is_empty());
    app.stop().await;
}

both_databases! {
    async fn mail_goes_out_over_starttls_with_auth_and_the_ca_file(db: TestDb) {
        Box::pin(delivers_over(db, TlsMode::StartTls)).await;
    }

    async fn mail_goes_out_over_implicit_tls_with_auth_and_the_ca_file(db: TestDb) {
        Box::pin(delivers_over(db, TlsMode::Implicit)).await;
    }

    async fn a_wrong_password_parks_the_job_with_the_reason(db: TestDb) {
        db.expect_dead_jobs();
        db.expect_error_log("job is dead");
        let Some(ca) = TestCa::new() else { return };
        let Some(sink) = SmtpSink::start_secure(TlsMode::StartTls, &ca, USER, PASSWORD).await else { return };
        let wrong = [("MONOSTAT_MAIL_PASSWORD", "Tr0ub4dor&3")];
        parks_the_job(&db, &sink, &wrong, &["535", "user name or password", "MONOSTAT_MAIL_PASSWORD"]).await;
    }

    async fn a_certificate_of_an_unknown_ca_is_refused(db: TestDb) {
        db.expect_dead_jobs();
        db.expect_error_log("job is dead");
        let Some(ca) = TestCa::new() else { return };
        let Some(sink) = SmtpSink::start_secure(TlsMode::Implicit, &ca, USER, PASSWORD).await else { return };
        let no_ca = [("MONOSTAT_MAIL_CA_FILE", "")];
        parks_the_job(&db, &sink, &no_ca, &["not signed by a trusted authority", "MONOSTAT_MAIL_CA_FILE"]).await;
    }
}

#[tokio::test]
async fn the_certificate_of_another_ca_is_refused_over_starttls() {
    let (Some(ours), Some(theirs)) = (TestCa::new(), TestCa::new()) else {
        return;
    };
    let Some(sink) = SmtpSink::start_secure(TlsMode::StartTls, &theirs, USER, PASSWORD).await
    else {
        return;
    };
    let db = TestDb::sqlite().await;
    let ca_file = ours.ca_file();
    let other_ca = [("MONOSTAT_MAIL_CA_FILE", ca_file.to_str().unwrap())];
    parks_the_job(
        &db,
        &sink,
        &other_ca,
        &["not signed by a trusted authority"],
    )
    .await;
}

#[test]
fn a_ca_file_without_a_certificate_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let env = [
        ("MONOSTAT_MAIL_HOST", "127.0.0.1"),
        ("MONOSTAT_MAIL_TLS", "true"),
        ("MONOSTAT_MAIL_CA_FILE", empty.to_str().unwrap()),
    ];
    let config = monostat::config::Config::from_lookup(|name| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    let error = monostat::adapters::email::Mailer::from_config(&config)
        .err()
        .unwrap();
    assert!(
        format!("{error:#}").contains("no readable PEM certificate"),
        "{error:#}"
    );
}
