//! mcpauth's HTTP layer: the OAuth 2.1 routes, discovery, the login and consent pages, and the
//! actix actors that turn requests into Raft commands.
//!
//! ```text
//! request --> route (routes/) --> actor message (actors/) --> Cluster::propose(Command)
//!         --> Raft: committed on a majority, flushed, applied --> Outcome --> response
//! reads   --> Cluster::read (the applied state machine on this node)
//! ```
//! Routes do HTTP only; the OAuth rules (which requests are valid, what each grant attempts,
//! which RFC error a refusal is) live in `oauth/`, and the actors do each aggregate's work.
//! The state machine decides every single-use question (code redemption, refresh rotation),
//! so concurrent requests on any nodes cannot both win.

pub mod actors;
pub mod admin;
pub mod app;
pub mod clock;
pub mod cluster;
pub mod error;
pub mod internal;
pub mod key_rotation;
pub mod oauth;
pub mod pages;
pub mod redirect_uri;
pub mod resource;
pub mod routes;
pub mod server_config;
mod signing_keys;
#[cfg(feature = "testing")]
pub mod testing;

// The crypto and federation crates, under the module names the routes and actors use.
pub use mcpauth_crypto::{passwords, sealer, secrets, signer, signer_cache};
pub use mcpauth_federation as upstream;

pub use app::{configure, AppState};
pub use cluster::Cluster;
pub use sealer::Sealer;
pub use server_config::ServerConfig;
pub use signer_cache::SignerCache;
