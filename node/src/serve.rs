//! Starting a node: stores, the Raft runtime, the actors and the HTTP server.
//!
//! Raft gets its own multi-threaded tokio runtime (DESIGN.md: `Raft::new` spawns onto the
//! runtime current at the call, and must not live inside one HTTP worker). actix runs the
//! actors and the HTTP workers on its own system; both sides share only cloneable handles.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_web::{web, App, HttpServer};
use mcpauth_api::actors::{Bootstrap, ClientsActor, CodesActor, ConfigActor, SessionsActor};
use mcpauth_api::{AppState, Cluster, Sealer, ServerConfig, SignerCache};
use mcpauth_raft::{BasicNode, Raft};

use crate::seal_key;
use crate::settings::Settings;

/// This is the only node of a one-node cluster (multi-node membership comes from cluster.toml).
const NODE_ID: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Setup(String),
    #[error("HTTP server: {0}")]
    Io(#[from] std::io::Error),
}

fn setup<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ServeError {
    move |e| ServeError::Setup(format!("{what}: {e}"))
}

pub fn serve(settings: Settings) -> Result<(), ServeError> {
    std::fs::create_dir_all(&settings.data_dir)
        .map_err(setup("cannot create the data directory"))?;
    let seal_key = seal_key::load_or_create(&settings.seal_key_file).map_err(setup("seal key"))?;
    let sealer = Sealer::new(&seal_key).map_err(setup("seal key"))?;

    let raft_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("raft")
        .enable_all()
        .build()
        .map_err(setup("raft runtime"))?;
    let (raft, view) = raft_runtime.block_on(start_raft(&settings))?;
    let cluster = Cluster::new(raft.clone(), view);

    if settings.resources.is_empty() {
        tracing::warn!("no --resource configured: tokens will be issued for any resource a client names; this is for trying mcpauth out, not for production");
    }
    let mut config = ServerConfig::new(settings.issuer.clone());
    config.access_token_ttl = settings.access_token_ttl;
    config.refresh_idle_ttl = settings.refresh_token_ttl;
    config.scopes_supported = settings.scopes.clone();

    let system = actix_web::rt::System::new();
    let result = system.block_on(run_http(settings, config, cluster, sealer));
    raft_runtime.block_on(async {
        if let Err(e) = raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    });
    result
}

async fn start_raft(settings: &Settings) -> Result<(Raft, mcpauth_raft::StateView), ServeError> {
    let (log_store, state_machine) =
        mcpauth_raft::open_stores(&settings.data_dir).map_err(setup("opening the stores"))?;
    let view = state_machine.view();
    let config = Arc::new(
        mcpauth_raft::raft_config(&mcpauth_raft::RaftTuning::default())
            .map_err(setup("raft config"))?,
    );
    let network =
        mcpauth_raft::NetworkFactory::new(String::new()).map_err(setup("raft network"))?;
    let raft = Raft::new(NODE_ID, config, network, log_store, state_machine)
        .await
        .map_err(setup("starting raft"))?;
    if !raft.is_initialized().await.map_err(setup("raft"))? {
        tracing::info!("initialising a new one-node cluster");
        let members = BTreeMap::from([(NODE_ID, BasicNode::new(settings.listen.clone()))]);
        raft.initialize(members)
            .await
            .map_err(setup("initialising the cluster"))?;
    }
    raft.wait(Some(Duration::from_secs(30)))
        .metrics(|m| m.current_leader.is_some(), "a leader is elected")
        .await
        .map_err(setup("waiting for a leader"))?;
    Ok((raft, view))
}

async fn run_http(
    settings: Settings,
    config: ServerConfig,
    cluster: Cluster,
    sealer: Sealer,
) -> Result<(), ServeError> {
    let config_actor = ConfigActor::new(
        cluster.clone(),
        sealer.clone(),
        Duration::from_secs(60),
        config.unclaimed_client_ttl,
    )
    .start();
    let report = config_actor
        .send(Bootstrap {
            admin_password: std::env::var("MCPAUTH_ADMIN_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty()),
            settings: mcpauth_state::Settings {
                resources: settings.resources.clone(),
                allowed_redirect_schemes: settings.allowed_redirect_schemes.clone(),
            },
        })
        .await
        .map_err(setup("bootstrap"))?
        .map_err(setup("bootstrap"))?;
    if report.admin_created {
        match &report.generated_admin_password {
            // Shown once, on stderr, and never logged.
            Some(password) => eprintln!("\nmcpauth: created user 'admin' with password: {password}\n(set MCPAUTH_ADMIN_PASSWORD before the first start to choose it)\n"),
            None => tracing::info!("created user 'admin' with the password from MCPAUTH_ADMIN_PASSWORD"),
        }
    }
    if report.signing_key_created {
        tracing::info!("created the cluster's signing key");
    }
    let state = web::Data::new(AppState {
        signer: SignerCache::new(sealer),
        clients: ClientsActor::new(cluster.clone()).start(),
        codes: CodesActor::new(cluster.clone()).start(),
        sessions: SessionsActor::new(cluster.clone()).start(),
        config_actor,
        cluster,
        config,
    });
    tracing::info!(listen = %settings.listen, issuer = %state.config.issuer, "serving");
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(mcpauth_api::configure)
    })
    .bind(&settings.listen)?
    .run()
    .await?;
    Ok(())
}
