//! Membership changes and the checks that keep them safe: a learner is promoted only once it has
//! caught up, and a voter is removed only when the voters left still have a reachable majority.
//! Changes run on the leader; any other node relays the same admin call to it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mcpauth_state::format::FormatVersion;
use openraft::ChangeMembers;
use serde::Serialize;

use crate::type_config::NodeId;
use crate::{BasicNode, Leadership, RaftClient};

/// A learner this many entries or fewer behind the leader counts as caught up (a few batches
/// of replication under load; the `cluster add-node` command waits for the same).
pub const PROMOTE_LAG: u64 = 64;
/// How long a relayed membership change may take on the leader (a promotion waits for a
/// joint-consensus round).
const RELAY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a voter gets to answer whether it follows this leader.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a membership change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    #[error("no leader known (leader {0:?})")]
    NoLeader(Option<NodeId>),
    #[error("leader at {addr}: {reason}")]
    Relay { addr: String, reason: String },
    #[error("node {0} is not a member")]
    NotAMember(NodeId),
    #[error("node {0} is not a learner")]
    NotALearner(NodeId),
    #[error("cannot remove the last voter")]
    LastVoter,
    #[error("removing node {id} would leave {remaining} voters of which only {reachable} are reachable: the cluster would lose its quorum (use --force to remove anyway)")]
    WouldLoseQuorum {
        id: NodeId,
        remaining: usize,
        reachable: usize,
    },
    #[error("node {id} has not caught up: replicated {} of {last} (promote it once it is within {PROMOTE_LAG} entries, or use force)", matched.map_or("nothing".to_owned(), |m| m.to_string()))]
    NotCaughtUp {
        id: NodeId,
        matched: Option<u64>,
        last: u64,
    },
    #[error("cannot ask node {id} at {addr} which storage formats it reads ({reason}): start it before adding it")]
    FormatsUnknown {
        id: NodeId,
        addr: String,
        reason: String,
    },
    #[error("node {id} runs mcpauth {binary}, which reads storage formats {oldest} to {newest}, and the cluster writes format {cluster_version}: run a release that reads it on that node")]
    CannotRead {
        id: NodeId,
        binary: String,
        oldest: FormatVersion,
        newest: FormatVersion,
        cluster_version: FormatVersion,
    },
    /// openraft refused the change (another change in progress, an unknown node).
    #[error("{0}")]
    Refused(String),
}

/// Whether a learner replicated up to `matched` has caught up with a leader at `last`.
pub fn caught_up(matched: Option<u64>, last: u64) -> bool {
    matched.is_some_and(|m| m + PROMOTE_LAG >= last)
}

/// What the leader answered a relayed call: its status code and JSON body, passed on as is.
#[derive(Debug, Clone)]
pub struct Relayed {
    pub status: u16,
    pub body: serde_json::Value,
}

/// Membership changes through one node (`RaftClient::membership`).
pub struct Membership<'a> {
    client: &'a RaftClient,
}

impl<'a> Membership<'a> {
    pub(crate) fn new(client: &'a RaftClient) -> Self {
        Self { client }
    }

    /// When this node does not lead, send the same admin call (`path`, JSON `body`) to the
    /// leader and answer what it said; None when this node leads and should act itself.
    pub async fn relay_unless_leader<B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Option<Relayed>, MembershipError> {
        let addr = match self.client.leadership() {
            Leadership::Me { .. } | Leadership::MeWithoutQuorum { .. } => return Ok(None),
            Leadership::Other { addr, .. } => addr,
            Leadership::Unknown { named } => return Err(MembershipError::NoLeader(named)),
        };
        let body = serde_json::to_value(body).map_err(|e| MembershipError::Relay {
            addr: addr.clone(),
            reason: e.to_string(),
        })?;
        let (status, body) = self
            .client
            .client()
            .json(
                reqwest::Method::POST,
                &addr,
                path,
                Some(&body),
                RELAY_TIMEOUT,
            )
            .await
            .map_err(|e| MembershipError::Relay {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        Ok(Some(Relayed { status, body }))
    }

    /// Add `id` at internal address `addr` as a learner (it starts receiving the log, or a
    /// snapshot, at once; the call does not wait for it to catch up). Refused when its binary
    /// does not read the storage format the cluster writes: it would stop at the first entry.
    pub async fn add_learner(&self, id: NodeId, addr: String) -> Result<(), MembershipError> {
        // The cluster version stays put until the learner is in (then the leader asks it too).
        let _changing = self.client.changing_members().await;
        let formats = self
            .client
            .client()
            .node_formats(&addr)
            .await
            .map_err(|e| MembershipError::FormatsUnknown {
                id,
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        let cluster_version = self.client.view().cluster_version();
        if !(formats.oldest..=formats.newest).contains(&cluster_version) {
            return Err(MembershipError::CannotRead {
                id,
                binary: formats.binary,
                oldest: formats.oldest,
                newest: formats.newest,
                cluster_version,
            });
        }
        tracing::info!(node = id, %addr, "adding a learner");
        self.client
            .raft()
            .add_learner(id, BasicNode::new(addr), false)
            .await
            .map(drop)
            .map_err(|e| MembershipError::Refused(e.to_string()))
    }

    /// Make learner `id` a voter, once it has caught up (unless `force`).
    pub async fn promote(&self, id: NodeId, force: bool) -> Result<(), MembershipError> {
        let (is_learner, is_voter, matched, last) = {
            let metrics = self.client.raft().metrics();
            let m = metrics.borrow();
            let membership = m.membership_config.membership();
            let matched = m
                .replication
                .as_ref()
                .and_then(|r| r.get(&id).cloned().flatten())
                .map(|l| l.index);
            let roles = (
                membership.learner_ids().any(|l| l == id),
                membership.voter_ids().any(|v| v == id),
                matched,
                m.last_log_index.unwrap_or(0),
            );
            roles
        };
        if is_voter {
            // Already done (a retried call): nothing to change.
            return Ok(());
        }
        if !is_learner {
            return Err(MembershipError::NotALearner(id));
        }
        if !force && !caught_up(matched, last) {
            return Err(MembershipError::NotCaughtUp { id, matched, last });
        }
        tracing::info!(node = id, force, "promoting a learner to voter");
        self.change(ChangeMembers::AddVoterIds(BTreeSet::from([id])))
            .await
    }

    /// Remove voter or learner `id`. A voter's removal is refused when the voters left would
    /// not have a reachable majority, unless `force`.
    pub async fn remove(&self, id: NodeId, force: bool) -> Result<(), MembershipError> {
        let (me, voters, learners, nodes) = {
            let metrics = self.client.raft().metrics();
            let m = metrics.borrow();
            let membership = m.membership_config.membership();
            (
                m.id,
                membership.voter_ids().collect::<BTreeSet<NodeId>>(),
                membership.learner_ids().collect::<BTreeSet<NodeId>>(),
                membership
                    .nodes()
                    .map(|(id, n)| (*id, n.addr.clone()))
                    .collect::<BTreeMap<NodeId, String>>(),
            )
        };
        let change = if learners.contains(&id) {
            ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        } else if voters.contains(&id) {
            let remaining: Vec<NodeId> = voters.iter().copied().filter(|v| *v != id).collect();
            if remaining.is_empty() {
                return Err(MembershipError::LastVoter);
            }
            let mut reachable = 0;
            for voter in &remaining {
                if *voter == me || self.follows(nodes.get(voter), me).await {
                    reachable += 1;
                }
            }
            if reachable * 2 <= remaining.len() && !force {
                return Err(MembershipError::WouldLoseQuorum {
                    id,
                    remaining: remaining.len(),
                    reachable,
                });
            }
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else {
            return Err(MembershipError::NotAMember(id));
        };
        tracing::info!(node = id, force, "removing a node");
        self.change(change).await
    }

    async fn change(
        &self,
        change: ChangeMembers<NodeId, BasicNode>,
    ) -> Result<(), MembershipError> {
        self.client
            .raft()
            .change_membership(change, false)
            .await
            .map(drop)
            .map_err(|e| MembershipError::Refused(e.to_string()))
    }

    /// Whether the node at `addr` answers and follows this leader.
    async fn follows(&self, addr: Option<&String>, me: NodeId) -> bool {
        let Some(addr) = addr else { return false };
        match self
            .client
            .client()
            .json(
                reqwest::Method::GET,
                addr,
                "/cluster/status?digest=false",
                None,
                PROBE_TIMEOUT,
            )
            .await
        {
            Ok((200, value)) => value.get("leader").and_then(|l| l.as_u64()) == Some(me),
            _ => false,
        }
    }
}

impl RaftClient {
    /// Membership changes through this node.
    pub fn membership(&self) -> Membership<'_> {
        Membership::new(self)
    }
}
