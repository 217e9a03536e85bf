//! What a caller of the Raft client is told when a write or a current read cannot be served.

/// A write that was not confirmed, or a read that cannot be made current. Every variant is a
/// 503 for an HTTP client; they differ in what the caller may assume.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// No leader is known, or this node cannot reach it: nothing was committed.
    #[error("the cluster has no reachable leader ({0})")]
    Unavailable(String),
    /// The write reached a leader but was not confirmed in time (its answer was lost, or the
    /// leader lost its term or its majority): it may still have been carried out. A retry of
    /// the same request is judged against whatever happened.
    #[error("the write was not confirmed and may still have been carried out ({0})")]
    OutcomeUnknown(String),
    /// Raft stopped on this node (storage failure or shutdown).
    #[error("raft is not running on this node: {0}")]
    Fatal(String),
    /// The command needs a newer storage format than the cluster writes yet (some member runs
    /// an older mcpauth, or a new cluster's leader has not raised its version yet): nothing was
    /// proposed.
    #[error("not possible until every node runs this mcpauth version: {0}")]
    NotYetWritable(String),
}
