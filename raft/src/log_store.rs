//! The Raft log and vote, stored in sled.
//!
//! Layout: tree `raft_log` maps the big-endian `u64` index to a bincode-encoded entry; tree
//! `raft_meta` holds the vote, the last committed log id and the last purged log id.
//!
//! Durability (DESIGN.md, invariant 3): openraft may count an entry towards a commit once its
//! [`LogFlushed`] callback fires, so that callback only fires after sled has flushed the entry
//! (through the group-commit [`Flusher`]). A vote is flushed before `save_vote` returns: a node
//! that forgot its vote could vote twice in one term. Truncation and purge are flushed too; they
//! are rare. The committed log id is written without a flush: it is a hint that lets a restarted
//! node re-apply its log at once instead of waiting for a leader, and sled's log is ordered, so
//! if the hint survives a crash then so did every entry written before it.
//!
//! Every sled call runs on the blocking pool, never on an async executor.

use std::fmt::Debug;
use std::ops::RangeBounds;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, LogState, OptionalSend, RaftLogReader};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::blocking::{io_error, run_blocking};
use crate::flusher::Flusher;
use crate::log_reader::{decode_entry, index_key, LogReader};
use crate::store::StoreError;
use crate::type_config::{Entry, LogId, StorageError, TypeConfig, Vote};

const LOG_TREE: &str = "raft_log";
const META_TREE: &str = "raft_meta";
const VOTE_KEY: &[u8] = b"vote";
const COMMITTED_KEY: &[u8] = b"committed";
const LAST_PURGED_KEY: &[u8] = b"last_purged";

/// openraft's log storage on sled. Not `Clone`: openraft owns the one writer.
pub struct LogStore {
    db: sled::Db,
    logs: sled::Tree,
    meta: sled::Tree,
    flusher: Flusher,
}

impl LogStore {
    /// Open the log trees of `db` and start the group-commit thread.
    pub(crate) fn open(db: &sled::Db) -> Result<Self, StoreError> {
        Ok(Self {
            logs: db.open_tree(LOG_TREE)?,
            meta: db.open_tree(META_TREE)?,
            flusher: Flusher::start(db.clone()).map_err(StoreError::FlusherThread)?,
            db: db.clone(),
        })
    }

    fn read_meta<T: DeserializeOwned>(
        meta: &sled::Tree,
        key: &[u8],
        subject: ErrorSubject<u64>,
    ) -> Result<Option<T>, StorageError> {
        let bytes = meta
            .get(key)
            .map_err(|e| io_error(subject.clone(), ErrorVerb::Read, &e))?;
        bytes
            .map(|b| mcpauth_state::decode(&b))
            .transpose()
            .map_err(|e| io_error(subject, ErrorVerb::Read, &*e))
    }

    fn write_meta<T: Serialize>(
        meta: &sled::Tree,
        key: &[u8],
        value: &T,
        subject: ErrorSubject<u64>,
    ) -> Result<(), StorageError> {
        let bytes = mcpauth_state::encode(value)
            .map_err(|e| io_error(subject.clone(), ErrorVerb::Write, &*e))?;
        meta.insert(key, bytes)
            .map_err(|e| io_error(subject, ErrorVerb::Write, &e))?;
        Ok(())
    }

    fn flush(db: &sled::Db, subject: ErrorSubject<u64>) -> Result<(), StorageError> {
        db.flush()
            .map_err(|e| io_error(subject, ErrorVerb::Write, &e))?;
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        LogReader::new(self.logs.clone())
            .try_get_log_entries(range)
            .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let (logs, meta) = (self.logs.clone(), self.meta.clone());
        run_blocking(ErrorSubject::Logs, ErrorVerb::Read, move || {
            let last_purged_log_id: Option<LogId> =
                Self::read_meta(&meta, LAST_PURGED_KEY, ErrorSubject::Logs)?;
            let last = logs
                .last()
                .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Read, &e))?;
            let last_log_id = match last {
                Some((_, bytes)) => Some(decode_entry(&bytes)?.log_id),
                None => last_purged_log_id,
            };
            Ok(LogState {
                last_purged_log_id,
                last_log_id,
            })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        LogReader::new(self.logs.clone())
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let (db, meta, vote) = (self.db.clone(), self.meta.clone(), *vote);
        run_blocking(ErrorSubject::Vote, ErrorVerb::Write, move || {
            Self::write_meta(&meta, VOTE_KEY, &vote, ErrorSubject::Vote)?;
            // A vote must be on disk before it is acted upon.
            Self::flush(&db, ErrorSubject::Vote)
        })
        .await?;
        tracing::debug!(%vote, "vote saved");
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        let meta = self.meta.clone();
        run_blocking(ErrorSubject::Vote, ErrorVerb::Read, move || {
            Self::read_meta(&meta, VOTE_KEY, ErrorSubject::Vote)
        })
        .await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let meta = self.meta.clone();
        run_blocking(
            ErrorSubject::Store,
            ErrorVerb::Write,
            move || match committed {
                Some(log_id) => {
                    Self::write_meta(&meta, COMMITTED_KEY, &log_id, ErrorSubject::Store)
                }
                None => meta
                    .remove(COMMITTED_KEY)
                    .map(|_| ())
                    .map_err(|e| io_error(ErrorSubject::Store, ErrorVerb::Write, &e)),
            },
        )
        .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let meta = self.meta.clone();
        run_blocking(ErrorSubject::Store, ErrorVerb::Read, move || {
            Self::read_meta(&meta, COMMITTED_KEY, ErrorSubject::Store)
        })
        .await
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let logs = self.logs.clone();
        run_blocking(ErrorSubject::Logs, ErrorVerb::Write, move || {
            // One batch per call: the entries land together or not at all.
            let mut batch = sled::Batch::default();
            for entry in &entries {
                let bytes = mcpauth_state::encode(entry).map_err(|e| {
                    io_error(ErrorSubject::Log(entry.log_id), ErrorVerb::Write, &*e)
                })?;
                batch.insert(&index_key(entry.log_id.index), bytes);
            }
            logs.apply_batch(batch)
                .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Write, &e))
        })
        .await?;
        // Readable now; acknowledged only once the flusher has made it durable.
        self.flusher.submit(callback);
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let (db, logs) = (self.db.clone(), self.logs.clone());
        run_blocking(ErrorSubject::Logs, ErrorVerb::Delete, move || {
            let mut batch = sled::Batch::default();
            for key in logs.range(index_key(log_id.index)..).keys() {
                let key = key.map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Delete, &e))?;
                batch.remove(key);
            }
            logs.apply_batch(batch)
                .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Delete, &e))?;
            Self::flush(&db, ErrorSubject::Logs)
        })
        .await?;
        tracing::debug!(since = %log_id, "log truncated");
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let (db, logs, meta) = (self.db.clone(), self.logs.clone(), self.meta.clone());
        run_blocking(ErrorSubject::Logs, ErrorVerb::Delete, move || {
            // Record the purge point first: if we crash midway, the log state is still right and
            // the leftover entries below it are never read.
            Self::write_meta(&meta, LAST_PURGED_KEY, &log_id, ErrorSubject::Logs)?;
            let mut batch = sled::Batch::default();
            for key in logs.range(..=index_key(log_id.index)).keys() {
                let key = key.map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Delete, &e))?;
                batch.remove(key);
            }
            logs.apply_batch(batch)
                .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Delete, &e))?;
            Self::flush(&db, ErrorSubject::Logs)
        })
        .await?;
        tracing::debug!(upto = %log_id, "log purged");
        Ok(())
    }
}
