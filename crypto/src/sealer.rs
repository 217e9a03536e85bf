//! AES-256-GCM sealing of what must be recovered (signing keys' private parts). The seal key is
//! given to each node from a file or the environment and never enters the log.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use mcpauth_state::Sealed;
use rand::RngCore;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the seal key must be 32 bytes")]
    BadKeyLength,
    #[error("sealing failed")]
    Seal,
    #[error("unsealing failed: wrong seal key, or the data was altered")]
    Unseal,
}

/// Seals and unseals with one node's seal key. The purpose string is bound as associated data,
/// so a value sealed for one purpose cannot be passed off as another.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
    /// Keyed derivation of per-login values any node can recompute (upstream PKCE verifier and
    /// nonce from the login's `state`), so they never have to be stored or replicated.
    derivation: ring::hmac::Key,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn new(key: &[u8]) -> Result<Self, SealError> {
        if key.len() != 32 {
            return Err(SealError::BadKeyLength);
        }
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
            derivation: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
        })
    }

    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Sealed, SealError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SealError::Seal)?;
        Ok(Sealed { nonce, ciphertext })
    }

    /// A secret derived from `input` for `purpose` (HMAC-SHA256 under the seal key), as
    /// base64url: the same on every node, unknowable without the seal key.
    pub fn derive(&self, purpose: &str, input: &str) -> String {
        use base64::Engine;
        let mut context = ring::hmac::Context::with_key(&self.derivation);
        context.update(purpose.as_bytes());
        context.update(&[0]);
        context.update(input.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(context.sign().as_ref())
    }

    pub fn unseal(&self, purpose: &str, sealed: &Sealed) -> Result<Vec<u8>, SealError> {
        self.cipher
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| SealError::Unseal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let sealer = Sealer::new(&[7u8; 32]).unwrap();
        let sealed = sealer.seal("signing-key", b"private").unwrap();
        assert!(!sealed.ciphertext.windows(7).any(|w| w == b"private"));
        assert_eq!(sealer.unseal("signing-key", &sealed).unwrap(), b"private");
        assert!(sealer.unseal("other-purpose", &sealed).is_err());
        let other = Sealer::new(&[8u8; 32]).unwrap();
        assert!(other.unseal("signing-key", &sealed).is_err());
        assert!(Sealer::new(&[0u8; 16]).is_err());
    }
}
