//! E-mail against a real SMTP server (aiosmtpd): double opt-in, the subscription pages,
//! RFC 8058 one-click unsubscribe, the notification rule as mails, headers, the `.eml`
//! fallback, and fan-out faults (SMTP outage, worker crash, refused address).

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use monostat::adapters::email::transport::POOL_SIZE;
use monostat::adapters::email::{Mailer, NotifyHandler};
use monostat::domain::{Actor, IncidentId, IncidentStatus, Severity, SubscriberEmail};
use monostat::events::DomainEvent;
use monostat::jobs::{JobError, JobHandler, Lease};
use monostat::services::follow_up::{NOTIFY_SUBSCRIBERS, SUBSCRIBER_MAIL};
use monostat::services::{
    IncidentChange, NewIncident, SubscriberCount, SubscriberError, TokenState,
};
use monostat::store::{
    audit_entry, incident, job, notification_settings, site_settings, subscriber,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::common::smtp::{
    Mail, SmtpSink, assert_each_got_one_with_at_most, find_url, wait_for_files,
};
use crate::common::{Harness, TestApp, TestDb, both_databases, fixture};

/// Visitors in these tests ask from the test's own machine.
const LOOPBACK: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

const SITE: &str = "https://status.example.com";

fn admin() -> Actor {
    Actor::User("admin".into())
}

fn email(address: &str) -> SubscriberEmail {
    SubscriberEmail::parse(address).unwrap()
}

fn path(url: &str) -> &str {
    url.strip_prefix(SITE).unwrap()
}

fn config_with(db: &TestDb, sink: &SmtpSink) -> monostat::config::Config {
    let env = sink.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    db.app_config(&env)
}

async fn brand(db: &TestDb) {
    site_settings::ActiveModel {
        id: Set(1),
        system_name: Set("Acme".into()),
        ..Default::default()
    }
    .update(&db.conn)
    .await
    .unwrap();
    notification_settings::ActiveModel {
        id: Set(1),
        reply_to: Set(Some("help@example.com".into())),
        ..Default::default()
    }
    .update(&db.conn)
    .await
    .unwrap();
}

async fn import(h: &monostat::services::Services, addresses: &[String]) {
    let report = h
        .subscribers
        .import_csv(&admin(), &addresses.join("\n"), true)
        .await
        .unwrap();
    assert_eq!(report.added, addresses.len() as u64);
}

async fn token_of(db: &TestDb, address: &str) -> String {
    subscriber::Entity::find()
        .filter(subscriber::Column::Email.eq(address))
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap()
        .token
}

/// Opens a suspected incident and confirms it; returns it with its fan-out job.
async fn confirmed_incident(h: &Harness, db: &TestDb, key: &str) -> (IncidentId, job::Model) {
    let opened = h
        .services
        .incidents
        .alert_opened(crate::alerts::report(key, "Database down"))
        .await
        .unwrap();
    h.services
        .incidents
        .confirm(opened.incident_id, &Actor::Slack("bob".into()), false)
        .await
        .unwrap();
    let job = db.jobs_of_kind(NOTIFY_SUBSCRIBERS).await.pop().unwrap();
    (opened.incident_id, job)
}

/// The lease of a job run directly by the test, outside any worker: nobody else takes it.
fn unclaimed() -> Lease {
    Lease::granted(Duration::from_hours(1))
}

fn handler(h: &Harness, config: monostat::config::Config) -> Arc<NotifyHandler> {
    let config = Arc::new(config);
    let mailer = Arc::new(Mailer::from_config(&config).unwrap());
    Arc::new(NotifyHandler::new(h.services.clone(), config, mailer))
}

/// Runs the job as the queue would: again after every temporary failure.
async fn run_until_done(handler: &NotifyHandler, job: &job::Model) {
    for _ in 0..100 {
        match handler.run(job, &unclaimed()).await {
            Ok(()) => return,
            Err(JobError::Temporary(_) | JobError::RetryAfter { .. }) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("{error}"),
        }
    }
    panic!("the fan-out never finished");
}

/// Every expected recipient got exactly one mail, counted as the recipient counts
/// them: a resent copy is a second mail even though it carries the same Message-ID.
fn assert_each_got_exactly_one(mails: &[Mail], expected: &[String]) {
    assert_each_got_one_with_at_most(mails, expected, 0);
}

fn fixture_request(name: &str) -> (String, Vec<u8>) {
    let raw = fixture(&format!("email/{name}"));
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let content_type = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Type: "))
        .unwrap()
        .to_owned();
    (content_type, raw[split + 4..].to_vec())
}

both_databases! {
    async fn double_opt_in_end_to_end(db: TestDb) {
        let Some(sink) = SmtpSink::start().await else { return };
        let app = TestApp::start(config_with(&db, &sink)).await;
        app.services.settings.set_allow_subscriptions(true, &admin()).await.unwrap();

        let first = app.client.post(app.url("/subscribe")).form(&[("email", " Alice@Example.com "), ("consent", "on")]).send().await.unwrap();
        assert_eq!(first.status(), 200);
        let first = first.text().await.unwrap();
        let mails = sink.wait_for(1).await;
        assert_eq!(mails[0].rcpt, "alice@example.com");
        assert!(mails[0].header("Subject").unwrap().contains("confirm your subscription"));
        let confirm = find_url(&mails[0].text(), &format!("{SITE}/subscribe/confirm/"));
        assert_eq!(find_url(&mails[0].html(), &format!("{SITE}/subscribe/confirm/")), confirm);

        // The link only shows a button; a scanner following it confirms nothing.
        let page = app.client.get(app.url(path(&confirm))).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains("<form method=\"post\">") && page.contains("<button type=\"submit\">"), "{page}");
        assert_eq!(app.services.subscribers.count().await.unwrap(), SubscriberCount { active: 0, pending: 1 });

        let done = app.client.post(app.url(path(&confirm))).send().await.unwrap();
        assert_eq!(done.status(), 200);
        assert!(done.text().await.unwrap().contains("You are subscribed"));
        assert_eq!(app.services.subscribers.count().await.unwrap(), SubscriberCount { active: 1, pending: 0 });

        // Asking again answers the same and, within a day, mails nothing.
        let again = app.client.post(app.url("/subscribe")).form(&[("email", "alice@example.com"), ("consent", "on")]).send().await.unwrap();
        assert_eq!(again.status(), 200);
        assert_eq!(again.text().await.unwrap(), first);
        assert_eq!(db.jobs_of_kind(SUBSCRIBER_MAIL).await.len(), 1);

        // An unconfirmed address gets at most one opt-in mail a day too.
        let bob = email("bob@example.com");
        app.services.subscribers.subscribe(&bob, true, LOOPBACK).await.unwrap();
        app.services.subscribers.subscribe(&bob, true, LOOPBACK).await.unwrap();
        assert_eq!(db.jobs_of_kind(SUBSCRIBER_MAIL).await.len(), 2);

        // A day later, a confirmed address gets the short "already subscribed" mail.
        subscriber::Entity::update_many()
            .col_expr(subscriber::Column::LastMailAt, Expr::value(Utc::now() - TimeDelta::hours(25)))
            .filter(subscriber::Column::Email.eq("alice@example.com"))
            .exec(&db.conn)
            .await
            .unwrap();
        app.services.subscribers.subscribe(&email("alice@example.com"), true, LOOPBACK).await.unwrap();
        let mails = sink.wait_for(3).await;
        let already: Vec<_> = mails.iter().filter(|m| m.header("Subject").unwrap().contains("already subscribed")).collect();
        assert_eq!(already.len(), 1);
        assert_eq!(already[0].rcpt, "alice@example.com");
        let token = token_of(&db, "alice@example.com").await;
        assert_eq!(already[0].header("List-Unsubscribe").unwrap(), format!("<{SITE}/unsubscribe/{token}>"));
        app.stop().await;
    }

    async fn closed_subscriptions_and_bad_addresses_are_refused(db: TestDb) {
        let h = db.services().await;
        let refused = h.services.subscribers.subscribe(&email("a@example.com"), true, LOOPBACK).await;
        assert!(matches!(refused, Err(SubscriberError::SubscriptionsClosed)), "{refused:?}");

        let app = TestApp::start(db.app_config(&[])).await;
        let closed = app.client.post(app.url("/subscribe")).form(&[("email", "a@example.com"), ("consent", "on")]).send().await.unwrap();
        assert_eq!(closed.status(), 403);
        assert!(closed.text().await.unwrap().contains("Subscriptions are closed"));
        app.services.settings.set_allow_subscriptions(true, &admin()).await.unwrap();
        let invalid = app.client.post(app.url("/subscribe")).form(&[("email", "not an address"), ("consent", "on")]).send().await.unwrap();
        assert_eq!(invalid.status(), 422);
        assert_eq!(app.services.subscribers.count().await.unwrap(), SubscriberCount::default());
        app.stop().await;
    }

    async fn one_click_unsubscribe_takes_both_encodings_without_redirect(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        for (n, name) in ["one_click_unsubscribe_request.http", "one_click_unsubscribe_request_multipart.http"].into_iter().enumerate() {
            let row = app.services.subscribers.add(&admin(), &email(&format!("u{n}@example.com")), true).await.unwrap();
            let url = app.url(&format!("/unsubscribe/{}", row.token));

            let page = client.get(&url).send().await.unwrap();
            assert_eq!(page.status(), 200);
            assert!(page.text().await.unwrap().contains("<button type=\"submit\">Unsubscribe</button>"));
            assert_eq!(app.services.subscribers.token_state(&row.token).await.unwrap(), TokenState::Active);

            let (content_type, body) = fixture_request(name);
            let response = client.post(&url).header("content-type", content_type).body(body.clone()).send().await.unwrap();
            assert_eq!(response.status(), 200, "{name}");
            assert!(response.headers().get("location").is_none());
            assert!(app.services.subscribers.get(row.id).await.unwrap().is_none(), "{name}");

            // A repeated click is answered kindly, not with an error.
            let again = client.post(&url).header("content-type", "application/x-www-form-urlencoded").body("List-Unsubscribe=One-Click").send().await.unwrap();
            assert_eq!(again.status(), 200);
            assert!(again.text().await.unwrap().contains("You are not subscribed"));
        }
        let unknown = client.get(app.url("/subscribe/confirm/no-such-token")).send().await.unwrap();
        assert_eq!(unknown.status(), 200);
        assert!(unknown.text().await.unwrap().contains("no longer valid"));
        app.stop().await;
    }

    async fn the_notification_rule_through_real_mails(db: TestDb) {
        let Some(sink) = SmtpSink::start().await else { return };
        let app = TestApp::start(config_with(&db, &sink)).await;
        brand(&db).await;
        let s = &app.services;
        import(s, &["alice@example.com".into(), "bob@example.com".into()]).await;

        // Silent incidents and planned maintenance (off by default) enqueue nothing.
        let mut silent = NewIncident {
            title: "Quiet".into(), status: IncidentStatus::Confirmed, severity: Severity::Notice, start: None,
            text: None, summary: None, silent: true, auto_start: false, do_not_notify: false,
        };
        s.incidents.create(&admin(), silent.clone()).await.unwrap();
        silent.silent = false;
        silent.status = IncidentStatus::Planned;
        silent.severity = Severity::Maintenance;
        silent.start = Some(Utc::now() + TimeDelta::days(2));
        s.incidents.create(&admin(), silent).await.unwrap();
        assert!(db.jobs_of_kind(NOTIFY_SUBSCRIBERS).await.is_empty());

        let opened = s.incidents.alert_opened(crate::alerts::report("n1", "Database down")).await.unwrap();
        let id = opened.incident_id;
        incident::ActiveModel { id: Set(id.0), summary: Set(Some("Payments **fail** <b>sometimes</b>".into())), ..Default::default() }.update(&db.conn).await.unwrap();
        s.incidents.confirm(id, &Actor::Slack("bob".into()), false).await.unwrap();
        let mails = sink.wait_for(2).await;
        let alice = mails.iter().find(|m| m.rcpt == "alice@example.com").unwrap();
        let subject = alice.header("Subject").unwrap();
        assert!(subject.starts_with("[Acme] New incident:") && subject.contains("Investigating") && subject.contains("Outage"), "{subject}");
        let from = alice.header("From").unwrap();
        assert!(from.contains("Acme System Status") && from.contains("<status@example.com>"), "{from}");
        assert!(alice.header("Reply-To").unwrap().contains("help@example.com"));
        let token = token_of(&db, "alice@example.com").await;
        assert_eq!(alice.header("List-Unsubscribe").unwrap(), format!("<{SITE}/unsubscribe/{token}>"));
        assert_eq!(alice.header("List-Unsubscribe-Post").unwrap(), "List-Unsubscribe=One-Click");
        assert!(alice.header("Message-ID").unwrap().ends_with("@status.example.com>"));
        assert!(alice.header("Content-Type").unwrap().starts_with("multipart/alternative"));
        let start = incident::Entity::find_by_id(id.0).one(&db.conn).await.unwrap().unwrap().start_at;
        let link = format!("{SITE}/{}/{id}", start.format("%Y-%m-%d"));
        let text = alice.text();
        assert!(text.contains(&link) && text.contains(&format!("{SITE}/unsubscribe/{token}")), "{text}");
        let html = alice.html();
        assert!(html.contains("style=\"") && !html.contains("<style"), "{html}");
        assert!(html.contains(&link) && html.contains(&format!("{SITE}/unsubscribe/{token}")));
        assert!(html.contains("<strong>fail</strong>") && !html.contains("<b>sometimes"), "Markdown rendered, raw HTML not: {html}");
        assert!(!text.to_lowercase().contains("suspect"), "nothing of the unconfirmed phase: {text}");

        s.incidents.update(id, &admin(), IncidentChange { new_status: Some(IncidentStatus::Watching), text: Some("We deployed a fix.".into()), ..Default::default() }).await.unwrap();
        let mails = sink.wait_for(4).await;
        let update = mails.iter().find(|m| m.rcpt == "bob@example.com" && m.header("Subject").unwrap().contains("Monitoring")).unwrap();
        assert!(update.header("Subject").unwrap().starts_with("[Acme] Update:"));
        assert!(update.text().contains("We deployed a fix."));

        // The same status again, and a change marked "do not notify", send nothing.
        s.incidents.update(id, &admin(), IncidentChange { new_status: Some(IncidentStatus::Watching), text: Some("Still watching.".into()), ..Default::default() }).await.unwrap();
        s.incidents.update(id, &admin(), IncidentChange { new_status: Some(IncidentStatus::Resolved), do_not_notify: true, ..Default::default() }).await.unwrap();
        assert_eq!(db.jobs_of_kind(NOTIFY_SUBSCRIBERS).await.len(), 2);
        s.incidents.reopen(id, &admin(), true).await.unwrap();
        assert_eq!(db.jobs_of_kind(NOTIFY_SUBSCRIBERS).await.len(), 2);
        // Resolving for real is announced, as an update.
        s.incidents.update(id, &admin(), IncidentChange { new_status: Some(IncidentStatus::Resolved), ..Default::default() }).await.unwrap();
        db.jobs_done(Some(NOTIFY_SUBSCRIBERS), Duration::from_secs(30)).await;
        let mails = sink.mails();
        assert_eq!(mails.len(), 6);
        assert_eq!(mails.iter().filter(|m| m.header("Subject").unwrap().contains("Resolved")).count(), 2);
        let progress = s.notifications.progress(id, IncidentStatus::Watching).await.unwrap();
        assert_eq!((progress.total, progress.sent, progress.failed), (2, 2, 0));
        app.stop().await;
    }

    async fn a_reopened_incident_is_announced_and_so_is_its_second_end(db: TestDb) {
        let Some(sink) = SmtpSink::start().await else { return };
        let app = TestApp::start(config_with(&db, &sink)).await;
        brand(&db).await;
        let s = &app.services;
        let addresses = vec!["alice@example.com".to_owned(), "bob@example.com".to_owned()];
        import(s, &addresses).await;
        let id = s.incidents.create(&admin(), NewIncident {
            title: "Checkout fails".into(), status: IncidentStatus::Confirmed, severity: Severity::Outage, start: None,
            text: None, summary: None, silent: false, auto_start: false, do_not_notify: false,
        }).await.unwrap().id;
        let resolve = || IncidentChange { new_status: Some(IncidentStatus::Resolved), ..Default::default() };
        s.incidents.update(id, &admin(), resolve()).await.unwrap();
        db.jobs_done(Some(NOTIFY_SUBSCRIBERS), Duration::from_secs(30)).await;
        s.incidents.reopen(id, &admin(), false).await.unwrap();
        db.jobs_done(Some(NOTIFY_SUBSCRIBERS), Duration::from_secs(30)).await;
        s.incidents.update(id, &admin(), IncidentChange { text: Some("The rollback held this time.".into()), ..resolve() }).await.unwrap();
        db.jobs_done(Some(NOTIFY_SUBSCRIBERS), Duration::from_secs(30)).await;

        // Four mails per subscriber: the news, its end, that it is back, its second end.
        let mails = sink.wait_for(8).await;
        for address in &addresses {
            let mut kinds: Vec<String> = mails
                .iter()
                .filter(|m| &m.rcpt == address)
                .map(|m| {
                    let subject = m.header("Subject").unwrap();
                    let prefix = subject.strip_prefix("[Acme] ").unwrap().split(": Checkout fails").next().unwrap().to_owned();
                    format!("{prefix} ({})", if subject.contains("Resolved") { "resolved" } else { "open" })
                })
                .collect();
            kinds.sort();
            assert_eq!(kinds, ["Incident reopened (open)", "New incident (open)", "Update (resolved)", "Update (resolved)"], "{address}");
        }
        let alice: Vec<&Mail> = mails.iter().filter(|m| m.rcpt == "alice@example.com").collect();
        let back = alice.iter().find(|m| m.header("Subject").unwrap().contains("reopened")).unwrap();
        assert!(back.text().contains("is back"), "{}", back.text());
        assert_eq!(alice.iter().filter(|m| m.text().contains("The rollback held this time.")).count(), 1);
        // The console's progress follows the latest announcement of a status.
        let progress = s.notifications.progress(id, IncidentStatus::Resolved).await.unwrap();
        assert_eq!((progress.total, progress.sent), (2, 2));
        app.stop().await;
    }

    async fn maintenance_is_mailed_when_scheduled_and_started_if_enabled(db: TestDb) {
        let Some(sink) = SmtpSink::start().await else { return };
        let app = TestApp::start(config_with(&db, &sink)).await;
        brand(&db).await;
        notification_settings::ActiveModel { id: Set(1), notify_maintenance: Set(true), ..Default::default() }.update(&db.conn).await.unwrap();
        import(&app.services, &["alice@example.com".into()]).await;
        let planned = app.services.incidents.create(&admin(), NewIncident {
            title: "Database upgrade".into(), status: IncidentStatus::Planned, severity: Severity::Maintenance,
            start: Some(Utc::now() + TimeDelta::days(1)), text: None, summary: None, silent: false,
            auto_start: false, do_not_notify: false,
        }).await.unwrap();
        let mails = sink.wait_for(1).await;
        let subject = mails[0].header("Subject").unwrap();
        assert!(subject.starts_with("[Acme] Maintenance scheduled: Database upgrade"), "{subject}");
        app.services.incidents.start_maintenance(planned.id, &admin(), false).await.unwrap();
        let mails = sink.wait_for(2).await;
        assert!(mails.iter().any(|m| m.header("Subject").unwrap().starts_with("[Acme] Maintenance started: Database upgrade")));
        app.stop().await;
    }

    async fn incidents_silenced_before_the_job_runs_are_not_mailed(db: TestDb) {
        let Some(sink) = SmtpSink::start().await else { return };
        let h = db.services().await;
        import(&h.services, &["alice@example.com".into()]).await;
        let (id, job) = confirmed_incident(&h, &db, "s1").await;
        incident::ActiveModel { id: Set(id.0), silent: Set(true), ..Default::default() }.update(&db.conn).await.unwrap();
        handler(&h, config_with(&db, &sink)).run(&job, &unclaimed()).await.unwrap();
        assert!(sink.mails().is_empty());
        assert_eq!(h.services.notifications.progress(id, IncidentStatus::Confirmed).await.unwrap().total, 0);
    }

    async fn an_smtp_outage_mid_fanout_loses_nothing_and_sends_nothing_twice(db: TestDb) {
        let Some(mut sink) = SmtpSink::start_with(None, Some(0.02)).await else { return };
        let h = db.services().await;
        let addresses: Vec<String> = (0..200).map(|i| format!("user{i:03}@example.com")).collect();
        import(&h.services, &addresses).await;
        let (id, job) = confirmed_incident(&h, &db, "o1").await;
        let handler = handler(&h, config_with(&db, &sink));
        let run = tokio::spawn({
            let (handler, job) = (handler.clone(), job.clone());
            async move { handler.run(&job, &unclaimed()).await }
        });
        sink.wait_for(40).await;
        sink.kill().await;
        let first = run.await.unwrap();
        assert!(matches!(first, Err(JobError::Temporary(_))), "{first:?}");
        let halfway = h.services.notifications.progress(id, IncidentStatus::Confirmed).await.unwrap();
        assert_eq!(halfway.total, 200);
        assert!(halfway.pending > 0 && halfway.sent > 0, "{halfway:?}");

        sink.restart().await;
        run_until_done(&handler, &job).await;
        let mails = sink.mails();
        assert_each_got_exactly_one(&mails, &addresses);
        let done = h.services.notifications.progress(id, IncidentStatus::Confirmed).await.unwrap();
        assert_eq!((done.sent, done.failed, done.pending), (200, 0, 0));
    }

    async fn a_worker_dying_mid_fanout_loses_nothing_and_sends_nothing_twice(db: TestDb) {
        let Some(sink) = SmtpSink::start_with(None, Some(0.02)).await else { return };
        let h = db.services().await;
        let addresses: Vec<String> = (0..200).map(|i| format!("user{i:03}@example.com")).collect();
        import(&h.services, &addresses).await;
        let (id, job) = confirmed_incident(&h, &db, "w1").await;
        let handler = handler(&h, config_with(&db, &sink));
        let run = tokio::spawn({
            let (handler, job) = (handler.clone(), job.clone());
            async move { handler.run(&job, &unclaimed()).await }
        });
        sink.wait_for(40).await;
        run.abort();
        assert!(run.await.unwrap_err().is_cancelled());

        // A fresh worker (new connections) picks the job up again. Only the mails in
        // flight at the crash (accepted, not yet recorded) can go out a second time.
        let handler = self::handler(&h, config_with(&db, &sink));
        run_until_done(&handler, &job).await;
        assert_each_got_one_with_at_most(&sink.mails(), &addresses, POOL_SIZE as usize);
        let done = h.services.notifications.progress(id, IncidentStatus::Confirmed).await.unwrap();
        assert_eq!((done.sent, done.pending), (200, 0));
    }

    async fn a_refused_address_fails_only_its_own_delivery(db: TestDb) {
        let Some(sink) = SmtpSink::start_with(Some("reject"), None).await else { return };
        let h = db.services().await;
        let mut addresses: Vec<String> = (0..5).map(|i| format!("ok{i}@example.com")).collect();
        addresses.push("reject-me@example.com".into());
        import(&h.services, &addresses).await;
        let (id, job) = confirmed_incident(&h, &db, "r1").await;
        handler(&h, config_with(&db, &sink)).run(&job, &unclaimed()).await.unwrap();
        let progress = h.services.notifications.progress(id, IncidentStatus::Confirmed).await.unwrap();
        assert_eq!((progress.sent, progress.failed, progress.pending), (5, 1, 0));
        let failures = h.services.notifications.failures(id, IncidentStatus::Confirmed).await.unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].0, "reject-me@example.com");
        assert!(failures[0].1.contains("550"), "{failures:?}");
        assert_each_got_exactly_one(&sink.mails(), &addresses[..5]);
    }

    async fn a_deferred_address_is_retried_and_mailed_once(db: TestDb) {
        let Some(sink) = SmtpSink::start_greylisting("grey").await else { return };
        let h = db.services().await;
        let mut addresses: Vec<String> = (0..4).map(|i| format!("ok{i}@example.com")).collect();
        addresses.push("grey@example.com".into());
        import(&h.services, &addresses).await;
        let (id, job) = confirmed_incident(&h, &db, "g1").await;
        let handler = handler(&h, config_with(&db, &sink));
        // A 451 is no verdict on the address: the job fails for now, to be retried
        // with back-off, and the deferred delivery stays pending.
        let first = handler.run(&job, &unclaimed()).await;
        assert!(matches!(&first, Err(JobError::Temporary(reason)) if reason.contains("451")), "{first:?}");
        let progress = h.services.notifications.progress(id, IncidentStatus::Confirmed).await.unwrap();
        assert_eq!((progress.sent, progress.failed, progress.pending), (4, 0, 1));
        run_until_done(&handler, &job).await;
        let progress = h.services.notifications.progress(id, IncidentStatus::Confirmed).await.unwrap();
        assert_eq!((progress.sent, progress.failed, progress.pending), (5, 0, 0));
        assert_each_got_exactly_one(&sink.mails(), &addresses);
    }

    async fn console_list_management(db: TestDb) {
        let h = db.services().await;
        let mut events = h.events.subscribe();
        let s = &h.services.subscribers;
        let report = s.import_csv(&admin(), "email,active\nA@example.com\nb@example.com,true\nnot-an-address\na@example.com\n\"c@example.com\",x\n", true).await.unwrap();
        assert_eq!(report.added, 3);
        assert_eq!(report.duplicates, vec!["a@example.com".to_owned()]);
        assert_eq!(report.invalid, vec![(4, "not-an-address".to_owned())]);
        assert_eq!(events.recv().await.unwrap(), DomainEvent::SubscribersChanged);

        // Without stated consent, new addresses wait for their own confirmation.
        let report = s.import_csv(&admin(), "b@example.com\nd@example.com", false).await.unwrap();
        assert_eq!((report.added, report.duplicates.clone()), (1, vec!["b@example.com".to_owned()]));
        assert_eq!(db.jobs_of_kind(SUBSCRIBER_MAIL).await.len(), 1);
        assert_eq!(s.count().await.unwrap(), SubscriberCount { active: 3, pending: 1 });

        assert_eq!(s.search("EXAMPLE", 0, 100).await.unwrap().len(), 4);
        let c = s.search("c@", 0, 100).await.unwrap();
        assert_eq!(c.len(), 1);
        let csv = s.export_csv().await.unwrap();
        assert_eq!(csv.lines().count(), 5);
        assert!(csv.lines().any(|line| line.starts_with("c@example.com,true,")));
        assert!(csv.lines().any(|line| line.starts_with("d@example.com,false,")));

        s.remove(&admin(), c[0].id).await.unwrap();
        assert_eq!(s.count().await.unwrap(), SubscriberCount { active: 2, pending: 1 });
        let added = s.add(&admin(), &email("a@example.com"), true).await;
        assert!(matches!(added, Err(SubscriberError::AlreadySubscribed(_))), "{added:?}");
        s.add(&admin(), &email("e@example.com"), true).await.unwrap();

        let audit: Vec<String> = audit_entry::Entity::find().all(&db.conn).await.unwrap().into_iter().map(|e| e.message).collect();
        assert!(audit.iter().any(|m| m.starts_with("Imported 3 subscribers")), "{audit:?}");
        assert!(audit.iter().any(|m| m == "Removed subscriber c@example.com"), "{audit:?}");
        assert!(audit.iter().any(|m| m.starts_with("Added subscriber e@example.com")), "{audit:?}");
    }
}

/// With no SMTP host, mails are written as `.eml` files under the data directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_host_mails_become_eml_files() {
    let db = TestDb::sqlite().await;
    let app = TestApp::start(db.app_config(&[])).await;
    app.services
        .settings
        .set_allow_subscriptions(true, &admin())
        .await
        .unwrap();
    app.services
        .subscribers
        .subscribe(&email("carol@example.com"), true, LOOPBACK)
        .await
        .unwrap();
    let files = wait_for_files(&db.dir.path().join("mail"), 1).await;
    assert!(
        files[0].raw.contains("To: carol@example.com"),
        "{}",
        files[0].raw
    );
    assert!(files[0].text().contains("/subscribe/confirm/"));
    app.stop().await;
}
