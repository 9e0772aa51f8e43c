//! A server killed with SIGKILL in the middle of announcing an incident and started
//! again with default settings (a 30-second job lease): every subscriber has the mail
//! within a minute of the restart, and no more mails go out twice than were in flight
//! at the kill. On PostgreSQL the restarted server waits out the dead one's lease; on
//! SQLite, one process's by definition, it takes the jobs over at once.

use std::collections::HashMap;
use std::time::Duration;

use monostat::adapters::email::transport::POOL_SIZE;
use monostat::domain::{Actor, IncidentStatus, Severity};
use monostat::services::NewIncident;
use monostat::services::follow_up::NOTIFY_SUBSCRIBERS;

use crate::common::process::Process;
use crate::common::smtp::{SmtpSink, assert_each_got_one_with_at_most};
use crate::common::{both_databases, eventually};

const SUBSCRIBERS: usize = 200;
const DELIVERED_BEFORE_THE_KILL: usize = 30;
/// The promise to subscribers after a crash, with the default lease.
const AFTER_THE_RESTART: Duration = Duration::from_mins(1);

both_databases! {
    async fn a_server_killed_mid_fanout_finishes_it_after_a_restart(db: TestDb) {
        // Each mail is answered after 0.2 s: the fan-out lasts seconds, long enough to
        // be killed in the middle.
        let Some(sink) = SmtpSink::start_with(None, Some(0.2)).await else { return };
        let mut env: HashMap<String, String> = db.env();
        env.extend(sink.env().into_iter().map(|(k, v)| (k.to_owned(), v)));
        env.insert("NUM_WORKERS".into(), "2".into());
        assert!(!env.contains_key("MONOSTAT_JOB_LEASE_SECS"), "default lease settings");
        let data = tempfile::tempdir().unwrap();
        let mut server = Process::start("all", &env, data.path()).await;

        let harness = db.services().await;
        let admin = Actor::User("admin".into());
        let addresses: Vec<String> = (0..SUBSCRIBERS).map(|i| format!("subscriber{i:03}@example.com")).collect();
        harness.services.subscribers.import_csv(&admin, &addresses.join("\n"), true).await.unwrap();
        harness.services.incidents.create(&admin, NewIncident {
            title: "Checkout fails".into(), status: IncidentStatus::Confirmed, severity: Severity::Outage, start: None,
            text: None, summary: None, silent: false, auto_start: false, do_not_notify: false,
        }).await.unwrap();

        sink.wait_for(DELIVERED_BEFORE_THE_KILL).await;
        server.kill().await;
        let delivered_at_the_kill = sink.count_by_recipient().len();
        assert!(delivered_at_the_kill < SUBSCRIBERS, "the fan-out ended before the kill");

        let _server = Process::start("all", &env, data.path()).await;
        eventually("every subscriber to have the mail", AFTER_THE_RESTART, || async {
            (sink.count_by_recipient().len() == SUBSCRIBERS).then_some(())
        })
        .await;
        db.jobs_done(Some(NOTIFY_SUBSCRIBERS), AFTER_THE_RESTART).await;
        // Only the mails in flight at the kill may have gone out twice.
        assert_each_got_one_with_at_most(&sink.mails(), &addresses, POOL_SIZE as usize);
    }
}
