//! Stopping the node when serving on would be wrong.
//!
//! Two things end a node's process instead of leaving it up with a Raft that no longer moves:
//! Raft stopping on an error (a storage failure, or stored entries or a snapshot in a format
//! newer than this binary reads), and a leader sending entries this binary cannot read (a node
//! of an older release left in, or put back into, an upgraded cluster). Such a node would
//! answer from a state that never advances again, and `/readyz` alone would not tell a
//! balancer why. Exiting with the reason lets the operator (or the supervisor's log) see it.

use std::sync::Arc;

use tokio::sync::watch;

use crate::type_config::{Fatal, Raft};

/// Cheap to clone: every clone stops the same node.
#[derive(Clone)]
pub struct Halt {
    reason: Arc<watch::Sender<Option<String>>>,
}

impl Default for Halt {
    fn default() -> Self {
        Self::new()
    }
}

impl Halt {
    pub fn new() -> Self {
        Self {
            reason: Arc::new(watch::channel(None).0),
        }
    }

    /// Ask the node to stop; the first reason given is the one reported.
    pub fn halt(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.reason.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            tracing::error!(%reason, "stopping the node");
            *current = Some(reason);
            true
        });
    }

    /// Wait until the node is asked to stop, and say why.
    pub async fn halted(&self) -> String {
        let mut reason = self.reason.subscribe();
        loop {
            if let Some(why) = reason.borrow_and_update().clone() {
                return why;
            }
            // The sender lives in `self`, so the channel cannot close while this waits.
            if reason.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Stop the node when its Raft stops on an error (not when it is shut down). Spawned on the
    /// current tokio runtime.
    pub fn on_raft_error(&self, raft: &Raft) {
        let halt = self.clone();
        let mut metrics = raft.metrics();
        tokio::spawn(async move {
            loop {
                if let Err(fatal) = &metrics.borrow_and_update().running_state {
                    if !matches!(fatal, Fatal::Stopped) {
                        halt.halt(format!("raft stopped: {fatal}"));
                    }
                    return;
                }
                if metrics.changed().await.is_err() {
                    return;
                }
            }
        });
    }
}
