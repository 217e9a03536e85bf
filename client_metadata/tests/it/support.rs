//! Real peers for the tests: the test CA, https server and counting listener of
//! `mcpauth_tests::https` (shared with the integration tests), and a name lookup that answers
//! from a table and counts its calls.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mcpauth_client_metadata::{ClientMetadataConfig, HostLookup, LookupFuture};
pub use mcpauth_tests::https::{test_pki, CountingListener, HttpsServer, Reply, TestPki};

/// 2026-12-01T00:00:00Z, the tests' "now".
pub const NOW: u64 = 1_796_083_200;

/// Name resolution from a table; names not in it do not resolve. Counts calls.
#[derive(Default)]
pub struct StaticLookup {
    pub table: HashMap<String, Vec<IpAddr>>,
    pub calls: AtomicUsize,
}

impl StaticLookup {
    pub fn new(entries: &[(&str, &str)]) -> Arc<Self> {
        let mut table: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for (name, ip) in entries {
            table
                .entry(name.to_string())
                .or_default()
                .push(ip.parse().expect("an IP address"));
        }
        Arc::new(Self {
            table,
            calls: AtomicUsize::new(0),
        })
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl HostLookup for StaticLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self.table.get(host).cloned();
        Box::pin(async move {
            answer.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"))
        })
    }
}

/// A configuration that trusts `pki`'s CA and exempts `hosts` from the address check; no
/// fetch throttle, so each test decides when a fetch happens.
pub fn config(pki: &TestPki, hosts: &[&str]) -> ClientMetadataConfig {
    ClientMetadataConfig {
        allow_hosts: hosts.iter().map(|h| h.to_string()).collect(),
        extra_ca_pem: Some(pki.ca_pem.clone()),
        fetch_timeout_ms: 3_000,
        connect_timeout_ms: 2_000,
        failure_cache_secs: 0,
        ..ClientMetadataConfig::default()
    }
}

/// A valid document for `url`.
pub fn document(url: &str) -> serde_json::Value {
    serde_json::json!({
        "client_id": url,
        "client_name": "Test Client (local)",
        "client_uri": "https://client.example",
        "redirect_uris": ["http://127.0.0.1/callback", "https://client.example/cb"],
        "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none"
    })
}
