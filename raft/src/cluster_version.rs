//! The replicated cluster version (etcd's way): what storage format nodes may write.
//!
//! Each node advertises the storage formats its binary reads at [`VERSION_PATH`]. The leader
//! asks every member (voters and learners: both apply the log) and, once all of them read a
//! newer format than the cluster version, commits `Command::SetClusterVersion`. From the entry
//! that raises it, every node writes the newer format and apply() follows its rules; before,
//! a node of the previous release in the cluster reads everything it is sent. A member that
//! does not answer holds the version where it is: it may be an old binary.
//!
//! A node of the previous release (0.1) has no [`VERSION_PATH`]: its 404 means "reads formats 1
//! and 2".

use std::time::Duration;

use mcpauth_state::format::{self, FormatVersion};
use mcpauth_state::Command;
use serde::{Deserialize, Serialize};

use crate::forward::{write_locally, ClusterClient, ForwardError};
use crate::state_view::StateView;
use crate::type_config::{NodeId, Raft};
use crate::RaftClient;

/// `GET /raft/version`: this node's [`NodeFormats`] as JSON.
pub const VERSION_PATH: &str = "/raft/version";

/// How often the leader looks for a version to raise to while the cluster is behind its
/// members' binaries.
const RAISE_EVERY: Duration = Duration::from_secs(2);
/// How long a member may take to say what it reads.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// The storage formats a node's binary reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFormats {
    pub oldest: FormatVersion,
    pub newest: FormatVersion,
    /// The mcpauth version, for operators.
    pub binary: String,
}

impl NodeFormats {
    /// What this binary reads.
    pub fn local() -> Self {
        Self {
            oldest: format::OLDEST,
            newest: format::NEWEST,
            binary: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// What a node of the previous release reads (it does not say).
    pub fn previous_release() -> Self {
        Self {
            oldest: 1,
            newest: format::BASELINE,
            binary: "0.1 (does not advertise its formats)".to_owned(),
        }
    }
}

/// Serve `GET /raft/version`.
pub fn handle_version() -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&NodeFormats::local())
}

impl ClusterClient {
    /// The formats the node at `addr` reads.
    pub async fn node_formats(&self, addr: &str) -> Result<NodeFormats, ForwardError> {
        let (status, body) = self
            .json(reqwest::Method::GET, addr, VERSION_PATH, None, ASK_TIMEOUT)
            .await?;
        match status {
            200 => serde_json::from_value(body).map_err(|e| ForwardError::Lost {
                addr: addr.to_owned(),
                reason: format!("unreadable formats: {e}"),
            }),
            404 => Ok(NodeFormats::previous_release()),
            other => Err(ForwardError::Lost {
                addr: addr.to_owned(),
                reason: format!("HTTP {other} from {VERSION_PATH}"),
            }),
        }
    }
}

/// Spawn the leader's task that raises the cluster version (on the current tokio runtime; it
/// runs on every node and acts only while the node leads).
pub fn start_raising(cluster: &RaftClient) {
    let cluster = cluster.clone();
    tokio::spawn(async move {
        let (raft, view, client) = (cluster.raft(), cluster.view(), cluster.client());
        let mut tick = tokio::time::interval(RAISE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if view.cluster_version() >= format::NEWEST {
                continue;
            }
            // No member is added while the members are asked and the version written.
            let _changing = cluster.changing_members().await;
            if let Err(e) = raise_once(raft, view, client).await {
                tracing::debug!(error = %e, "cluster version not raised yet");
            }
        }
    });
}

/// Why the cluster version stayed where it is this time.
#[derive(Debug, thiserror::Error)]
enum NotRaised {
    #[error("node {id} did not say which formats it reads: {error}")]
    Unknown { id: NodeId, error: ForwardError },
    #[error("the write failed: {0}")]
    Write(String),
}

async fn raise_once(
    raft: &Raft,
    view: &StateView,
    client: &ClusterClient,
) -> Result<(), NotRaised> {
    let (leader, me, members) = {
        let metrics = raft.metrics().borrow().clone();
        let members: Vec<(NodeId, String)> = metrics
            .membership_config
            .membership()
            .nodes()
            .map(|(id, node)| (*id, node.addr.clone()))
            .collect();
        (metrics.current_leader, metrics.id, members)
    };
    if leader != Some(me) {
        return Ok(());
    }
    let current = view.cluster_version();
    let mut target = format::NEWEST;
    for (id, addr) in members {
        let newest = if id == me {
            format::NEWEST
        } else {
            client
                .node_formats(&addr)
                .await
                .map_err(|error| NotRaised::Unknown { id, error })?
                .newest
        };
        target = target.min(newest);
    }
    if target <= current {
        return Ok(());
    }
    // Every member reads `target`, so the entry that raises it may be written in it.
    match write_locally(raft, Command::SetClusterVersion { version: target }, target).await {
        Ok(done) => {
            tracing::info!(
                from = current,
                to = target,
                index = done.log_index,
                "cluster version raised: every member reads the newer storage format"
            );
            Ok(())
        }
        Err(e) => Err(NotRaised::Write(e.to_string())),
    }
}
