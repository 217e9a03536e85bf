//! The in-memory cache of fetched documents and of recent fetch failures (pure: time is passed
//! in, nothing here does IO).
//!
//! - A fetched, valid document is fresh until its lifetime (see `cache_lifetime`) ends; then it
//!   is refetched. While refetches fail, it keeps serving ("stale") until it has been expired
//!   for `stale_grace_secs`, never after.
//! - A failed fetch is remembered for `failure_cache_secs`: during that time no new fetch is
//!   made for the URL and the same refusal is answered (or the stale copy served). This is a
//!   fetch throttle, not a cached document: a bad URL cannot make the server fetch on every
//!   request, and the draft's "MUST NOT cache error responses" is kept (nothing of the failed
//!   response is kept, only our own reason).
//! - Both maps are bounded by `max_entries`; when full, the entry stored longest ago goes.
//!   They are separate so that a flood of failing URLs cannot evict good documents.

use std::collections::HashMap;

use crate::{ClientMetadataError, ResolvedClient};

/// What the cache says about a URL at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheLookup {
    /// A fresh copy: serve it, no fetch.
    Fresh(ResolvedClient),
    /// A fetch failed recently: do not fetch; answer `error`, or serve `stale` if present.
    RecentlyFailed {
        error: ClientMetadataError,
        stale: Option<ResolvedClient>,
    },
    /// Fetch; if the fetch fails, `stale` (expired less than the grace ago) may serve.
    Fetch { stale: Option<ResolvedClient> },
}

#[derive(Debug, Clone)]
struct GoodCopy {
    client: ResolvedClient,
    stored_at: u64,
    fresh_until: u64,
}

#[derive(Debug, Clone)]
struct RecentFailure {
    error: ClientMetadataError,
    stored_at: u64,
    retry_at: u64,
}

/// Bounded cache of documents and failures, keyed by the client_id URL.
#[derive(Debug)]
pub struct MetadataCache {
    max_entries: usize,
    stale_grace_secs: u64,
    good: HashMap<String, GoodCopy>,
    failures: HashMap<String, RecentFailure>,
}

impl MetadataCache {
    pub fn new(max_entries: usize, stale_grace_secs: u64) -> Self {
        Self {
            max_entries: max_entries.max(1),
            stale_grace_secs,
            good: HashMap::new(),
            failures: HashMap::new(),
        }
    }

    pub fn lookup(&self, url: &str, now: u64) -> CacheLookup {
        let good = self.good.get(url);
        if let Some(copy) = good.filter(|copy| now < copy.fresh_until) {
            return CacheLookup::Fresh(copy.client.clone());
        }
        let stale = good
            .filter(|copy| now < copy.fresh_until.saturating_add(self.stale_grace_secs))
            .map(|copy| copy.client.clone());
        match self.failures.get(url).filter(|f| now < f.retry_at) {
            Some(failure) => CacheLookup::RecentlyFailed {
                error: failure.error.clone(),
                stale,
            },
            None => CacheLookup::Fetch { stale },
        }
    }

    /// A fetch succeeded: the document is fresh for `lifetime_secs` from `now`.
    pub fn store_fetched(
        &mut self,
        url: &str,
        client: ResolvedClient,
        now: u64,
        lifetime_secs: u64,
    ) {
        self.failures.remove(url);
        if !self.good.contains_key(url) && self.good.len() >= self.max_entries {
            evict_oldest(&mut self.good, |copy| copy.stored_at);
        }
        self.good.insert(
            url.to_owned(),
            GoodCopy {
                client,
                stored_at: now,
                fresh_until: now.saturating_add(lifetime_secs),
            },
        );
    }

    /// A fetch failed: no new fetch for `retry_after_secs`. A good copy is kept (it may serve
    /// while within its grace).
    pub fn store_failure(
        &mut self,
        url: &str,
        error: ClientMetadataError,
        now: u64,
        retry_after_secs: u64,
    ) {
        if retry_after_secs == 0 {
            return;
        }
        if !self.failures.contains_key(url) && self.failures.len() >= self.max_entries {
            evict_oldest(&mut self.failures, |failure| failure.stored_at);
        }
        self.failures.insert(
            url.to_owned(),
            RecentFailure {
                error,
                stored_at: now,
                retry_at: now.saturating_add(retry_after_secs),
            },
        );
    }

    /// Documents held (fresh or not).
    pub fn documents(&self) -> usize {
        self.good.len()
    }

    /// Failures held.
    pub fn failures(&self) -> usize {
        self.failures.len()
    }
}

fn evict_oldest<T>(map: &mut HashMap<String, T>, stored_at: impl Fn(&T) -> u64) {
    let oldest = map
        .iter()
        .min_by_key(|(_, value)| stored_at(value))
        .map(|(key, _)| key.clone());
    if let Some(key) = oldest {
        map.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;

    const GRACE: u64 = 3600;

    fn client(name: &str) -> ResolvedClient {
        ResolvedClient {
            client_id: format!("https://{name}.example/client.json"),
            client_name: Some(name.to_owned()),
            client_uri: None,
            logo_uri: None,
            redirect_uris: vec!["https://x.example/cb".into()],
            grant_types: vec!["authorization_code".into()],
            token_endpoint_auth_method: "none",
            scope: None,
            application_type: None,
            source: Source::Fetched,
            localhost_only: false,
        }
    }

    #[test]
    fn an_empty_cache_asks_for_a_fetch() {
        let cache = MetadataCache::new(10, GRACE);
        assert_eq!(cache.lookup("u", 0), CacheLookup::Fetch { stale: None });
    }

    #[test]
    fn fresh_until_the_lifetime_ends_then_refetch_with_stale_within_grace_only() {
        let mut cache = MetadataCache::new(10, GRACE);
        let a = client("a");
        cache.store_fetched("u", a.clone(), 1000, 300);
        assert_eq!(cache.lookup("u", 1000), CacheLookup::Fresh(a.clone()));
        assert_eq!(cache.lookup("u", 1299), CacheLookup::Fresh(a.clone()));
        assert_eq!(
            cache.lookup("u", 1300),
            CacheLookup::Fetch {
                stale: Some(a.clone())
            }
        );
        assert_eq!(
            cache.lookup("u", 1300 + GRACE - 1),
            CacheLookup::Fetch { stale: Some(a) }
        );
        assert_eq!(
            cache.lookup("u", 1300 + GRACE),
            CacheLookup::Fetch { stale: None }
        );
    }

    #[test]
    fn a_failure_stops_fetches_for_a_while_and_keeps_the_stale_copy() {
        let mut cache = MetadataCache::new(10, GRACE);
        let a = client("a");
        cache.store_fetched("u", a.clone(), 1000, 300);
        let error = ClientMetadataError::HttpStatus { status: 503 };
        cache.store_failure("u", error.clone(), 1400, 60);
        assert_eq!(
            cache.lookup("u", 1459),
            CacheLookup::RecentlyFailed {
                error: error.clone(),
                stale: Some(a.clone())
            }
        );
        assert_eq!(
            cache.lookup("u", 1460),
            CacheLookup::Fetch {
                stale: Some(a.clone())
            }
        );
        // a success clears the failure
        cache.store_failure("u", error, 1460, 60);
        cache.store_fetched("u", a.clone(), 1461, 300);
        assert_eq!(cache.lookup("u", 1462), CacheLookup::Fresh(a));
    }

    #[test]
    fn a_zero_failure_time_throttles_nothing() {
        let mut cache = MetadataCache::new(10, GRACE);
        cache.store_failure("u", ClientMetadataError::NotJson, 10, 0);
        assert_eq!(cache.lookup("u", 10), CacheLookup::Fetch { stale: None });
        assert_eq!(cache.failures(), 0);
    }

    #[test]
    fn entries_are_bounded_and_the_oldest_goes_first() {
        let mut cache = MetadataCache::new(3, GRACE);
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            cache.store_fetched(name, client(name), 100 + i as u64, 10_000);
        }
        // refreshing an existing key does not evict
        cache.store_fetched("a", client("a"), 200, 10_000);
        assert_eq!(cache.documents(), 3);
        cache.store_fetched("d", client("d"), 201, 10_000);
        assert_eq!(cache.documents(), 3);
        assert_eq!(
            cache.lookup("b", 202),
            CacheLookup::Fetch { stale: None },
            "b was oldest"
        );
        for name in ["a", "c", "d"] {
            assert!(
                matches!(cache.lookup(name, 202), CacheLookup::Fresh(_)),
                "{name}"
            );
        }
    }

    #[test]
    fn failures_are_bounded_apart_from_documents() {
        let mut cache = MetadataCache::new(2, GRACE);
        cache.store_fetched("good", client("good"), 1, 10_000);
        for i in 0..10u64 {
            cache.store_failure(&format!("bad{i}"), ClientMetadataError::NotJson, 2 + i, 60);
        }
        assert_eq!(cache.failures(), 2);
        assert!(matches!(cache.lookup("good", 20), CacheLookup::Fresh(_)));
        assert!(matches!(
            cache.lookup("bad9", 20),
            CacheLookup::RecentlyFailed { .. }
        ));
        assert_eq!(cache.lookup("bad0", 20), CacheLookup::Fetch { stale: None });
    }
}
