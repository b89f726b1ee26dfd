//! Standard Webhooks signatures.
//!
//! A signing secret is `whsec_` followed by the base64 of 32 random bytes;
//! those bytes are the HMAC-SHA256 key. A request carries
//! `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`;
//! while a rotated-out secret is still valid the header lists one signature
//! per secret, separated by spaces.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use thiserror::Error;

const PREFIX: &str = "whsec_";
const KEY_LEN: usize = 32;

/// A webhook signing secret (the plaintext; store it sealed).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SigningSecretError {
    #[error("a signing secret starts with whsec_")]
    Prefix,
    #[error("a signing secret is whsec_ followed by base64")]
    Base64,
    #[error("a signing secret's key must be 24 to 64 bytes")]
    Length,
}

impl SigningSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut key = vec![0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut key);
        SigningSecret { key }
    }

    /// Parses `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Self, SigningSecretError> {
        let body = text
            .strip_prefix(PREFIX)
            .ok_or(SigningSecretError::Prefix)?;
        let key = STANDARD
            .decode(body)
            .map_err(|_| SigningSecretError::Base64)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SigningSecretError::Length);
        }
        Ok(SigningSecret { key })
    }

    /// `whsec_<base64>`, as shown to the user once.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// The last four characters of [`expose`](Self::expose), to tell
    /// secrets apart without revealing them.
    pub fn suffix(&self) -> String {
        let text = self.expose();
        text[text.len() - 4..].to_owned()
    }
}

/// The base64 HMAC-SHA256 of `id.timestamp.body` under `secret`.
pub fn sign(secret: &SigningSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&secret.key).expect("HMAC accepts keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The `webhook-signature` header value: `v1,<sig>` per secret, space-separated.
pub fn signature_header(
    secrets: &[&SigningSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| format!("v1,{}", sign(s, id, timestamp, body)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_are_random() {
        let a = SigningSecret::generate();
        let b = SigningSecret::generate();
        assert_ne!(a, b);
        let text = a.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&text).unwrap(), a);
        assert_eq!(a.suffix(), text[text.len() - 4..]);
        assert_eq!(format!("{a:?}"), "SigningSecret(…)");
    }

    #[test]
    fn bad_secrets_are_refused() {
        assert_eq!(SigningSecret::parse("abc"), Err(SigningSecretError::Prefix));
        assert_eq!(
            SigningSecret::parse("whsec_***"),
            Err(SigningSecretError::Base64)
        );
        assert_eq!(
            SigningSecret::parse("whsec_AAAA"),
            Err(SigningSecretError::Length)
        );
    }

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example from the Standard Webhooks specification.
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let other = SigningSecret::generate();
        let header = signature_header(
            &[&secret, &other],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
        );
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(parts[1].starts_with("v1,"));
    }
}
