//! Where mails go: a pooled SMTP connection from `MONOSTAT_MAIL_*`, or, with no host
//! configured, `.eml` files under `{data_dir}/mail/` so a first run loses nothing and
//! shows what would have been sent.
//!
//! TLS is rustls with the public (webpki) roots, plus the certificates of
//! `MONOSTAT_MAIL_CA_FILE` for relays signed by a company CA. The host name is checked
//! against the certificate; there is no switch to turn verification off.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
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
    /// No mail can go out until an operator changes the set-up (wrong password, an
    /// untrusted certificate): retrying only repeats the failure, so the job is parked.
    #[error("{0}")]
    Misconfigured(String),
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
        let tls = if mail.ssl {
            Tls::Wrapper(tls_parameters(host, mail.ca_file.as_deref())?)
        } else if mail.tls {
            Tls::Required(tls_parameters(host, mail.ca_file.as_deref())?)
        } else {
            Tls::None
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .tls(tls)
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

/// Checks the server's certificate against the public roots and, when given, the PEM
/// bundle of `MONOSTAT_MAIL_CA_FILE`; read once at start, so a bad file stops the start.
fn tls_parameters(host: &str, ca_file: Option<&Path>) -> anyhow::Result<TlsParameters> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("cannot read MONOSTAT_MAIL_CA_FILE ({})", path.display()))?;
        let certificates = Certificate::from_pem(&pem)
            .ok()
            .filter(|_| contains_certificate(&pem))
            .with_context(|| {
                format!(
                    "MONOSTAT_MAIL_CA_FILE ({}) holds no readable PEM certificate",
                    path.display()
                )
            })?;
        builder = builder.add_root_certificate(certificates);
    }
    builder
        .build_rustls()
        .context("cannot set up TLS for the SMTP connection")
}

/// `Certificate::from_pem` accepts a file without any certificate; that would only
/// show as "untrusted" at the first mail.
fn contains_certificate(pem: &[u8]) -> bool {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    pem.windows(BEGIN.len()).any(|window| window == BEGIN)
}

/// Only the codes that speak about one mailbox fail one delivery for good. A set-up
/// the server refuses (credentials, certificate) parks the job with the reason. Any
/// other 5xx (sender refused, syntax) would fail every delivery of the fan-out alike;
/// it is retried with back-off (and ends as a dead job in the console) instead of
/// burning through the whole list.
fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    if let Some(reason) = misconfiguration(error) {
        return SendError::Misconfigured(reason);
    }
    let code = error.status().map(|code| code.to_string());
    match code.as_deref() {
        Some("550" | "551" | "552" | "553") => SendError::Permanent(error.to_string()),
        Some(code) if error.is_permanent() => SendError::Temporary(format!(
            "the SMTP server refused the transaction ({code}), not one address: {error}"
        )),
        _ => SendError::Temporary(error.to_string()),
    }
}

/// The reason, in words an operator can act on, when the failure is the set-up's.
fn misconfiguration(error: &lettre::transport::smtp::Error) -> Option<String> {
    let code = error.status().map(|code| code.to_string());
    let hint = match code.as_deref() {
        Some("535") => {
            "the SMTP server refused the user name or password (MONOSTAT_MAIL_USER, MONOSTAT_MAIL_PASSWORD)"
        }
        Some("534") => {
            "the SMTP server wants a stronger login method than it was offered; connect with TLS (MONOSTAT_MAIL_TLS or MONOSTAT_MAIL_SSL)"
        }
        Some("530") => {
            "the SMTP server requires a login first (set MONOSTAT_MAIL_USER and MONOSTAT_MAIL_PASSWORD)"
        }
        Some("538") => {
            "the SMTP server requires encryption first (set MONOSTAT_MAIL_TLS or MONOSTAT_MAIL_SSL)"
        }
        _ if error.is_client() && error.to_string().contains("authentication mechanism") => {
            "the SMTP server offers no login method here; most servers offer AUTH only after STARTTLS (set MONOSTAT_MAIL_TLS)"
        }
        _ => return untrusted_certificate(error),
    };
    Some(format!("{hint}: {error}"))
}

fn untrusted_certificate(error: &lettre::transport::smtp::Error) -> Option<String> {
    use rustls::CertificateError as E;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        // tokio-rustls hands the handshake error on inside an io::Error, whose
        // `source()` skips the error it wraps.
        let inner = current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        let rustls_error = current
            .downcast_ref::<rustls::Error>()
            .or_else(|| inner.and_then(|inner| inner.downcast_ref::<rustls::Error>()));
        if let Some(rustls::Error::InvalidCertificate(problem)) = rustls_error {
            let hint = match problem {
                E::UnknownIssuer | E::BadSignature => {
                    "the SMTP server's TLS certificate is not signed by a trusted authority; for a relay with its own CA, set MONOSTAT_MAIL_CA_FILE to that CA's PEM certificate"
                }
                E::NotValidForName | E::NotValidForNameContext { .. } => {
                    "the SMTP server's TLS certificate is not valid for MONOSTAT_MAIL_HOST; use the host name the certificate names"
                }
                E::Expired | E::ExpiredContext { .. } => {
                    "the SMTP server's TLS certificate has expired"
                }
                _ => "the SMTP server's TLS certificate was refused",
            };
            return Some(format!("{hint} ({problem:?})"));
        }
        cause = inner.or_else(|| current.source());
    }
    None
}

async fn write_eml(dir: &Path, message: &Message) -> std::io::Result<()> {
    // Mails name subscribers and carry their unsubscribe links: the owner's alone.
    tokio::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .await?;
    let name = format!(
        "{}-{}.eml",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
        crate::secret::random_token(48)
    );
    // Written aside and renamed, so a reader never sees half a mail.
    let partial = dir.join(format!(".{name}.partial"));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .await?;
    tokio::io::AsyncWriteExt::write_all(&mut file, &message.formatted()).await?;
    drop(file);
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
