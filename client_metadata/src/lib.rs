//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25
//! authorization): a client whose `client_id` is an https URL publishes its registration as a
//! JSON document at that URL, and the authorization server fetches it instead of asking the
//! client to register.
//!
//! Fetching a URL the client chose is a server-side request forgery risk, and the document is
//! the client's word about itself, so this crate is mostly defences: which URLs count
//! ([`ClientIdUrl`]), which addresses may be connected to (`address_policy`), how the fetch is
//! made (`fetcher`, `guarded_dns`), what a document must say (`document`), how long it is
//! believed (`cache_lifetime`, `metadata_cache`), and the built-in copies of known clients'
//! documents for when a fetch fails or proves nothing (`known_clients`).
//!
//! The api calls it like this (and maps every error to `invalid_client`):
//! ```no_run
//! # async fn example(client_id: &str, now: u64) -> Result<(), Box<dyn std::error::Error>> {
//! use mcpauth_client_metadata::{ClientIdUrl, ClientMetadataConfig, ClientMetadataResolver};
//! let resolver = ClientMetadataResolver::new(ClientMetadataConfig::default())?;
//! if let Some(url) = ClientIdUrl::parse(client_id) {
//!     let client = resolver.resolve(&url, now).await?;
//!     // client.redirect_uris go through the api's own redirect rules
//! }
//! # Ok(()) }
//! ```
//! No actix, no openraft: the cache is per node and in memory (documents are public and
//! cheap to fetch again; nothing here needs to be agreed on by the cluster).

mod address_policy;
mod cache_lifetime;
mod client_id_url;
mod config;
mod document;
mod error;
mod fetcher;
mod guarded_dns;
mod host_lookup;
mod known_clients;
mod metadata_cache;
mod resolved_client;
mod resolver;
mod tls_roots;

pub use address_policy::refused_reason;
pub use cache_lifetime::{fresh_lifetime_secs, CacheHeaders, LIFETIME_WITHOUT_HEADERS};
pub use client_id_url::{ClientIdHost, ClientIdUrl, MAX_CLIENT_ID_URL_LEN};
pub use config::ClientMetadataConfig;
pub use document::validate_document;
pub use error::{ClientMetadataConfigError, ClientMetadataError};
pub use host_lookup::{HostLookup, LookupFuture, SystemLookup};
pub use known_clients::{BuiltIn, KnownClients, KnownDocument, FALLBACK_DOCUMENTS, PATTERN_HOST};
pub use metadata_cache::{CacheLookup, MetadataCache};
pub use resolved_client::{ResolvedClient, Source, AUTH_METHOD_NONE};
pub use resolver::ClientMetadataResolver;
