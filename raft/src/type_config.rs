//! The openraft type configuration of mcpauth, and short names for the openraft types the rest
//! of the workspace touches.
//!
//! The log carries [`mcpauth_state::VersionedCommand`]s (a command and the storage format it is
//! written in, see `mcpauth_state::format`) and apply() answers [`mcpauth_state::Outcome`]s, so
//! a `client_write` hands back exactly what the domain decided. Nodes are named by a `u64` and
//! described by a [`BasicNode`] whose `addr` is the node's internal Raft HTTP address
//! (`host:port`, no scheme), the address the [`crate::NetworkFactory`] posts RPCs to. Snapshots are
//! whole in-memory byte buffers: the state is bounded (DESIGN.md, invariant 5), so streaming it
//! from disk would buy nothing.
//!
//! The aliases exist so that `api/` and `node/` can name these types through this crate and need
//! no direct dependency on openraft (DESIGN.md: keep openraft types inside `raft/`).

use std::io::Cursor;

pub use openraft::BasicNode;

openraft::declare_raft_types!(
    /// mcpauth's Raft types: commands in, outcomes out, nodes addressed over HTTP.
    pub TypeConfig:
        D = mcpauth_state::VersionedCommand,
        R = mcpauth_state::Outcome,
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A node's identifier in the cluster.
pub type NodeId = u64;
/// The running Raft node: cheap to clone, hand one to every actor.
pub type Raft = openraft::Raft<TypeConfig>;
/// A log entry of this cluster.
pub type Entry = openraft::Entry<TypeConfig>;
/// What an entry carries: blank, a command, or a membership change.
pub type EntryPayload = openraft::EntryPayload<TypeConfig>;
/// The position of an entry in the log: leader term and node, and index.
pub type LogId = openraft::LogId<NodeId>;
/// A vote (term and candidate) as persisted by the log store.
pub type Vote = openraft::Vote<NodeId>;
/// A cluster membership: voters, learners and their addresses.
pub type Membership = openraft::Membership<NodeId, BasicNode>;
/// A membership together with the log id of the entry that set it.
pub type StoredMembership = openraft::StoredMembership<NodeId, BasicNode>;
/// Metadata of a snapshot: last included log id, membership, and id.
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, BasicNode>;
/// A snapshot as handed between openraft and the state machine store.
pub type Snapshot = openraft::Snapshot<TypeConfig>;
/// Errors openraft storage traits return; any of them stops the Raft node.
pub type StorageError = openraft::StorageError<NodeId>;
/// What `Raft::client_write` returns on success: the log id and the [`mcpauth_state::Outcome`].
pub type ClientWriteResponse = openraft::raft::ClientWriteResponse<TypeConfig>;
/// The error of `Raft::client_write`. `RaftError::APIError(ClientWriteError::ForwardToLeader(_))`
/// tells a follower where the leader is.
pub type ClientWriteError =
    openraft::error::RaftError<NodeId, openraft::error::ClientWriteError<NodeId, BasicNode>>;
/// The leader hint inside a [`ClientWriteError`] or a linearizable-read error.
pub type ForwardToLeader = openraft::error::ForwardToLeader<NodeId, BasicNode>;
/// The error of `Raft::ensure_linearizable`.
pub type CheckIsLeaderError =
    openraft::error::RaftError<NodeId, openraft::error::CheckIsLeaderError<NodeId, BasicNode>>;
/// The error of `Raft::initialize`.
pub type InitializeError =
    openraft::error::RaftError<NodeId, openraft::error::InitializeError<NodeId, BasicNode>>;
/// Raft's metrics (leader, term, last applied, membership), from `Raft::metrics()`.
pub type RaftMetrics = openraft::RaftMetrics<NodeId, BasicNode>;
/// A fatal Raft error: the node has stopped (storage failure, panic, shutdown).
pub type Fatal = openraft::error::Fatal<NodeId>;
