//! Where mails go: a pooled SMTP connection from `MONOSTAT_MAIL_*`, or, with no host
//! configured, `.eml` files under `{data_dir}/mail/` so a first run loses nothing and
//! shows what would have been sent.

use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;

/// Connections kept open to the SMTP server; also the most mails sent at once.
pub const POOL_SIZE: u32 = 16;
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a mail was not sent, as far as retrying is concerned.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server or the network may do better later (4xx, connection lost, timeout).
    #[error("temporary: {0}")]
    Temporary(String),
    /// The server refused this mail for good (5xx, e.g. unknown recipient).
    #[error("permanent: {0}")]
    Permanent(String),
}

pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

impl Mailer {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let mail = &config.mail;
        let Some(host) = mail.host.as_deref() else {
            let dir = config.data_dir.join("mail");
            tracing::info!(dir = %dir.display(), "no SMTP host configured (MONOSTAT_MAIL_HOST); mails are written as .eml files");
            return Ok(Self::Files(dir));
        };
        let builder = if mail.ssl {
            AsyncSmtpTransport::<Tokio1Executor>::relay(host)?
        } else if mail.tls {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        };
        let mut builder = builder
            .port(mail.port)
            .timeout(Some(SMTP_TIMEOUT))
            .hello_name(ClientId::Domain(site_domain(&config.site_url)))
            .pool_config(PoolConfig::new().max_size(POOL_SIZE));
        if let (Some(user), Some(password)) = (&mail.user, &mail.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Self::Smtp(builder.build()))
    }

    /// Sends one message; `Ok` means the server accepted it (or the file is written).
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Self::Smtp(transport) => transport
                .send(message)
                .await
                .map(drop)
                .map_err(|error| classify(&error)),
            Self::Files(dir) => write_eml(dir, &message).await.map_err(|error| {
                SendError::Temporary(format!("cannot write the .eml file: {error}"))
            }),
        }
    }
}

/// Only the codes that speak about one mailbox fail one delivery for good. Any other
/// 5xx (authentication required, sender refused, syntax) would fail every delivery of
/// the fan-out alike; that is a configuration problem, so it is retried with back-off
/// (and ends as a dead job in the console) instead of burning through the whole list.
fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    let code = error.status().map(|code| code.to_string());
    match code.as_deref() {
        Some("550" | "551" | "552" | "553") => SendError::Permanent(error.to_string()),
        Some(code) if error.is_permanent() => SendError::Temporary(format!(
            "the SMTP server refused the transaction ({code}), not one address: {error}"
        )),
        _ => SendError::Temporary(error.to_string()),
    }
}

async fn write_eml(dir: &std::path::Path, message: &Message) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let name = format!(
        "{}-{}.eml",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
        crate::secret::random_token(48)
    );
    // Written aside and renamed, so a reader never sees half a mail.
    let partial = dir.join(format!(".{name}.partial"));
    tokio::fs::write(&partial, message.formatted()).await?;
    let path = dir.join(name);
    tokio::fs::rename(&partial, &path).await?;
    tracing::debug!(path = %path.display(), "mail written");
    Ok(())
}

/// The host part of the site URL: the domain of Message-IDs and of the EHLO greeting.
pub fn site_domain(site_url: &str) -> String {
    let rest = site_url
        .split_once("://")
        .map_or(site_url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    if host.is_empty() {
        "localhost".to_owned()
    } else {
        host.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::site_domain;

    #[test]
    fn the_site_domain_is_the_host_without_port() {
        assert_eq!(
            site_domain("https://Status.Example.com/"),
            "status.example.com"
        );
        assert_eq!(site_domain("http://127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(site_domain("https://[::1]:8443/x"), "[::1]");
        assert_eq!(site_domain(""), "localhost");
    }
}
