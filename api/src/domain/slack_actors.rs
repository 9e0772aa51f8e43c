//! Who may change the status page from Slack ([`SlackActors`]): the members of the
//! configured channel, or only the Slack users listed by id. Parsed once at the edge,
//! so the Slack adapter only ever compares well-formed ids.

use std::fmt;

/// A Slack user id such as `U0ABC5678` (`W…` on Enterprise Grid), upper-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlackUserId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a Slack user id (U… or W…, from the person's profile: \u{22ee} \u{2192} Copy member ID)"
)]
pub struct InvalidSlackUserId(pub String);

impl SlackUserId {
    pub fn parse(input: &str) -> Result<Self, InvalidSlackUserId> {
        let trimmed = input.trim();
        // A mention pasted from a message: `<@U0ABC5678>` or `<@U0ABC5678|jane>`.
        let bare = trimmed
            .strip_prefix("<@")
            .and_then(|rest| rest.strip_suffix('>'))
            .map_or(trimmed, |inner| inner.split('|').next().unwrap_or(inner));
        let id = bare.to_ascii_uppercase();
        let valid = (3..=21).contains(&id.len())
            && id.starts_with(['U', 'W'])
            && id.chars().all(|c| c.is_ascii_alphanumeric());
        if valid {
            Ok(Self(id))
        } else {
            Err(InvalidSlackUserId(trimmed.chars().take(40).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SlackUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who may change the status page from Slack. Anyone in the workspace may still read
/// (`/status`, the App Home tab); this decides who may create, confirm, dismiss, update
/// or start anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum SlackActors {
    /// The members of the configured channel, as Slack says right now.
    #[default]
    ChannelMembers,
    /// Only these people, whatever channels they are in. Never empty.
    Only(Vec<SlackUserId>),
}

impl SlackActors {
    /// Reads a list of user ids separated by commas, spaces or new lines; an empty
    /// list means the channel's members. Duplicates are dropped, the order kept.
    pub fn parse_list<'a>(
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, InvalidSlackUserId> {
        let mut parsed: Vec<SlackUserId> = Vec::new();
        for id in ids
            .into_iter()
            .flat_map(|item| item.split(|c: char| c == ',' || c.is_whitespace()))
            .filter(|id| !id.trim().is_empty())
        {
            let id = SlackUserId::parse(id)?;
            if !parsed.contains(&id) {
                parsed.push(id);
            }
        }
        Ok(if parsed.is_empty() {
            Self::ChannelMembers
        } else {
            Self::Only(parsed)
        })
    }

    /// The stored form: `None` for the channel's members, else comma-separated ids.
    pub fn to_stored(&self) -> Option<String> {
        match self {
            Self::ChannelMembers => None,
            Self::Only(ids) => Some(
                ids.iter()
                    .map(SlackUserId::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        }
    }

    /// Reads the stored form back. A value that no longer parses (edited by hand)
    /// keeps only the ids that do, and lets nobody in when none does: a typo must not
    /// open the door to the whole channel.
    pub fn from_stored(stored: Option<&str>) -> Self {
        let Some(stored) = stored.filter(|s| !s.trim().is_empty()) else {
            return Self::ChannelMembers;
        };
        Self::Only(
            stored
                .split(',')
                .filter_map(|id| SlackUserId::parse(id).ok())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_from_lists_and_mentions() {
        let actors = SlackActors::parse_list(["u0abc5678, <@W0XYZ|jane>\nU0ABC5678", ""]).unwrap();
        let SlackActors::Only(ids) = &actors else {
            panic!("{actors:?}");
        };
        assert_eq!(
            ids.iter().map(SlackUserId::as_str).collect::<Vec<_>>(),
            ["U0ABC5678", "W0XYZ"]
        );
        assert_eq!(actors.to_stored().as_deref(), Some("U0ABC5678,W0XYZ"));
        assert_eq!(SlackActors::from_stored(Some("U0ABC5678,W0XYZ")), actors);
    }

    #[test]
    fn an_empty_list_means_the_channel_and_junk_is_refused() {
        assert_eq!(
            SlackActors::parse_list([" ", ","]),
            Ok(SlackActors::ChannelMembers)
        );
        assert_eq!(SlackActors::from_stored(None), SlackActors::ChannelMembers);
        assert!(SlackActors::parse_list(["jane.doe"]).is_err());
        assert!(SlackActors::parse_list(["C0STATUS01"]).is_err());
        assert_eq!(
            SlackActors::from_stored(Some("not an id")),
            SlackActors::Only(Vec::new())
        );
    }
}
