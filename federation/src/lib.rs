//! Federated login: mcpauth as a client of the organisation's identity provider (OpenID
//! Connect, OAuth 2.0, LDAP, SAML), behind one small facade, [`Upstreams`], with no HTTP server
//! in it: the api crate keeps the routes, cookies and the Raft steps.
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
//!
//! - [`upstreams`]: the facade (begin a login, finish it, password login);
//! - [`config`]: what the operator writes for each kind, its checks, what is stored;
//! - [`oidc`], [`plain_oauth`], [`ldap`], [`saml`]: one protocol each;
//! - [`http`]: every outbound call (timeouts, https except loopback, a size cap).

pub mod config;
mod error;
pub mod http;
mod identity;
pub mod ldap;
pub mod oidc;
pub mod plain_oauth;
pub mod saml;
pub mod upstreams;

pub use error::UpstreamError;
pub use http::OutboundLimits;
pub use identity::Identity;
pub use upstreams::{Answer, AssertionUse, Begin, Finished, Upstream, Upstreams};
