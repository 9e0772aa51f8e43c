use std::fmt;

use serde::{Deserialize, Serialize};

/// Who made a change; recorded in the audit log, the timeline and Slack replies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Actor {
    /// A console user, by username.
    User(String),
    /// A Slack user, by Slack user name.
    Slack(String),
    /// A monitoring source such as `opsgenie`.
    AlertSource(String),
    /// monostat itself (timers, automatic dismissal).
    System,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::Slack(_) => "slack",
            Self::AlertSource(_) => "alert_source",
            Self::System => "system",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::User(name) | Self::Slack(name) | Self::AlertSource(name) => name,
            Self::System => "system",
        }
    }

    /// Rebuilds an actor from its stored kind and name.
    pub fn from_parts(kind: &str, name: &str) -> Self {
        match kind {
            "user" => Self::User(name.to_owned()),
            "slack" => Self::Slack(name.to_owned()),
            "alert_source" => Self::AlertSource(name.to_owned()),
            _ => Self::System,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(name) => write!(f, "{name}"),
            Self::Slack(name) => write!(f, "{name} (Slack)"),
            Self::AlertSource(source) => write!(f, "{source}"),
            Self::System => f.write_str("system"),
        }
    }
}
