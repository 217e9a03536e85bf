//! openraft's own storage test suite, run against the sled stores, plus a restart test.

use std::collections::BTreeSet;
use std::path::Path;

use mcpauth_raft::openraft::storage::{RaftLogStorage, RaftStateMachine};
use mcpauth_raft::openraft::testing::{log_id, StoreBuilder, Suite};
use mcpauth_raft::openraft::{AnyError, RaftLogReader, RaftSnapshotBuilder, StorageIOError};
use mcpauth_raft::{
    open_stores, Entry, EntryPayload, LogStore, Membership, StateMachineStore, StorageError,
    TypeConfig,
};
use mcpauth_state::{Command, Outcome, Settings, VersionedCommand};
use tempfile::TempDir;

struct SledBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for SledBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError> {
        let dir = tempfile::tempdir().map_err(|e| StorageIOError::write(AnyError::new(&e)))?;
        let (log_store, state_machine) =
            open_stores(dir.path()).map_err(|e| StorageIOError::write(AnyError::new(&e)))?;
        Ok((dir, log_store, state_machine))
    }
}

#[test]
fn openraft_storage_suite() {
    if let Err(e) = Suite::test_all(SledBuilder) {
        panic!("storage suite failed: {e}");
    }
}

fn entry(term: u64, index: u64, payload: EntryPayload) -> Entry {
    Entry {
        log_id: log_id(term, 1, index),
        payload,
    }
}

/// A settings change, written in the newest storage format.
fn settings_with(resource: &str) -> VersionedCommand {
    VersionedCommand::new(
        mcpauth_state::format::NEWEST,
        Command::SetSettings {
            settings: Settings {
                resources: vec![resource.to_owned()],
                ..Settings::default()
            },
        },
    )
}

async fn append(store: &mut LogStore, entries: Vec<Entry>) {
    // The suite's own helper is private; this is the same dance: wait for the flush callback.
    mcpauth_raft::openraft::storage::RaftLogStorageExt::blocking_append(store, entries)
        .await
        .expect("append");
}

fn open(dir: &Path) -> (LogStore, StateMachineStore) {
    open_stores(dir).expect("open stores")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_restores_snapshot_and_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let membership = Membership::new(vec![BTreeSet::from([1])], None);

    {
        let (mut log, mut sm) = open(dir.path());
        let entries = vec![
            entry(1, 1, EntryPayload::Membership(membership.clone())),
            entry(
                1,
                2,
                EntryPayload::Normal(settings_with("https://one.example")),
            ),
            entry(
                1,
                3,
                EntryPayload::Normal(settings_with("https://two.example")),
            ),
        ];
        append(&mut log, entries.clone()).await;
        let outcomes = sm.apply(entries).await.expect("apply");
        assert_eq!(outcomes, vec![Outcome::Done, Outcome::Done, Outcome::Done]);

        let snapshot = sm.build_snapshot().await.expect("build snapshot");
        assert_eq!(snapshot.meta.last_log_id, Some(log_id(1, 1, 3)));

        // One more entry after the snapshot: in the log, committed, not in the snapshot.
        let later = entry(
            1,
            4,
            EntryPayload::Normal(settings_with("https://three.example")),
        );
        append(&mut log, vec![later.clone()]).await;
        sm.apply(vec![later]).await.expect("apply");
        log.save_committed(Some(log_id(1, 1, 4)))
            .await
            .expect("commit");
        log.save_vote(&mcpauth_raft::Vote::new(1, 1))
            .await
            .expect("vote");
    }

    let (mut log, mut sm) = open(dir.path());
    let view = sm.view();
    assert_eq!(
        view.read(|s| s.settings().resources.clone()),
        ["https://two.example"],
        "the state comes back from the snapshot"
    );
    assert_eq!(*view.applied_index().borrow(), 3);
    let (last_applied, stored_membership) = sm.applied_state().await.expect("applied state");
    assert_eq!(last_applied, Some(log_id(1, 1, 3)));
    assert_eq!(stored_membership.membership(), &membership);

    let current = sm
        .get_current_snapshot()
        .await
        .expect("current snapshot")
        .expect("a snapshot was persisted");
    assert_eq!(current.meta.last_log_id, Some(log_id(1, 1, 3)));

    let state = log.get_log_state().await.expect("log state");
    assert_eq!(state.last_log_id, Some(log_id(1, 1, 4)));
    assert_eq!(
        log.read_committed().await.expect("committed"),
        Some(log_id(1, 1, 4))
    );
    assert_eq!(
        log.read_vote().await.expect("vote"),
        Some(mcpauth_raft::Vote::new(1, 1))
    );
    let tail = log.try_get_log_entries(4..).await.expect("read log");
    assert_eq!(tail.len(), 1);

    // What openraft does on start-up: re-apply the committed log after the snapshot.
    sm.apply(tail).await.expect("re-apply");
    assert_eq!(
        view.read(|s| s.settings().resources.clone()),
        ["https://three.example"]
    );
    assert_eq!(*view.applied_index().borrow(), 4);
}
