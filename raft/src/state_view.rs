//! A read handle on the applied state, for the HTTP layer and the actors.
//!
//! Reads that decide nothing security-relevant are served from the local state machine
//! (DESIGN.md, "How a write flows"). [`StateView`] gives them the state under a short read lock,
//! and the index of the last applied log entry as a `watch` channel, so a route can wait until
//! this node has applied a given write (for example one it forwarded to the leader) before
//! reading, and an actor can refresh its view whenever something was applied.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use mcpauth_state::{FormatVersion, State};
use tokio::sync::watch;

use crate::type_config::{LogId, StoredMembership};

/// The state machine's in-memory data: the domain state and where in the log it stands.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub(crate) state: State,
    pub(crate) last_applied: Option<LogId>,
    pub(crate) membership: StoredMembership,
}

/// Take the read lock. A poisoned lock means a panic inside `State::apply`, a bug; that panic
/// also stopped Raft, so writes already fail. Reads go on from the state as it is, with a log
/// line, rather than taking the whole node down with them.
pub(crate) fn read_lock(data: &RwLock<Applied>) -> RwLockReadGuard<'_, Applied> {
    data.read().unwrap_or_else(|poisoned| {
        tracing::error!("state lock poisoned by a panic during apply; reading anyway");
        PoisonError::into_inner(poisoned)
    })
}

/// The state machine's sender went away: the store (and so Raft) was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the state machine was shut down")]
pub struct ViewClosed;

/// Cheap to clone; one per actor or route is fine.
#[derive(Clone)]
pub struct StateView {
    data: Arc<RwLock<Applied>>,
    applied: watch::Receiver<u64>,
    attempts: crate::attempts::Attempts,
    cluster_version: Arc<AtomicU32>,
}

impl StateView {
    pub(crate) fn new(
        data: Arc<RwLock<Applied>>,
        applied: watch::Receiver<u64>,
        attempts: crate::attempts::Attempts,
        cluster_version: Arc<AtomicU32>,
    ) -> Self {
        Self {
            data,
            applied,
            attempts,
            cluster_version,
        }
    }

    /// The cluster version as of the last applied entry: the newest storage format this node
    /// may write (every member reads it). Lock-free: every write and every forwarded answer
    /// asks.
    pub fn cluster_version(&self) -> FormatVersion {
        self.cluster_version.load(Ordering::Acquire)
    }

    /// Outcomes of `Command::Tagged` entries as this node applies them (subscribe before
    /// proposing): how a node learns a forwarded write's outcome when the answer was lost.
    pub fn applied_attempts(
        &self,
    ) -> tokio::sync::broadcast::Receiver<(u64, mcpauth_state::Outcome)> {
        self.attempts.subscribe()
    }

    /// Run `f` on the current state under the read lock. Keep `f` short and never await or
    /// block inside it: apply() waits for this lock.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&read_lock(&self.data).state)
    }

    /// Like [`read`](Self::read), also passing the index of the last applied entry (0 before
    /// anything was applied), consistent with the state seen.
    pub fn read_at<R>(&self, f: impl FnOnce(&State, u64) -> R) -> R {
        let guard = read_lock(&self.data);
        f(&guard.state, guard.last_applied.map_or(0, |id| id.index))
    }

    /// The index of the last applied log entry (0 before anything was applied); changes
    /// whenever entries are applied or a snapshot is installed.
    pub fn applied_index(&self) -> watch::Receiver<u64> {
        self.applied.clone()
    }

    /// Wait until this node has applied the entry at `index` (or a snapshot beyond it).
    /// Wrap it in a timeout: a node cut off from its leader may never get there.
    pub async fn wait_applied(&self, index: u64) -> Result<(), ViewClosed> {
        let mut rx = self.applied.clone();
        rx.wait_for(|applied| *applied >= index)
            .await
            .map(|_| ())
            .map_err(|_| ViewClosed)
    }
}
