//! The node's cached token signer: the active signing key, unsealed and parsed once, reloaded
//! only when the replicated state names a different active key.
//!
//! Where the active key comes from is the caller's business ([`SigningKeys`], implemented by
//! the api crate for its view of the replicated state), so this crate needs no Raft.

use std::sync::{Arc, RwLock};

use mcpauth_state::SigningKey;

use crate::sealer::Sealer;
use crate::signer::{SignerError, TokenSigner};

#[derive(Debug, thiserror::Error)]
pub enum SignerCacheError {
    #[error("the cluster has no signing key yet")]
    NoKey,
    #[error(transparent)]
    Signer(#[from] SignerError),
}

/// Where the cache reads the active signing key.
pub trait SigningKeys {
    /// The active key's id: read on every token, so it should be cheap.
    fn active_kid(&self) -> Option<String>;
    /// The active key's record: read only when the active kid changed.
    fn active_key(&self) -> Option<SigningKey>;
}

#[derive(Clone)]
pub struct SignerCache {
    sealer: Sealer,
    current: Arc<RwLock<Option<Arc<TokenSigner>>>>,
}

impl std::fmt::Debug for SignerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignerCache(..)")
    }
}

impl SignerCache {
    pub fn new(sealer: Sealer) -> Self {
        Self {
            sealer,
            current: Arc::new(RwLock::new(None)),
        }
    }

    /// The signer of the active key, loaded (unsealed, parsed) only if the key changed.
    pub fn signer(&self, keys: &impl SigningKeys) -> Result<Arc<TokenSigner>, SignerCacheError> {
        let active_kid = keys.active_kid().ok_or(SignerCacheError::NoKey)?;
        if let Ok(guard) = self.current.read() {
            if let Some(signer) = guard.as_ref().filter(|s| s.kid() == active_kid) {
                return Ok(signer.clone());
            }
        }
        let key = keys.active_key().ok_or(SignerCacheError::NoKey)?;
        let signer = Arc::new(TokenSigner::load(&self.sealer, &key)?);
        if let Ok(mut guard) = self.current.write() {
            *guard = Some(signer.clone());
        }
        Ok(signer)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};

    use super::*;

    /// A key source that counts how often the full record is read.
    struct Keys {
        active: RefCell<Option<SigningKey>>,
        loads: Cell<u32>,
    }

    impl SigningKeys for Keys {
        fn active_kid(&self) -> Option<String> {
            self.active.borrow().as_ref().map(|k| k.kid.clone())
        }
        fn active_key(&self) -> Option<SigningKey> {
            self.loads.set(self.loads.get() + 1);
            self.active.borrow().clone()
        }
    }

    #[test]
    fn loads_a_key_once_and_again_only_when_the_active_key_changes() {
        let sealer = Sealer::new(&[3u8; 32]).unwrap();
        let cache = SignerCache::new(sealer.clone());
        let keys = Keys {
            active: RefCell::new(None),
            loads: Cell::new(0),
        };
        assert!(matches!(cache.signer(&keys), Err(SignerCacheError::NoKey)));
        let first = TokenSigner::generate(&sealer, 1, 1).unwrap();
        *keys.active.borrow_mut() = Some(first.clone());
        assert_eq!(cache.signer(&keys).unwrap().kid(), first.kid);
        assert_eq!(cache.signer(&keys).unwrap().kid(), first.kid);
        assert_eq!(keys.loads.get(), 1);
        let second = TokenSigner::generate(&sealer, 2, 2).unwrap();
        *keys.active.borrow_mut() = Some(second.clone());
        assert_eq!(cache.signer(&keys).unwrap().kid(), second.kid);
        assert_eq!(keys.loads.get(), 2);
        // A key sealed under another seal key is an error, not a signer.
        let foreign = TokenSigner::generate(&Sealer::new(&[4u8; 32]).unwrap(), 3, 3).unwrap();
        *keys.active.borrow_mut() = Some(foreign);
        assert!(matches!(
            cache.signer(&keys),
            Err(SignerCacheError::Signer(SignerError::Unseal(_)))
        ));
    }
}
