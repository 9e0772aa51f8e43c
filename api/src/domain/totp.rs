//! Time-based one-time passwords (RFC 6238) as authenticator apps compute them:
//! HMAC-SHA-1, six digits, 30-second steps.
//!
//! Written out here rather than taken from a crate: it is twenty lines on top of `hmac`
//! and `sha1`, which are already in the build, and the RFC's test vectors pin it down.

use std::fmt;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::paths::percent_encode;

pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;
/// Bytes of a new secret: 160 bits, the HMAC-SHA-1 block the RFC recommends.
pub const SECRET_BYTES: usize = 20;
/// Steps either side of now that still count, for clocks that drift a little.
const SKEW_STEPS: i64 = 1;

/// A TOTP shared secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

/// The time step a moment falls in.
pub fn step_at(moment: DateTime<Utc>) -> i64 {
    moment.timestamp().div_euclid(STEP_SECONDS)
}

impl TotpSecret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Upper-case base32 without padding, as authenticator apps expect it.
    pub fn to_base32(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.0)
    }

    /// Reads a secret written by [`Self::to_base32`]; `None` if it is not base32.
    pub fn from_base32(text: &str) -> Option<Self> {
        data_encoding::BASE32_NOPAD
            .decode(text.trim_end_matches('=').as_bytes())
            .ok()
            .filter(|bytes| !bytes.is_empty())
            .map(Self)
    }

    /// The code for one time step, zero-padded to six digits.
    pub fn code_at(&self, step: i64) -> String {
        // Keys of any length are valid for HMAC.
        let mut mac = Hmac::<Sha1>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(&step.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        // Dynamic truncation, RFC 4226 §5.3.
        let offset = usize::from(digest[digest.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            digest[offset] & 0x7f,
            digest[offset + 1],
            digest[offset + 2],
            digest[offset + 3],
        ]);
        format!(
            "{:0width$}",
            binary % 10u32.pow(DIGITS),
            width = DIGITS as usize
        )
    }

    /// The time step near `now_step` whose code is `code`, if any. Every candidate is
    /// compared in constant time and none is skipped, so timing does not tell how close
    /// a guess was. Spaces in the code (as apps show it, "123 456") are ignored.
    pub fn matching_step(&self, code: &str, now_step: i64) -> Option<i64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut found = None;
        for step in now_step - SKEW_STEPS..=now_step + SKEW_STEPS {
            let matches: bool = self.code_at(step).as_bytes().ct_eq(code.as_bytes()).into();
            if matches && found.is_none() {
                found = Some(step);
            }
        }
        found
    }

    /// The `otpauth://` URI that authenticator apps read from a QR code.
    pub fn uri(&self, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            percent_encode(issuer),
            percent_encode(account),
            self.to_base32(),
            percent_encode(issuer),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows, last six of the eight digits.
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = TotpSecret::new(b"12345678901234567890".to_vec());
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            let moment = DateTime::from_timestamp(time, 0).expect("in range");
            assert_eq!(secret.code_at(step_at(moment)), code, "at {time}");
        }
    }

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_only() {
        let secret = TotpSecret::new(vec![7; SECRET_BYTES]);
        let now = 1_000_000;
        assert_eq!(secret.matching_step(&secret.code_at(now), now), Some(now));
        let spaced = secret.code_at(now - 1);
        let spaced = format!("{} {}", &spaced[..3], &spaced[3..]);
        assert_eq!(secret.matching_step(&spaced, now), Some(now - 1));
        assert_eq!(secret.matching_step(&secret.code_at(now + 2), now), None);
        assert_eq!(secret.matching_step("12345", now), None);
        assert_eq!(secret.matching_step("abcdef", now), None);
    }

    #[test]
    fn base32_round_trips_and_the_uri_carries_it() {
        let secret = TotpSecret::new(b"12345678901234567890".to_vec());
        assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            TotpSecret::from_base32(&secret.to_base32()),
            Some(secret.clone())
        );
        assert_eq!(TotpSecret::from_base32("not base32!"), None);
        assert_eq!(
            secret.uri("status.example.com", "alice smith"),
            "otpauth://totp/status.example.com:alice%20smith?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=status.example.com&algorithm=SHA1&digits=6&period=30"
        );
        assert!(!format!("{secret:?}").contains("GEZ"));
    }
}
