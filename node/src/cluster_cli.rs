//! `mcpauth cluster …`: the operator's view of a running cluster, through the internal admin
//! API of its nodes (addresses and cluster secret from the same config file the nodes use).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mcpauth_api::internal::ClusterStatus;
use mcpauth_raft::reqwest::Method;
use mcpauth_raft::{ClusterClient, NetworkFactory};
use serde_json::{json, Value};

use crate::cli::{ClusterArgs, ClusterCommand, ServeArgs};
use crate::settings::{NodeEntry, Settings};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Settings(#[from] crate::settings::SettingsError),
    #[error("{0}")]
    Setup(String),
    #[error("no node of the cluster answered ({0})")]
    NoNodeAnswered(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("timed out: {0}")]
    Timeout(String),
}

const CALL_TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) struct Operator {
    client: ClusterClient,
    nodes: Vec<NodeEntry>,
}

/// Run a CLI command's future on a one-thread runtime.
pub(crate) fn block_on<F: std::future::Future<Output = Result<(), CliError>>>(
    work: F,
) -> Result<(), CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Setup(e.to_string()))?
        .block_on(work)
}

pub fn run(command: ClusterCommand) -> Result<(), CliError> {
    block_on(async {
        match command {
            ClusterCommand::Status(args) => Operator::new(&args)?.status().await,
            ClusterCommand::AddNode { cluster, node } => {
                Operator::new(&cluster)?.add_node(node).await
            }
            ClusterCommand::RemoveNode { cluster, id, force } => {
                Operator::new(&cluster)?.remove_node(id, force).await
            }
        }
    })
}

impl Operator {
    pub(crate) fn new(args: &ClusterArgs) -> Result<Self, CliError> {
        let first = match &args.config {
            Some(config) => crate::settings::read_file(config)?
                .nodes
                .first()
                .map(|n| n.id),
            None => None,
        };
        // The same resolution of paths and defaults as `serve`, for the secret file.
        let settings = Settings::load(ServeArgs {
            config: args.config.clone(),
            node: first,
            ..ServeArgs::default()
        })?;
        let secret = crate::secret_files::cluster_secret(&settings.cluster_secret_file, true)
            .map_err(|e| CliError::Setup(e.to_string()))?;
        let client = NetworkFactory::new(secret, None)
            .map_err(|e| CliError::Setup(e.to_string()))?
            .cluster_client();
        Ok(Self {
            client,
            nodes: settings.members,
        })
    }

    async fn node_status(&self, addr: &str) -> Result<ClusterStatus, String> {
        self.fetch_status(addr, "/cluster/status").await
    }

    /// Without the state digest: for polling progress and leadership.
    async fn node_progress(&self, addr: &str) -> Result<ClusterStatus, String> {
        self.fetch_status(addr, "/cluster/status?digest=false")
            .await
    }

    async fn fetch_status(&self, addr: &str, path: &str) -> Result<ClusterStatus, String> {
        match self
            .client
            .json(Method::GET, addr, path, None, CALL_TIMEOUT)
            .await
        {
            Ok((200, value)) => serde_json::from_value(value).map_err(|e| e.to_string()),
            Ok((status, value)) => Err(format!("HTTP {status}: {}", value["error"])),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Every node's status, by id (including members not in the config file).
    async fn statuses(&self) -> BTreeMap<u64, (String, Result<ClusterStatus, String>)> {
        let mut out = BTreeMap::new();
        for node in &self.nodes {
            out.insert(
                node.id,
                (node.raft.clone(), self.node_status(&node.raft).await),
            );
        }
        let extra: Vec<(u64, String)> = out
            .values()
            .filter_map(|(_, s)| s.as_ref().ok())
            .flat_map(|s| s.nodes.iter())
            .filter_map(|(id, addr)| id.parse::<u64>().ok().map(|id| (id, addr.clone())))
            .filter(|(id, _)| !self.nodes.iter().any(|n| n.id == *id))
            .collect();
        for (id, addr) in extra {
            let status = self.node_status(&addr).await;
            out.insert(id, (addr, status));
        }
        out
    }

    async fn status(&self) -> Result<(), CliError> {
        let statuses = self.statuses().await;
        let leader_view = statuses
            .values()
            .filter_map(|(_, s)| s.as_ref().ok())
            .find(|s| s.state == "Leader")
            .or_else(|| {
                statuses
                    .values()
                    .filter_map(|(_, s)| s.as_ref().ok())
                    .next()
            })
            .cloned()
            .ok_or_else(|| {
                CliError::NoNodeAnswered("see the addresses in the config file".into())
            })?;
        println!(
            "leader: {}   term: {}",
            leader_view.leader.map_or("none".into(), |l| l.to_string()),
            leader_view.term
        );
        println!(
            "voters: {:?}   learners: {:?}",
            leader_view.voters, leader_view.learners
        );
        println!(
            "{:<5} {:<22} {:<10} {:>5} {:>9} {:>9} {:>9} {:>10}  digest",
            "node", "address", "state", "term", "last_log", "applied", "snapshot", "replicated"
        );
        for (id, (addr, status)) in &statuses {
            let replicated = leader_view
                .replication
                .as_ref()
                .and_then(|r| r.get(&id.to_string()).copied().flatten())
                .map_or("-".into(), |i| i.to_string());
            match status {
                Ok(s) => println!(
                    "{:<5} {:<22} {:<10} {:>5} {:>9} {:>9} {:>9} {:>10}  {}@{}",
                    id,
                    addr,
                    s.state,
                    s.term,
                    s.last_log_index,
                    s.applied_index,
                    s.snapshot_index.map_or("-".into(), |i| i.to_string()),
                    replicated,
                    &s.digest[..12.min(s.digest.len())],
                    s.digest_index
                ),
                Err(e) => println!("{id:<5} {addr:<22} unreachable: {e}"),
            }
        }
        Ok(())
    }

    /// POST an admin call to the first node that answers.
    async fn admin(&self, path: &str, body: Value) -> Result<Value, CliError> {
        self.call(Method::POST, path, Some(&body)).await
    }

    /// Call the admin API of the first node that answers (any node serves it; a node that
    /// cannot reach the leader says 502/503 and the next one is tried).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CliError> {
        let mut problems = Vec::new();
        for node in &self.nodes {
            match self
                .client
                .json(
                    method.clone(),
                    &node.raft,
                    path,
                    body,
                    Duration::from_secs(60),
                )
                .await
            {
                Ok((200 | 204, value)) => return Ok(value),
                Ok((status, value)) if status != 502 && status != 503 => {
                    return Err(CliError::Refused(
                        value["error"]
                            .as_str()
                            .map_or(value.to_string(), str::to_owned),
                    ))
                }
                Ok((status, value)) => problems.push(format!(
                    "node {}: HTTP {status} {}",
                    node.id, value["error"]
                )),
                Err(e) => problems.push(format!("node {}: {e}", node.id)),
            }
        }
        Err(CliError::NoNodeAnswered(problems.join("; ")))
    }

    async fn leader_status(&self) -> Option<ClusterStatus> {
        for node in &self.nodes {
            if let Ok(status) = self.node_progress(&node.raft).await {
                if status.state == "Leader" {
                    return Some(status);
                }
                if let Some(addr) = status
                    .leader
                    .and_then(|l| status.nodes.get(&l.to_string()).cloned())
                {
                    if let Ok(leader) = self.node_progress(&addr).await {
                        return Some(leader);
                    }
                }
            }
        }
        None
    }

    async fn add_node(&self, id: u64) -> Result<(), CliError> {
        let entry = self.nodes.iter().find(|n| n.id == id).ok_or_else(|| {
            CliError::Setup(format!("no [[node]] with id = {id} in the config file"))
        })?;
        self.admin(
            "/cluster/add-learner",
            json!({ "id": id, "raft": entry.raft }),
        )
        .await?;
        println!(
            "node {id} added as a learner at {}; catching up",
            entry.raft
        );
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut last_line = String::new();
        loop {
            if Instant::now() > deadline {
                return Err(CliError::Timeout(format!(
                    "node {id} did not catch up in 10 minutes"
                )));
            }
            if let Some(leader) = self.leader_status().await {
                let matched = leader
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&id.to_string()).copied().flatten());
                let line = format!(
                    "node {id}: replicated {} of {} (leader snapshot at {})",
                    matched.map_or("nothing yet".into(), |m| m.to_string()),
                    leader.last_log_index,
                    leader.snapshot_index.map_or("-".into(), |s| s.to_string()),
                );
                if line != last_line {
                    println!("{line}");
                    last_line = line;
                }
                if matched.is_some_and(|m| m + 64 >= leader.last_log_index) {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.admin("/cluster/promote", json!({ "id": id })).await?;
        println!("node {id} promoted to voter");
        Ok(())
    }

    async fn remove_node(&self, id: u64, force: bool) -> Result<(), CliError> {
        self.admin("/cluster/remove", json!({ "id": id, "force": force }))
            .await?;
        println!("node {id} removed from the cluster; stop its process");
        Ok(())
    }
}
