//! The server side of the Raft network: what `api/` calls from its `/raft/*` routes.
//!
//! The routes themselves are actix-web's business (HTTP types stay in `api/`); this module gives
//! them everything else: the paths, the secret header and its constant-time check, and
//! [`handle_rpc`], which turns a request body into a response body. The wire format is bincode on
//! both sides. A response body is `bincode(Result<Response, RaftError>)`, so an error raised by
//! the remote Raft (for example "shutting down") reaches the calling node as openraft's
//! `RemoteError`, exactly as if the call had been local. Only a body that cannot be decoded is an
//! [`RpcError`]; answer it with HTTP 400.
//!
//! Every request must carry [`CLUSTER_SECRET_HEADER`]; check it with [`secret_matches`] before
//! calling [`handle_rpc`] and answer 401 when it does not match. The peer reads 401/403 as a
//! misconfigured node and backs off.

use bincode::Options;
use mcpauth_state::format::{FormatError, FormatVersion, NEWEST};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::type_config::{Raft, TypeConfig};

/// The header carrying the shared cluster secret on every Raft RPC.
pub const CLUSTER_SECRET_HEADER: &str = "x-mcpauth-cluster-secret";

/// The largest request body a `/raft/*` route must accept (configure actix-web's payload limit
/// to at least this). Snapshot chunks are at most [`crate::SNAPSHOT_CHUNK_BYTES`]; an append of
/// [`crate::MAX_PAYLOAD_ENTRIES`] entries stays far below this, and if it ever does not, answer
/// 413 and the leader sends fewer entries.
pub const MAX_RPC_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The three Raft RPCs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RpcKind {
    /// Log replication and heartbeats: `POST /raft/append`.
    AppendEntries,
    /// Leader election: `POST /raft/vote`.
    Vote,
    /// One chunk of a snapshot: `POST /raft/snapshot`.
    InstallSnapshot,
}

impl RpcKind {
    /// Every kind, for mounting the routes.
    pub const ALL: [RpcKind; 3] = [
        RpcKind::AppendEntries,
        RpcKind::Vote,
        RpcKind::InstallSnapshot,
    ];

    /// The full path of this RPC's route.
    pub const fn path(self) -> &'static str {
        match self {
            RpcKind::AppendEntries => "/raft/append",
            RpcKind::Vote => "/raft/vote",
            RpcKind::InstallSnapshot => "/raft/snapshot",
        }
    }

    /// The kind whose route is `path`, if any.
    pub fn from_path(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.path() == path)
    }
}

/// A request body that is not a valid RPC of its kind, or a response that cannot be encoded.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("malformed {kind:?} request: {source}")]
    Decode {
        kind: RpcKind,
        #[source]
        source: bincode::Error,
    },
    /// The leader sent entries (or a snapshot) in a storage format this binary does not read:
    /// stop the node ([`crate::Halt`]) rather than refuse them forever.
    #[error("received {kind:?} from the leader in storage format {found}, newer than this mcpauth reads (up to {NEWEST}): run a newer mcpauth on this node, or remove it from the cluster")]
    NewerFormat { kind: RpcKind, found: FormatVersion },
    #[error("cannot encode the {kind:?} response: {source}")]
    Encode {
        kind: RpcKind,
        #[source]
        source: bincode::Error,
    },
}

impl RpcError {
    /// Whether this node must stop: it cannot follow a leader that writes what it cannot read.
    pub fn stops_the_node(&self) -> bool {
        matches!(self, RpcError::NewerFormat { .. })
    }
}

/// Decode `body` as an RPC of `kind`, hand it to the local `raft`, and encode its answer.
///
/// Safe to call from any runtime (actix's included): it only sends a message to Raft's own
/// tasks and awaits the reply.
pub async fn handle_rpc(raft: &Raft, kind: RpcKind, body: &[u8]) -> Result<Vec<u8>, RpcError> {
    let decode_error = |source: bincode::Error| match FormatError::newer_in(&source.to_string()) {
        Some(found) => RpcError::NewerFormat { kind, found },
        None => RpcError::Decode { kind, source },
    };
    match kind {
        RpcKind::AppendEntries => {
            let req: AppendEntriesRequest<TypeConfig> = decode_wire(body).map_err(decode_error)?;
            encode(kind, &raft.append_entries(req).await)
        }
        RpcKind::Vote => {
            let req: VoteRequest<u64> = decode_wire(body).map_err(decode_error)?;
            encode(kind, &raft.vote(req).await)
        }
        RpcKind::InstallSnapshot => {
            let req: InstallSnapshotRequest<TypeConfig> =
                decode_wire(body).map_err(decode_error)?;
            encode(kind, &raft.install_snapshot(req).await)
        }
    }
}

/// Decode a message received over the network: the same format as [`mcpauth_state::decode`]
/// (bincode, fixed-width integers), but never reading past the body, so a corrupt length prefix
/// is an error instead of a huge allocation.
pub(crate) fn decode_wire<T: DeserializeOwned>(body: &[u8]) -> Result<T, bincode::Error> {
    bincode::options()
        .with_fixint_encoding()
        .allow_trailing_bytes()
        .with_limit(body.len() as u64)
        .deserialize(body)
}

fn encode<T: Serialize>(kind: RpcKind, value: &T) -> Result<Vec<u8>, RpcError> {
    mcpauth_state::encode(value).map_err(|source| RpcError::Encode { kind, source })
}

/// Whether `presented` equals the configured cluster secret, in time independent of where they
/// differ (only the length can leak). An empty expected secret matches nothing: a node without
/// a configured secret must not admit anyone.
pub fn secret_matches(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for kind in RpcKind::ALL {
            assert_eq!(RpcKind::from_path(kind.path()), Some(kind));
        }
        assert_eq!(RpcKind::from_path("/raft/other"), None);
    }

    #[test]
    fn wire_format_is_the_storage_format() {
        let value = (7u64, String::from("abc"), vec![1u8, 2, 3]);
        let bytes = mcpauth_state::encode(&value).expect("encode");
        let back: (u64, String, Vec<u8>) = decode_wire(&bytes).expect("decode");
        assert_eq!(back, value);
        // A length prefix claiming more than the body holds is refused, not allocated.
        let mut lying = 5u64.to_le_bytes().to_vec();
        lying.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_wire::<(u64, Vec<u8>)>(&lying).is_err());
    }

    #[test]
    fn secrets_compare() {
        assert!(secret_matches("s3cret", "s3cret"));
        assert!(!secret_matches("s3cret", "s3creT"));
        assert!(!secret_matches("s3cret", "s3cre"));
        assert!(!secret_matches("s3cret", ""));
        assert!(!secret_matches("", ""));
    }
}
