//! openraft's configuration for mcpauth, with defaults chosen for a small cluster on a LAN.
//!
//! Timing: openraft gives each append-entries RPC (heartbeats included) `heartbeat_interval` to
//! complete, and that includes the follower's fsync, so the interval must be comfortably above a
//! flush on the slowest disk in the cluster; 100 ms is. The election timeout is 5-10 heartbeats,
//! so a single slow heartbeat never starts an election, and a dead leader is replaced in about a
//! second.
//!
//! Snapshots: the state is bounded (DESIGN.md, invariant 5), so a snapshot every few thousand
//! entries keeps restart replay short at little cost. A few hundred entries are kept behind the
//! snapshot so that a follower that fell slightly behind catches up from the log instead of
//! being sent the whole state.

use openraft::{Config, ConfigError, SnapshotPolicy};

/// Upper bound on entries per append-entries RPC.
pub const MAX_PAYLOAD_ENTRIES: u64 = 300;
/// Size of one snapshot chunk on the wire; keep [`crate::MAX_RPC_BODY_BYTES`] above it.
pub const SNAPSHOT_CHUNK_BYTES: u64 = 2 * 1024 * 1024;

/// The knobs a deployment may want to turn; everything else is fixed by [`raft_config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftTuning {
    /// Name of the cluster, shown in openraft's logs.
    pub cluster_name: String,
    /// Milliseconds between heartbeats; also the deadline of each append-entries RPC.
    pub heartbeat_ms: u64,
    /// A follower that hears no leader for a random time in `[min, max)` ms starts an election.
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Build a snapshot after this many entries were applied since the last one.
    pub snapshot_every_entries: u64,
    /// Entries kept in the log behind the snapshot.
    pub keep_entries_behind_snapshot: u64,
    /// Deadline for sending one snapshot chunk (and, for the last, installing the snapshot).
    pub snapshot_chunk_timeout_ms: u64,
}

impl Default for RaftTuning {
    fn default() -> Self {
        Self {
            cluster_name: "mcpauth".to_owned(),
            heartbeat_ms: 100,
            election_timeout_min_ms: 500,
            election_timeout_max_ms: 1000,
            snapshot_every_entries: 5000,
            keep_entries_behind_snapshot: 500,
            snapshot_chunk_timeout_ms: 5000,
        }
    }
}

/// The validated openraft [`Config`] for `tuning`; wrap it in an `Arc` for `Raft::new`.
pub fn raft_config(tuning: &RaftTuning) -> Result<Config, ConfigError> {
    Config {
        cluster_name: tuning.cluster_name.clone(),
        heartbeat_interval: tuning.heartbeat_ms,
        election_timeout_min: tuning.election_timeout_min_ms,
        election_timeout_max: tuning.election_timeout_max_ms,
        install_snapshot_timeout: tuning.snapshot_chunk_timeout_ms,
        max_payload_entries: MAX_PAYLOAD_ENTRIES,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(tuning.snapshot_every_entries),
        snapshot_max_chunk_size: SNAPSHOT_CHUNK_BYTES,
        max_in_snapshot_log_to_keep: tuning.keep_entries_behind_snapshot,
        ..Config::default()
    }
    .validate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let config = raft_config(&RaftTuning::default()).expect("defaults are valid");
        assert_eq!(config.heartbeat_interval, 100);
        assert!(config.election_timeout_min > config.heartbeat_interval);
    }

    #[test]
    fn bad_timing_is_refused() {
        let tuning = RaftTuning {
            election_timeout_min_ms: 50,
            ..RaftTuning::default()
        };
        assert!(raft_config(&tuning).is_err());
    }
}
