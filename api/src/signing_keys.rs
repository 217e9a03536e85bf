//! The replicated state as the token signer cache's source of keys.

use mcpauth_crypto::SigningKeys;
use mcpauth_state::{SigningKey, UnixTime};

use crate::cluster::Cluster;

/// The cluster's signing keys at an instant, as the signer cache reads them (a local type:
/// the trait and the Raft client both live in other crates). The instant matters: a key added
/// by a rotation is published before it signs.
pub struct ClusterSigningKeys<'a> {
    pub cluster: &'a Cluster,
    pub now: UnixTime,
}

impl SigningKeys for ClusterSigningKeys<'_> {
    fn active_kid(&self) -> Option<String> {
        self.cluster
            .read(|s| s.active_signing_key(self.now).map(|k| k.kid.clone()))
    }

    fn active_key(&self) -> Option<SigningKey> {
        self.cluster
            .read(|s| s.active_signing_key(self.now).cloned())
    }
}
