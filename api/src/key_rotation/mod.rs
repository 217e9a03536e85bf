//! Signing-key rotation through the log (issue 10).
//!
//! A key's life: proposed by the leader (on schedule, or when an operator asks) with
//! `activates_at = now + publish_before`; published in JWKS from then on, so resource servers
//! that cache JWKS fetch it before it signs anything; the active key from `activates_at`
//! (`State::active_signing_key`, read by every node's token signer with its own clock); then
//! retiring, still published, until every token it signed has expired
//! (`retire_previous_at = activates_at + the longest token lifetime + a clock-skew
//! allowance`); then dropped by a purge.
//!
//! - [`policy`]: the schedule as pure functions (due or not, the instants of a new key);
//! - [`rotator`]: the one path that proposes a key, and why it adds at most one at a time;
//! - [`view`]: what `mcpauth keys list` shows.

pub mod policy;
pub mod rotator;
pub mod view;

pub use policy::{Decision, Plan, RotationPolicy};
pub use rotator::{KeyRotator, RotateError, Trigger};
pub use view::{KeyPhase, KeyView, KeysView};

/// A key record for the unit tests of this module (its private part is never used).
#[cfg(test)]
pub(crate) fn test_key(
    kid: &str,
    created_at: mcpauth_state::UnixTime,
    activates_at: mcpauth_state::UnixTime,
) -> mcpauth_state::SigningKey {
    mcpauth_state::SigningKey {
        kid: kid.into(),
        alg: "ES256".into(),
        public_key: vec![4],
        sealed_private_key: mcpauth_state::Sealed {
            nonce: [0; 12],
            ciphertext: Vec::new(),
        },
        created_at,
        activates_at,
        retires_at: None,
    }
}
