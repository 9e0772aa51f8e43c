//! `SubscriberEmail`: an address checked once at the edge, so every service and mail
//! function can rely on it being sendable.

use std::fmt;

/// RFC 5321 limits: 64 octets for the local part, 254 for the whole path.
const MAX_LOCAL: usize = 64;
const MAX_TOTAL: usize = 254;

/// A subscriber's e-mail address, trimmed and lower-cased.
///
/// Lower-casing the local part is not what RFC 5321 allows in theory, but no mail
/// provider in practice treats `Alice@` and `alice@` as two people, and one subscription
/// per person matters more here than the theory.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriberEmail(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid e-mail address")]
pub struct InvalidEmail(pub String);

impl SubscriberEmail {
    pub fn parse(input: &str) -> Result<Self, InvalidEmail> {
        let address = input.trim().to_lowercase();
        let invalid = || InvalidEmail(input.trim().chars().take(80).collect());
        if address.is_empty() || address.len() > MAX_TOTAL {
            return Err(invalid());
        }
        let (local, domain) = address.rsplit_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= MAX_LOCAL
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(address))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubscriberEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Addresses are personal data: debug output shows only the domain.
impl fmt::Debug for SubscriberEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = self.0.rsplit_once('@').map_or("", |(_, domain)| domain);
        write!(f, "SubscriberEmail(…@{domain})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_addresses_are_normalised() {
        let email = SubscriberEmail::parse("  Alice.Smith+status@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "alice.smith+status@example.com");
        assert!(!format!("{email:?}").contains("alice"));
    }

    #[test]
    fn bad_addresses_are_refused() {
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "alice@localhost",
            "alice@exa mple.com",
            "al ice@example.com",
            "alice@@example.com",
            ".alice@example.com",
            "alice..smith@example.com",
            "alice@-example.com",
            "<alice@example.com>",
            "alice@example.com\r\nBcc: x@y.z",
            "\"alice\"@example.com",
        ] {
            assert!(SubscriberEmail::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(SubscriberEmail::parse(&long).is_err());
    }
}

/// What a subscriber CSV holds: the addresses of the first column, in order and
/// without repeats, and what was skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubscriberCsv {
    pub addresses: Vec<SubscriberEmail>,
    /// Addresses repeated in the file.
    pub duplicates: Vec<String>,
    /// `(line number, text)` of lines that are not an address.
    pub invalid: Vec<(usize, String)>,
}

/// Reads the first column of `csv` (separated by `,` or `;`, quotes trimmed); a header
/// line starting with `email` is skipped, and so are empty lines.
pub fn read_subscriber_csv(csv: &str) -> SubscriberCsv {
    let mut read = SubscriberCsv::default();
    let mut seen = std::collections::HashSet::new();
    for (index, line) in csv.lines().enumerate() {
        let cell = line
            .split([',', ';'])
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches('"');
        if cell.is_empty() || (index == 0 && cell.eq_ignore_ascii_case("email")) {
            continue;
        }
        match SubscriberEmail::parse(cell) {
            Ok(email) if seen.insert(email.clone()) => read.addresses.push(email),
            Ok(email) => read.duplicates.push(email.to_string()),
            Err(_) => read.invalid.push((index + 1, cell.to_owned())),
        }
    }
    read
}
