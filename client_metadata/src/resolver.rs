//! [`ClientMetadataResolver`]: from a client_id URL to a public client, the way the api asks.
//!
//! Order of decisions for one `resolve(url, now)`:
//! 1. disabled: refused;
//! 2. the built-in table: a chatgpt.com pattern is served (or refused) without a fetch;
//! 3. the cache: a fresh copy is served; within a recent failure's throttle no fetch is made;
//! 4. at most `max_concurrent_fetches` at once (else `Busy`, or the stale/built-in copy);
//!    fetch and validate: a good document is cached for its clamped lifetime and served;
//! 5. on failure (fetch refused or failed, or the document invalid): the stale copy if it
//!    expired less than `stale_grace_secs` ago, else the built-in copy if the URL has one,
//!    else the refusal. The failure is remembered for `failure_cache_secs`.
//!
//! The cache lock is never held across the fetch.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Semaphore;

use crate::cache_lifetime::fresh_lifetime_secs;
use crate::fetcher::Fetcher;
use crate::known_clients::{BuiltIn, KnownClients};
use crate::metadata_cache::{CacheLookup, MetadataCache};
use crate::{
    validate_document, ClientIdUrl, ClientMetadataConfig, ClientMetadataConfigError,
    ClientMetadataError, HostLookup, ResolvedClient, Source, SystemLookup,
};

/// Resolves client_id URLs; one per node, shared by every request (cheap to share behind an
/// `Arc`; all methods take `&self`).
pub struct ClientMetadataResolver {
    config: Arc<ClientMetadataConfig>,
    fetcher: Fetcher,
    known: KnownClients,
    cache: Mutex<MetadataCache>,
    fetch_slots: Semaphore,
}

impl ClientMetadataResolver {
    /// With the system's DNS resolver. Reads `extra_ca_file`; call at start-up.
    pub fn new(config: ClientMetadataConfig) -> Result<Self, ClientMetadataConfigError> {
        Self::with_host_lookup(config, Arc::new(SystemLookup))
    }

    /// With names resolved by `lookup` (still subject to every address check).
    pub fn with_host_lookup(
        config: ClientMetadataConfig,
        lookup: Arc<dyn HostLookup>,
    ) -> Result<Self, ClientMetadataConfigError> {
        if let Some(problems) = config.problems() {
            return Err(ClientMetadataConfigError::Invalid(problems));
        }
        let config = Arc::new(config);
        let fetcher = Fetcher::new(config.clone(), lookup)?;
        let cache = MetadataCache::new(config.max_entries, config.stale_grace_secs);
        let fetch_slots = Semaphore::new(config.max_concurrent_fetches);
        Ok(Self {
            config,
            fetcher,
            known: KnownClients::load(),
            cache: Mutex::new(cache),
            fetch_slots,
        })
    }

    /// Whether the server accepts client_id URLs (and advertises it).
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// The client `url` stands for at `now` (seconds since the Unix epoch), or why not.
    pub async fn resolve(
        &self,
        url: &ClientIdUrl,
        now: u64,
    ) -> Result<ResolvedClient, ClientMetadataError> {
        if !self.config.enabled {
            return Err(ClientMetadataError::Disabled);
        }
        let fallback = match self.known.lookup(url) {
            BuiltIn::Authoritative(client) => return Ok(client),
            BuiltIn::Refused(error) => return Err(error),
            BuiltIn::Fallback(client) => Some(client),
            BuiltIn::Unknown => None,
        };
        let stale = match self.cache().lookup(url.as_str(), now) {
            CacheLookup::Fresh(client) => return Ok(client),
            CacheLookup::RecentlyFailed { error, stale } => {
                return stale.or(fallback).ok_or(error);
            }
            CacheLookup::Fetch { stale } => stale,
        };
        // not remembered as a failure of this URL: it is nobody's fault but the load's
        let Ok(_slot) = self.fetch_slots.try_acquire() else {
            tracing::warn!(
                client_id = url.as_str(),
                "client metadata fetch refused: too many in flight"
            );
            return stale.or(fallback).ok_or(ClientMetadataError::Busy);
        };
        match self.fetch_and_validate(url, now).await {
            Ok((client, lifetime)) => {
                self.cache()
                    .store_fetched(url.as_str(), client.clone(), now, lifetime);
                Ok(client)
            }
            Err(error) => {
                self.cache().store_failure(
                    url.as_str(),
                    error.clone(),
                    now,
                    self.config.failure_cache_secs,
                );
                // a known client falling back is worth an operator's attention; an unknown
                // URL failing is the client's problem (and is throttled per URL)
                if stale.is_some() || fallback.is_some() {
                    let served = if stale.is_some() {
                        "stale cached copy"
                    } else {
                        "built-in copy"
                    };
                    tracing::warn!(client_id = url.as_str(), %error, served, "client metadata fetch failed");
                } else {
                    tracing::info!(client_id = url.as_str(), %error, "client metadata document refused");
                }
                stale.or(fallback).ok_or(error)
            }
        }
    }

    async fn fetch_and_validate(
        &self,
        url: &ClientIdUrl,
        now: u64,
    ) -> Result<(ResolvedClient, u64), ClientMetadataError> {
        let fetched = self.fetcher.fetch(url).await?;
        let client = validate_document(url, &fetched.body, Source::Fetched)?;
        let lifetime = fresh_lifetime_secs(
            &fetched.cache,
            now,
            self.config.min_cache_secs,
            self.config.max_cache_secs,
        );
        Ok((client, lifetime))
    }

    fn cache(&self) -> MutexGuard<'_, MetadataCache> {
        // the cache holds no invariant a panic elsewhere could break halfway
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Documents and failures held (for metrics and tests).
    pub fn cache_sizes(&self) -> (usize, usize) {
        let cache = self.cache();
        (cache.documents(), cache.failures())
    }
}
