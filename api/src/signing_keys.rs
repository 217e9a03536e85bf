//! The replicated state as the token signer cache's source of keys.

use mcpauth_crypto::SigningKeys;
use mcpauth_state::SigningKey;

use crate::cluster::Cluster;

impl SigningKeys for Cluster {
    fn active_kid(&self) -> Option<String> {
        self.read(|s| s.active_signing_key().map(|k| k.kid.clone()))
    }

    fn active_key(&self) -> Option<SigningKey> {
        self.read(|s| s.active_signing_key().cloned())
    }
}
