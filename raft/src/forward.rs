//! The internal calls besides Raft's own RPCs: a follower forwarding a write to the leader, a
//! follower asking the leader for a read index, and the admin API, all over the same
//! authenticated HTTP as the Raft RPCs.
//!
//! Forwarded writes are retried by the caller when the outcome was lost; that is safe because
//! apply() answers a retried attempt as the first time (see `mcpauth_state::State::apply`).
//!
//! Commands and outcomes cross in the storage format's envelope ([`VersionedCommand`],
//! [`VersionedOutcome`]), written at the sender's cluster version: during a rolling upgrade a
//! 0.1 node reads what this one sends, and once every member reads a newer format, so does
//! every answer.

use std::sync::Arc;
use std::time::Duration;

use mcpauth_state::{Command, FormatVersion, Outcome, VersionedCommand, VersionedOutcome};
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use serde::{Deserialize, Serialize};

use crate::rpc::{decode_wire, CLUSTER_SECRET_HEADER};
use crate::type_config::{NodeId, Raft};

/// `POST /raft/forward`: a bincode [`VersionedCommand`]; answers a bincode [`ForwardReply`] (its
/// outcome in a [`VersionedOutcome`]).
pub const FORWARD_PATH: &str = "/raft/forward";
/// `GET /raft/read-index`: answers a bincode `Result<u64, ForwardRefusal>`.
pub const READ_INDEX_PATH: &str = "/raft/read-index";

/// A write committed and applied on the leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarded {
    pub log_index: u64,
    pub outcome: Outcome,
}

/// Why the node asked could not take the write or read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ForwardRefusal {
    #[error("not the leader (leader: {leader_id:?})")]
    NotLeader {
        leader_id: Option<NodeId>,
        leader_addr: Option<String>,
    },
    #[error("raft stopped on that node: {0}")]
    Fatal(String),
    /// Proposed, but it can no longer be known to commit (the leader lost its term or its
    /// majority, or a deadline passed): it may still commit later, so its outcome is unknown.
    /// Added after `Fatal` so the variants before it keep their wire numbers.
    #[error("not committed: {0} (it may still commit)")]
    NotCommitted(String),
}

pub type ForwardReply = Result<Forwarded, ForwardRefusal>;

/// [`Forwarded`] as it crosses the network: the same fields, the outcome in its envelope.
#[derive(Debug, Serialize, Deserialize)]
struct WireForwarded {
    log_index: u64,
    outcome: VersionedOutcome,
}

type WireReply = Result<WireForwarded, ForwardRefusal>;

impl From<WireForwarded> for Forwarded {
    fn from(wire: WireForwarded) -> Self {
        Self {
            log_index: wire.log_index,
            outcome: wire.outcome.outcome,
        }
    }
}

/// The body a leader answers a forwarded write with, its outcome written in `format`.
pub fn encode_forward_reply(
    reply: ForwardReply,
    format: FormatVersion,
) -> Result<Vec<u8>, bincode::Error> {
    let wire: WireReply = reply.map(|done| WireForwarded {
        log_index: done.log_index,
        outcome: VersionedOutcome::new(format, done.outcome),
    });
    mcpauth_state::encode(&wire)
}

/// Read a body written by [`encode_forward_reply`] (by this release or an older one).
pub fn decode_forward_reply(body: &[u8]) -> Result<ForwardReply, bincode::Error> {
    let wire: WireReply = decode_wire(body)?;
    Ok(wire.map(Forwarded::from))
}

/// A forwarded call that did not produce an answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ForwardError {
    /// The request never reached the peer: nothing can have happened there.
    #[error("cannot reach {addr}: {reason}")]
    NotSent { addr: String, reason: String },
    /// The request may have been acted on, but no answer came back.
    #[error("no answer from {addr}: {reason}")]
    Lost { addr: String, reason: String },
    #[error(transparent)]
    Refused(#[from] ForwardRefusal),
}

/// HTTP client for the internal calls.
#[derive(Clone)]
pub struct ClusterClient {
    http: reqwest::Client,
    secret: Arc<str>,
}

impl ClusterClient {
    pub(crate) fn new(http: reqwest::Client, secret: Arc<str>) -> Self {
        Self { http, secret }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        addr: &str,
        timeout: Duration,
    ) -> Result<bytes_body::Body, ForwardError> {
        let response = request
            .header(CLUSTER_SECRET_HEADER, &*self.secret)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| classify(addr, e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| ForwardError::Lost {
            addr: addr.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(bytes_body::Body { status, body })
    }

    /// Ask the node at `addr` (the leader) to commit `command`, sent in storage `format`.
    pub async fn forward(
        &self,
        addr: &str,
        command: Command,
        format: FormatVersion,
        timeout: Duration,
    ) -> Result<Forwarded, ForwardError> {
        let versioned = VersionedCommand::new(format, command);
        let body = mcpauth_state::encode(&versioned).map_err(|e| ForwardError::NotSent {
            addr: addr.to_owned(),
            reason: e.to_string(),
        })?;
        let request = self
            .http
            .post(format!("http://{addr}{FORWARD_PATH}"))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        let answer = self.send(request, addr, timeout).await?;
        let reply: WireReply = answer.decode(addr)?;
        Ok(reply.map(Forwarded::from)?)
    }

    /// Ask the node at `addr` (the leader) for the index a linearizable read must wait for.
    pub async fn read_index(&self, addr: &str, timeout: Duration) -> Result<u64, ForwardError> {
        let request = self.http.get(format!("http://{addr}{READ_INDEX_PATH}"));
        let answer = self.send(request, addr, timeout).await?;
        let reply: Result<u64, ForwardRefusal> = answer.decode(addr)?;
        Ok(reply?)
    }

    /// An admin call with a JSON body (or none): answers the status code and the JSON body.
    pub async fn json(
        &self,
        method: reqwest::Method,
        addr: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<(u16, serde_json::Value), ForwardError> {
        let mut request = self.http.request(method, format!("http://{addr}{path}"));
        if let Some(body) = body {
            request = request.json(body);
        }
        let answer = self.send(request, addr, timeout).await?;
        let value = serde_json::from_slice(&answer.body).unwrap_or_else(
            |_| serde_json::json!({ "error": String::from_utf8_lossy(&answer.body).into_owned() }),
        );
        Ok((answer.status.as_u16(), value))
    }
}

mod bytes_body {
    use super::ForwardError;

    pub struct Body {
        pub status: reqwest::StatusCode,
        pub body: bytes::Bytes,
    }

    impl Body {
        pub fn decode<T: serde::de::DeserializeOwned>(
            &self,
            addr: &str,
        ) -> Result<T, ForwardError> {
            if self.status != reqwest::StatusCode::OK {
                let mut text = String::from_utf8_lossy(&self.body).into_owned();
                text.truncate(200);
                // 401/404: refused before anything happened.
                let reason = format!("HTTP {}: {text}", self.status);
                return Err(if self.status.is_client_error() {
                    ForwardError::NotSent {
                        addr: addr.to_owned(),
                        reason,
                    }
                } else {
                    ForwardError::Lost {
                        addr: addr.to_owned(),
                        reason,
                    }
                });
            }
            super::decode_wire(&self.body).map_err(|e| ForwardError::Lost {
                addr: addr.to_owned(),
                reason: e.to_string(),
            })
        }
    }
}

fn classify(addr: &str, e: reqwest::Error) -> ForwardError {
    if e.is_connect() {
        ForwardError::NotSent {
            addr: addr.to_owned(),
            reason: e.to_string(),
        }
    } else {
        ForwardError::Lost {
            addr: addr.to_owned(),
            reason: e.to_string(),
        }
    }
}

fn not_leader(
    forward: &openraft::error::ForwardToLeader<NodeId, crate::BasicNode>,
) -> ForwardRefusal {
    ForwardRefusal::NotLeader {
        leader_id: forward.leader_id,
        leader_addr: forward.leader_node.as_ref().map(|n| n.addr.clone()),
    }
}

/// Commit `command` through the local Raft, written in storage `format` (the cluster version,
/// or a newer one every member was just found to read), mapping its errors to what a
/// forwarder can act on.
pub async fn write_locally(raft: &Raft, command: Command, format: FormatVersion) -> ForwardReply {
    match raft
        .client_write(VersionedCommand::new(format, command))
        .await
    {
        Ok(response) => Ok(Forwarded {
            log_index: response.log_id.index,
            outcome: response.data,
        }),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => Err(not_leader(&f)),
        Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(e))) => {
            Err(ForwardRefusal::Fatal(e.to_string()))
        }
        Err(RaftError::Fatal(e)) => Err(ForwardRefusal::Fatal(e.to_string())),
    }
}

/// The index a linearizable read must wait for, if this node is the leader.
pub async fn read_index_locally(raft: &Raft) -> Result<u64, ForwardRefusal> {
    match raft.ensure_linearizable().await {
        Ok(log_id) => Ok(log_id.map_or(0, |l| l.index)),
        Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => Err(not_leader(&f)),
        Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(e))) => {
            tracing::debug!(error = %e, "read index: no quorum");
            Err(ForwardRefusal::NotLeader {
                leader_id: None,
                leader_addr: None,
            })
        }
        Err(RaftError::Fatal(e)) => Err(ForwardRefusal::Fatal(e.to_string())),
    }
}

/// Serve `POST /raft/forward`: decode, commit through the local Raft (batched with the other
/// writes in flight), encode the reply at this node's cluster version (the follower may have
/// sent an older format; every member reads the cluster version).
pub async fn handle_forward(
    proposer: &crate::Proposer,
    body: &[u8],
) -> Result<Vec<u8>, bincode::Error> {
    let command: VersionedCommand = decode_wire(body)?;
    let reply = proposer.write(command.command).await;
    encode_forward_reply(reply, proposer.format())
}

/// Serve `GET /raft/read-index`.
pub async fn handle_read_index(raft: &Raft) -> Result<Vec<u8>, bincode::Error> {
    mcpauth_state::encode(&read_index_locally(raft).await)
}
