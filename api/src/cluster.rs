//! The node's handle on the replicated state is raft's client (`mcpauth_raft::RaftClient`:
//! routing to the leader, forwarding, retries, attempt tags, catch-up, the read-index barrier
//! and readiness). api calls it `Cluster`, as the actors and routes always have.

pub use mcpauth_raft::{ProposeError, RaftClient as Cluster};
