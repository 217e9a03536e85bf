//! One node's view of the cluster, as the admin API's `GET /cluster/status` answers it.

use std::collections::BTreeMap;

use openraft::ServerState;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::cluster_version::NodeFormats;
use crate::RaftClient;

/// One node's view of the cluster (`GET /cluster/status`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub id: u64,
    pub initialized: bool,
    /// Leader, Follower, Learner, Candidate or Shutdown.
    pub state: String,
    pub term: u64,
    pub leader: Option<u64>,
    pub last_log_index: u64,
    pub applied_index: u64,
    pub snapshot_index: Option<u64>,
    pub purged_index: Option<u64>,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    /// Node id -> internal address.
    pub nodes: BTreeMap<String, String>,
    /// On the leader: node id -> highest log index known to be replicated there.
    pub replication: Option<BTreeMap<String, Option<u64>>>,
    /// SHA-256 of the state machine, taken at `digest_index`: equal states give equal digests
    /// (encoded in the cluster version's format, so nodes of two releases compare too).
    pub digest: String,
    pub digest_index: u64,
    /// The storage format the cluster writes (see `mcpauth_state::format`). Absent from a 0.1
    /// node's answer: it runs 2.
    #[serde(default = "baseline_format")]
    pub cluster_version: u32,
    /// The storage formats this node's binary reads. Absent from a 0.1 node's answer.
    #[serde(default = "NodeFormats::previous_release")]
    pub reads: NodeFormats,
}

fn baseline_format() -> u32 {
    mcpauth_state::format::BASELINE
}

impl ClusterStatus {
    /// This node's status. The digest costs a copy and an encoding of the whole state (done
    /// off the async executor), so callers that only poll progress or leadership leave it out
    /// (`digest` empty).
    pub async fn of(client: &RaftClient, with_digest: bool) -> ClusterStatus {
        let initialized = client.raft().is_initialized().await.unwrap_or(false);
        let metrics = client.raft().metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let (digest, digest_index) = if with_digest {
            let (state, index) = client.view().read_at(|s, index| (s.clone(), index));
            let digest = tokio::task::spawn_blocking(move || {
                mcpauth_state::format::encode_state(&state)
                    .map(|(_, bytes)| hex(&Sha256::digest(bytes)))
                    .unwrap_or_default()
            })
            .await
            .unwrap_or_default();
            (digest, index)
        } else {
            (String::new(), *client.view().applied_index().borrow())
        };
        ClusterStatus {
            id: metrics.id,
            initialized,
            state: match metrics.state {
                ServerState::Leader => "Leader",
                ServerState::Follower => "Follower",
                ServerState::Learner => "Learner",
                ServerState::Candidate => "Candidate",
                ServerState::Shutdown => "Shutdown",
            }
            .to_owned(),
            term: metrics.current_term,
            leader: metrics.current_leader,
            last_log_index: metrics.last_log_index.unwrap_or(0),
            // The index the digest was taken at: the two agree by construction.
            applied_index: digest_index,
            snapshot_index: metrics.snapshot.map(|l| l.index),
            purged_index: metrics.purged.map(|l| l.index),
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            nodes: membership
                .nodes()
                .map(|(id, node)| (id.to_string(), node.addr.clone()))
                .collect(),
            replication: metrics.replication.as_ref().map(|r| {
                r.iter()
                    .map(|(id, matched)| (id.to_string(), matched.map(|l| l.index)))
                    .collect()
            }),
            digest,
            digest_index,
            cluster_version: client.view().cluster_version(),
            reads: NodeFormats::local(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
