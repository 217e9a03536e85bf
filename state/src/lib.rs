//! mcpauth's domain, pure: the commands that make up the Raft log, the state they build, and
//! [`State::apply`]. No IO, no clock, no randomness, no openraft: every instant, identifier and
//! secret digest is chosen by the node before proposing and travels in the [`Command`], so every
//! node that applies the same log reaches the same state (DESIGN.md, invariant 1).
//!
//! Single-use decisions (redeeming a code, rotating a refresh token) are made here, inside
//! apply(): the command carries the attempt, and the [`Outcome`] says whether it won.

mod admin;
pub mod audit;
mod clients;
mod command;
mod federation;
pub mod format;
mod model;
mod outcome;
mod refresh;
mod state;

pub use audit::{AuditContext, AuditEvent, AuditOutcome, AuditQuery, AuditRetention, AuditTrail};
pub use command::Command;
pub use federation::{
    Federation, IdentityProvider, LoginSettings, PendingUpstream, Profile, MAX_PENDING_UPSTREAM,
};
pub use format::{FormatError, FormatVersion, VersionedCommand, VersionedOutcome};
pub use model::*;
pub use outcome::{Claims, Outcome, PurgeCounts, Refusal, RevokeCounts};
pub use state::{grant, State, StateCounts};

/// Encode a value in the storage format used for log entries and snapshots.
pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, bincode::Error> {
    bincode::serialize(value)
}

/// Decode a value written by [`encode`].
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::Error> {
    bincode::deserialize(bytes)
}
