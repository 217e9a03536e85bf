//! The state machine: the domain [`State`] in memory, made durable by snapshots in sled.
//!
//! apply() runs [`State::apply`] (pure and deterministic, DESIGN.md invariant 1) under the write
//! lock and nothing else: it never touches sled, never awaits an actor, and only publishes the new
//! applied index on a `watch` channel, which cannot block. Durability comes from the log: a
//! restart loads the last snapshot, and openraft re-applies the committed log after it (the log
//! store keeps the committed log id for exactly this).
//!
//! A snapshot clones the state under the read lock (short) and encodes and writes it on the
//! blocking pool, so neither apply() nor the executors wait for serialization or fsync.

use std::io::Cursor;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockWriteGuard};

use mcpauth_state::{Outcome, State};
use openraft::storage::{RaftStateMachine, SnapshotSignature};
use openraft::{EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, RaftSnapshotBuilder};
use tokio::sync::watch;

use crate::attempts::Attempts;
use crate::blocking::{io_error, run_blocking};
use crate::snapshot_store::{SnapshotError, SnapshotStore};
use crate::state_view::{read_lock, Applied, StateView};
use crate::store::StoreError;
use crate::type_config::{
    Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

/// openraft's state machine for mcpauth. Cloning shares the same state (openraft uses a clone
/// as the snapshot builder).
#[derive(Clone)]
pub struct StateMachineStore {
    data: Arc<RwLock<Applied>>,
    applied_tx: Arc<watch::Sender<u64>>,
    snapshots: SnapshotStore,
    snapshot_seq: Arc<AtomicU64>,
    attempts: Attempts,
    /// A copy of the state's cluster version, readable without the lock (see [`StateView`]).
    cluster_version: Arc<AtomicU32>,
}

fn snapshot_error(meta: Option<&SnapshotMeta>, verb: ErrorVerb, e: &SnapshotError) -> StorageError {
    io_error(
        ErrorSubject::Snapshot(meta.map(SnapshotMeta::signature)),
        verb,
        e,
    )
}

impl StateMachineStore {
    /// Open the state machine on `db`, starting from the persisted snapshot if there is one.
    pub(crate) fn open(db: &sled::Db) -> Result<Self, StoreError> {
        let snapshots = SnapshotStore::open(db)?;
        let applied = match snapshots.load()? {
            Some((meta, data)) => {
                let state =
                    mcpauth_state::format::decode_snapshot(&data).map_err(SnapshotError::from)?;
                tracing::info!(snapshot = %meta, "state restored from snapshot");
                Applied {
                    state,
                    last_applied: meta.last_log_id,
                    membership: meta.last_membership,
                }
            }
            None => Applied::default(),
        };
        let (applied_tx, _) = watch::channel(index_of(applied.last_applied));
        let cluster_version = Arc::new(AtomicU32::new(applied.state.cluster_version()));
        Ok(Self {
            cluster_version,
            data: Arc::new(RwLock::new(applied)),
            applied_tx: Arc::new(applied_tx),
            snapshots,
            snapshot_seq: Arc::new(AtomicU64::new(0)),
            attempts: Attempts::default(),
        })
    }

    /// A read handle on the applied state, for the HTTP layer and the actors.
    pub fn view(&self) -> StateView {
        StateView::new(
            self.data.clone(),
            self.applied_tx.subscribe(),
            self.attempts.clone(),
            self.cluster_version.clone(),
        )
    }

    /// The write lock. Poisoned means a panic inside `State::apply`: the state may be half
    /// applied, so stop Raft (a storage error is fatal) rather than build on it.
    fn write_lock(&self) -> Result<RwLockWriteGuard<'_, Applied>, StorageError> {
        self.data.write().map_err(|_| {
            io_error(
                ErrorSubject::StateMachine,
                ErrorVerb::Write,
                &std::io::Error::other("state lock poisoned by a panic during apply"),
            )
        })
    }

    fn publish_applied(&self, last_applied: Option<LogId>, state: &State) {
        self.cluster_version
            .store(state.cluster_version(), Ordering::Release);
        self.applied_tx.send_replace(index_of(last_applied));
    }
}

fn index_of(log_id: Option<LogId>) -> u64 {
    log_id.map_or(0, |id| id.index)
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let (state, last_log_id, last_membership) = {
            let data = read_lock(&self.data);
            (
                data.state.clone(),
                data.last_applied,
                data.membership.clone(),
            )
        };
        let seq = self.snapshot_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let snapshot_id = match last_log_id {
            Some(id) => format!(
                "{}-{}-{}-{seq}",
                id.leader_id.term, id.leader_id.node_id, id.index
            ),
            None => format!("none-{seq}"),
        };
        let meta = SnapshotMeta {
            last_log_id,
            last_membership,
            snapshot_id,
        };
        let snapshots = self.snapshots.clone();
        let (meta, bytes) = run_blocking(
            ErrorSubject::Snapshot(Some(meta.signature())),
            ErrorVerb::Write,
            move || {
                // Written in the format the cluster version allows, so an older follower can
                // still install it during an upgrade.
                let bytes = mcpauth_state::format::encode_snapshot(&state)
                    .map_err(|e| snapshot_error(Some(&meta), ErrorVerb::Write, &e.into()))?;
                snapshots
                    .save(&meta, &bytes)
                    .map_err(|e| snapshot_error(Some(&meta), ErrorVerb::Write, &e))?;
                Ok((meta, bytes))
            },
        )
        .await?;
        tracing::info!(snapshot = %meta, bytes = bytes.len(), "snapshot built");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let data = read_lock(&self.data);
        Ok((data.last_applied, data.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Outcome>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut outcomes = Vec::new();
        let mut data = self.write_lock()?;
        {
            for entry in entries {
                data.last_applied = Some(entry.log_id);
                let outcome = match entry.payload {
                    EntryPayload::Blank => Outcome::Done,
                    EntryPayload::Normal(versioned) => {
                        let command = versioned.command;
                        let outcome = data.state.apply(&command);
                        self.attempts.publish(&command, &outcome);
                        tracing::trace!(
                            index = entry.log_id.index,
                            kind = command.kind(),
                            "applied"
                        );
                        outcome
                    }
                    EntryPayload::Membership(membership) => {
                        data.membership = StoredMembership::new(Some(entry.log_id), membership);
                        Outcome::Done
                    }
                };
                outcomes.push(outcome);
            }
        }
        let last_applied = data.last_applied;
        self.publish_applied(last_applied, &data.state);
        drop(data);
        Ok(outcomes)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let bytes = snapshot.into_inner();
        let snapshots = self.snapshots.clone();
        let owned_meta = meta.clone();
        let signature: Option<SnapshotSignature<u64>> = Some(meta.signature());
        let state: State = run_blocking(
            ErrorSubject::Snapshot(signature),
            ErrorVerb::Write,
            move || {
                let state = mcpauth_state::format::decode_snapshot(&bytes)
                    .map_err(|e| snapshot_error(Some(&owned_meta), ErrorVerb::Read, &e.into()))?;
                // Persist before replacing the state: once openraft hears this returned, it may
                // purge the log the snapshot covers.
                snapshots
                    .save(&owned_meta, &bytes)
                    .map_err(|e| snapshot_error(Some(&owned_meta), ErrorVerb::Write, &e))?;
                Ok(state)
            },
        )
        .await?;
        {
            let mut data = self.write_lock()?;
            data.state = state;
            data.last_applied = meta.last_log_id;
            data.membership = meta.last_membership.clone();
            self.publish_applied(meta.last_log_id, &data.state);
        }
        tracing::info!(snapshot = %meta, "snapshot installed");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let snapshots = self.snapshots.clone();
        let loaded = run_blocking(ErrorSubject::Snapshot(None), ErrorVerb::Read, move || {
            snapshots
                .load()
                .map_err(|e| snapshot_error(None, ErrorVerb::Read, &e))
        })
        .await?;
        Ok(loaded.map(|(meta, bytes)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}
