//! All configuration comes from the environment (SPEC §6), read once into [`Config`].
//!
//! The variable names are kept from the original monostat so existing deployments can
//! switch over. Defaults make a first run work with nothing set: SQLite and the
//! in-process event bus in `./data`, listening on 127.0.0.1:8080.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::domain::{Origin, percent_encode};
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is set to {value:?}, which is not valid: {reason}")]
    Invalid {
        var: &'static str,
        value: String,
        reason: String,
    },
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Public base URL, used in mails, Slack messages and webhook URLs shown in the console.
    pub site_url: String,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub database: DatabaseConfig,
    pub redis: Option<RedisConfig>,
    pub mail: MailConfig,
    pub num_workers: usize,
    /// How long a claimed job is a worker's alone without renewal. A worker that dies
    /// (SIGKILL, lost machine) holds its jobs this long before another takes them over.
    pub job_lease: Duration,
    /// The safety net under events: how often the public snapshot is rebuilt, and
    /// (every third of it) cached webhook secrets are read again, in case an event
    /// from another replica was missed.
    pub resync_interval: Duration,
    pub automigrate: bool,
    pub log_format: LogFormat,
    pub slack_api_url: String,
    pub overrides: IntegrationOverrides,
    /// `MONOSTAT_WEB_DIR`: a built web frontend (`web/dist`) to serve from disk, for
    /// development; `None` serves the build embedded in the binary.
    pub web_dir: Option<PathBuf>,
    /// `MONOSTAT_TRUSTED_PROXIES`: reverse proxies whose `X-Forwarded-For` names the
    /// client (for rate limits); loopback by default.
    pub trusted_proxies: Vec<crate::client_ip::IpRange>,
    pub retention: RetentionConfig,
    /// `MONOSTAT_METRICS_TOKEN`: when set, `/metrics` answers only a request carrying
    /// it as a bearer token.
    pub metrics_token: Option<Secret>,
    /// `MONOSTAT_OPTIN_MAILS_PER_HOUR`: confirmation mails to new subscribers in any
    /// hour, all replicas together when Redis is configured; past it the form says
    /// "try later", so nobody can make the site mail thousands of strangers.
    pub optin_mails_per_hour: usize,
    /// `MONOSTAT_SOCKETS_PER_ADDRESS`: live WebSockets one client address may hold
    /// open, all replicas together when Redis is configured.
    pub sockets_per_address: usize,
    /// `MONOSTAT_MAX_SOCKETS`: live WebSockets this replica serves at once, whoever
    /// holds them; past it an upgrade is answered 503 and the page polls instead.
    pub max_sockets: usize,
    /// `MONOSTAT_SOCKET_PING_SECS`: how often a live socket is pinged; one that
    /// answers nothing for two of these is closed.
    pub socket_ping: Duration,
    /// `MONOSTAT_MAX_CONNECTIONS`: HTTP connections this replica holds at once;
    /// past it a new one is answered 503 and closed.
    pub max_connections: usize,
}

/// How long transient data is kept; the retention job forgets what is older.
#[derive(Clone, Debug)]
pub struct RetentionConfig {
    /// How often the retention job runs (once across all replicas).
    pub interval: Duration,
    /// Finished jobs; dead ones stay until someone retries or looks at them.
    pub finished_jobs: Duration,
    /// Notification deliveries; their counts stay in a summary.
    pub deliveries: Duration,
    /// Subscribers who never confirmed, counted from the last opt-in mail.
    pub unconfirmed_subscribers: Duration,
    /// The audit log is history: kept for ever unless this is set.
    pub audit: Option<Duration>,
    /// Spooled alerts the database refused for good, kept on each replica's disk for
    /// someone to look at.
    pub rejected_alerts: Duration,
}

#[derive(Clone, Debug)]
pub enum DatabaseConfig {
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        host: String,
        port: u16,
        name: String,
        user: String,
        password: Option<Secret>,
    },
}

#[derive(Clone, Debug)]
pub struct RedisConfig {
    pub host: String,
    pub port: u16,
    pub password: Option<Secret>,
    /// Starts every channel and key, so deployments (and tests) sharing one Redis
    /// never hear each other.
    pub prefix: String,
}

#[derive(Clone, Debug)]
pub struct MailConfig {
    pub from: String,
    /// Unset: mails are written as `.eml` files under the data directory.
    pub host: Option<String>,
    pub port: u16,
    /// STARTTLS.
    pub tls: bool,
    /// Implicit TLS (SMTPS).
    pub ssl: bool,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// PEM certificates trusted besides the public roots, for relays with a private CA.
    pub ca_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Integration secrets set in the environment. A value here wins over the database
/// and shows read-only in the console.
#[derive(Clone, Debug, Default)]
pub struct IntegrationOverrides {
    pub slack_bot_token: Option<Secret>,
    pub slack_signing_secret: Option<Secret>,
    pub slack_channel: Option<String>,
    /// `MONOSTAT_OPSGENIE_SECRET`, `MONOSTAT_ALERTMANAGER_SECRET`, …
    pub alert_source_secrets: HashMap<Origin, Secret>,
    /// `MONOSTAT_PAGERDUTY_SIGNING_SECRET`: PagerDuty's own webhook signing secret; when
    /// set, its `X-PagerDuty-Signature` is checked too.
    pub pagerduty_signing_secret: Option<Secret>,
}

impl DatabaseConfig {
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite { path } => format!("sqlite://{}?mode=rwc", path.display()),
            Self::Postgres {
                host,
                port,
                name,
                user,
                password,
            } => {
                let credentials = match password {
                    Some(password) => format!(
                        "{}:{}",
                        percent_encode(user),
                        percent_encode(password.expose())
                    ),
                    None => percent_encode(user),
                };
                format!(
                    "postgres://{credentials}@{host}:{port}/{}",
                    percent_encode(name)
                )
            }
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite { .. })
    }
}

/// A prefix is part of every channel name; Redis allows anything there, but a space or
/// a glob character would make `PSUBSCRIBE`/`SCAN` patterns and operators' `redis-cli`
/// sessions misread it.
fn redis_prefix(value: Option<String>) -> Result<String, ConfigError> {
    let Some(prefix) = value else {
        return Ok("monostat".into());
    };
    let fine = |c: char| c.is_ascii_alphanumeric() || "-_.:".contains(c);
    if prefix.is_empty() || prefix.len() > 64 || !prefix.chars().all(fine) {
        return Err(ConfigError::Invalid {
            var: "MONOSTAT_REDIS_PREFIX",
            value: prefix,
            reason: "use 1 to 64 letters, digits, '-', '_', '.' or ':'".into(),
        });
    }
    Ok(prefix)
}

impl RedisConfig {
    /// The pub/sub channel domain events travel on.
    pub fn events_channel(&self) -> String {
        format!("{}:events", self.prefix)
    }

    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!(
                "redis://:{}@{}:{}/",
                percent_encode(password.expose()),
                self.host,
                self.port
            ),
            None => format!("redis://{}:{}/", self.host, self.port),
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests can supply their own environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let data_dir = PathBuf::from(
            env.get("MONOSTAT_DATA_DIR")
                .unwrap_or_else(|| "./data".into()),
        );
        let listen: SocketAddr =
            env.parse("MONOSTAT_LISTEN", "127.0.0.1:8080".parse().expect("valid"))?;
        let site_url = env
            .get("MONOSTAT_SITE_URL")
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();

        let database = match env.get("MONOSTAT_DB_TYPE").as_deref() {
            None | Some("sqlite" | "sqlite3") => DatabaseConfig::Sqlite {
                path: sqlite_path(&data_dir, env.get("MONOSTAT_DB_NAME")),
            },
            Some("postgresql" | "postgres") => DatabaseConfig::Postgres {
                host: env
                    .get("MONOSTAT_DB_HOST")
                    .unwrap_or_else(|| "localhost".into()),
                port: env.parse("MONOSTAT_DB_PORT", 5432)?,
                name: env
                    .get("MONOSTAT_DB_NAME")
                    .unwrap_or_else(|| "monostat".into()),
                user: env
                    .get("MONOSTAT_DB_USER")
                    .unwrap_or_else(|| "monostat".into()),
                password: env.get("MONOSTAT_DB_PASS").map(Secret::new),
            },
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "MONOSTAT_DB_TYPE",
                    value: other.into(),
                    reason: "use sqlite or postgresql".into(),
                });
            }
        };

        let redis = match env.get("MONOSTAT_REDIS_HOST") {
            Some(host) => Some(RedisConfig {
                host,
                port: env.parse("MONOSTAT_REDIS_PORT", 6379)?,
                password: env.get("MONOSTAT_REDIS_PASSWORD").map(Secret::new),
                prefix: redis_prefix(env.get("MONOSTAT_REDIS_PREFIX"))?,
            }),
            None => None,
        };

        let mail = mail_config(&env)?;

        let num_workers = env.parse("NUM_WORKERS", num_cpus::get().max(1))?;
        let job_lease_secs: u64 = env.parse("MONOSTAT_JOB_LEASE_SECS", 30)?;
        if job_lease_secs < 2 {
            return Err(ConfigError::Invalid {
                var: "MONOSTAT_JOB_LEASE_SECS",
                value: job_lease_secs.to_string(),
                reason: "a lease shorter than 2 seconds would hand running jobs to a second worker"
                    .into(),
            });
        }
        let job_lease = Duration::from_secs(job_lease_secs);
        let resync_secs: u64 = env.parse("MONOSTAT_RESYNC_SECS", 30)?;
        if resync_secs < 3 {
            return Err(ConfigError::Invalid {
                var: "MONOSTAT_RESYNC_SECS",
                value: resync_secs.to_string(),
                reason: "use at least 3 seconds; events keep replicas current, this is only their safety net".into(),
            });
        }
        let resync_interval = Duration::from_secs(resync_secs);
        let automigrate = match env.get("AUTOMIGRATE").as_deref() {
            None | Some("" | "on" | "yes" | "true" | "1") => true,
            Some("skip" | "off" | "no" | "false" | "0") => false,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "AUTOMIGRATE",
                    value: other.into(),
                    reason: "use skip to skip migrations at start".into(),
                });
            }
        };
        let log_format = match env.get("MONOSTAT_LOG_FORMAT").as_deref() {
            None | Some("" | "text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "MONOSTAT_LOG_FORMAT",
                    value: other.into(),
                    reason: "use text or json".into(),
                });
            }
        };

        let mut slack_api_url = env
            .get("MONOSTAT_SLACK_API_URL")
            .unwrap_or_else(|| "https://slack.com/api/".into());
        if !slack_api_url.ends_with('/') {
            slack_api_url.push('/');
        }

        let web_dir = env
            .get("MONOSTAT_WEB_DIR")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from);

        let alert_source_secrets = Origin::ALL
            .iter()
            .filter(|origin| **origin != Origin::Manual)
            .filter_map(|origin| {
                let var = format!("MONOSTAT_{}_SECRET", origin.as_str().to_uppercase());
                lookup(&var)
                    .filter(|value| !value.is_empty())
                    .map(|value| (*origin, Secret::new(value)))
            })
            .collect();
        let overrides = IntegrationOverrides {
            slack_bot_token: env.get("MONOSTAT_SLACK_BOT_TOKEN").map(Secret::new),
            slack_signing_secret: env.get("MONOSTAT_SLACK_SIGNING_SECRET").map(Secret::new),
            slack_channel: env.get("MONOSTAT_SLACK_CHANNEL"),
            alert_source_secrets,
            pagerduty_signing_secret: env
                .get("MONOSTAT_PAGERDUTY_SIGNING_SECRET")
                .map(Secret::new),
        };

        let trusted_proxies = match env.get("MONOSTAT_TRUSTED_PROXIES") {
            None => crate::client_ip::default_trusted(),
            Some(value) => {
                crate::client_ip::parse_ranges(&value).map_err(|reason| ConfigError::Invalid {
                    var: "MONOSTAT_TRUSTED_PROXIES",
                    value: value.clone(),
                    reason: format!(
                        "{reason}; use addresses or ranges like 10.0.0.0/8, comma-separated"
                    ),
                })?
            }
        };

        let days = |var: &'static str, default: u64| -> Result<Duration, ConfigError> {
            Ok(Duration::from_hours(
                env.parse(var, default)?.saturating_mul(24),
            ))
        };
        let retention = RetentionConfig {
            interval: Duration::from_mins(
                env.parse("MONOSTAT_RETENTION_INTERVAL_MINS", 60)?.max(1),
            ),
            finished_jobs: days("MONOSTAT_JOB_RETENTION_DAYS", 7)?,
            deliveries: days("MONOSTAT_DELIVERY_RETENTION_DAYS", 90)?,
            unconfirmed_subscribers: days("MONOSTAT_UNCONFIRMED_SUBSCRIBER_DAYS", 7)?,
            audit: match env.get("MONOSTAT_AUDIT_RETENTION_DAYS") {
                Some(_) => Some(days("MONOSTAT_AUDIT_RETENTION_DAYS", 0)?),
                None => None,
            },
            rejected_alerts: days("MONOSTAT_REJECTED_ALERT_RETENTION_DAYS", 30)?,
        };

        let optin_mails_per_hour = env.parse("MONOSTAT_OPTIN_MAILS_PER_HOUR", 500)?;
        // An office behind one NAT address opens many pages in an incident; one
        // client holding thousands of sockets is an attack.
        let sockets_per_address = env.parse("MONOSTAT_SOCKETS_PER_ADDRESS", 64)?;
        // An open page's socket costs some 11 KiB (bench/live.sh): 20,000 of them are
        // some 220 MB, within a small machine, and below the usual open-file limit.
        let max_sockets = env.parse("MONOSTAT_MAX_SOCKETS", 20_000)?;
        let socket_ping_secs: u64 = env.parse("MONOSTAT_SOCKET_PING_SECS", 30)?;
        if socket_ping_secs == 0 {
            return Err(ConfigError::Invalid {
                var: "MONOSTAT_SOCKET_PING_SECS",
                value: socket_ping_secs.to_string(),
                reason: "use at least 1 second".into(),
            });
        }
        let max_connections = env.parse("MONOSTAT_MAX_CONNECTIONS", 10_000)?;

        Ok(Self {
            site_url,
            data_dir,
            listen,
            database,
            redis,
            mail,
            num_workers,
            job_lease,
            resync_interval,
            automigrate,
            log_format,
            slack_api_url,
            overrides,
            web_dir,
            trusted_proxies,
            retention,
            metrics_token: env
                .get("MONOSTAT_METRICS_TOKEN")
                .filter(|token| !token.is_empty())
                .map(Secret::new),
            optin_mails_per_hour,
            sockets_per_address,
            max_sockets,
            socket_ping: Duration::from_secs(socket_ping_secs),
            max_connections,
        })
    }
}

fn sqlite_path(data_dir: &Path, name: Option<String>) -> PathBuf {
    match name {
        Some(name) if Path::new(&name).is_absolute() => PathBuf::from(name),
        Some(name) => data_dir.join(name),
        None => data_dir.join("monostat.sqlite3"),
    }
}

fn mail_config<F: Fn(&str) -> Option<String>>(env: &Env<'_, F>) -> Result<MailConfig, ConfigError> {
    let tls = env.flag("MONOSTAT_MAIL_TLS")?;
    let ssl = env.flag("MONOSTAT_MAIL_SSL")?;
    if tls && ssl {
        // Silently preferring one would hide a typo until the first mail fails.
        return Err(ConfigError::Invalid {
            var: "MONOSTAT_MAIL_SSL",
            value: "true".into(),
            reason: "MONOSTAT_MAIL_TLS (STARTTLS, port 587) and MONOSTAT_MAIL_SSL (implicit TLS, port 465) exclude each other; set one".into(),
        });
    }
    let user = env.get("MONOSTAT_MAIL_USER");
    let password = env.get("MONOSTAT_MAIL_PASSWORD").map(Secret::new);
    if user.is_some() != password.is_some() {
        let (var, missing) = if user.is_some() {
            ("MONOSTAT_MAIL_USER", "MONOSTAT_MAIL_PASSWORD")
        } else {
            ("MONOSTAT_MAIL_PASSWORD", "MONOSTAT_MAIL_USER")
        };
        return Err(ConfigError::Invalid {
            var,
            value: "(set)".into(),
            reason: format!("SMTP AUTH needs {missing} too"),
        });
    }
    let ca_file = env.get("MONOSTAT_MAIL_CA_FILE").map(PathBuf::from);
    if ca_file.is_some() && !tls && !ssl {
        return Err(ConfigError::Invalid {
            var: "MONOSTAT_MAIL_CA_FILE",
            value: ca_file
                .map(|path| path.display().to_string())
                .unwrap_or_default(),
            reason: "a CA file is only used with TLS; set MONOSTAT_MAIL_TLS or MONOSTAT_MAIL_SSL"
                .into(),
        });
    }
    // The port each mode is usually served on, so setting the mode is enough.
    let default_port = if ssl {
        465
    } else if tls {
        587
    } else {
        25
    };
    Ok(MailConfig {
        from: env
            .get("MONOSTAT_MAIL_FROM")
            .unwrap_or_else(|| "status@localhost".into()),
        host: env.get("MONOSTAT_MAIL_HOST"),
        port: env.parse("MONOSTAT_MAIL_PORT", default_port)?,
        tls,
        ssl,
        user,
        password,
        ca_file,
    })
}

struct Env<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Env<'_, F> {
    /// The variable's value; empty counts as unset, as in most deployment tools.
    fn get(&self, var: &str) -> Option<String> {
        (self.0)(var).filter(|value| !value.trim().is_empty())
    }

    fn parse<T: FromStr>(&self, var: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(var) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|error: T::Err| ConfigError::Invalid {
                    var,
                    reason: error.to_string(),
                    value,
                }),
        }
    }

    fn flag(&self, var: &'static str) -> Result<bool, ConfigError> {
        match self.get(var).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("0" | "false" | "no" | "off") => Ok(false),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some(other) => Err(ConfigError::Invalid {
                var,
                value: other.into(),
                reason: "use true or false".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
