//! Proposing the next signing key: the one path both the leader's schedule and an operator's
//! `mcpauth keys rotate` take.
//!
//! apply() accepts any new key, so the uniqueness of a rotation is kept here, by three rules:
//! - only the leader proposes (an operator's request is relayed to it);
//! - on the leader, one rotation at a time (a lock), each deciding after a linearizable read:
//!   the state then holds everything committed so far, including a key a previous leader
//!   added in its last moments (entries that never reach the new leader cannot commit);
//! - the decision comes from the state only (a key pending activation blocks the next one).
//!
//! A retried proposal is the same key (same kid), which apply() recognises.

use std::sync::Arc;

use mcpauth_state::{Command, Outcome, SigningKey, UnixTime};
use tokio::sync::Mutex;

use super::policy::{Decision, RotationPolicy};
use crate::clock::SharedClock;
use crate::cluster::{Cluster, ProposeError};
use crate::sealer::Sealer;
use crate::server_config::PurgePolicy;
use crate::signer::TokenSigner;

/// The storage format that carries [`Command::AddSigningKey`].
pub const ROTATION_FORMAT: u32 = 4;

/// Who asked for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The leader's schedule: only when due.
    Schedule,
    /// An operator: now, whatever the schedule says (still published before it signs).
    Operator,
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(
        "the cluster cannot record a key rotation yet (cluster version {0}, rotation needs \
         {ROTATION_FORMAT}): it is raised once every node runs a release that reads it"
    )]
    ClusterTooOld(u32),
    #[error(
        "key {kid} is already published and starts signing at {activates_at} (Unix time): \
         rotate again once it signs"
    )]
    Pending { kid: String, activates_at: UnixTime },
    #[error("the cluster has no signing key yet (it is made at the first start)")]
    NoKey,
    #[error(transparent)]
    Propose(#[from] ProposeError),
    #[error("cannot make a key: {0}")]
    Key(String),
    #[error("unexpected outcome {0}")]
    Unexpected(String),
}

/// The node's rotation machinery; cheap to clone, one lock per node.
#[derive(Clone)]
pub struct KeyRotator {
    cluster: Cluster,
    sealer: Sealer,
    clock: SharedClock,
    policy: RotationPolicy,
    /// The scheduled purge's policy, for the purge that drops a retired key on time.
    purge: PurgePolicy,
    lock: Arc<Mutex<()>>,
}

impl std::fmt::Debug for KeyRotator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRotator")
            .field("policy", &self.policy)
            .finish()
    }
}

impl KeyRotator {
    pub fn new(
        cluster: Cluster,
        sealer: Sealer,
        clock: SharedClock,
        policy: RotationPolicy,
        purge: PurgePolicy,
    ) -> Self {
        Self {
            cluster,
            sealer,
            clock,
            policy,
            purge,
            lock: Arc::new(Mutex::new(())),
        }
    }

    pub fn policy(&self) -> &RotationPolicy {
        &self.policy
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// Add a key if `trigger` calls for one now: Some(key) when one was added. Call on the
    /// leader (a follower's proposal would be forwarded, but its lock guards nothing there).
    pub async fn rotate(&self, trigger: Trigger) -> Result<Option<SigningKey>, RotateError> {
        let _one_at_a_time = self.lock.lock().await;
        self.rotate_locked(trigger).await
    }

    /// The schedule's turn: skipped while another rotation is in progress here.
    pub async fn tick(&self) -> Result<Option<SigningKey>, RotateError> {
        let Ok(_one_at_a_time) = self.lock.try_lock() else {
            return Ok(None);
        };
        self.drop_retired().await?;
        self.rotate_locked(Trigger::Schedule).await
    }

    async fn rotate_locked(&self, trigger: Trigger) -> Result<Option<SigningKey>, RotateError> {
        // Linearizable: every committed rotation is visible before deciding.
        self.cluster.sync_if_missing(|_| false).await?;
        let version = self.cluster.read(|s| s.cluster_version());
        if version < ROTATION_FORMAT {
            return Err(RotateError::ClusterTooOld(version));
        }
        let now = self.clock.now();
        let decision = self
            .cluster
            .read(|s| self.policy.decide(s.signing_keys(), now));
        match (decision, trigger) {
            (Decision::NoKey, _) => return Err(RotateError::NoKey),
            (Decision::Pending { kid, activates_at }, Trigger::Operator) => {
                return Err(RotateError::Pending { kid, activates_at })
            }
            (Decision::Pending { .. } | Decision::NotDue { .. }, Trigger::Schedule) => {
                return Ok(None)
            }
            (Decision::Due, _) | (Decision::NotDue { .. }, Trigger::Operator) => {}
        }
        let plan = self.policy.plan(now);
        let key = TokenSigner::generate(&self.sealer, plan.created_at, plan.activates_at)
            .map_err(|e| RotateError::Key(e.to_string()))?;
        let command = Command::AddSigningKey {
            key: key.clone(),
            retire_previous_at: plan.retire_previous_at,
        };
        match self.cluster.propose(command).await? {
            Outcome::SigningKey { key: added, .. } if added.kid == key.kid => {
                tracing::info!(
                    kid = %key.kid,
                    ?trigger,
                    activates_at = plan.activates_at,
                    retire_previous_at = plan.retire_previous_at,
                    "signing key added: published now, signs from activates_at"
                );
                Ok(Some(added))
            }
            other => Err(RotateError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Propose a purge once a key's retirement instant has passed, so JWKS stops publishing it
    /// within one schedule check rather than at the next general purge.
    async fn drop_retired(&self) -> Result<(), RotateError> {
        let now = self.clock.now();
        let retired = self.cluster.read(|s| {
            s.signing_keys()
                .iter()
                .any(|k| k.retires_at.is_some_and(|at| at <= now))
        });
        if retired {
            self.cluster.propose(self.purge.command(now)).await?;
            tracing::info!("retired signing keys dropped");
        }
        Ok(())
    }
}
