//! Starting a node: keys, stores, the Raft runtime, the internal and public HTTP servers, the
//! actors, and the first start of a new cluster.
//!
//! Raft gets its own multi-threaded tokio runtime (DESIGN.md: `Raft::new` spawns onto the
//! runtime current at the call, and must not live inside one HTTP worker). actix runs the
//! actors and both HTTP servers on its own system; the two sides share only cloneable handles.
//! The internal server starts first: peers need it to elect a leader, before anything can be
//! written.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use actix_web::{web, App, HttpServer};
use mcpauth_api::actors::{Bootstrap, ConfigActor, KeyRotationActor};
use mcpauth_api::app::NodeContext;
use mcpauth_api::clock::SystemClock;
use mcpauth_api::internal::{configure_internal, InternalState};
use mcpauth_api::key_rotation::KeyRotator;
use mcpauth_api::oauth::configured_client::{configured_clients, seed_when_possible};
use mcpauth_api::{AppState, Cluster, ServerConfig};
use mcpauth_client_metadata::ClientMetadataResolver;
use mcpauth_crypto::{Sealer, SignerCache};
use mcpauth_federation::config::ProviderSpec;
use mcpauth_federation::Upstreams;
use mcpauth_raft::{BasicNode, Forwarder, Halt, NetworkFactory, Proposer, Raft};
use mcpauth_state::IdentityProvider;

use crate::secret_files;
use crate::settings::Settings;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Setup(String),
    #[error("HTTP server: {0}")]
    Io(#[from] std::io::Error),
    /// The node stopped itself ([`Halt`]): serving on would be wrong.
    #[error("stopped: {0}")]
    Halted(String),
}

fn setup<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ServeError {
    move |e| ServeError::Setup(format!("{what}: {e}"))
}

pub fn serve(settings: Settings) -> Result<(), ServeError> {
    std::fs::create_dir_all(&settings.data_dir)
        .map_err(setup("cannot create the data directory"))?;
    let seal_key = secret_files::seal_key(&settings.seal_key_file, settings.members.len() > 1)
        .map_err(setup("seal key"))?;
    let sealer = Sealer::new(&seal_key).map_err(setup("seal key"))?;
    let secret =
        secret_files::cluster_secret(&settings.cluster_secret_file, settings.members.len() > 1)
            .map_err(setup("cluster secret"))?;

    let raft_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("raft")
        .enable_all()
        .build()
        .map_err(setup("raft runtime"))?;
    let halt = Halt::new();
    let cluster = raft_runtime.block_on(start_raft(&settings, &secret, &halt))?;
    let raft = cluster.raft().clone();

    let system = actix_web::rt::System::new();
    let result = system.block_on(run(settings, cluster, sealer, secret, halt));
    raft_runtime.block_on(async {
        if let Err(e) = raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    });
    result
}

async fn start_raft(settings: &Settings, secret: &str, halt: &Halt) -> Result<Cluster, ServeError> {
    let (log_store, state_machine) =
        mcpauth_raft::open_stores(&settings.data_dir).map_err(setup("opening the stores"))?;
    let view = state_machine.view();
    let config = Arc::new(
        mcpauth_raft::raft_config(&mcpauth_raft::RaftTuning {
            snapshot_every_entries: settings.snapshot_every,
            keep_entries_behind_snapshot: (settings.snapshot_every / 10).max(5),
            ..mcpauth_raft::RaftTuning::default()
        })
        .map_err(setup("raft config"))?,
    );
    let source_ip = settings
        .raft_listen
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| a.ip());
    let network =
        NetworkFactory::new(secret.to_owned(), source_ip).map_err(setup("raft network"))?;
    let raft = Raft::new(
        settings.node_id,
        config,
        network.clone(),
        log_store,
        state_machine,
    )
    .await
    .map_err(setup("starting raft"))?;
    // Spawned here, on the Raft runtime, like Raft's own tasks.
    halt.on_raft_error(&raft);
    let proposer = Proposer::start(raft.clone(), view.clone());
    let forwarder = Forwarder::start(network.cluster_client(), view.clone());
    let cluster = Cluster::new(raft, view, network.cluster_client(), proposer, forwarder);
    mcpauth_raft::start_raising(&cluster);
    Ok(cluster)
}

fn server_config(settings: &Settings) -> ServerConfig {
    let mut config = ServerConfig::new(settings.issuer.clone());
    config.access_token_ttl = settings.access_token_ttl;
    config.refresh_idle_ttl = settings.refresh_token_ttl;
    config.refresh_reuse = settings.refresh_reuse;
    config.scopes_supported = settings.scopes.clone();
    config.default_scopes = settings.default_scopes.clone();
    config.registration = settings.registration.clone();
    config.key_rotation = settings.key_rotation;
    config
}

async fn run(
    settings: Settings,
    cluster: Cluster,
    sealer: Sealer,
    secret: String,
    halt: Halt,
) -> Result<(), ServeError> {
    let clock = SystemClock::shared();
    // The file's providers are checked at every start, so a mistake is reported at once even
    // when they only seed the cluster's first start.
    let identity_providers = settings
        .identity_providers
        .iter()
        .cloned()
        .map(|value| {
            ProviderSpec::from_json(value)
                .map_err(|e| e.to_string())
                .and_then(|spec| {
                    let id = spec.id.clone();
                    spec.into_stored(&sealer, clock.now())
                        .map_err(|e| format!("{id}: {e}"))
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServeError::Setup(format!("identity_provider {e}")))?;
    let clients = configured_clients(
        settings.clients.clone(),
        &settings.allowed_redirect_schemes,
        clock.now(),
    )
    .map_err(|e| ServeError::Setup(e.to_string()))?;
    let upstreams = Upstreams::new(settings.upstream_limits, sealer.clone(), &settings.issuer)
        .map_err(|e| ServeError::Setup(format!("upstream HTTP client: {e}")))?;
    let key_rotator = KeyRotator::new(
        cluster.clone(),
        sealer.clone(),
        clock.clone(),
        settings.key_rotation,
        server_config(&settings).purge_policy(),
    );
    // Reads extra_ca_file now, so a bad file stops the start-up with its reason.
    let client_metadata = Arc::new(
        ClientMetadataResolver::new(settings.client_metadata.clone())
            .map_err(|e| ServeError::Setup(e.to_string()))?,
    );
    let internal_state = web::Data::new(InternalState {
        cluster: cluster.clone(),
        secret,
        sealer: sealer.clone(),
        halt: halt.clone(),
        clock: clock.clone(),
        keys: key_rotator.clone(),
    });
    let internal = HttpServer::new(move || {
        App::new()
            .app_data(internal_state.clone())
            .configure(configure_internal)
    })
    .workers(1)
    .bind(&settings.raft_listen)?
    .run();
    tracing::info!(node = settings.node_id, internal = %settings.raft_listen, advertised = %settings.raft_advertise, "internal server listening");

    actix_web::rt::spawn(initialise_if_new(cluster.clone(), settings.clone()));
    actix_web::rt::spawn(seed_when_possible(cluster.clone(), clients));

    if settings.resources.is_empty() {
        tracing::warn!("no --resource configured: tokens will be issued for any resource a client names (and for the issuer itself when it names none); this is for trying mcpauth out, not for production");
    }
    if !settings.registration.is_open() {
        tracing::info!("dynamic client registration is off: /register answers 403 and discovery omits registration_endpoint");
    }
    let config = server_config(&settings);
    let config_actor = ConfigActor::new(
        cluster.clone(),
        sealer.clone(),
        clock.clone(),
        Duration::from_secs(60),
        config.purge_policy(),
    )
    .start();
    // The leader's signing-key schedule (every node runs the timer; the leader acts).
    KeyRotationActor::new(key_rotator).start();
    let bootstrapped = Arc::new(AtomicBool::new(false));
    actix_web::rt::spawn(bootstrap(
        config_actor.clone(),
        settings.clone(),
        identity_providers,
        bootstrapped.clone(),
    ));

    // Each worker gets its own clients, codes and sessions actors (AppState::for_worker); the
    // config actor runs the purge schedule and stays one per node.
    let node = NodeContext {
        signer: SignerCache::new(sealer.clone()),
        config_actor,
        sealer,
        upstreams,
        cluster,
        config,
        clock,
        bootstrapped,
        client_metadata,
    };
    tracing::info!(node = settings.node_id, listen = %settings.listen, issuer = %node.config.issuer, "serving");
    let public =
        HttpServer::new(move || mcpauth_api::app::app(web::Data::new(AppState::for_worker(&node))))
            .bind(&settings.listen)?
            .run();
    // Both servers stop on SIGTERM/SIGINT (each handles the signal); wait for both, unless the
    // node must stop first.
    let handles = [internal.handle(), public.handle()];
    let servers = futures::future::join(internal, public);
    let halted = halt.halted();
    futures::pin_mut!(halted);
    match futures::future::select(servers, halted).await {
        futures::future::Either::Left(((internal_result, public_result), _)) => {
            internal_result?;
            public_result?;
            Ok(())
        }
        futures::future::Either::Right((reason, servers)) => {
            // The servers stop only while they are polled.
            let stopping = futures::future::join_all(handles.iter().map(|h| h.stop(false)));
            let (_, (internal_result, public_result)) =
                futures::future::join(stopping, servers).await;
            for e in [internal_result.err(), public_result.err()]
                .into_iter()
                .flatten()
            {
                tracing::warn!(error = %e, "HTTP server, while stopping");
            }
            Err(ServeError::Halted(reason))
        }
    }
}

/// On the first start of a new cluster, initialise it with every configured node as a voter,
/// unless a peer says the cluster already exists (then this node waits to be caught up or
/// added). Several nodes initialising at once with the same members is safe in openraft.
async fn initialise_if_new(cluster: Cluster, settings: Settings) {
    match cluster.raft().is_initialized().await {
        Ok(true) => return,
        Ok(false) => {}
        Err(e) => {
            tracing::error!(error = %e, "raft unavailable");
            return;
        }
    }
    for peer in settings.members.iter().filter(|m| m.id != settings.node_id) {
        let answer = cluster
            .client()
            .json(
                mcpauth_raft::reqwest::Method::GET,
                &peer.raft,
                "/cluster/status?digest=false",
                None,
                Duration::from_secs(1),
            )
            .await;
        if let Ok((200, status)) = answer {
            if status.get("initialized").and_then(|v| v.as_bool()) == Some(true) {
                tracing::info!(
                    peer = peer.id,
                    "the cluster exists: waiting to be caught up or added"
                );
                return;
            }
        }
    }
    if !settings.members.iter().any(|m| m.id == settings.node_id) {
        return;
    }
    let members: BTreeMap<u64, BasicNode> = settings
        .members
        .iter()
        .map(|m| (m.id, BasicNode::new(m.raft.clone())))
        .collect();
    tracing::info!(voters = ?members.keys().collect::<Vec<_>>(), "initialising a new cluster");
    if let Err(e) = cluster.raft().initialize(members).await {
        // Another node initialised it first, or this one already was: both are fine.
        tracing::info!(error = %e, "initialisation not needed");
    }
}

/// Make sure the cluster has its signing key, the admin user and these settings, retrying
/// until a leader is available.
async fn bootstrap(
    config_actor: Addr<ConfigActor>,
    settings: Settings,
    identity_providers: Vec<IdentityProvider>,
    done: Arc<AtomicBool>,
) {
    let admin_password = std::env::var("MCPAUTH_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    loop {
        let message = Bootstrap {
            admin_password: admin_password.clone(),
            settings: mcpauth_state::Settings {
                resources: settings.resources.clone(),
                allowed_redirect_schemes: settings.allowed_redirect_schemes.clone(),
            },
            identity_providers: identity_providers.clone(),
            local_login: settings.local_login,
        };
        match config_actor.send(message).await {
            Ok(Ok(report)) => {
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
                if report.identity_providers_seeded {
                    tracing::info!(
                        count = identity_providers.len(),
                        "identity providers loaded from the config file (first start)"
                    );
                }
                done.store(true, Ordering::Release);
                return;
            }
            Ok(Err(e)) => tracing::info!(error = %e, "bootstrap waits for the cluster"),
            Err(e) => {
                tracing::error!(error = %e, "config actor gone");
                return;
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    }
}
