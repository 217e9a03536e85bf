//! The `[client_metadata]` table of the node's configuration file.
//!
//! Contract with the config file (issue 10): `enabled` (default true), `allow_hosts`,
//! `extra_ca_file`, `max_cache_secs`, `fetch_timeout_ms`. The other fields have defaults that
//! suit production and exist for tests and unusual deployments.

use std::path::PathBuf;

use serde::Deserialize;

/// Settings of the client metadata resolver. `Default` is the production configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientMetadataConfig {
    /// Accept client_id URLs at all (the api advertises `client_id_metadata_document_supported`
    /// only when true).
    pub enabled: bool,
    /// Hosts (names or IP literals, compared case-insensitively with the URL's host) exempt
    /// from the refused-address check: for test setups that serve documents on loopback. Every
    /// other defence still applies to them.
    pub allow_hosts: Vec<String>,
    /// PEM file of CA certificates trusted in addition to the system's.
    pub extra_ca_file: Option<PathBuf>,
    /// The same as PEM text (tests); both may be given.
    #[serde(skip)]
    pub extra_ca_pem: Option<String>,
    /// Upper bound on how long a fetched document is fresh, whatever its headers say.
    pub max_cache_secs: u64,
    /// Lower bound (also what `no-store` / `no-cache` get).
    pub min_cache_secs: u64,
    /// Total time for one fetch: connect, TLS, headers and body.
    pub fetch_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Largest document read; more is refused while streaming.
    pub max_bytes: usize,
    /// Documents kept (and, separately, failures kept); the oldest goes first.
    pub max_entries: usize,
    /// How long after expiry a good copy keeps serving while refetches fail.
    pub stale_grace_secs: u64,
    /// After a failed fetch, no new fetch of that URL for this long (0: no throttle).
    pub failure_cache_secs: u64,
    /// Fetches in flight at once, over all URLs; one more is refused at once (`Busy`), so a
    /// flood of distinct URLs cannot open unbounded outbound connections.
    pub max_concurrent_fetches: usize,
}

impl Default for ClientMetadataConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_hosts: Vec::new(),
            extra_ca_file: None,
            extra_ca_pem: None,
            max_cache_secs: 24 * 3600,
            min_cache_secs: 5 * 60,
            fetch_timeout_ms: 5_000,
            connect_timeout_ms: 3_000,
            max_bytes: 64 * 1024,
            max_entries: 1_000,
            stale_grace_secs: 3600,
            failure_cache_secs: 60,
            max_concurrent_fetches: 16,
        }
    }
}

impl ClientMetadataConfig {
    /// The problems that would make the resolver misbehave, as one message.
    pub fn problems(&self) -> Option<String> {
        let mut problems = Vec::new();
        if self.min_cache_secs > self.max_cache_secs {
            problems.push("min_cache_secs is larger than max_cache_secs");
        }
        if self.fetch_timeout_ms == 0 || self.connect_timeout_ms == 0 {
            problems.push("fetch_timeout_ms and connect_timeout_ms must be positive");
        }
        if self.max_bytes == 0 {
            problems.push("max_bytes must be positive");
        }
        if self.max_entries == 0 || self.max_concurrent_fetches == 0 {
            problems.push("max_entries and max_concurrent_fetches must be positive");
        }
        (!problems.is_empty()).then(|| problems.join("; "))
    }

    /// Is `host` (as in the URL, IPv6 without brackets) in `allow_hosts`?
    pub fn is_allowed_host(&self, host: &str) -> bool {
        self.allow_hosts.iter().any(|allowed| {
            allowed
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .eq_ignore_ascii_case(host)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_fields_read_from_toml_like_json() {
        let config: ClientMetadataConfig = serde_json::from_str(
            r#"{"enabled": false, "allow_hosts": ["localhost", "[::1]"],
                "extra_ca_file": "/etc/ca.pem", "max_cache_secs": 600, "fetch_timeout_ms": 800}"#,
        )
        .expect("parses");
        assert!(!config.enabled);
        assert!(config.is_allowed_host("LOCALHOST"));
        assert!(config.is_allowed_host("::1"));
        assert!(!config.is_allowed_host("127.0.0.1"));
        assert_eq!(config.max_cache_secs, 600);
        assert_eq!(config.fetch_timeout_ms, 800);
        assert_eq!(config.min_cache_secs, 300, "defaults for the rest");
        assert!(serde_json::from_str::<ClientMetadataConfig>(r#"{"enabld": true}"#).is_err());
    }

    #[test]
    fn defaults_are_sane_and_bad_bounds_are_reported() {
        assert_eq!(ClientMetadataConfig::default().problems(), None);
        let bad = ClientMetadataConfig {
            min_cache_secs: 10,
            max_cache_secs: 5,
            max_bytes: 0,
            ..ClientMetadataConfig::default()
        };
        let problems = bad.problems().expect("problems");
        assert!(problems.contains("min_cache_secs"));
        assert!(problems.contains("max_bytes"));
    }
}
