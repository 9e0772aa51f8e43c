//! Slack request signatures (protocols.md §2.1): `v0=` + hex HMAC-SHA256 over
//! `v0:{timestamp}:{raw body}`, keyed with the app's signing secret, and a timestamp no
//! more than five minutes away from ours (replay protection).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from our clock, either way.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Slack-Request-Timestamp or X-Slack-Signature header is missing")]
    Missing,
    #[error("the request timestamp is not a number")]
    BadTimestamp,
    #[error("the request timestamp is more than five minutes away from now")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks a request as received. `now` is Unix seconds.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let sent: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    // abs_diff: a crafted timestamp near i64::MIN must not overflow.
    if now.abs_diff(sent) > MAX_CLOCK_SKEW_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let expected = signature
        .trim()
        .strip_prefix("v0=")
        .and_then(|hex_digest| hex::decode(hex_digest).ok())
        .ok_or(SignatureError::Mismatch)?;
    // `verify_slice` compares in constant time.
    mac(secret, timestamp.trim(), body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The `X-Slack-Signature` value Slack would send for this body.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    format!(
        "v0={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's own example (protocols.md §2.1).
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_documented_example_verifies() {
        assert_eq!(sign(SECRET, TS, BODY), SIGNATURE);
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIGNATURE), BODY, 1_531_420_618 + 10),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_secret_or_old_timestamp_is_refused() {
        let now = 1_531_420_618;
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIGNATURE), b"token=x", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(TS), Some(SIGNATURE), BODY, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIGNATURE), BODY, now + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(TS), Some("v0=zz"), BODY, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, None, Some(SIGNATURE), BODY, now),
            Err(SignatureError::Missing)
        );
    }
}
