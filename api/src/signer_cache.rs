//! The node's cached token signer: the active signing key, unsealed and parsed once, reloaded
//! only when the replicated state names a different active key.

use std::sync::{Arc, RwLock};

use crate::cluster::Cluster;
use crate::sealer::Sealer;
use crate::signer::{SignerError, TokenSigner};

#[derive(Debug, thiserror::Error)]
pub enum SignerCacheError {
    #[error("the cluster has no signing key yet")]
    NoKey,
    #[error(transparent)]
    Signer(#[from] SignerError),
}

#[derive(Clone)]
pub struct SignerCache {
    sealer: Sealer,
    current: Arc<RwLock<Option<Arc<TokenSigner>>>>,
}

impl SignerCache {
    pub fn new(sealer: Sealer) -> Self {
        Self {
            sealer,
            current: Arc::new(RwLock::new(None)),
        }
    }

    pub fn signer(&self, cluster: &Cluster) -> Result<Arc<TokenSigner>, SignerCacheError> {
        let active_kid = cluster
            .read(|s| s.active_signing_key().map(|k| k.kid.clone()))
            .ok_or(SignerCacheError::NoKey)?;
        if let Ok(guard) = self.current.read() {
            if let Some(signer) = guard.as_ref().filter(|s| s.kid() == active_kid) {
                return Ok(signer.clone());
            }
        }
        let key = cluster
            .read(|s| s.active_signing_key().cloned())
            .ok_or(SignerCacheError::NoKey)?;
        let signer = Arc::new(TokenSigner::load(&self.sealer, &key)?);
        if let Ok(mut guard) = self.current.write() {
            *guard = Some(signer.clone());
        }
        Ok(signer)
    }
}
