//! Node-local settings of the HTTP layer (lifetimes, issuer, scopes, registration policy).

use crate::oauth::registration_policy::RegistrationPolicy;

use mcpauth_state::{AuditRetention, Command, RefreshReuse, UnixTime};

/// What a purge drops besides what expired: unused registrations, and old audit events. Every
/// purge must carry the same policy, since the last one proposed is the trail's bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgePolicy {
    pub unclaimed_client_ttl: u64,
    pub audit: AuditRetention,
}

impl PurgePolicy {
    pub fn command(&self, now: UnixTime) -> Command {
        Command::Purge {
            now,
            unclaimed_client_ttl: self.unclaimed_client_ttl,
            audit: self.audit,
        }
    }
}

/// How long a rotated refresh token stays acceptable again under the default policy: long
/// enough for a client retrying after a lost response or two sessions sharing a token.
pub const DEFAULT_REFRESH_GRACE_SECS: u64 = 60;

/// How the OAuth routes behave. The same on every node of a cluster (one cluster.toml).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Our issuer identifier, byte-identical in metadata, tokens and `iss` parameters.
    pub issuer: String,
    pub access_token_ttl: u64,
    pub refresh_idle_ttl: u64,
    /// What a rotated refresh token presented again gets (`refresh_reuse`, `refresh_grace_secs`).
    pub refresh_reuse: RefreshReuse,
    pub code_ttl: u64,
    pub session_ttl: u64,
    /// Registrations that never complete a login are reaped after this many seconds.
    pub unclaimed_client_ttl: u64,
    /// How long audit events are kept, and how many (`[audit]`).
    pub audit_retention: AuditRetention,
    pub scopes_supported: Vec<String>,
    /// What an authorization request without `scope` gets, when its client registered none
    /// (RFC 6749 §3.3); each one of `scopes_supported`.
    pub default_scopes: Vec<String>,
    /// Whether `/register` is open, and the redirect URIs a registration may carry.
    pub registration: RegistrationPolicy,
    /// Signing-key rotation (`[signing_keys]`); also sets how long JWKS may be cached.
    pub key_rotation: crate::key_rotation::RotationPolicy,
}

impl ServerConfig {
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            access_token_ttl: 3600,
            refresh_idle_ttl: 30 * 24 * 3600,
            refresh_reuse: RefreshReuse::Grace {
                secs: DEFAULT_REFRESH_GRACE_SECS,
            },
            code_ttl: 60,
            session_ttl: 12 * 3600,
            unclaimed_client_ttl: 24 * 3600,
            audit_retention: AuditRetention::default(),
            scopes_supported: default_scopes(),
            default_scopes: default_request_scopes(),
            registration: RegistrationPolicy::default(),
            key_rotation: crate::key_rotation::RotationPolicy::default(),
        }
    }

    /// Cookies get `Secure` when the issuer is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// What the leader's scheduled purge drops.
    pub fn purge_policy(&self) -> PurgePolicy {
        PurgePolicy {
            unclaimed_client_ttl: self.unclaimed_client_ttl,
            audit: self.audit_retention,
        }
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer.trim_end_matches('/'), path)
    }
}

/// The default of `scopes` (`scopes_supported`).
pub fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email", "offline_access", "mcp"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The default of `default_scopes`: what a request naming no scope gets. The MCP conformance
/// suite's code grant names none and must still get a token for the MCP server.
pub fn default_request_scopes() -> Vec<String> {
    vec!["mcp".to_owned()]
}
