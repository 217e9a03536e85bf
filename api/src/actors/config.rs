use std::time::Duration;

use actix::prelude::*;
use mcpauth_state::{
    Command, IdentityProvider, LoginSettings, Outcome, Role, Settings, UnixTime, User,
};

use crate::clock::SharedClock;
use crate::cluster::{Cluster, ProposeError};
use crate::sealer::Sealer;
use crate::server_config::PurgePolicy;
use crate::signer::TokenSigner;
use crate::{passwords, secrets};

/// Cluster configuration: first-start bootstrap (admin user, signing key, settings) and the
/// scheduled purge of expired state, which only the leader proposes.
pub struct ConfigActor {
    cluster: Cluster,
    sealer: Sealer,
    clock: SharedClock,
    purge_every: Duration,
    purge: PurgePolicy,
}

impl ConfigActor {
    pub fn new(
        cluster: Cluster,
        sealer: Sealer,
        clock: SharedClock,
        purge_every: Duration,
        purge: PurgePolicy,
    ) -> Self {
        Self {
            cluster,
            sealer,
            clock,
            purge_every,
            purge,
        }
    }

    fn is_leader(&self) -> bool {
        self.cluster.leadership().is_me()
    }
}

impl Actor for ConfigActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.purge_every, |actor, ctx| {
            if !actor.is_leader() {
                return;
            }
            let cluster = actor.cluster.clone();
            let command = actor.purge.command(actor.clock.now());
            ctx.spawn(
                async move {
                    match cluster.propose(command).await {
                        Ok(Outcome::Purged(counts)) => tracing::debug!(?counts, "purged"),
                        Ok(other) => tracing::warn!(?other, "unexpected purge outcome"),
                        Err(e) => tracing::warn!(error = %e, "purge not proposed"),
                    }
                }
                .into_actor(actor),
            );
        });
    }
}

/// What the first start of a cluster did.
#[derive(Debug, Default)]
pub struct BootstrapReport {
    /// The admin password, when mcpauth chose it (to be shown once).
    pub generated_admin_password: Option<String>,
    pub admin_created: bool,
    pub signing_key_created: bool,
    pub settings_changed: bool,
    pub identity_providers_seeded: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Propose(#[from] ProposeError),
    #[error("bootstrap failed: {0}")]
    Internal(String),
}

/// Make sure the cluster has a signing key, an admin user and the given settings. Idempotent,
/// and safe when several nodes do it at once: apply() refuses the second admin and keeps the
/// first signing key.
#[derive(Message)]
#[rtype(result = "Result<BootstrapReport, BootstrapError>")]
pub struct Bootstrap {
    pub admin_password: Option<String>,
    pub settings: Settings,
    /// The config file's identity providers (validated, secrets sealed) and local-login switch:
    /// applied on the cluster's first start only.
    pub identity_providers: Vec<IdentityProvider>,
    pub local_login: Option<bool>,
}

impl Handler<Bootstrap> for ConfigActor {
    type Result = ResponseFuture<Result<BootstrapReport, BootstrapError>>;

    fn handle(&mut self, msg: Bootstrap, _: &mut Context<Self>) -> Self::Result {
        let cluster = self.cluster.clone();
        let sealer = self.sealer.clone();
        let now: UnixTime = self.clock.now();
        Box::pin(async move {
            let mut report = BootstrapReport::default();
            if cluster.read(|s| s.signing_keys().is_empty()) {
                let key = TokenSigner::generate(&sealer, now, now)
                    .map_err(|e| BootstrapError::Internal(e.to_string()))?;
                if let Outcome::SigningKey { created, .. } =
                    cluster.propose(Command::EnsureSigningKey { key }).await?
                {
                    report.signing_key_created = created;
                }
            }
            if cluster.read(|s| s.user("admin").is_none()) {
                let password = match msg.admin_password {
                    Some(p) => p,
                    None => {
                        let p = secrets::new_secret();
                        report.generated_admin_password = Some(p.clone());
                        p
                    }
                };
                let password_hash = tokio::task::spawn_blocking(move || passwords::hash(&password))
                    .await
                    .map_err(|e| BootstrapError::Internal(e.to_string()))?
                    .map_err(|e| BootstrapError::Internal(e.to_string()))?;
                let user = User {
                    username: "admin".into(),
                    subject: "admin".into(),
                    password_hash,
                    created_at: now,
                    disabled: false,
                    roles: vec![Role::Admin],
                    must_change_password: false,
                };
                report.admin_created =
                    cluster.propose(Command::CreateUser { user }).await? == Outcome::Done;
                if !report.admin_created {
                    report.generated_admin_password = None;
                }
            }
            if !cluster.read(|s| s.federation().seeded()) {
                let seed = Command::SeedIdentityProviders {
                    providers: msg.identity_providers,
                    login: msg
                        .local_login
                        .map(|local_login| LoginSettings { local_login }),
                };
                report.identity_providers_seeded = cluster.propose(seed).await? == Outcome::Done;
            } else if !msg.identity_providers.is_empty() {
                tracing::info!(
                    "identity providers in the config file are not applied: they seed the cluster's first start only; change them with the admin API (PUT /admin/identity-providers/{{id}})"
                );
            }
            if cluster.read(|s| s.settings() != &msg.settings) {
                cluster
                    .propose(Command::SetSettings {
                        settings: msg.settings,
                    })
                    .await?;
                report.settings_changed = true;
            }
            Ok(report)
        })
    }
}
