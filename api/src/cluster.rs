//! The node's handle on the replicated state: propose a command through Raft and wait for its
//! Outcome, or read the local state machine.

use mcpauth_raft::{Raft, StateView};
use mcpauth_state::{Command, Outcome, State};
use openraft::error::{ClientWriteError, RaftError};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ProposeError {
    /// No leader is known, or this node cannot reach it: the caller answers 503.
    #[error("the cluster has no reachable leader ({0})")]
    Unavailable(String),
    /// Raft stopped on this node (storage failure or shutdown).
    #[error("raft is not running on this node: {0}")]
    Fatal(String),
}

#[derive(Clone)]
pub struct Cluster {
    raft: Raft,
    view: StateView,
}

impl Cluster {
    pub fn new(raft: Raft, view: StateView) -> Self {
        Self { raft, view }
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Propose a command and wait until it is committed on a majority, flushed, and applied.
    pub async fn propose(&self, command: Command) -> Result<Outcome, ProposeError> {
        let kind = command.kind();
        match self.raft.client_write(command).await {
            Ok(response) => Ok(response.data),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
                tracing::warn!(kind, leader = ?forward.leader_id, "write reached a non-leader");
                Err(ProposeError::Unavailable(match forward.leader_id {
                    Some(id) => format!("node {id} leads; forwarding is not available"),
                    None => "no leader elected".to_owned(),
                }))
            }
            Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(e))) => {
                Err(ProposeError::Fatal(e.to_string()))
            }
            Err(RaftError::Fatal(fatal)) => {
                tracing::error!(kind, error = %fatal, "raft fatal error");
                Err(ProposeError::Fatal(fatal.to_string()))
            }
        }
    }

    /// Read the local state machine (only what has been applied on this node).
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        self.view.read(f)
    }
}
