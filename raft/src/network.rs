//! The client side of the Raft network: openraft's RPCs as HTTP POSTs with bincode bodies.
//!
//! Each peer is reached at `http://{node.addr}{RpcKind::path()}` with the cluster secret in
//! [`CLUSTER_SECRET_HEADER`]; [`crate::handle_rpc`] answers on the other side. Snapshots travel in
//! chunks through openraft's default `full_snapshot`, one `/raft/snapshot` request per chunk.
//!
//! Failures are mapped to what openraft should do next:
//! - cannot connect, or the peer refuses our secret or has no Raft route: `Unreachable`, and
//!   openraft backs off before retrying (a node that is down or misconfigured will not be fixed
//!   by hammering it);
//! - the request failed midway, timed out, or the answer is unreadable: `NetworkError`, and
//!   openraft retries at once;
//! - HTTP 413 on an append: `PayloadTooLarge`, and openraft sends fewer entries;
//! - the remote Raft answered with an error: `RemoteError`, carrying that error.
//!
//! Every request is bounded by the `RPCOption` deadline openraft passes in.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::rpc::{decode_wire, RpcKind, CLUSTER_SECRET_HEADER};
use crate::type_config::{BasicNode, NodeId, TypeConfig};

/// The reqwest client could not be built (TLS backend initialisation failed).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the Raft HTTP client: {0}")]
pub struct NetworkSetupError(#[from] reqwest::Error);

/// What went wrong talking to a peer, as the cause inside openraft's network errors.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("cannot encode the {kind:?} request: {source}")]
    Encode {
        kind: RpcKind,
        #[source]
        source: bincode::Error,
    },
    #[error("{kind:?} to {addr}: {source}")]
    Http {
        kind: RpcKind,
        addr: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{kind:?} to {addr}: peer rejected the cluster secret (HTTP {status})")]
    SecretRejected {
        kind: RpcKind,
        addr: String,
        status: StatusCode,
    },
    #[error("{kind:?} to {addr}: HTTP {status}: {body}")]
    Status {
        kind: RpcKind,
        addr: String,
        status: StatusCode,
        body: String,
    },
    #[error("{kind:?} to {addr}: unreadable response: {source}")]
    Decode {
        kind: RpcKind,
        addr: String,
        #[source]
        source: bincode::Error,
    },
}

/// Failure before a Raft answer was in hand, and how openraft should treat it.
enum Transport {
    Unreachable(PeerError),
    Network(PeerError),
    TooLarge(PeerError),
}

impl Transport {
    fn into_rpc<E: std::error::Error>(
        self,
        entries_hint: Option<u64>,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        match self {
            Transport::Unreachable(e) => RPCError::Unreachable(Unreachable::new(&e)),
            Transport::TooLarge(e) => match entries_hint {
                Some(hint) => RPCError::PayloadTooLarge(PayloadTooLarge::new_entries_hint(hint)),
                None => RPCError::Network(NetworkError::new(&e)),
            },
            Transport::Network(e) => RPCError::Network(NetworkError::new(&e)),
        }
    }
}

/// Builds a [`PeerClient`] per target; all share one connection pool.
#[derive(Clone)]
pub struct NetworkFactory {
    http: reqwest::Client,
    secret: Arc<str>,
}

impl NetworkFactory {
    /// A network that authenticates with `cluster_secret`, the same secret every node checks
    /// with [`crate::secret_matches`].
    ///
    /// `local_address` binds outgoing connections to this node's internal address, so peers
    /// (and a firewall between them) see traffic come from the interface the node serves on.
    pub fn new(
        cluster_secret: String,
        local_address: Option<std::net::IpAddr>,
    ) -> Result<Self, NetworkSetupError> {
        let http = reqwest::Client::builder()
            // Cluster traffic goes straight to the peer, never through an HTTP(S)_PROXY.
            .no_proxy()
            .local_address(local_address.filter(|ip| !ip.is_unspecified()))
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            http,
            secret: cluster_secret.into(),
        })
    }
}

impl NetworkFactory {
    /// A client for the other internal calls (write forwarding, read index, admin), sharing
    /// this network's connection pool, secret and source address.
    pub fn cluster_client(&self) -> crate::ClusterClient {
        crate::ClusterClient::new(self.http.clone(), self.secret.clone())
    }
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        PeerClient {
            http: self.http.clone(),
            secret: self.secret.clone(),
            target,
            node: node.clone(),
        }
    }
}

/// The connection to one peer, as openraft's `RaftNetwork`.
pub struct PeerClient {
    http: reqwest::Client,
    secret: Arc<str>,
    target: NodeId,
    node: BasicNode,
}

impl PeerClient {
    /// POST `req` to the peer's route for `kind` and decode its `Result<Resp, RaftError<E>>`.
    async fn post<Req, Resp, E>(
        &self,
        kind: RpcKind,
        req: &Req,
        deadline: Duration,
    ) -> Result<Result<Resp, RaftError<NodeId, E>>, Transport>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: DeserializeOwned,
    {
        let addr = &self.node.addr;
        let body = mcpauth_state::encode(req)
            .map_err(|source| Transport::Network(PeerError::Encode { kind, source }))?;
        let http_error = |source: reqwest::Error| PeerError::Http {
            kind,
            addr: addr.clone(),
            source,
        };
        let response = self
            .http
            .post(format!("http://{addr}{}", kind.path()))
            .header(CLUSTER_SECRET_HEADER, &*self.secret)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .timeout(deadline)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    Transport::Unreachable(http_error(e))
                } else {
                    Transport::Network(http_error(e))
                }
            })?;
        let status = response.status();
        if status != StatusCode::OK {
            return Err(self.status_error(kind, response).await);
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Transport::Network(http_error(e)))?;
        decode_wire(&bytes).map_err(|source| {
            Transport::Network(PeerError::Decode {
                kind,
                addr: addr.clone(),
                source,
            })
        })
    }

    async fn status_error(&self, kind: RpcKind, response: reqwest::Response) -> Transport {
        let addr = self.node.addr.clone();
        let status = response.status();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                let e = PeerError::SecretRejected { kind, addr, status };
                tracing::error!(target_node = self.target, error = %e, "Raft RPC refused");
                Transport::Unreachable(e)
            }
            _ => {
                let mut body = response.text().await.unwrap_or_default();
                body.truncate(200);
                let e = PeerError::Status {
                    kind,
                    addr,
                    status,
                    body,
                };
                match status {
                    StatusCode::PAYLOAD_TOO_LARGE => Transport::TooLarge(e),
                    // No Raft route there (yet): a node still starting, or not an mcpauth node.
                    StatusCode::NOT_FOUND | StatusCode::SERVICE_UNAVAILABLE => {
                        Transport::Unreachable(e)
                    }
                    _ => Transport::Network(e),
                }
            }
        }
    }

    fn remote<E: std::error::Error>(
        &self,
        e: RaftError<NodeId, E>,
    ) -> RPCError<NodeId, BasicNode, RaftError<NodeId, E>> {
        RPCError::RemoteError(RemoteError::new_with_node(
            self.target,
            self.node.clone(),
            e,
        ))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        // If the peer finds the payload too large, ask openraft for half as many entries; a
        // single entry that is too large cannot be split, so that is a plain failure.
        let entries = rpc.entries.len() as u64;
        let entries_hint = (entries > 1).then_some(entries / 2);
        self.post(RpcKind::AppendEntries, &rpc, option.hard_ttl())
            .await
            .map_err(|t| t.into_rpc(entries_hint))?
            .map_err(|e| self.remote(e))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.post(RpcKind::InstallSnapshot, &rpc, option.hard_ttl())
            .await
            .map_err(|t| t.into_rpc(None))?
            .map_err(|e| self.remote(e))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.post(RpcKind::Vote, &rpc, option.hard_ttl())
            .await
            .map_err(|t| t.into_rpc(None))?
            .map_err(|e| self.remote(e))
    }
}
