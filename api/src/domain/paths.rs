//! Where things live on the public site. Mails, Slack, feeds, the Statuspage JSON and
//! the page all link to an incident, and a link that differs in one of them is a 404
//! for whoever follows it, so the shape of that link is decided here only.

use chrono::{DateTime, Utc};

use super::incident::IncidentId;

/// The path of an incident's public page: `/{YYYY-MM-DD of its start, UTC}/{id}`.
/// The date makes the URL readable; the page answers 404 when it does not match.
pub fn incident_path(start: DateTime<Utc>, id: IncidentId) -> String {
    format!("/{}/{id}", start.format("%Y-%m-%d"))
}

/// Percent-encodes everything but RFC 3986's unreserved characters, which is safe in
/// every part of a URI (user info, path segment, query value).
pub fn percent_encode(value: &str) -> String {
    use std::fmt::Write;
    value.bytes().fold(String::new(), |mut out, byte| {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_path_carries_the_utc_start_date_and_the_id() {
        let start = Utc.with_ymd_and_hms(2026, 3, 9, 23, 30, 0).unwrap();
        assert_eq!(incident_path(start, IncidentId(42)), "/2026-03-09/42");
    }

    #[test]
    fn only_unreserved_characters_stay_as_they_are() {
        assert_eq!(percent_encode("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(percent_encode("p@ss word/é"), "p%40ss%20word%2F%C3%A9");
    }
}
