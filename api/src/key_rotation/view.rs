//! The signing keys as the admin API shows them (`GET /admin/signing-keys`, `mcpauth keys
//! list`): public facts only, never the sealed private part.

use mcpauth_state::{SigningKey, State, UnixTime};
use serde::{Deserialize, Serialize};

use super::policy::{Decision, RotationPolicy};

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPhase {
    /// Published in JWKS, signs nothing yet.
    Pending,
    /// Signs new tokens.
    Active,
    /// Signs nothing more; published until its tokens have expired (`retires_at`).
    Retiring,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub kid: String,
    pub alg: String,
    pub phase: KeyPhase,
    pub created_at: UnixTime,
    pub activates_at: UnixTime,
    pub retires_at: Option<UnixTime>,
}

/// The whole answer: the keys, the clock they were judged at, and the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysView {
    pub now: UnixTime,
    pub keys: Vec<KeyView>,
    pub rotate_every_secs: u64,
    pub publish_before_secs: u64,
    /// When the schedule proposes the next key (None while one is pending, or with no key).
    pub next_rotation_at: Option<UnixTime>,
}

impl KeysView {
    pub fn of(state: &State, policy: &RotationPolicy, now: UnixTime) -> Self {
        let active = state.active_signing_key(now).map(|k| k.kid.as_str());
        let keys = state
            .signing_keys()
            .iter()
            .map(|k| KeyView::of(k, active == Some(k.kid.as_str()), now))
            .collect();
        let next_rotation_at = match policy.decide(state.signing_keys(), now) {
            Decision::NotDue { due_at } => Some(due_at),
            Decision::Due => Some(now),
            Decision::Pending { .. } | Decision::NoKey => None,
        };
        Self {
            now,
            keys,
            rotate_every_secs: policy.rotate_every,
            publish_before_secs: policy.publish_before,
            next_rotation_at,
        }
    }
}

impl KeyView {
    fn of(key: &SigningKey, active: bool, now: UnixTime) -> Self {
        let phase = if active {
            KeyPhase::Active
        } else if key.activates_at > now {
            KeyPhase::Pending
        } else {
            KeyPhase::Retiring
        };
        Self {
            kid: key.kid.clone(),
            alg: key.alg.clone(),
            phase,
            created_at: key.created_at,
            activates_at: key.activates_at,
            retires_at: key.retires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use mcpauth_state::Command;

    use super::*;
    use crate::key_rotation::test_key as key;

    #[test]
    fn each_key_shows_its_phase_as_time_passes() {
        let policy = RotationPolicy {
            rotate_every: 1000,
            publish_before: 100,
            max_token_lifetime: 60,
        };
        let mut state = State::default();
        state.apply(&Command::EnsureSigningKey {
            key: key("a", 0, 0),
        });
        state.apply(&Command::AddSigningKey {
            key: key("b", 1000, 1100),
            retire_previous_at: 1175,
        });
        let phases = |now| {
            let view = KeysView::of(&state, &policy, now);
            let phases: Vec<(String, KeyPhase)> =
                view.keys.into_iter().map(|k| (k.kid, k.phase)).collect();
            (phases, view.next_rotation_at)
        };
        use KeyPhase::*;
        assert_eq!(
            phases(1050),
            (vec![("a".into(), Active), ("b".into(), Pending)], None)
        );
        assert_eq!(
            phases(1100),
            (
                vec![("a".into(), Retiring), ("b".into(), Active)],
                Some(2000)
            )
        );
        let view = KeysView::of(&state, &policy, 1100);
        assert_eq!(view.keys[0].retires_at, Some(1175));
        assert_eq!(view.keys[1].retires_at, None);
    }
}
