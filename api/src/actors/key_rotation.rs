//! The leader's key-rotation schedule: every `check_every`, on the leader only, ask the
//! [`KeyRotator`] whether a key is due (and drop keys whose tokens have all expired). Every
//! node runs the timer; leadership is judged at each tick, so the schedule follows the leader.

use actix::prelude::*;

use crate::key_rotation::{KeyRotator, RotateError};

pub struct KeyRotationActor {
    rotator: KeyRotator,
}

impl KeyRotationActor {
    pub fn new(rotator: KeyRotator) -> Self {
        Self { rotator }
    }
}

impl Actor for KeyRotationActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.rotator.policy().check_every(), |actor, ctx| {
            if !actor.rotator.cluster().leadership().is_me() {
                return;
            }
            let rotator = actor.rotator.clone();
            ctx.spawn(
                async move {
                    match rotator.tick().await {
                        Ok(Some(key)) => {
                            tracing::info!(kid = %key.kid, "scheduled signing-key rotation")
                        }
                        Ok(None) => {}
                        // Normal until the first start's bootstrap or the version raise is done.
                        Err(e @ (RotateError::NoKey | RotateError::ClusterTooOld(_))) => {
                            tracing::debug!(error = %e, "key rotation waits")
                        }
                        Err(e) => tracing::warn!(error = %e, "key rotation not proposed"),
                    }
                }
                .into_actor(actor),
            );
        });
    }
}
