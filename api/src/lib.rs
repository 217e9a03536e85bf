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
pub mod app;
pub mod clock;
pub mod cluster;
pub mod error;
pub mod internal;
pub mod oauth;
pub mod pages;
pub mod passwords;
pub mod redirect_uri;
pub mod resource;
pub mod routes;
pub mod sealer;
pub mod secrets;
pub mod server_config;
pub mod signer;
pub mod signer_cache;
#[cfg(feature = "testing")]
pub mod testing;
pub mod upstream;

pub use app::{configure, AppState};
pub use cluster::Cluster;
pub use sealer::Sealer;
pub use server_config::ServerConfig;
pub use signer_cache::SignerCache;
