//! The storage format: how log entries, forwarded writes and their answers, and snapshots are
//! written, and how every version of them is read back (DESIGN.md, invariant 4).
//!
//! The log and the snapshots outlive every binary, and in a cluster being upgraded, nodes of
//! two versions exchange entries. So every encoded command, outcome and snapshot says which
//! format it is in, ahead of its payload, and decoding reads that first and dispatches on it:
//!
//! | format | written by | commands and outcomes | snapshot |
//! | --- | --- | --- | --- |
//! | 1 | the first release | [`v2::Command`] variants 0-12 (a prefix of format 2) | `u32` 1, [`v1::State`] |
//! | 2 | 0.1 (federated login) | [`v2::Command`], [`v2::Outcome`], as bincode enums | `u32` 2, [`v2::State`] |
//! | 3 | the cluster-version release | the envelope's `Framed` variant: `u32` 3, then [`v3::Command`], [`v3::Outcome`] | `u32` 3, [`v3::State`] |
//! | 4 | the client-management release (client management, revocation, key rotation, the refresh policy) | `Framed`: `u32` 4, then [`v4::Command`], [`v4::Outcome`] | `u32` 4, [`v4::State`] |
//! | 5 | this version (administration: roles, disabled clients, ending access, the audit trail, the runtime configuration) | `Framed`: `u32` 5, then the current model | `u32` 5, [`crate::State`] |
//!
//! Formats 1 and 2 carry their version implicitly: the first `u32` of an entry is a variant of
//! the frozen format-2 enum. From format 3 on, that position holds `Framed`, followed by the
//! format number and the payload in that format ([`envelope`]), so an older binary that meets a
//! newer entry fails at that tag instead of misreading the rest, and a newer binary knows which
//! frozen model to decode with.
//!
//! Rules for changing the model (every type in `model.rs`, `federation.rs`, `command.rs`,
//! `outcome.rs`, and the `State` struct):
//! 1. A change to any of them is a new format: copy the current types into `vN.rs` (frozen
//!    from then on), add the conversion from `vN` to the new model in `convert.rs`, raise
//!    [`NEWEST`], and check in golden bytes of the new format (`raft/tests/golden/`, written by
//!    `cargo run -p mcpauth-raft --example golden`).
//! 2. Never edit a frozen module. The golden tests decode the checked-in bytes of every format
//!    and fail when a type they depend on changed in place.
//! 3. A node writes nothing newer than the cluster version (`State::cluster_version`), which
//!    the leader raises only once every member advertises that it reads the newer format; so
//!    in a rolling upgrade, old nodes never receive what they cannot read.
//! 4. apply() semantics that change with a format are chosen by the cluster version in the
//!    state, never by the binary, so nodes of two versions applying one log agree.

mod convert;
mod envelope;
pub mod v1;
pub mod v2;
pub mod v3;
pub mod v4;

pub use envelope::{VersionedCommand, VersionedOutcome};

use crate::state::State;

/// A storage format's number.
pub type FormatVersion = u32;

/// The newest format this binary reads, and writes once the cluster version allows it.
pub const NEWEST: FormatVersion = 5;
/// The oldest format this binary reads.
pub const OLDEST: FormatVersion = 1;
/// The cluster version of a state that does not record one: a cluster created by 0.1, or a new
/// cluster before its leader has heard from every member.
pub const BASELINE: FormatVersion = 2;

/// Why bytes could not be read or written in a storage format.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error(
        "written in storage format {found}, newer than this mcpauth reads ({OLDEST} to {NEWEST}): \
         run a newer mcpauth on this node"
    )]
    Newer { found: FormatVersion },
    #[error("storage format {0} is not one this mcpauth reads ({OLDEST} to {NEWEST})")]
    Unknown(FormatVersion),
    #[error("{what} cannot be written in storage format {format}")]
    NotExpressible {
        what: &'static str,
        format: FormatVersion,
    },
    #[error("snapshot shorter than its format header")]
    Truncated,
    #[error("encoding: {0}")]
    Codec(#[from] bincode::Error),
}

/// How [`FormatError::Newer`] begins; [`FormatError::newer_in`] looks for it.
const NEWER_PREFIX: &str = "written in storage format ";

impl FormatError {
    /// The format named by a [`FormatError::Newer`] somewhere in `message`: bincode keeps an
    /// error raised inside a decoder (the envelope's) only as text, and a caller must still tell
    /// "newer than this binary" (stop the node) from "corrupt" (refuse the message).
    pub fn newer_in(message: &str) -> Option<FormatVersion> {
        message.match_indices(NEWER_PREFIX).find_map(|(at, _)| {
            let rest = &message[at + NEWER_PREFIX.len()..];
            let (number, rest) = rest.split_once(',')?;
            let found: FormatVersion = number.parse().ok()?;
            (rest.starts_with(" newer than") && found > NEWEST).then_some(found)
        })
    }

    fn check_readable(format: FormatVersion) -> Result<(), FormatError> {
        match format {
            f if f > NEWEST => Err(FormatError::Newer { found: f }),
            f if f < OLDEST => Err(FormatError::Unknown(f)),
            _ => Ok(()),
        }
    }
}

/// `state` in the format its cluster version allows (the newest once the cluster runs it, else
/// the older format every member reads, so an older follower can still install it), without
/// the format header: also what status digests are taken of, so nodes of two releases agree
/// on equal states.
pub fn encode_state(state: &State) -> Result<(FormatVersion, Vec<u8>), FormatError> {
    let format = state.cluster_version().min(NEWEST);
    let bytes = match format {
        5 => bincode::serialize(state)?,
        4 => bincode::serialize(&v4::State::from(state.clone()))?,
        3 => bincode::serialize(&v3::State::from(state.clone()))?,
        2 => bincode::serialize(&v2::State::from(state.clone()))?,
        other => {
            return Err(FormatError::NotExpressible {
                what: "a snapshot",
                format: other,
            })
        }
    };
    Ok((format, bytes))
}

/// Whether `command` can be written in `format` (a newer command cannot be written in an older
/// format): checked before proposing, because the log store only finds out when it writes.
pub fn check_writable(
    command: &crate::command::Command,
    format: FormatVersion,
) -> Result<(), FormatError> {
    match format {
        f if f >= NEWEST => Ok(()),
        4 => v4::Command::try_from(command.clone()).map(drop),
        3 => v3::Command::try_from(command.clone()).map(drop),
        _ => v2::Command::try_from(command.clone()).map(drop),
    }
}

/// Snapshot bytes for `state`: its format number (`u32`, little-endian), then
/// [`encode_state`]'s payload.
pub fn encode_snapshot(state: &State) -> Result<Vec<u8>, FormatError> {
    let (format, payload) = encode_state(state)?;
    let mut bytes = Vec::with_capacity(4 + payload.len());
    bytes.extend_from_slice(&format.to_le_bytes());
    bytes.extend_from_slice(&payload);
    Ok(bytes)
}

/// The state in snapshot bytes of any format this binary reads. The format is the first four
/// bytes (little-endian), read before anything else.
pub fn decode_snapshot(bytes: &[u8]) -> Result<State, FormatError> {
    let header: [u8; 4] = bytes
        .get(..4)
        .and_then(|h| h.try_into().ok())
        .ok_or(FormatError::Truncated)?;
    let format = FormatVersion::from_le_bytes(header);
    FormatError::check_readable(format)?;
    let payload = &bytes[4..];
    // Adding format 6 means: `5 => State::from(decode::<v5::State>(..))`, `6 =>` the model.
    Ok(match format {
        1 => State::from(crate::decode::<v1::State>(payload)?),
        2 => State::from(crate::decode::<v2::State>(payload)?),
        3 => State::from(crate::decode::<v3::State>(payload)?),
        4 => State::from(crate::decode::<v4::State>(payload)?),
        5 => crate::decode::<State>(payload)?,
        other => return Err(FormatError::Unknown(other)),
    })
}

/// The format of snapshot bytes, without decoding them (for status and logs).
pub fn snapshot_format(bytes: &[u8]) -> Option<FormatVersion> {
    Some(FormatVersion::from_le_bytes(
        bytes.get(..4)?.try_into().ok()?,
    ))
}
