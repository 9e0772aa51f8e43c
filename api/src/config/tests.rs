use std::collections::BTreeMap;

use super::*;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|name| vars.get(name).cloned())
}

#[test]
fn redis_channels_carry_the_deployments_prefix() {
    let plain = config(&[("MONOSTAT_REDIS_HOST", "redis")]).expect("valid");
    assert_eq!(
        plain.redis.expect("set").events_channel(),
        "monostat:events"
    );
    let staging = config(&[
        ("MONOSTAT_REDIS_HOST", "redis"),
        ("MONOSTAT_REDIS_PREFIX", "status-staging"),
    ])
    .expect("valid");
    assert_eq!(
        staging.redis.expect("set").events_channel(),
        "status-staging:events"
    );
    for bad in ["a b", "monostat*", &"x".repeat(65)] {
        let error = config(&[
            ("MONOSTAT_REDIS_HOST", "redis"),
            ("MONOSTAT_REDIS_PREFIX", bad),
        ])
        .unwrap_err();
        assert!(
            error.to_string().contains("MONOSTAT_REDIS_PREFIX"),
            "{bad:?}"
        );
    }
}

#[test]
fn nothing_set_means_sqlite_in_the_data_directory() {
    let config = config(&[]).expect("defaults are valid");
    assert!(
        matches!(config.database, DatabaseConfig::Sqlite { ref path } if path == Path::new("./data/monostat.sqlite3"))
    );
    assert!(config.redis.is_none());
    assert!(config.automigrate);
    assert_eq!(config.job_lease, Duration::from_secs(30));
    assert_eq!(config.site_url, "http://127.0.0.1:8080");
    assert_eq!(config.slack_api_url, "https://slack.com/api/");
}

#[test]
fn postgres_credentials_are_escaped_in_the_url() {
    let config = config(&[
        ("MONOSTAT_DB_TYPE", "postgresql"),
        ("MONOSTAT_DB_HOST", "db"),
        ("MONOSTAT_DB_USER", "mono"),
        ("MONOSTAT_DB_PASS", "p@ss/word"),
    ])
    .expect("valid");
    assert_eq!(
        config.database.url(),
        "postgres://mono:p%40ss%2Fword@db:5432/monostat"
    );
}

#[test]
fn a_bad_value_names_the_variable() {
    let error = config(&[("MONOSTAT_DB_PORT", "fifty")]).map(|_| ()).ok();
    assert!(error.is_some(), "unused when db type is sqlite");
    let error = config(&[("MONOSTAT_DB_TYPE", "oracle")]).unwrap_err();
    assert!(error.to_string().contains("MONOSTAT_DB_TYPE"));
    let error = config(&[("AUTOMIGRATE", "maybe")]).unwrap_err();
    assert!(error.to_string().contains("AUTOMIGRATE"));
    let error = config(&[("MONOSTAT_JOB_LEASE_SECS", "0")]).unwrap_err();
    assert!(error.to_string().contains("MONOSTAT_JOB_LEASE_SECS"));
    let error = config(&[("MONOSTAT_LISTEN", "localhost")]).unwrap_err();
    assert!(error.to_string().contains("MONOSTAT_LISTEN"));
}

#[test]
fn integration_secrets_come_from_the_environment() {
    let config = config(&[
        ("MONOSTAT_OPSGENIE_SECRET", "from-env"),
        ("MONOSTAT_SLACK_API_URL", "http://127.0.0.1:9/api"),
    ])
    .expect("valid");
    assert!(config.overrides.alert_source_secrets[&Origin::Opsgenie].matches("from-env"));
    assert_eq!(config.slack_api_url, "http://127.0.0.1:9/api/");
}

#[test]
fn the_mail_port_follows_the_tls_mode_unless_set() {
    let port = |vars: &[(&str, &str)]| config(vars).expect("valid").mail.port;
    assert_eq!(port(&[]), 25);
    assert_eq!(port(&[("MONOSTAT_MAIL_TLS", "true")]), 587);
    assert_eq!(port(&[("MONOSTAT_MAIL_SSL", "true")]), 465);
    assert_eq!(
        port(&[
            ("MONOSTAT_MAIL_SSL", "true"),
            ("MONOSTAT_MAIL_PORT", "2465")
        ]),
        2465
    );
}

#[test]
fn contradictory_or_half_mail_settings_are_refused() {
    let error =
        config(&[("MONOSTAT_MAIL_TLS", "true"), ("MONOSTAT_MAIL_SSL", "true")]).unwrap_err();
    assert!(error.to_string().contains("exclude each other"));
    let error = config(&[("MONOSTAT_MAIL_USER", "mailer")]).unwrap_err();
    assert!(error.to_string().contains("MONOSTAT_MAIL_PASSWORD"));
    let error = config(&[("MONOSTAT_MAIL_PASSWORD", "secret")]).unwrap_err();
    assert!(error.to_string().contains("MONOSTAT_MAIL_USER"));
}
