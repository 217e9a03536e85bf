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
