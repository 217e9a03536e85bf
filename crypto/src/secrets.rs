//! High-entropy secrets and their digests.
//!
//! Codes, refresh tokens, session ids, client secrets and CSRF tokens are 256 random bits written
//! in base64url without padding: only RFC 3986 unreserved characters, so clients that build Basic
//! auth without URL-encoding (the TypeScript SDK) still work. Only their SHA-256 enters the log
//! (DESIGN.md, invariant 2); a plain hash suffices because the input has 256 bits of entropy.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mcpauth_state::Digest;
use rand::RngCore;
use sha2::{Digest as _, Sha256};

/// A fresh secret: 32 random bytes, base64url (43 characters).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh identifier: 16 random bytes, base64url (22 characters).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a presented secret, as stored.
pub fn digest(secret: &str) -> Digest {
    Sha256::digest(secret.as_bytes()).into()
}

/// PKCE S256: base64url(SHA-256(code_verifier)) (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A code_verifier per RFC 7636 §4.1: 43 to 128 unreserved characters.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len()) && verifier.bytes().all(is_unreserved)
}

/// An S256 code_challenge: exactly the 43 base64url characters of a SHA-256.
pub fn is_valid_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Constant-time equality of two secrets' bytes.
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unreserved_and_distinct() {
        let a = new_secret();
        let b = new_secret();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(a.bytes().all(is_unreserved));
    }

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_valid_verifier(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        ));
        assert!(!is_valid_verifier("short"));
        assert!(!is_valid_verifier(&"a b".repeat(20)));
        assert!(is_valid_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!is_valid_s256_challenge("plain-challenge"));
    }
}
