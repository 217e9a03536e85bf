//! When the next signing key is due, and the instants it carries: pure functions of the keys in
//! the replicated state, the policy and the time, so the schedule is tested without a cluster.
//!
//! The schedule is judged from the state alone (never from what this node remembers having
//! proposed): a new leader that takes over mid-rotation sees the key its predecessor added, or
//! the entry was lost with that leader's term and proposing again is right.

use std::time::Duration;

use mcpauth_state::{SigningKey, UnixTime};

/// Default interval between two keys: 30 days.
pub const DEFAULT_ROTATE_EVERY_SECS: u64 = 30 * 24 * 3600;
/// Default time a new key is published in JWKS before it signs: 24 hours.
pub const DEFAULT_PUBLISH_BEFORE_SECS: u64 = 24 * 3600;
/// Added to the retirement of the previous key: nodes' clocks differ a little, so a node whose
/// clock is behind may sign with the previous key slightly after the new key's activation.
/// Covers clocks up to 15 s apart (NTP keeps a cluster's within milliseconds).
pub const CLOCK_SKEW_ALLOWANCE_SECS: u64 = 15;
/// How long JWKS may be cached (`Cache-Control: max-age`) at most.
pub const JWKS_MAX_AGE_SECS: u64 = 300;

/// How keys rotate (`[signing_keys]` in the config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// A new key is proposed once the newest key is this old.
    pub rotate_every: u64,
    /// A new key is published this long before it signs anything.
    pub publish_before: u64,
    /// The longest lifetime of anything signed (the access token lifetime: no ID tokens).
    pub max_token_lifetime: u64,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self {
            rotate_every: DEFAULT_ROTATE_EVERY_SECS,
            publish_before: DEFAULT_PUBLISH_BEFORE_SECS,
            max_token_lifetime: 3600,
        }
    }
}

/// What the schedule says at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The cluster has no key yet: the first start's bootstrap makes one.
    NoKey,
    /// A key is published but does not sign yet: nothing to do until it activates.
    Pending { kid: String, activates_at: UnixTime },
    /// The newest key is younger than the interval.
    NotDue { due_at: UnixTime },
    /// Time for a new key.
    Due,
}

/// The instants of a key proposed at some `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub created_at: UnixTime,
    pub activates_at: UnixTime,
    /// When every older key is dropped: the last token it can have signed has expired by then.
    pub retire_previous_at: UnixTime,
}

impl RotationPolicy {
    /// Whether a key should be proposed now, from the keys in the state (in the order they
    /// were added: the newest last).
    pub fn decide(&self, keys: &[SigningKey], now: UnixTime) -> Decision {
        if let Some(pending) = pending(keys, now) {
            return Decision::Pending {
                kid: pending.kid.clone(),
                activates_at: pending.activates_at,
            };
        }
        let Some(newest) = keys.iter().max_by_key(|k| k.created_at) else {
            return Decision::NoKey;
        };
        let due_at = newest.created_at.saturating_add(self.rotate_every);
        if now >= due_at {
            Decision::Due
        } else {
            Decision::NotDue { due_at }
        }
    }

    /// The instants of a key made at `now`.
    pub fn plan(&self, now: UnixTime) -> Plan {
        let activates_at = now.saturating_add(self.publish_before);
        Plan {
            created_at: now,
            activates_at,
            retire_previous_at: activates_at
                .saturating_add(self.max_token_lifetime)
                .saturating_add(CLOCK_SKEW_ALLOWANCE_SECS),
        }
    }

    /// How often the leader looks at the schedule: often enough to propose within a small
    /// part of the publish window, and to drop retired keys promptly.
    pub fn check_every(&self) -> Duration {
        Duration::from_secs((self.publish_before / 4).clamp(1, 60))
    }

    /// JWKS `max-age`: below the publish window, so a resource server that honours it has
    /// fetched the next key before that key signs anything.
    pub fn jwks_max_age(&self) -> u64 {
        (self.publish_before / 2).min(JWKS_MAX_AGE_SECS)
    }

    /// Why this policy cannot work, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if self.publish_before == 0 {
            return Some(
                "signing_keys.publish_before_secs must be positive: resource servers must see a \
                 key before it signs"
                    .into(),
            );
        }
        if self.rotate_every <= self.publish_before {
            return Some(format!(
                "signing_keys.rotate_every_secs ({}) must be longer than publish_before_secs ({})",
                self.rotate_every, self.publish_before
            ));
        }
        None
    }
}

/// A key that is published but does not sign yet at `now`, if any.
pub fn pending(keys: &[SigningKey], now: UnixTime) -> Option<&SigningKey> {
    keys.iter().find(|k| k.activates_at > now)
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::key_rotation::test_key as key;

    fn policy() -> RotationPolicy {
        RotationPolicy {
            rotate_every: 1000,
            publish_before: 100,
            max_token_lifetime: 60,
        }
    }

    #[test]
    fn no_key_is_left_to_the_bootstrap() {
        assert_eq!(policy().decide(&[], 5), Decision::NoKey);
    }

    #[test]
    fn due_once_the_newest_key_is_as_old_as_the_interval() {
        let keys = [key("a", 10, 10)];
        assert_eq!(
            policy().decide(&keys, 1009),
            Decision::NotDue { due_at: 1010 }
        );
        assert_eq!(policy().decide(&keys, 1010), Decision::Due);
        assert_eq!(policy().decide(&keys, 5000), Decision::Due);
    }

    #[test]
    fn the_newest_key_counts_not_the_first() {
        let keys = [key("a", 0, 0), key("b", 2000, 2100)];
        assert_eq!(
            policy().decide(&keys, 2500),
            Decision::NotDue { due_at: 3000 }
        );
    }

    #[test]
    fn a_pending_key_holds_the_next_rotation_until_it_activates() {
        // A key added by a previous leader (or by hand) blocks another until it activates.
        let keys = [key("a", 0, 0), key("b", 5000, 5100)];
        assert_eq!(
            policy().decide(&keys, 5050),
            Decision::Pending {
                kid: "b".into(),
                activates_at: 5100
            }
        );
        assert_eq!(
            policy().decide(&keys, 5100),
            Decision::NotDue { due_at: 6000 }
        );
    }

    #[test]
    fn the_plan_publishes_first_and_retires_after_the_last_token_expires() {
        let plan = policy().plan(500);
        assert_eq!(plan.created_at, 500);
        assert_eq!(plan.activates_at, 600);
        assert_eq!(
            plan.retire_previous_at,
            600 + 60 + CLOCK_SKEW_ALLOWANCE_SECS
        );
    }

    #[test]
    fn policies_that_cannot_work_are_named() {
        assert!(policy().problem().is_none());
        let none_published = RotationPolicy {
            publish_before: 0,
            ..policy()
        };
        assert!(none_published.problem().is_some());
        let too_often = RotationPolicy {
            rotate_every: 100,
            ..policy()
        };
        assert!(too_often.problem().unwrap().contains("rotate_every_secs"));
    }

    #[test]
    fn jwks_is_cached_for_less_than_the_publish_window() {
        assert_eq!(policy().jwks_max_age(), 50);
        assert_eq!(RotationPolicy::default().jwks_max_age(), JWKS_MAX_AGE_SECS);
        assert_eq!(
            RotationPolicy::default().check_every(),
            Duration::from_secs(60)
        );
        let short = RotationPolicy {
            publish_before: 3,
            ..policy()
        };
        assert_eq!(short.check_every(), Duration::from_secs(1));
    }
}
