//! Secrets: values that must never be logged and are only compared in constant time,
//! and [`SecretBox`], which seals the ones the database keeps (secrets at rest).

use std::fmt;

use aes_gcm::aead::{Aead, Nonce, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore;
use subtle::ConstantTimeEq;

/// A secret string. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// A fresh URL-safe secret carrying `bits` bits of randomness from the OS.
    pub fn generate(bits: usize) -> Self {
        Self(random_token(bits))
    }

    /// The raw value, for the few places that must send or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares without leaking, through timing, how much of a guess was right.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A URL-safe random string carrying at least `bits` bits of randomness.
pub fn random_token(bits: usize) -> String {
    let mut bytes = vec![0u8; bits.div_ceil(8)];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random source is unavailable");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What a sealed value starts with; a stored value without it is plaintext from
/// before secrets were sealed (or was written behind the server's back).
pub const SEALED_PREFIX: &str = "enc:v1:";

/// HKDF's `info`: the sealing key is derived from `secret.key` for this use alone, so
/// it never equals the key that signs console sessions, and a later scheme (`v2`) gets
/// a key of its own.
const SEALING_KEY_INFO: &[u8] = b"monostat secrets at rest v1";
const NONCE_BYTES: usize = 12;

/// Why a stored value did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The value is plaintext: written before sealing existed and not yet sealed.
    #[error("the stored value is not sealed")]
    NotSealed,
    /// It starts like a sealed value but is not one (cut short, not base64).
    #[error("the stored value is damaged")]
    Malformed,
    /// The authentication tag does not match: another `secret.key`, a value copied
    /// from another column or row, or a changed ciphertext. They cannot be told apart.
    #[error("the stored value does not open with this secret.key")]
    WrongKey,
}

/// Seals and opens secrets kept in the database with AES-256-GCM under a key derived
/// from `secret.key` (HKDF-SHA256). Each value is bound to its place (`place`, e.g.
/// `slack_settings.bot_token`) through the associated data, so a ciphertext copied
/// into another column or row does not open there. Cheap to clone.
#[derive(Clone)]
pub struct SecretBox {
    cipher: std::sync::Arc<Aes256Gcm>,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(<key redacted>)")
    }
}

impl SecretBox {
    pub fn new(key: &Secret) -> Self {
        let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(None, key.expose().as_bytes());
        let mut derived = [0u8; 32];
        hkdf.expand(SEALING_KEY_INFO, &mut derived)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let cipher = Aes256Gcm::new_from_slice(&derived).expect("the key is 32 bytes");
        Self {
            cipher: std::sync::Arc::new(cipher),
        }
    }

    /// `enc:v1:` and base64url(nonce ‖ ciphertext ‖ tag), with a fresh random nonce.
    pub fn seal(&self, place: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut nonce)
            .expect("the operating system's random source is unavailable");
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::<Aes256Gcm>::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: place.as_bytes(),
                },
            )
            .expect("AES-GCM seals any value shorter than 64 GiB");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The plaintext of a value [`SecretBox::seal`] made for the same `place`.
    pub fn open(&self, place: &str, stored: &str) -> Result<Secret, SealError> {
        let encoded = stored
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SealError::NotSealed)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| SealError::Malformed)?;
        let (nonce, sealed) = bytes
            .split_at_checked(NONCE_BYTES)
            .ok_or(SealError::Malformed)?;
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| SealError::Malformed)?;
        let plaintext = self
            .cipher
            .decrypt(
                &Nonce::<Aes256Gcm>::from(nonce),
                Payload {
                    msg: sealed,
                    aad: place.as_bytes(),
                },
            )
            .map_err(|_| SealError::WrongKey)?;
        String::from_utf8(plaintext)
            .map(Secret)
            .map_err(|_| SealError::Malformed)
    }

    /// Whether `stored` is sealed already (not whether it opens).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(SEALED_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealing_box() -> SecretBox {
        SecretBox::new(&Secret::generate(512))
    }

    #[test]
    fn a_sealed_value_opens_in_its_place() {
        let secrets = sealing_box();
        let sealed = secrets.seal("slack_settings.bot_token", "xoxb-1");
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("xoxb"));
        assert!(SecretBox::is_sealed(&sealed));
        let opened = secrets.open("slack_settings.bot_token", &sealed).unwrap();
        assert_eq!(opened.expose(), "xoxb-1");
        // A fresh nonce each time: equal secrets do not look equal in the database.
        assert_ne!(sealed, secrets.seal("slack_settings.bot_token", "xoxb-1"));
        assert_eq!(
            secrets.open("x", &secrets.seal("x", "")).unwrap().expose(),
            ""
        );
    }

    #[test]
    fn a_changed_ciphertext_does_not_open() {
        let secrets = sealing_box();
        let sealed = secrets.seal("place", "value");
        let mut bytes = URL_SAFE_NO_PAD
            .decode(sealed.strip_prefix(SEALED_PREFIX).unwrap())
            .unwrap();
        for i in [0, NONCE_BYTES, bytes.len() - 1] {
            let mut tampered = bytes.clone();
            tampered[i] ^= 1;
            let tampered = format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(tampered));
            assert_eq!(secrets.open("place", &tampered), Err(SealError::WrongKey));
        }
        bytes.truncate(NONCE_BYTES - 1);
        let short = format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(secrets.open("place", &short), Err(SealError::Malformed));
        assert_eq!(
            secrets.open("place", "enc:v1:not base64!"),
            Err(SealError::Malformed)
        );
    }

    #[test]
    fn a_value_does_not_open_in_another_place() {
        let secrets = sealing_box();
        let sealed = secrets.seal("alert_source.secret:opsgenie", "value");
        assert_eq!(
            secrets.open("alert_source.secret:generic", &sealed),
            Err(SealError::WrongKey)
        );
    }

    #[test]
    fn a_value_does_not_open_with_another_key() {
        let sealed = sealing_box().seal("place", "value");
        assert_eq!(
            sealing_box().open("place", &sealed),
            Err(SealError::WrongKey)
        );
    }

    #[test]
    fn plaintext_is_told_apart_from_sealed_values() {
        let secrets = sealing_box();
        assert!(!SecretBox::is_sealed("xoxb-1"));
        assert_eq!(secrets.open("place", "xoxb-1"), Err(SealError::NotSealed));
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[test]
    fn generated_secrets_are_long_and_distinct() {
        let a = Secret::generate(256);
        let b = Secret::generate(256);
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
        assert!(a.matches(a.expose()));
        assert!(!a.matches(b.expose()));
        assert!(!a.matches(""));
    }
}
