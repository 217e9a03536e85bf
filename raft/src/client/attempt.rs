//! Watching this node's applied entries for one attempt id (see `crate::attempts`): a write whose
//! answer was lost is still known to be done once this node applies it.

use std::time::Duration;

use mcpauth_state::Outcome;
use tokio::sync::broadcast;

use crate::StateView;

pub(super) struct AttemptWatch {
    applied: broadcast::Receiver<(u64, Outcome)>,
    attempt: u64,
}

impl AttemptWatch {
    /// Subscribe before proposing, so no application of the attempt is missed.
    pub(super) fn new(view: &StateView, attempt: u64) -> Self {
        Self {
            applied: view.applied_attempts(),
            attempt,
        }
    }

    /// The outcome of the attempt if this node has applied it already (without waiting).
    pub(super) fn seen(&mut self) -> Option<Outcome> {
        loop {
            match self.applied.try_recv() {
                Ok((id, outcome)) if id == self.attempt => return Some(outcome),
                Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Wait up to `pause` for this node to apply the attempt.
    pub(super) async fn wait(&mut self, pause: Duration) -> Option<Outcome> {
        let attempt = self.attempt;
        let applied = &mut self.applied;
        let wait = async move {
            loop {
                match applied.recv().await {
                    Ok((id, outcome)) if id == attempt => return Some(outcome),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        };
        tokio::time::timeout(pause, wait).await.ok().flatten()
    }
}
