//! Opening the node's storage: one sled database holding both the log and the state machine's
//! snapshot.
//!
//! One database, not two: sled keeps a single ordered log for all its trees, so one flush makes
//! both durable, and the group-commit thread serves both.

use std::path::Path;

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

/// Open (or create) the sled database at `dir/sled` and the two stores openraft needs on it.
/// Pass both to `Raft::new`; keep `StateMachineStore::view()` for reads.
pub fn open_stores(dir: &Path) -> Result<(LogStore, StateMachineStore), StoreError> {
    let path = dir.join("sled");
    let db = sled::Config::new().path(&path).open()?;
    tracing::info!(path = %path.display(), recovered = db.was_recovered(), "sled opened");
    let log_store = LogStore::open(&db)?;
    let state_machine = StateMachineStore::open(&db)?;
    Ok((log_store, state_machine))
}
