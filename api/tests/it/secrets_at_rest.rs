//! Secrets at rest: the Slack token and signing secret, the webhook secrets and the
//! TOTP seeds are stored sealed with a key derived from `secret.key`; plaintext rows
//! from before are sealed at start and keep working; a database without its
//! `secret.key` says what to do instead of failing blindly; the data directory and
//! the files in it are the owner's alone.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use monostat::domain::totp::step_at;
use monostat::domain::{Actor, FactorKind, Origin, SubscriberEmail};
use monostat::secret::{Secret, SecretBox};
use monostat::services::{AlertEvent, AlertReport, AlertSpool, SlackSettingsChange, StepUp};
use monostat::store::{alert_source, second_factor, slack_settings};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::common::smtp::wait_for_files;
use crate::common::{TestApp, TestDb, both_databases, fixture};
use crate::graphql::{PASSWORD, code, gql, login};
use crate::second_factors::{SITE, enrol_totp};

const TOKEN: &str = "xoxb-0000000000-stored-token";
const SIGNING_SECRET: &str = "0123456789abcdef0123456789abcdef";
const LOGIN_TOTP: &str =
    "mutation($t: String!, $c: String!) { loginTotp(pendingToken: $t, code: $c) { accessToken } }";

// The places the values are bound to. Spelled out here on purpose: changing one in
// the server would make every database sealed before unreadable.
const BOT_TOKEN_PLACE: &str = "slack_settings.bot_token";
const SIGNING_SECRET_PLACE: &str = "slack_settings.signing_secret";
fn webhook_place(source: &str) -> String {
    format!("alert_source.secret:{source}")
}
fn totp_place(user_id: i64) -> String {
    format!("second_factor.secret:totp:user:{user_id}")
}

/// The box a server on this data directory seals with.
fn sealing_box(db: &TestDb) -> SecretBox {
    let key = std::fs::read_to_string(db.dir.path().join("secret.key")).unwrap();
    SecretBox::new(&Secret::new(key.trim()))
}

async fn set_slack(app: &TestApp) {
    app.services
        .settings
        .update_slack(
            SlackSettingsChange {
                bot_token: Some(Secret::new(TOKEN)),
                signing_secret: Some(Secret::new(SIGNING_SECRET)),
                channel_name: Some("status".into()),
                allowed_user_ids: None,
            },
            &Actor::System,
            Some(&StepUp::command_line()),
        )
        .await
        .unwrap();
}

async fn slack_row(db: &TestDb) -> slack_settings::Model {
    slack_settings::Entity::find_by_id(1)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap()
}

async fn webhook_row(db: &TestDb, source: Origin) -> alert_source::Model {
    alert_source::Entity::find_by_id(source.as_str())
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap()
}

async fn totp_rows(db: &TestDb) -> Vec<second_factor::Model> {
    second_factor::Entity::find()
        .filter(second_factor::Column::Kind.eq(FactorKind::Totp))
        .all(&db.conn)
        .await
        .unwrap()
}

fn assert_sealed(stored: &str, plaintext: &str) {
    assert!(stored.starts_with("enc:v1:"), "{stored}");
    assert!(!stored.contains(plaintext), "{stored}");
}

async fn post_hook(app: &TestApp, source: &str, secret: &str) -> u16 {
    app.client
        .post(app.url(&format!("/integrations/{source}/hook/{secret}")))
        .header("content-type", "application/json")
        .body(fixture("opsgenie/invalid-not-json.txt"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Whether the hook takes `secret`: with it, a body that is not JSON is refused as
/// such (400), while a wrong secret is refused first (403). No incident is made, so
/// no job is left behind.
async fn hook_accepts(app: &TestApp, secret: &str) -> bool {
    match post_hook(app, "opsgenie", secret).await {
        400 => true,
        403 => false,
        other => panic!("unexpected status {other}"),
    }
}

/// A second console user without second factors, for looking at settings when
/// alice's own factor cannot be checked.
async fn bob(app: &TestApp) -> String {
    app.services
        .users
        .create(
            "bob",
            "bobs long password",
            &Actor::System,
            &StepUp::command_line(),
        )
        .await
        .ok();
    let response = gql(
        app,
        None,
        "mutation { login(username: \"bob\", password: \"bobs long password\") { accessToken } }",
        json!({}),
    )
    .await;
    response["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Alice's login with the password and then a TOTP code of `step`.
async fn totp_login(app: &TestApp, code_now: &str) -> Value {
    let response = gql(
        app,
        None,
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { secondFactor { pendingToken } } }",
        json!({ "u": "alice", "p": PASSWORD }),
    )
    .await;
    let pending = response["data"]["login"]["secondFactor"]["pendingToken"]
        .as_str()
        .unwrap()
        .to_owned();
    gql(
        app,
        None,
        LOGIN_TOTP,
        json!({ "t": pending, "c": code_now }),
    )
    .await
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

both_databases! {
    async fn secrets_written_through_the_services_are_stored_sealed_and_read_back(db: TestDb) {
        let app = TestApp::start(db.app_config(&[("MONOSTAT_SITE_URL", SITE)])).await;
        set_slack(&app).await;
        let row = slack_row(&db).await;
        assert_sealed(row.bot_token.as_deref().unwrap(), TOKEN);
        assert_sealed(row.signing_secret.as_deref().unwrap(), SIGNING_SECRET);
        let slack = app.services.settings.slack().await.unwrap();
        assert_eq!(slack.bot_token.unwrap().expose(), TOKEN);
        assert_eq!(slack.signing_secret.unwrap().expose(), SIGNING_SECRET);

        // The webhook secrets made at the first start, and a rotated one.
        let secret = app.services.settings.alert_source_secret(Origin::Opsgenie).await.unwrap();
        assert_sealed(&webhook_row(&db, Origin::Opsgenie).await.secret, secret.expose());
        assert!(hook_accepts(&app, secret.expose()).await);
        let rotated = app
            .services
            .settings
            .rotate_alert_source_secret(Origin::Opsgenie, &Actor::System, &StepUp::command_line())
            .await
            .unwrap();
        assert_sealed(&webhook_row(&db, Origin::Opsgenie).await.secret, rotated.expose());
        assert!(hook_accepts(&app, rotated.expose()).await);
        assert!(!hook_accepts(&app, secret.expose()).await);

        // A TOTP seed, and the login it still makes possible.
        let token = login(&app).await;
        let (totp, step) = enrol_totp(&app, &token).await;
        let seeds = totp_rows(&db).await;
        assert_eq!(seeds.len(), 1);
        assert_sealed(&seeds[0].secret, &totp.to_base32());
        let session = totp_login(&app, &totp.code_at(step + 1)).await;
        assert!(session["data"]["loginTotp"]["accessToken"].is_string(), "{session}");
        app.stop().await;
    }

    async fn a_sealed_value_moved_to_another_column_or_row_does_not_open(db: TestDb) {
        let app = TestApp::start(db.app_config(&[])).await;
        set_slack(&app).await;

        // The signing secret's ciphertext in the token's column.
        let row = slack_row(&db).await;
        slack_settings::ActiveModel {
            id: Set(1),
            bot_token: Set(row.signing_secret.clone()),
            ..Default::default()
        }
        .update(&db.conn)
        .await
        .unwrap();
        let error = app.services.settings.slack().await.unwrap_err();
        assert!(error.to_string().starts_with("the stored Slack bot token cannot be decrypted"), "{error}");

        // OpsGenie's webhook secret in the generic source's row.
        let opsgenie = webhook_row(&db, Origin::Opsgenie).await;
        alert_source::ActiveModel {
            source: Set(Origin::Generic.as_str().to_owned()),
            secret: Set(opsgenie.secret),
            ..Default::default()
        }
        .update(&db.conn)
        .await
        .unwrap();
        app.services.settings.forget_cached();
        let error = app.services.settings.alert_source_secret(Origin::Generic).await.unwrap_err();
        assert!(error.to_string().starts_with("the stored generic webhook secret cannot be decrypted"), "{error}");
        assert!(app.services.settings.alert_source_secret(Origin::Opsgenie).await.is_ok());
        app.stop().await;
    }

    async fn plaintext_secrets_from_before_are_sealed_at_start_and_keep_working(db: TestDb) {
        let config = db.app_config(&[("MONOSTAT_SITE_URL", SITE)]);
        let app = TestApp::start(config.clone()).await;
        set_slack(&app).await;
        let token = login(&app).await;
        let (totp, step) = enrol_totp(&app, &token).await;
        let webhook = app.services.settings.alert_source_secret(Origin::Opsgenie).await.unwrap();
        app.stop().await;

        // Rows as a server before sealing left them: every secret in plaintext.
        let sealing = sealing_box(&db);
        let row = slack_row(&db).await;
        slack_settings::ActiveModel {
            id: Set(1),
            bot_token: Set(Some(sealing.open(BOT_TOKEN_PLACE, row.bot_token.as_deref().unwrap()).unwrap().expose().to_owned())),
            signing_secret: Set(Some(sealing.open(SIGNING_SECRET_PLACE, row.signing_secret.as_deref().unwrap()).unwrap().expose().to_owned())),
            ..Default::default()
        }
        .update(&db.conn)
        .await
        .unwrap();
        for source in alert_source::Entity::find().all(&db.conn).await.unwrap() {
            let plain = sealing.open(&webhook_place(&source.source), &source.secret).unwrap();
            alert_source::ActiveModel {
                source: Set(source.source),
                secret: Set(plain.expose().to_owned()),
                ..Default::default()
            }
            .update(&db.conn)
            .await
            .unwrap();
        }
        let seed = totp_rows(&db).await.remove(0);
        second_factor::ActiveModel {
            id: Set(seed.id),
            secret: Set(sealing.open(&totp_place(seed.user_id), &seed.secret).unwrap().expose().to_owned()),
            ..Default::default()
        }
        .update(&db.conn)
        .await
        .unwrap();
        assert_eq!(slack_row(&db).await.bot_token.as_deref(), Some(TOKEN));
        assert_eq!(webhook_row(&db, Origin::Opsgenie).await.secret, webhook.expose());
        assert_eq!(totp_rows(&db).await[0].secret, totp.to_base32());

        // The new version starts on them and seals them.
        let app = TestApp::start(config).await;
        let row = slack_row(&db).await;
        assert_sealed(row.bot_token.as_deref().unwrap(), TOKEN);
        assert_sealed(row.signing_secret.as_deref().unwrap(), SIGNING_SECRET);
        for source in alert_source::Entity::find().all(&db.conn).await.unwrap() {
            assert!(source.secret.starts_with("enc:v1:"), "{}", source.source);
        }
        assert_sealed(&webhook_row(&db, Origin::Opsgenie).await.secret, webhook.expose());
        assert_sealed(&totp_rows(&db).await[0].secret, &totp.to_base32());

        // And everything works as before: the Slack settings, the webhook URL the
        // monitoring tool already has, the authenticator app.
        let slack = app.services.settings.slack().await.unwrap();
        assert_eq!(slack.bot_token.unwrap().expose(), TOKEN);
        assert_eq!(slack.signing_secret.unwrap().expose(), SIGNING_SECRET);
        assert_eq!(slack.channel_name.as_deref(), Some("status"));
        assert!(hook_accepts(&app, webhook.expose()).await);
        let next = (step + 1).max(step_at(Utc::now()));
        let session = totp_login(&app, &totp.code_at(next)).await;
        let access = session["data"]["loginTotp"]["accessToken"].as_str().unwrap().to_owned();
        let settings = gql(&app, Some(&access), "{ slackSettings { channel botTokenSet signingSecretSet } }", json!({})).await;
        assert_eq!(
            settings["data"]["slackSettings"],
            json!({ "channel": "status", "botTokenSet": true, "signingSecretSet": true }),
            "{settings}"
        );
        app.stop().await;

        // A second start finds nothing left to seal and changes nothing.
        let before = slack_row(&db).await;
        let app = TestApp::start(db.app_config(&[("MONOSTAT_SITE_URL", SITE)])).await;
        assert_eq!(slack_row(&db).await.bot_token, before.bot_token);
        app.stop().await;
    }

    async fn a_database_without_its_secret_key_says_what_to_do(db: TestDb) {
        let config = db.app_config(&[("MONOSTAT_SITE_URL", SITE)]);
        let app = TestApp::start(config.clone()).await;
        set_slack(&app).await;
        let token = login(&app).await;
        let (totp, step) = enrol_totp(&app, &token).await;
        let webhook = app.services.settings.alert_source_secret(Origin::Opsgenie).await.unwrap();
        app.stop().await;

        // Restored without its secret.key: the server makes a new one.
        std::fs::remove_file(db.dir.path().join("secret.key")).unwrap();
        let app = TestApp::start(config).await;

        let bob = bob(&app).await;
        let settings = gql(&app, Some(&bob), "{ slackSettings { channel botTokenSet } }", json!({})).await;
        assert_eq!(code(&settings), "UNAVAILABLE", "{settings}");
        let message = settings["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("the stored Slack bot token cannot be decrypted"), "{message}");
        assert!(message.contains("secret.key"), "{message}");
        assert!(message.contains("Set it again in the console"), "{message}");
        // Setting it again is the way out.
        set_slack(&app).await;
        assert_eq!(app.services.settings.slack().await.unwrap().bot_token.unwrap().expose(), TOKEN);

        // The webhook says why it cannot take alerts, and rotating mends it.
        let error = app.services.settings.alert_source_secret(Origin::Opsgenie).await.unwrap_err();
        assert!(error.to_string().contains("Rotate it in the console"), "{error}");
        assert_eq!(post_hook(&app, "opsgenie", webhook.expose()).await, 503);
        let rotated = app
            .services
            .settings
            .rotate_alert_source_secret(Origin::Opsgenie, &Actor::System, &StepUp::command_line())
            .await
            .unwrap();
        assert!(hook_accepts(&app, rotated.expose()).await);

        // Alice's authenticator app cannot be checked: she is told to have it reset.
        let refused = totp_login(&app, &totp.code_at(step + 1)).await;
        let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("the stored authenticator app secret cannot be decrypted"), "{refused}");
        assert!(message.contains("reset this account's second factors"), "{message}");
        app.stop().await;
    }

    async fn the_data_directory_and_its_files_are_the_owners_alone(db: TestDb) {
        // A directory an older version made with the umask's mode is tightened.
        std::fs::set_permissions(db.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let app = TestApp::start(db.app_config(&[])).await;
        let dir = db.dir.path();
        assert_eq!(mode(dir), 0o700);
        assert_eq!(mode(&dir.join("secret.key")), 0o600);
        if let monostat::config::DatabaseConfig::Sqlite { path } = &db.config {
            assert_eq!(mode(path), 0o600);
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            assert_eq!(mode(Path::new(&wal)), 0o600);
        }

        // A mail written as a file (no SMTP host): the opt-in mail of a subscriber.
        app.services.settings.set_allow_subscriptions(true, &Actor::System).await.unwrap();
        app.services
            .subscribers
            .subscribe(&SubscriberEmail::parse("carol@example.com").unwrap(), true, std::net::Ipv4Addr::LOCALHOST.into())
            .await
            .unwrap();
        let mails = wait_for_files(&dir.join("mail"), 1).await;
        assert_eq!(mails.len(), 1);
        assert_eq!(mode(&dir.join("mail")), 0o700);
        for entry in std::fs::read_dir(dir.join("mail")).unwrap() {
            assert_eq!(mode(&entry.unwrap().path()), 0o600);
        }
        app.stop().await;

        // A spooled alert (after the stop, so no replay applies it behind the test).
        AlertSpool::open(dir, Duration::from_hours(24))
            .unwrap()
            .append(&AlertEvent::Opened(AlertReport {
                source: Origin::Opsgenie,
                external_id: "spooled".into(),
                message: "spooled".into(),
                description: None,
            }))
            .await
            .unwrap();
        assert_eq!(mode(&dir.join("spool")), 0o700);
        assert_eq!(mode(&dir.join("spool/alerts.jsonl")), 0o600);
    }
}
