//! In-process test harness (feature `testing`): one node with a real Raft on sled in a
//! temporary directory, the real actors and routes, and a pinned clock, driven through
//! actix-web's test service. For route-level tests that need no process: they start in
//! milliseconds, and a test can move time (expire a code) without waiting.
//!
//! ```ignore
//! let node = TestNode::start().await;
//! let client = node.client().await;           // actix-web's test service over the real app
//! let answer = client.post_form("/token", &[("grant_type", "password")]).await;
//! node.clock.advance(61);
//! ```
//! Raft runs on its own tokio runtime, as in the binary (DESIGN.md: `Raft::new` spawns onto the
//! runtime current at the call); the actors and the app run on the test's actix system. Tests
//! that need processes (SIGKILL, restarts, partitions) stay in `tests/`.

mod browser;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_web::web;
use mcpauth_client_metadata::{ClientMetadataConfig, ClientMetadataResolver};
use mcpauth_raft::{BasicNode, Forwarder, NetworkFactory, Proposer, Raft};
use mcpauth_state::{Settings, UnixTime};

pub use browser::{pkce, query_of, Answer, TestClient};

use crate::actors::{Bootstrap, ConfigActor};
use crate::app::{AppState, NodeContext};
use crate::clock::FixedClock;
use crate::cluster::Cluster;
use crate::server_config::ServerConfig;
use crate::signer_cache::SignerCache;
use crate::upstream::{OutboundLimits, Upstreams};
use crate::Sealer;

/// The resource a default test node protects.
pub const RESOURCE: &str = "http://127.0.0.1:9/mcp";
/// A loopback redirect URI (any port matches it).
pub const REDIRECT_URI: &str = "http://127.0.0.1:7777/callback";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const ISSUER: &str = "http://127.0.0.1:8080";
/// Where a test node's clock starts (2033-05-18): far from the wall clock on purpose, so a
/// path that reads the wall clock instead of the app state's shows up as a wrong answer.
pub const T0: UnixTime = 2_000_000_000;

/// How to start a [`TestNode`].
#[derive(Debug, Clone)]
pub struct Options {
    pub resources: Vec<String>,
    /// The binary's default: the known MCP clients' private-use schemes.
    pub allowed_redirect_schemes: Vec<String>,
    pub start_at: UnixTime,
    /// Changes to the node's [`ServerConfig`] (default scopes, registration policy...), made
    /// before the node starts.
    pub configure: fn(&mut ServerConfig),
    /// Whether the leader raises the cluster version as the binary's does (to this release's
    /// newest format, moments after start). `false` keeps the cluster at the baseline format,
    /// as during a rolling upgrade, for tests of what is refused until it is raised.
    pub raise_cluster_version: bool,
    /// The client metadata resolver's settings (default: production's).
    pub client_metadata: ClientMetadataConfig,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            resources: vec![RESOURCE.to_owned()],
            allowed_redirect_schemes: crate::redirect_uri::known_client_schemes(),
            start_at: T0,
            configure: |_| {},
            raise_cluster_version: true,
            client_metadata: ClientMetadataConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("{0}")]
    Setup(String),
}

fn setup<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> HarnessError {
    move |e| HarnessError::Setup(format!("{what}: {e}"))
}

/// One bootstrapped node: leader of its own one-voter cluster, with admin user, signing key
/// and settings in place. Its data directory is removed when it is dropped.
pub struct TestNode {
    /// The node's clock, pinned; move it with `set` or `advance`.
    pub clock: Arc<FixedClock>,
    pub state: web::Data<AppState>,
    pub cluster: Cluster,
    raft_runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

impl TestNode {
    /// A node protecting [`RESOURCE`] at [`T0`]. Panics if it cannot start: it is for tests.
    pub async fn start() -> TestNode {
        Self::start_with(Options::default())
            .await
            .unwrap_or_else(|e| panic!("test node: {e}"))
    }

    /// Start a node; call from inside an actix system (`#[actix_web::test]`).
    pub async fn start_with(options: Options) -> Result<TestNode, HarnessError> {
        let dir = tempfile::tempdir().map_err(setup("temporary directory"))?;
        let raft_runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-raft")
            .enable_all()
            .build()
            .map_err(setup("raft runtime"))?;
        let path = dir.path().to_owned();
        let raise = options.raise_cluster_version;
        let cluster = raft_runtime
            .spawn(async move { start_raft(&path, raise).await })
            .await
            .map_err(setup("raft start-up task"))??;
        let clock = FixedClock::at(options.start_at);
        let sealer = Sealer::new(&[7u8; 32]).map_err(setup("sealer"))?;
        let mut config = ServerConfig::new(ISSUER);
        config.unclaimed_client_ttl = 24 * 3600;
        (options.configure)(&mut config);
        let config_actor = ConfigActor::new(
            cluster.clone(),
            sealer.clone(),
            clock.clone(),
            // The purge schedule is left to tests that propose a purge themselves.
            Duration::from_secs(24 * 3600),
            config.purge_policy(),
        )
        .start();
        bootstrap(&config_actor, &options).await?;
        let node = NodeContext {
            signer: SignerCache::new(sealer.clone()),
            upstreams: Upstreams::new(OutboundLimits::default(), sealer.clone(), ISSUER)
                .map_err(setup("upstreams"))?,
            sealer,
            cluster: cluster.clone(),
            config,
            clock: clock.clone(),
            config_actor,
            bootstrapped: Arc::new(AtomicBool::new(true)),
            client_metadata: Arc::new(
                ClientMetadataResolver::new(options.client_metadata.clone())
                    .map_err(setup("client metadata resolver"))?,
            ),
        };
        Ok(TestNode {
            clock,
            state: web::Data::new(AppState::for_worker(&node)),
            cluster,
            raft_runtime: Some(raft_runtime),
            _dir: dir,
        })
    }

    /// actix-web's test service over this node's app (the same routes and middleware as the
    /// binary's public server).
    pub async fn client(&self) -> TestClient {
        TestClient::new(self.state.clone()).await
    }

    /// Wait (up to 20 s) until the cluster version is at least `version`; panics otherwise.
    pub async fn wait_cluster_version(&self, version: u32) {
        for _ in 0..400 {
            if self.cluster.read(|s| s.cluster_version()) >= version {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the cluster version did not reach {version}");
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which is refused inside the test's async context.
        if let Some(runtime) = self.raft_runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Raft on sled in `dir`, initialised as the only voter, with the proposer and forwarder the
/// binary uses. Runs on the Raft runtime.
async fn start_raft(dir: &std::path::Path, raise: bool) -> Result<Cluster, HarnessError> {
    let (log_store, state_machine) = mcpauth_raft::open_stores(dir).map_err(setup("stores"))?;
    let view = state_machine.view();
    let config = Arc::new(
        mcpauth_raft::raft_config(&mcpauth_raft::RaftTuning::default())
            .map_err(setup("raft config"))?,
    );
    let network = NetworkFactory::new("test secret".to_owned(), None).map_err(setup("network"))?;
    let raft = Raft::new(1, config, network.clone(), log_store, state_machine)
        .await
        .map_err(setup("raft"))?;
    // No peer ever dials this address: the node is alone.
    let members = BTreeMap::from([(1, BasicNode::new("127.0.0.1:9"))]);
    raft.initialize(members)
        .await
        .map_err(setup("initialise"))?;
    raft.wait(Some(Duration::from_secs(10)))
        .current_leader(1, "leader")
        .await
        .map_err(setup("election"))?;
    let proposer = Proposer::start(raft.clone(), view.clone());
    let forwarder = Forwarder::start(network.cluster_client(), view.clone());
    let cluster = Cluster::new(raft, view, network.cluster_client(), proposer, forwarder);
    if raise {
        mcpauth_raft::start_raising(&cluster);
    }
    Ok(cluster)
}

/// The binary's first-start bootstrap: admin user, signing key, settings.
async fn bootstrap(
    config_actor: &actix::Addr<ConfigActor>,
    options: &Options,
) -> Result<(), HarnessError> {
    let message = Bootstrap {
        admin_password: Some(ADMIN_PASSWORD.to_owned()),
        settings: Settings {
            resources: options.resources.clone(),
            allowed_redirect_schemes: options.allowed_redirect_schemes.clone(),
        },
        identity_providers: Vec::new(),
        local_login: None,
    };
    config_actor
        .send(message)
        .await
        .map_err(setup("config actor"))?
        .map_err(setup("bootstrap"))?;
    Ok(())
}
