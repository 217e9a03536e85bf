//! A node meeting entries in a storage format newer than its binary reads stops, with a message
//! that says so, instead of misreading them or serving on with a Raft that no longer moves: when
//! a leader sends them (an old node left in an upgraded cluster), and when they are in its own
//! log (a node started with an older binary than wrote its data). What it had stays intact.
//!
//! The entries are what a newer release would write: real entries of this release with their
//! format number raised to one it does not read (format 4 frames its payload as format 3 does).

use std::time::{Duration, Instant};

use mcpauth_raft::openraft::raft::AppendEntriesRequest;
use mcpauth_raft::openraft::{CommittedLeaderId, EntryPayload};
use mcpauth_raft::{Entry, LogId, TypeConfig, Vote};
use mcpauth_state::format::NEWEST;
use mcpauth_state::{Command, VersionedCommand};
use mcpauth_tests::cluster::{serial, TestCluster};
use mcpauth_tests::{login_and_redeem, refresh};
use serde_json::Value;

/// The log's sled tree, in the `sled` directory of a node's data (raft/src/log_store.rs).
const LOG_TREE: &str = "raft_log";
/// How long a node may take to notice and stop.
const STOPS_WITHIN: Duration = Duration::from_secs(20);

/// `bytes` with the format number of the one encoded `command` in them raised past
/// [`NEWEST`].
fn raise_format(bytes: &[u8], command: &VersionedCommand) -> Vec<u8> {
    let encoded = mcpauth_state::encode(command).expect("encode");
    let found: Vec<usize> = bytes
        .windows(encoded.len())
        .enumerate()
        .filter_map(|(at, window)| (window == encoded.as_slice()).then_some(at))
        .collect();
    assert_eq!(found.len(), 1, "the command must appear once in the bytes");
    // The envelope: variant position (u32), then the format (u32).
    let at = found[0] + 4;
    assert_eq!(bytes[at..at + 4], command.format.to_le_bytes());
    let mut raised = bytes.to_vec();
    raised[at..at + 4].copy_from_slice(&(NEWEST + 1).to_le_bytes());
    raised
}

async fn refreshed(cluster: &TestCluster, client_id: &str, token: &str) -> String {
    let response = refresh(&cluster.endpoint(1), client_id, token).await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, 200, "refresh refused: {body}\n{}", cluster.logs());
    body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned()
}

/// Wait until the one-node cluster writes the newest format (its leader raises it within
/// seconds of starting), so that what it writes next is in it.
async fn wait_newest(cluster: &TestCluster) {
    let deadline = Instant::now() + STOPS_WITHIN;
    while cluster.status_of(1).await["cluster_version"].as_u64() != Some(u64::from(NEWEST)) {
        assert!(
            Instant::now() < deadline,
            "cluster version not raised\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A one-node cluster at the newest format with a signed-in client: its id and refresh token.
async fn signed_in_on_newest(cluster: &TestCluster) -> (String, String) {
    wait_newest(cluster).await;
    let (client_id, body) = login_and_redeem(&cluster.endpoint(1)).await;
    let token = body["refresh_token"].as_str().expect("refresh_token");
    (client_id, token.to_owned())
}

/// The last line node 1 printed as it exited (`mcpauth: ...`).
fn stop_message(cluster: &TestCluster) -> String {
    let log = cluster.log(1);
    log.lines()
        .rev()
        .find(|l| l.starts_with("mcpauth:"))
        .unwrap_or("-")
        .to_owned()
}

fn assert_says_newer(log: &str) {
    let newer = format!("storage format {}", NEWEST + 1);
    assert!(
        log.lines()
            .any(|l| l.contains(&newer) && l.contains("newer than this mcpauth reads")),
        "the node did not say why it stopped:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stops_when_the_leader_sends_entries_newer_than_it_reads() {
    let _serial = serial().await;
    let mut cluster = TestCluster::start(1).await;
    let (client_id, token) = signed_in_on_newest(&cluster).await;
    let before = cluster.status_of(1).await;

    let command = VersionedCommand::new(NEWEST, Command::SetClusterVersion { version: NEWEST });
    let term = before["term"].as_u64().unwrap_or(1) + 1;
    let index = before["last_log_index"].as_u64().unwrap_or(0) + 1;
    let request = AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(term, 7),
        prev_log_id: None,
        entries: vec![Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 7), index),
            payload: EntryPayload::Normal(command.clone()),
        }],
        leader_commit: None,
    };
    let bytes = mcpauth_state::encode(&request).expect("encode");
    let (status, answer) = cluster
        .internal_post_bytes(1, "/raft/append", raise_format(&bytes, &command))
        .await;
    assert_eq!(status, 400, "entries it cannot read: {answer}");
    let started = Instant::now();
    let exit = cluster.wait_exit(1, STOPS_WITHIN).await;
    assert!(
        exit.is_some_and(|s| !s.success()),
        "the node did not stop with a failure ({exit:?})\n{}",
        cluster.logs()
    );
    let stopped_after = started.elapsed();
    assert_says_newer(&cluster.log(1));

    // Nothing it had is lost, and it never stored what it could not read.
    cluster.restart(1).await;
    let after = cluster.status_of(1).await;
    assert!(
        after["applied_index"].as_u64() >= before["applied_index"].as_u64(),
        "before {before}, after {after}"
    );
    refreshed(&cluster, &client_id, &token).await;
    eprintln!(
        "stopped {stopped_after:?} after the leader's format-4 entries: {}",
        stop_message(&cluster)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_does_not_start_on_entries_newer_than_it_reads() {
    let _serial = serial().await;
    let mut cluster = TestCluster::start(1).await;
    let (client_id, token) = signed_in_on_newest(&cluster).await;
    cluster.terminate(1, Duration::from_secs(15)).await;

    // The newest command entry of its log, as a newer release would have written it.
    let db = sled::open(cluster.data_dir(1).join("sled")).expect("open the node's store");
    let log = db.open_tree(LOG_TREE).expect("log tree");
    let (key, original, command) = log
        .iter()
        .rev()
        .map(|item| item.expect("read the log"))
        .find_map(|(key, value)| {
            let entry: Entry = mcpauth_state::decode(&value).expect("an entry of this release");
            match entry.payload {
                EntryPayload::Normal(command) if command.format == NEWEST => {
                    Some((key, value, command))
                }
                _ => None,
            }
        })
        .expect("a command in the log");
    log.insert(&key, raise_format(&original, &command))
        .expect("write");
    db.flush().expect("flush");
    drop((log, db));

    cluster.spawn(1);
    let exit = cluster.wait_exit(1, STOPS_WITHIN).await;
    assert!(
        exit.is_some_and(|s| !s.success()),
        "the node started on entries it cannot read ({exit:?})\n{}",
        cluster.logs()
    );
    assert_says_newer(&cluster.log(1));
    eprintln!(
        "on its own format-4 entry the node said: {}",
        stop_message(&cluster)
    );

    // Put back as this release wrote it, the data is whole.
    let db = sled::open(cluster.data_dir(1).join("sled")).expect("open the node's store");
    db.open_tree(LOG_TREE)
        .expect("log tree")
        .insert(&key, original)
        .expect("write");
    db.flush().expect("flush");
    drop(db);
    cluster.restart(1).await;
    refreshed(&cluster, &client_id, &token).await;
}
