//! Federated login: mcpauth as a client of the organisation's identity provider.
//!
//! ```text
//! /authorize (no session) --> login page: local form + one button per enabled provider
//!   /login/{id}?return_to=/authorize?...   (OIDC, OAuth 2.0, SAML)
//!       propose BeginUpstreamLogin(sha256(state), return_to, browser cookie digest)
//!       --> 303 to the provider (state, PKCE and nonce derived from state and the seal key)
//!   provider --> /login/{id}/callback (OIDC, OAuth 2.0) or POST /saml/{id}/acs (SAML), on any node
//!       propose ConsumeUpstreamState (single use, judged in apply()) --> check the browser cookie
//!       --> exchange and verify upstream --> propose CreateFederatedSession --> 303 return_to
//!   /login/{id} (LDAP): a password form; POST binds to the directory, then the same session step
//! ```
//! Providers live in the replicated state ([`mcpauth_state::Federation`]); every node reads
//! them from there on each login, so an admin API change applies everywhere without restart.

pub mod config;
pub mod http;
pub mod ldap;
pub mod oidc;
pub mod plain_oauth;
pub mod saml;

use std::time::Duration;

/// Who the provider says signed in, in the provider's own terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// The provider's stable identifier for the person (OIDC `sub`, LDAP `uid`/`entryUUID`,
    /// SAML NameID or attribute, GitHub numeric id).
    pub subject: String,
    /// A human-readable login name (for the consent page), if the provider gave one.
    pub username: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

impl Identity {
    /// Our subject for this person: the provider id and the provider's subject.
    pub fn our_subject(&self, provider_id: &str) -> String {
        format!("{provider_id}:{}", self.subject)
    }

    /// What the consent page calls the person.
    pub fn display_username(&self) -> String {
        self.username
            .clone()
            .or_else(|| self.email.clone())
            .or_else(|| self.name.clone())
            .unwrap_or_else(|| self.subject.clone())
    }
}

/// Why an upstream login failed. Each says what happened in words a person can act on; none
/// carries a secret or a token.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum UpstreamError {
    /// The person (or the provider's policy) declined.
    #[error("the identity provider did not sign you in: {0}")]
    Denied(String),
    /// Wrong username or password (LDAP).
    #[error("unknown username or wrong password")]
    BadCredentials,
    /// What the provider sent does not check out (signature, issuer, audience, expiry, nonce...).
    #[error("the identity provider's answer was rejected: {0}")]
    Invalid(String),
    /// The provider could not be reached or answered with an error.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider's configuration does not work.
    #[error("the identity provider is misconfigured: {0}")]
    Misconfigured(String),
}

/// Limits on every call to a provider (node configuration, `[upstream]` in the config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundLimits {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Largest response body read from a provider; more is an error.
    pub max_response_bytes: usize,
}

impl Default for OutboundLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            read_timeout: Duration::from_secs(10),
            max_response_bytes: 1024 * 1024,
        }
    }
}

/// The clients of the upstream providers one node uses (connection pool, metadata caches).
/// Cheap to clone; shared by all workers of a node.
#[derive(Clone, Debug)]
pub struct Upstreams {
    pub outbound: http::Outbound,
    pub oidc: oidc::OidcRp,
    pub saml: saml::SamlSp,
}

impl Upstreams {
    pub fn new(limits: OutboundLimits) -> Result<Self, reqwest::Error> {
        let outbound = http::Outbound::new(limits)?;
        Ok(Self {
            oidc: oidc::OidcRp::new(outbound.clone()),
            saml: saml::SamlSp::new(outbound.clone()),
            outbound,
        })
    }
}
