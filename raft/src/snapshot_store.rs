//! The current snapshot, persisted in sled, and the snapshot byte format.
//!
//! The state machine itself lives in memory (it is small and bounded, DESIGN.md invariant 5);
//! what makes it durable is the last snapshot plus the log after it. So the snapshot is written
//! and flushed before openraft is told it exists, and only then may openraft purge the log it
//! covers. Tree `snapshot` holds exactly one snapshot: key `meta` (bincode `SnapshotMeta`) and key
//! `data` (the bytes below), written in one batch so they always match.
//!
//! The snapshot bytes themselves are `mcpauth_state::format`'s business: a `u32` format number
//! first, then the state in that format, so every version's snapshot stays readable.

use std::sync::{Arc, Mutex, PoisonError};

use crate::type_config::SnapshotMeta;

const SNAPSHOT_TREE: &str = "snapshot";
const META_KEY: &[u8] = b"meta";
const DATA_KEY: &[u8] = b"data";

/// Why a snapshot could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("snapshot metadata encoding: {0}")]
    Codec(#[from] bincode::Error),
    #[error("snapshot: {0}")]
    Format(#[from] mcpauth_state::FormatError),
    #[error("snapshot meta without data")]
    MissingData,
}

/// Reads and writes the one persisted snapshot. Blocking: call from the blocking pool.
#[derive(Clone)]
pub(crate) struct SnapshotStore {
    db: sled::Db,
    tree: sled::Tree,
    /// Serializes compare-and-write, so a snapshot built from an older state can never replace
    /// a newer one that was installed meanwhile.
    write_lock: Arc<Mutex<()>>,
}

impl SnapshotStore {
    pub(crate) fn open(db: &sled::Db) -> Result<Self, SnapshotError> {
        Ok(Self {
            db: db.clone(),
            tree: db.open_tree(SNAPSHOT_TREE)?,
            write_lock: Arc::new(Mutex::new(())),
        })
    }

    /// The persisted snapshot, if any.
    pub(crate) fn load(&self) -> Result<Option<(SnapshotMeta, Vec<u8>)>, SnapshotError> {
        let Some(meta) = self.tree.get(META_KEY)? else {
            return Ok(None);
        };
        let meta: SnapshotMeta = mcpauth_state::decode(&meta)?;
        let data = self.tree.get(DATA_KEY)?.ok_or(SnapshotError::MissingData)?;
        Ok(Some((meta, data.to_vec())))
    }

    /// Persist and flush `meta` and `data` unless the stored snapshot is newer. Returns whether
    /// it was written.
    pub(crate) fn save(&self, meta: &SnapshotMeta, data: &[u8]) -> Result<bool, SnapshotError> {
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(current) = self.tree.get(META_KEY)? {
            let current: SnapshotMeta = mcpauth_state::decode(&current)?;
            if current.last_log_id > meta.last_log_id {
                tracing::warn!(
                    stored = %current,
                    offered = %meta,
                    "not replacing a newer snapshot with an older one"
                );
                return Ok(false);
            }
        }
        let mut batch = sled::Batch::default();
        batch.insert(META_KEY, mcpauth_state::encode(meta)?);
        batch.insert(DATA_KEY, data);
        self.tree.apply_batch(batch)?;
        self.db.flush()?;
        Ok(true)
    }
}
