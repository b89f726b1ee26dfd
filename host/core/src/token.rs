//! Bearer credentials: SCIM directory tokens and admin API keys.
//!
//! Both are 40 random base62 characters (≈238 bits) behind a readable prefix.
//! Only a SHA-256 digest is stored; a slow hash buys nothing for secrets of
//! this entropy, and the digest doubles as the lookup key. The plaintext is
//! shown once, at creation; afterwards only the last four characters
//! (`suffix`) identify a credential to a person.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a credential is for; the prefix makes a leaked value recognisable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Scim,
    AdminKey,
}

impl TokenKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            TokenKind::Scim => "rc_scim_",
            TokenKind::AdminKey => "rc_admin_",
        }
    }
}

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_LEN: usize = 40;
/// Longest value accepted for hashing; anything longer cannot be ours.
pub const MAX_TOKEN_LEN: usize = 256;

/// A freshly generated credential: the plaintext (shown once) and what is stored.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub plaintext: String,
    pub hash: [u8; 32],
    pub suffix: String,
}

pub fn generate(kind: TokenKind) -> IssuedToken {
    let mut rng = rand::rng();
    let body: String = (0..BODY_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    from_plaintext(format!("{}{}", kind.prefix(), body))
}

/// Wraps an operator-chosen credential (e.g. `ROLLCALL_BOOTSTRAP_ADMIN_KEY`).
pub fn from_plaintext(plaintext: String) -> IssuedToken {
    let hash = hash(&plaintext);
    let suffix = suffix(&plaintext);
    IssuedToken {
        plaintext,
        hash,
        suffix,
    }
}

pub fn hash(plaintext: &str) -> [u8; 32] {
    Sha256::digest(plaintext.as_bytes()).into()
}

pub fn suffix(plaintext: &str) -> String {
    let chars: Vec<char> = plaintext.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// Constant-time equality of two digests.
pub fn digests_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_prefixed_unique_and_hash_stably() {
        let a = generate(TokenKind::Scim);
        let b = generate(TokenKind::Scim);
        assert!(a.plaintext.starts_with("rc_scim_"));
        assert_eq!(a.plaintext.len(), "rc_scim_".len() + BODY_LEN);
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(hash(&a.plaintext), a.hash);
        assert!(digests_equal(&a.hash, &hash(&a.plaintext)));
        assert!(!digests_equal(&a.hash, &b.hash));
        assert_eq!(a.suffix, &a.plaintext[a.plaintext.len() - 4..]);
    }

    #[test]
    fn suffix_of_short_values() {
        assert_eq!(suffix("ab"), "ab");
        assert_eq!(suffix("abcdef"), "cdef");
    }
}
