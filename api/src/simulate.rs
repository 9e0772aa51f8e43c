//! `monostat simulate-alert`: plays OpsGenie against the running server, so an operator
//! can watch the whole path — webhook, suspected incident on the public page, Slack
//! prompt, auto-dismiss — without a monitoring tool. It goes through the real webhook
//! over HTTP, not the service layer, because the point is to prove the wiring.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::Context;
use chrono::Utc;
use serde_json::{Value, json};

use crate::config::Config;
use crate::domain::Origin;
use crate::secret::random_token;
use crate::services::SettingsService;

/// The message the simulated alert carries; it says plainly that it is a test.
pub const MESSAGE: &str = "Test alert from monostat simulate-alert (not a real problem)";

/// Where the server's own OpsGenie hook answers. A wildcard listen address is reached
/// through loopback; the site URL may be a proxy or TLS front that this host cannot use.
pub fn hook_url(config: &Config, secret: &str) -> String {
    let address = match config.listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), config.listen.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), config.listen.port())
        }
        _ => config.listen,
    };
    format!("http://{address}/integrations/opsgenie/hook/{secret}")
}

/// One simulated alert: `open` sends the Create, `close` the Close of the same alert.
pub struct SimulatedAlert {
    client: reqwest::Client,
    url: String,
    alert_id: String,
}

impl SimulatedAlert {
    /// Reads the OpsGenie secret the server uses (environment first, then the database).
    pub async fn new(config: &Config, settings: &SettingsService) -> anyhow::Result<Self> {
        let secret = settings
            .alert_source_secret(Origin::Opsgenie)
            .await
            .context("cannot read the OpsGenie webhook secret")?;
        Ok(Self {
            client: reqwest::Client::new(),
            url: hook_url(config, secret.expose()),
            alert_id: format!("monostat-simulated-{}", random_token(64)),
        })
    }

    pub fn alert_id(&self) -> &str {
        &self.alert_id
    }

    pub async fn open(&self) -> anyhow::Result<Value> {
        self.send("Create").await
    }

    pub async fn close(&self) -> anyhow::Result<Value> {
        self.send("Close").await
    }

    async fn send(&self, action: &str) -> anyhow::Result<Value> {
        let now = Utc::now().timestamp_millis();
        let body = json!({
            "action": action,
            "alert": {
                "alertId": self.alert_id,
                "message": MESSAGE,
                "description": "Sent by `monostat simulate-alert` to check the set-up.",
                "createdAt": now,
                "updatedAt": now,
                "source": "monostat simulate-alert",
                "username": "System",
                "tags": ["monostat-test"],
            },
            "source": { "name": "monostat simulate-alert", "type": "cli" },
        });
        let response = self
            .client
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .context("cannot reach the monostat server; is `monostat serve` running?")?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        anyhow::ensure!(
            status.is_success(),
            "the server answered {status} to the {action}: {text}"
        );
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}
