//! HTTP handlers: thin, they parse, validate, ask an actor or the read view, and answer.

pub mod authorize;
pub mod client_configuration;
pub mod health;
pub mod introspect;
pub mod jwks;
pub mod login;
pub mod metadata;
pub mod metadata_document;
pub mod register;
pub mod revoke;
pub mod token;
pub mod upstream;

mod cookies;

/// The address a request came from, for sessions and the audit trail: the connection's peer
/// (behind a load balancer, the balancer's address).
pub(crate) fn source_address(req: &actix_web::HttpRequest) -> Option<String> {
    req.peer_addr().map(|addr| addr.ip().to_string())
}
