//! Opening the node's storage: one sled database holding both the log and the state machine's
//! snapshot.
//!
//! One database, not two: sled keeps a single ordered log for all its trees, so one flush makes
//! both durable, and the group-commit thread serves both.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::log_store::LogStore;
use crate::snapshot_store::SnapshotError;
use crate::state_machine_store::StateMachineStore;

/// Why the stores could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open sled database: {0}")]
    Sled(#[from] sled::Error),
    #[error("cannot start the log flusher thread: {0}")]
    FlusherThread(#[source] std::io::Error),
    #[error("cannot load the persisted snapshot: {0}")]
    Snapshot(#[from] SnapshotError),
}

/// How long [`open_stores`] waits for another holder of the database to let go.
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// Open (or create) the sled database at `dir/sled` and the two stores openraft needs on it.
/// Pass both to `Raft::new`; keep `StateMachineStore::view()` for reads.
///
/// sled holds an exclusive file lock while open. After `Raft::shutdown` returns, openraft's
/// state-machine task drops its store a moment later, so a node restarted in the same process
/// (as the in-process cluster tests do) can briefly find the lock taken; this waits up to a few
/// seconds for it. Blocking: call it before entering a runtime, or from `spawn_blocking`.
pub fn open_stores(dir: &Path) -> Result<(LogStore, StateMachineStore), StoreError> {
    let path = dir.join("sled");
    let started = Instant::now();
    let db = loop {
        match sled::Config::new().path(&path).open() {
            Ok(db) => break db,
            Err(e) if is_lock_contention(&e) && started.elapsed() < LOCK_WAIT => {
                tracing::debug!(path = %path.display(), "sled database still locked; waiting");
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e.into()),
        }
    };
    tracing::info!(path = %path.display(), recovered = db.was_recovered(), "sled opened");
    let log_store = LogStore::open(&db)?;
    let state_machine = StateMachineStore::open(&db)?;
    Ok((log_store, state_machine))
}

/// sled 0.34 reports a taken file lock only through its message.
fn is_lock_contention(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}
