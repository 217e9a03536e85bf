//! The admin API: cluster status and membership changes. Any node answers; membership changes
//! are relayed to the leader.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use mcpauth_raft::openraft::{ChangeMembers, ServerState};
use mcpauth_raft::BasicNode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::{refuse_without_secret, InternalState};
use crate::cluster::Cluster;

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
    #[serde(default = "previous_release_formats")]
    pub reads: mcpauth_raft::NodeFormats,
}

fn baseline_format() -> u32 {
    mcpauth_state::format::BASELINE
}

fn previous_release_formats() -> mcpauth_raft::NodeFormats {
    mcpauth_raft::NodeFormats::previous_release()
}

/// This node's status. The digest costs a copy and an encoding of the whole state, so callers
/// that only poll progress or leadership leave it out (`digest` empty).
pub async fn cluster_status(cluster: &Cluster, with_digest: bool) -> ClusterStatus {
    let initialized = cluster.raft().is_initialized().await.unwrap_or(false);
    let metrics = cluster.raft().metrics().borrow().clone();
    let membership = metrics.membership_config.membership();
    let (digest, digest_index) = if with_digest {
        let (state, index) = cluster.view().read_at(|s, index| (s.clone(), index));
        let digest = web::block(move || {
            mcpauth_state::format::encode_state(&state)
                .map(|(_, bytes)| hex(&Sha256::digest(bytes)))
                .unwrap_or_default()
        })
        .await
        .unwrap_or_default();
        (digest, index)
    } else {
        (String::new(), *cluster.view().applied_index().borrow())
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
        cluster_version: cluster.view().cluster_version(),
        reads: mcpauth_raft::NodeFormats::local(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    /// `?digest=false` skips the state digest (cheap polling).
    digest: Option<bool>,
}

pub async fn status(
    req: HttpRequest,
    state: web::Data<InternalState>,
    query: web::Query<StatusQuery>,
) -> HttpResponse {
    if let Some(refused) = refuse_without_secret(&req, &state) {
        return refused;
    }
    let with_digest = query.digest.unwrap_or(true);
    HttpResponse::Ok().json(cluster_status(&state.cluster, with_digest).await)
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AddLearner {
    pub id: u64,
    /// The new node's internal address.
    pub raft: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct NodeRef {
    pub id: u64,
    #[serde(default)]
    pub force: bool,
}

fn refused(status: actix_web::http::StatusCode, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": message.into() }))
}

/// Membership changes run on the leader: answer here a request without the cluster secret
/// (refused) or one this node must relay to the leader; None when this node should act.
async fn unless_leader(
    req: &HttpRequest,
    state: &InternalState,
    path: &str,
    body: serde_json::Value,
) -> Option<HttpResponse> {
    if let Some(refused) = refuse_without_secret(req, state) {
        return Some(refused);
    }
    relay_to_leader(state, path, body).await
}

/// When this node is not the leader, send the same admin call to the leader and relay its answer.
async fn relay_to_leader(
    state: &InternalState,
    path: &str,
    body: serde_json::Value,
) -> Option<HttpResponse> {
    let (leader, leader_addr) = {
        let metrics = state.cluster.raft().metrics();
        let m = metrics.borrow();
        if m.current_leader == Some(m.id) {
            return None;
        }
        let addr = m.current_leader.and_then(|l| {
            m.membership_config
                .membership()
                .get_node(&l)
                .map(|n| n.addr.clone())
        });
        (m.current_leader, addr)
    };
    let Some(addr) = leader_addr else {
        return Some(refused(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("no leader known (leader {leader:?})"),
        ));
    };
    let answer = state
        .cluster
        .client()
        .json(
            reqwest_method_post(),
            &addr,
            path,
            Some(&body),
            Duration::from_secs(30),
        )
        .await;
    Some(match answer {
        Ok((status, value)) => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
        )
        .json(value),
        Err(e) => refused(
            actix_web::http::StatusCode::BAD_GATEWAY,
            format!("leader at {addr}: {e}"),
        ),
    })
}

fn reqwest_method_post() -> mcpauth_raft::reqwest::Method {
    mcpauth_raft::reqwest::Method::POST
}

pub async fn add_learner(
    req: HttpRequest,
    state: web::Data<InternalState>,
    body: web::Json<AddLearner>,
) -> HttpResponse {
    let body = body.into_inner();
    if let Some(answered) = unless_leader(&req, &state, "/cluster/add-learner", json!(body)).await {
        return answered;
    }
    tracing::info!(node = body.id, addr = %body.raft, "adding a learner");
    match state
        .cluster
        .raft()
        .add_learner(body.id, BasicNode::new(body.raft.clone()), false)
        .await
    {
        Ok(_) => HttpResponse::Ok().json(json!({ "added": body.id })),
        Err(e) => refused(actix_web::http::StatusCode::CONFLICT, e.to_string()),
    }
}

pub async fn promote(
    req: HttpRequest,
    state: web::Data<InternalState>,
    body: web::Json<NodeRef>,
) -> HttpResponse {
    let body = body.into_inner();
    if let Some(answered) = unless_leader(&req, &state, "/cluster/promote", json!(body)).await {
        return answered;
    }
    tracing::info!(node = body.id, "promoting a learner to voter");
    let change = ChangeMembers::AddVoterIds(BTreeSet::from([body.id]));
    match state.cluster.raft().change_membership(change, false).await {
        Ok(_) => HttpResponse::Ok().json(json!({ "promoted": body.id })),
        Err(e) => refused(actix_web::http::StatusCode::CONFLICT, e.to_string()),
    }
}

/// Remove a voter or learner. Refused when the voters left would not have a reachable majority,
/// unless `force`.
pub async fn remove(
    req: HttpRequest,
    state: web::Data<InternalState>,
    body: web::Json<NodeRef>,
) -> HttpResponse {
    let body = body.into_inner();
    if let Some(answered) = unless_leader(&req, &state, "/cluster/remove", json!(body)).await {
        return answered;
    }
    let (me, voters, learners, nodes) = {
        let metrics = state.cluster.raft().metrics();
        let m = metrics.borrow();
        let membership = m.membership_config.membership();
        (
            m.id,
            membership.voter_ids().collect::<BTreeSet<u64>>(),
            membership.learner_ids().collect::<BTreeSet<u64>>(),
            membership
                .nodes()
                .map(|(id, n)| (*id, n.addr.clone()))
                .collect::<BTreeMap<u64, String>>(),
        )
    };
    let change = if learners.contains(&body.id) {
        ChangeMembers::RemoveNodes(BTreeSet::from([body.id]))
    } else if voters.contains(&body.id) {
        let remaining: Vec<u64> = voters.iter().copied().filter(|v| *v != body.id).collect();
        if remaining.is_empty() {
            return refused(
                actix_web::http::StatusCode::CONFLICT,
                "cannot remove the last voter",
            );
        }
        let mut reachable = 0;
        for voter in &remaining {
            if *voter == me || follows_me(&state, nodes.get(voter), me).await {
                reachable += 1;
            }
        }
        if reachable * 2 <= remaining.len() && !body.force {
            return refused(
                actix_web::http::StatusCode::CONFLICT,
                format!(
                    "removing node {} would leave {} voters of which only {reachable} are reachable: the cluster would lose its quorum (use --force to remove anyway)",
                    body.id,
                    remaining.len()
                ),
            );
        }
        ChangeMembers::RemoveVoters(BTreeSet::from([body.id]))
    } else {
        return refused(
            actix_web::http::StatusCode::NOT_FOUND,
            format!("node {} is not a member", body.id),
        );
    };
    tracing::info!(node = body.id, force = body.force, "removing a node");
    match state.cluster.raft().change_membership(change, false).await {
        Ok(_) => HttpResponse::Ok().json(json!({ "removed": body.id })),
        Err(e) => refused(actix_web::http::StatusCode::CONFLICT, e.to_string()),
    }
}

/// Whether the node at `addr` answers and follows this leader.
async fn follows_me(state: &InternalState, addr: Option<&String>, me: u64) -> bool {
    let Some(addr) = addr else { return false };
    match state
        .cluster
        .client()
        .json(
            mcpauth_raft::reqwest::Method::GET,
            addr,
            "/cluster/status?digest=false",
            None,
            Duration::from_secs(1),
        )
        .await
    {
        Ok((200, value)) => value.get("leader").and_then(|l| l.as_u64()) == Some(me),
        _ => false,
    }
}
