//! Secrets at rest: XChaCha20-Poly1305 with the operator's master key.
//!
//! A sealed value is `version byte (1) || 24-byte nonce || ciphertext+tag`.
//! The associated data binds a ciphertext to the row it belongs to (e.g. the
//! directory id), so a sealed blob copied onto another row fails to open.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use thiserror::Error;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SealError {
    #[error("master key must be 32 bytes encoded as base64 (got {0} bytes)")]
    KeyLength(usize),
    #[error("master key is not valid base64")]
    KeyEncoding,
    #[error("sealed value is malformed or was sealed with another master key")]
    Open,
}

/// The master key. `Debug` never prints it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        MasterKey(key)
    }

    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| SealError::KeyEncoding)?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SealError::KeyLength(bytes.len()))?;
        Ok(MasterKey(key))
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    pub fn seal(&self, plaintext: &[u8], associated: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: associated,
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, sealed: &[u8], associated: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(SealError::Open);
        }
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        cipher
            .decrypt(
                XNonce::from_slice(&sealed[1..1 + NONCE_LEN]),
                Payload {
                    msg: &sealed[1 + NONCE_LEN..],
                    aad: associated,
                },
            )
            .map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_with_same_key_and_context() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"{\"token\":\"s3cret\"}", b"directory_1");
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(
            key.open(&sealed, b"directory_1").unwrap(),
            b"{\"token\":\"s3cret\"}"
        );
        assert_eq!(key.open(&sealed, b"directory_2"), Err(SealError::Open));
        assert_eq!(
            MasterKey::generate().open(&sealed, b"directory_1"),
            Err(SealError::Open)
        );
        assert_eq!(
            key.open(&sealed[..10], b"directory_1"),
            Err(SealError::Open)
        );
    }

    #[test]
    fn key_parsing_names_the_problem() {
        let key = MasterKey::generate();
        let again = MasterKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(again.0, key.0);
        assert_eq!(
            MasterKey::from_base64("!!").unwrap_err(),
            SealError::KeyEncoding
        );
        assert_eq!(
            MasterKey::from_base64("AAAA").unwrap_err(),
            SealError::KeyLength(3)
        );
        assert_eq!(format!("{key:?}"), "MasterKey(..)");
    }
}
