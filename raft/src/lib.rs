//! mcpauth's Raft layer: everything openraft needs to replicate the domain's commands, and
//! nothing the domain or the HTTP layer should have to know about openraft.
//!
//! - [`TypeConfig`] plugs [`mcpauth_state::Command`] in as the log payload and
//!   [`mcpauth_state::Outcome`] as apply()'s answer; nodes are `u64`s with a [`BasicNode`] whose
//!   `addr` is the node's internal Raft HTTP address.
//! - [`open_stores`] opens one sled database with the [`LogStore`] (log and vote, flushed before
//!   openraft hears they are written: DESIGN.md invariant 3) and the [`StateMachineStore`]
//!   (the [`mcpauth_state::State`] in memory, durable through snapshots in sled plus the log).
//! - [`StateView`] is the read handle the HTTP layer and actors use: the applied state under a
//!   short read lock, and the last applied index as a `watch` channel.
//! - [`NetworkFactory`] sends Raft RPCs to peers over HTTP (reqwest, bincode bodies, a shared
//!   cluster secret); [`handle_rpc`] and [`secret_matches`] are what `api/` calls to serve them.
//! - [`raft_config`] builds a validated openraft config from [`RaftTuning`].
//! - [`RaftClient`] is how the rest of the node writes and reads: routing to the leader
//!   ([`Leadership`], the one place that says who leads), group commit ([`Proposer`]) and
//!   forwarding ([`Forwarder`]), attempt tags and retries, catch-up and the read-index barrier,
//!   and readiness. [`membership`] holds the membership changes and their safety checks.
//! - [`Halt`] stops the node when Raft stops on an error or the leader sends entries newer than
//!   this binary reads.
//!
//! Starting a node (see DESIGN.md, "actix and openraft together"): call `Raft::new` from inside a
//! dedicated multi-threaded tokio runtime, which must outlive the node; sled work runs on that
//! runtime's blocking pool. The `Raft` handle is cheap to clone and may be used from any runtime.
//!
//! ```no_run
//! # async fn start() -> Result<(), Box<dyn std::error::Error>> {
//! use std::{collections::BTreeMap, sync::Arc};
//! let (log_store, state_machine) = mcpauth_raft::open_stores(std::path::Path::new("/var/lib/mcpauth"))?;
//! let view = state_machine.view();
//! let config = Arc::new(mcpauth_raft::raft_config(&mcpauth_raft::RaftTuning::default())?);
//! let network = mcpauth_raft::NetworkFactory::new("cluster secret".into(), None)?;
//! let raft = mcpauth_raft::Raft::new(1, config, network, log_store, state_machine).await?;
//! // Once, on one node of a new cluster:
//! let members = BTreeMap::from([(1, mcpauth_raft::BasicNode::new("10.0.0.1:7001"))]);
//! raft.initialize(members).await?;
//! # Ok(()) }
//! ```

// openraft's storage traits fix `StorageError` (224 bytes) as the error type of every storage
// call, and its config returns `ConfigError`; boxing them inside this crate only to unbox them at
// the trait boundary would buy nothing. Errors are the rare path here.
#![allow(clippy::result_large_err)]

mod attempts;
mod batcher;
mod blocking;
mod client;
mod cluster_version;
mod config;
mod envelope;
mod flusher;
mod forward;
mod forwarder;
mod gather;
mod halt;
mod log_reader;
mod log_store;
pub mod membership;
mod network;
mod rpc;
mod snapshot_store;
mod state_machine_store;
mod state_view;
mod status;
mod store;
mod type_config;

pub use batcher::{Proposer, MAX_BATCH, PROPOSAL_DEADLINE, QUORUM_SILENCE};
pub use client::{
    Leadership, ProposeError, RaftClient, Readiness, FORWARD_ATTEMPT, STALL, WRITE_DEADLINE,
};
pub use cluster_version::{handle_version, start_raising, NodeFormats, VERSION_PATH};
pub use config::{raft_config, RaftTuning, MAX_PAYLOAD_ENTRIES, SNAPSHOT_CHUNK_BYTES};
pub use forward::{
    decode_forward_reply, encode_forward_reply, handle_forward, handle_read_index,
    read_index_locally, write_locally, ClusterClient, ForwardError, ForwardRefusal, ForwardReply,
    Forwarded, FORWARD_PATH, READ_INDEX_PATH,
};
pub use forwarder::Forwarder;
pub use halt::Halt;
pub use log_reader::LogReader;
pub use log_store::LogStore;
pub use network::{NetworkFactory, NetworkSetupError, PeerClient, PeerError};
pub use rpc::{
    handle_rpc, secret_matches, RpcError, RpcKind, CLUSTER_SECRET_HEADER, MAX_RPC_BODY_BYTES,
};
pub use snapshot_store::SnapshotError;
pub use state_machine_store::StateMachineStore;
pub use state_view::{StateView, ViewClosed};
pub use status::ClusterStatus;
pub use store::{open_stores, StoreError};
pub use type_config::*;

/// openraft itself, for the rare type not aliased in this crate.
pub use openraft;
/// reqwest, for callers building requests for [`ClusterClient::json`].
pub use reqwest;
