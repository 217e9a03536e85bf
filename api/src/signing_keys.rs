//! The replicated state as the token signer cache's source of keys.

use mcpauth_crypto::SigningKeys;
use mcpauth_state::SigningKey;

use crate::cluster::Cluster;

/// The cluster's signing keys, as the signer cache reads them (a local type: the trait and
/// the Raft client both live in other crates).
pub struct ClusterSigningKeys<'a>(pub &'a Cluster);

impl SigningKeys for ClusterSigningKeys<'_> {
    fn active_kid(&self) -> Option<String> {
        self.0
            .read(|s| s.active_signing_key().map(|k| k.kid.clone()))
    }

    fn active_key(&self) -> Option<SigningKey> {
        self.0.read(|s| s.active_signing_key().cloned())
    }
}
