//! A real SMTP server for tests: `tests/support/smtp_sink.py` (aiosmtpd) as a child
//! process on a free port, storing each accepted message as a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::process::{Child, Command};

pub struct SmtpSink {
    pub port: u16,
    pub dir: TempDir,
    reject: Option<String>,
    greylist: Option<String>,
    delay: Option<f64>,
    hold_after: Option<usize>,
    security: Option<Security>,
    child: Option<Child>,
}

/// How the server protects the connection, as mail providers run theirs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS, which the server requires before mail.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Implicit,
}

/// TLS with the server certificate of `ca`, and AUTH with this user and password.
struct Security {
    mode: TlsMode,
    cert: PathBuf,
    key: PathBuf,
    ca_file: PathBuf,
    user: String,
    password: String,
}

/// One stored message.
#[derive(Clone, Debug)]
pub struct Mail {
    pub rcpt: String,
    pub raw: String,
}

impl SmtpSink {
    /// `None` (skip) when Python's aiosmtpd is missing and this is not CI.
    pub async fn start() -> Option<Self> {
        Self::start_with(None, None).await
    }

    /// `reject`: RCPT TO addresses containing it get 550. `delay`: seconds per DATA.
    pub async fn start_with(reject: Option<&str>, delay: Option<f64>) -> Option<Self> {
        Self::start_configured(reject, None, delay, None).await
    }

    async fn start_configured(
        reject: Option<&str>,
        greylist: Option<&str>,
        delay: Option<f64>,
        hold_after: Option<usize>,
    ) -> Option<Self> {
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|status| status.success());
        if !available {
            assert!(
                !super::services_required(),
                "Python's aiosmtpd is required in CI (pip install aiosmtpd)"
            );
            eprintln!("skipping: python3 -c 'import aiosmtpd' fails");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut sink = Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            reject: reject.map(str::to_owned),
            greylist: greylist.map(str::to_owned),
            delay,
            hold_after,
            security: None,
            child: None,
        };
        sink.restart().await;
        Some(sink)
    }

    /// A server that requires TLS (`mode`) with a certificate signed by `ca`, and AUTH
    /// as `user` with `password`; [`SmtpSink::env`] points monostat at it with the CA
    /// file and these credentials.
    pub async fn start_secure(
        mode: TlsMode,
        ca: &super::tls::TestCa,
        user: &str,
        password: &str,
    ) -> Option<Self> {
        let mut sink = Self::start_configured(None, None, None, None).await?;
        sink.kill().await;
        sink.security = Some(Security {
            mode,
            cert: ca.server_cert(),
            key: ca.server_key(),
            ca_file: ca.ca_file(),
            user: user.to_owned(),
            password: password.to_owned(),
        });
        sink.restart().await;
        Some(sink)
    }

    /// RCPT TO addresses containing `greylist` get a 451 the first time, then 250.
    pub async fn start_greylisting(greylist: &str) -> Option<Self> {
        Self::start_configured(None, Some(greylist), None, None).await
    }

    /// Accepts `count` messages, then holds every further DATA unanswered (storing
    /// nothing) until [`SmtpSink::release`]; a client that disconnects meanwhile loses
    /// that message, as with a real server.
    pub async fn start_holding_after(count: usize) -> Option<Self> {
        Self::start_configured(None, None, None, Some(count)).await
    }

    /// Lets held and later messages through.
    pub fn release(&self) {
        std::fs::write(self.dir.path().join(".release"), b"").unwrap();
    }

    /// Starts the server (again) on the same port and directory.
    pub async fn restart(&mut self) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut command = Command::new("python3");
        command
            .arg(script)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        if let Some(reject) = &self.reject {
            command.arg("--reject").arg(reject);
        }
        if let Some(greylist) = &self.greylist {
            command.arg("--greylist").arg(greylist);
        }
        if let Some(count) = self.hold_after {
            command.arg("--hold-after").arg(count.to_string());
        }
        if let Some(delay) = self.delay {
            command.arg("--delay").arg(delay.to_string());
        }
        if let Some(security) = &self.security {
            command.arg("--cert").arg(&security.cert);
            command.arg("--key").arg(&security.key);
            command.arg(match security.mode {
                TlsMode::StartTls => "--require-starttls",
                TlsMode::Implicit => "--implicit-tls",
            });
            command.arg("--user").arg(&security.user);
            command.arg("--password").arg(&security.password);
        }
        self.child = Some(command.spawn().unwrap());
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the SMTP sink did not start listening on port {}",
            self.port
        );
    }

    /// Kills the server at once, as a crash or an outage would.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    /// The environment that points monostat at this server (with its TLS mode, CA
    /// file and credentials, for a secure one).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("MONOSTAT_MAIL_HOST", "127.0.0.1".to_owned()),
            ("MONOSTAT_MAIL_PORT", self.port.to_string()),
            ("MONOSTAT_MAIL_FROM", "status@example.com".to_owned()),
            ("MONOSTAT_SITE_URL", "https://status.example.com".to_owned()),
        ];
        if let Some(security) = &self.security {
            let mode = match security.mode {
                TlsMode::StartTls => "MONOSTAT_MAIL_TLS",
                TlsMode::Implicit => "MONOSTAT_MAIL_SSL",
            };
            env.extend([
                (mode, "true".to_owned()),
                ("MONOSTAT_MAIL_CA_FILE", path_string(&security.ca_file)),
                ("MONOSTAT_MAIL_USER", security.user.clone()),
                ("MONOSTAT_MAIL_PASSWORD", security.password.clone()),
            ]);
        }
        env
    }

    /// Mails stored per envelope recipient: a copy sent twice counts twice.
    pub fn count_by_recipient(&self) -> BTreeMap<String, usize> {
        count_by_recipient(&self.mails())
    }

    pub fn mails(&self) -> Vec<Mail> {
        read_mails(self.dir.path())
    }

    /// Waits until at least `count` mails arrived (the test's own timeout is the bound).
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        wait_for_files(self.dir.path(), count).await
    }
}

/// Mails per envelope recipient, as the recipient counts them: a resent copy is a
/// second mail even though it carries the same Message-ID.
pub fn count_by_recipient(mails: &[Mail]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for mail in mails {
        *counts.entry(mail.rcpt.clone()).or_default() += 1;
    }
    counts
}

/// Every expected recipient got the mail, nobody else did, and no more than
/// `duplicates` copies went out twice in all.
pub fn assert_each_got_one_with_at_most(mails: &[Mail], expected: &[String], duplicates: usize) {
    let by_rcpt = count_by_recipient(mails);
    for address in expected {
        assert!(by_rcpt.contains_key(address), "{address} got nothing");
    }
    assert_eq!(
        by_rcpt.len(),
        expected.len(),
        "mails to addresses nobody expected"
    );
    let copies: usize = by_rcpt.values().map(|count| count - 1).sum();
    assert!(
        copies <= duplicates,
        "{copies} copies sent twice, at most {duplicates} allowed: {by_rcpt:?}"
    );
}

fn path_string(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

pub async fn wait_for_files(dir: &Path, count: usize) -> Vec<Mail> {
    for _ in 0..6000 {
        let mails = read_mails(dir);
        if mails.len() >= count {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("expected {count} mails in {}", dir.display());
}

pub fn read_mails(dir: &Path) -> Vec<Mail> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut mails: Vec<Mail> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".eml"))
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .map(|entry| {
            let raw = std::fs::read_to_string(entry.path()).unwrap();
            let rcpt = raw
                .strip_prefix("X-Sink-Rcpt: ")
                .and_then(|rest| rest.split("\r\n").next())
                .unwrap_or_default()
                .to_owned();
            Mail { rcpt, raw }
        })
        .collect();
    mails.sort_by(|a, b| a.rcpt.cmp(&b.rcpt));
    mails
}

impl Mail {
    /// A top-level header, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = value.as_mut() {
                    value.push(' ');
                    value.push_str(line.trim_start());
                }
                continue;
            }
            if value.is_some() {
                break;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_owned());
            }
        }
        value
    }

    /// The decoded body of the part with this content type.
    pub fn part(&self, content_type: &str) -> String {
        let start = self
            .raw
            .find(&format!("Content-Type: {content_type}"))
            .unwrap_or_else(|| panic!("no {content_type} part in:\n{}", self.raw));
        let part = &self.raw[start..];
        let (head, body) = part.split_once("\r\n\r\n").unwrap();
        let boundary = self
            .header("Content-Type")
            .and_then(|value| {
                value
                    .split_once("boundary=")
                    .map(|(_, b)| b.trim_matches('"').to_owned())
            })
            .unwrap_or_default();
        let body = body.split(&format!("\r\n--{boundary}")).next().unwrap();
        if head.contains("quoted-printable") {
            decode_quoted_printable(body)
        } else if head.contains("base64") {
            use base64::Engine;
            let compact: String = body.split_whitespace().collect();
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap(),
            )
            .unwrap()
        } else {
            body.to_owned()
        }
    }

    pub fn text(&self) -> String {
        self.part("text/plain")
    }

    pub fn html(&self) -> String {
        self.part("text/html")
    }
}

fn decode_quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The URL in `text` that starts with `prefix`.
pub fn find_url(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in:\n{text}"));
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
        .next()
        .unwrap()
        .to_owned()
}
