//! A cluster of real `mcpauth` processes on loopback, started from one cluster.toml.
//!
//! Node i listens on its own loopback IP, 127.0.0.(10+i), for HTTP, raft and raft_listen (Linux
//! routes all of 127/8 to lo), so the [`FaultProxy`] can tell nodes apart by source address.
//! Without a proxy a node's `raft` and `raft_listen` are the same address; with one, `raft` is the
//! proxy's listener and `raft_listen` the node's own.
//!
//! The cluster keeps a pool of the nodes a load balancer would send clients to (ready and not
//! taken out of rotation); [`TestCluster::pool`] shares it with a [`crate::workload`].
//!
//! If a test panics, the cluster's directory (config, data, node logs) is kept and its path
//! printed; otherwise it is deleted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::fault_proxy::{node_ip, FaultProxy};
pub use crate::gate::serial;
use crate::gate::{self, Gate};
use crate::{binary, Target, ADMIN_PASSWORD, RESOURCE};

pub const SECRET_HEADER: &str = "x-mcpauth-cluster-secret";
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One node's public HTTP base URL, with the cluster's issuer.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: u64,
    pub base: String,
    pub issuer: String,
}

impl Target for Endpoint {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// The nodes a load balancer would send clients to now.
pub type Pool = Arc<Mutex<BTreeMap<u64, Endpoint>>>;

#[derive(Debug, Clone)]
pub struct Options {
    pub nodes: u64,
    /// Put a [`FaultProxy`] in front of every node's internal server.
    pub proxy: bool,
    /// The issuer (a load balancer's URL); default: node 1's HTTP URL.
    pub issuer: Option<String>,
    /// Lines added verbatim to the top level of cluster.toml.
    pub extra_toml: String,
    /// RUST_LOG for the nodes.
    pub rust_log: String,
    /// Start every node at once, last first, none of the shared files existing yet (default:
    /// node 1 first, the others once it has created the secret and seal key files).
    pub all_at_once: bool,
    /// The mcpauth binary every node starts with (default: [`binary`]); change one node's with
    /// [`TestCluster::set_binary`].
    pub binary: Option<PathBuf>,
    /// `access_token_ttl` in cluster.toml (default 3600).
    pub access_token_ttl: u64,
    /// `refresh_reuse` in cluster.toml. Default `strict`: a cluster test's refresh outcomes
    /// must not depend on when the leader raises the cluster version to 4 (below it apply() is
    /// strict whatever the setting, from it `grace` accepts a second presentation). `None`
    /// leaves the setting out (the shipped default, grace).
    pub refresh_reuse: Option<&'static str>,
}

impl Options {
    pub fn nodes(n: u64) -> Options {
        Options {
            nodes: n,
            proxy: false,
            issuer: None,
            extra_toml: String::new(),
            rust_log: "info,openraft=warn".into(),
            all_at_once: false,
            binary: None,
            access_token_ttl: 3600,
            refresh_reuse: Some("strict"),
        }
    }

    /// Start every node with `binary` (for example the previous release's).
    /// Every node starts with `binary`. The config file then leaves `refresh_reuse` out: the
    /// previous release, which the upgrade tests start this way, refuses keys it does not know
    /// (and applies strict rotation anyway).
    pub fn binary(mut self, binary: PathBuf) -> Options {
        self.binary = Some(binary);
        self.refresh_reuse = None;
        self
    }

    /// Access tokens (and so the signing keys' retirement) expire after `secs`.
    pub fn access_token_ttl(mut self, secs: u64) -> Options {
        self.access_token_ttl = secs;
        self
    }

    pub fn with_proxy(mut self) -> Options {
        self.proxy = true;
        self
    }

    pub fn all_at_once(mut self) -> Options {
        self.all_at_once = true;
        self
    }

    /// Snapshot (and compact the log) every `entries` entries, so that restarts load snapshots
    /// and new or lagging nodes catch up from one.
    pub fn snapshot_every(mut self, entries: u64) -> Options {
        self.extra_toml
            .push_str(&format!("snapshot_every = {entries}\n"));
        self
    }
}

struct Member {
    id: u64,
    http: SocketAddr,
    raft: SocketAddr,
    raft_listen: SocketAddr,
    child: Option<Child>,
    log: PathBuf,
    binary: PathBuf,
}

pub struct TestCluster {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    pub config: PathBuf,
    pub issuer: String,
    options: Options,
    members: BTreeMap<u64, Member>,
    pool: Pool,
    pub proxy: Option<FaultProxy>,
    internal: reqwest::Client,
    /// A shared hold, or nothing more when the test holds [`serial`] (see [`crate::gate`]).
    _gate: Gate,
}

/// `n` distinct free TCP ports on `ip` (held together while chosen, so they differ).
fn free_ports_on(ip: std::net::Ipv4Addr, n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| {
            std::net::TcpListener::bind((ip, 0))
                .unwrap_or_else(|e| panic!("no free port on {ip}: {e}"))
        })
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

impl TestCluster {
    /// `n` nodes, no proxy, issuer = node 1's URL; every node ready.
    pub async fn start(n: u64) -> TestCluster {
        Self::start_with(Options::nodes(n)).await
    }

    /// `n` nodes behind fault proxies.
    pub async fn start_with_proxy(n: u64) -> TestCluster {
        Self::start_with(Options::nodes(n).with_proxy()).await
    }

    pub async fn start_with(options: Options) -> TestCluster {
        let dir = tempfile::Builder::new()
            .prefix("mcpauth-cluster-")
            .tempdir()
            .expect("temp dir");
        let path = dir.path().to_path_buf();
        let mut cluster = TestCluster {
            config: path.join("cluster.toml"),
            path,
            dir: Some(dir),
            issuer: String::new(),
            proxy: options.proxy.then(FaultProxy::new),
            options: options.clone(),
            members: BTreeMap::new(),
            pool: Arc::new(Mutex::new(BTreeMap::new())),
            internal: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client"),
            _gate: gate::shared().await,
        };
        for id in 1..=options.nodes {
            cluster.declare(id);
        }
        cluster.issuer = options
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{}", cluster.members[&1].http));
        cluster.write_config();
        if options.all_at_once {
            for id in (1..=options.nodes).rev() {
                cluster.spawn(id);
            }
        } else {
            // Node 1 first: it creates the shared secret and seal key files, which the others
            // then read (on real machines an operator copies them).
            cluster.spawn(1);
            cluster.wait_for_shared_files().await;
            for id in 2..=options.nodes {
                cluster.spawn(id);
            }
        }
        for id in 1..=options.nodes {
            cluster.wait_ready(id).await;
        }
        cluster
    }

    /// Choose addresses for node `id` (and its proxy route).
    fn declare(&mut self, id: u64) {
        let ip = node_ip(id);
        let ports = free_ports_on(ip, 3);
        let http = SocketAddr::from((ip, ports[0]));
        let raft_listen = SocketAddr::from((ip, ports[1]));
        let raft = match &self.proxy {
            Some(proxy) => {
                let raft = SocketAddr::from((ip, ports[2]));
                proxy.add_route(id, raft, raft_listen);
                raft
            }
            None => raft_listen,
        };
        self.members.insert(
            id,
            Member {
                id,
                http,
                raft,
                raft_listen,
                child: None,
                log: self.path.join(format!("node{id}.log")),
                binary: self.options.binary.clone().unwrap_or_else(binary),
            },
        );
    }

    fn write_config(&self) {
        let mut toml = format!(
            "# written by mcpauth-tests\n\
             issuer = \"{}\"\n\
             cluster_secret_file = \"cluster.secret\"\n\
             seal_key_file = \"seal.key\"\n\
             resources = [\"{RESOURCE}\"]\n\
             access_token_ttl = {}\n\
             refresh_token_ttl = 2592000\n\
             allowed_redirect_schemes = []\n\
             {}\n\
             {}\n",
            self.issuer,
            self.options.access_token_ttl,
            self.options
                .refresh_reuse
                .map(|r| format!("refresh_reuse = \"{r}\""))
                .unwrap_or_default(),
            self.options.extra_toml
        );
        for m in self.members.values() {
            toml.push_str(&Self::node_table(m));
        }
        std::fs::write(&self.config, toml).expect("write cluster.toml");
    }

    fn node_table(m: &Member) -> String {
        let mut table = format!(
            "\n[[node]]\nid = {}\nhttp = \"{}\"\nraft = \"{}\"\n",
            m.id, m.http, m.raft
        );
        if m.raft_listen != m.raft {
            table.push_str(&format!("raft_listen = \"{}\"\n", m.raft_listen));
        }
        table.push_str(&format!("data_dir = \"node{}\"\n", m.id));
        table
    }

    async fn wait_for_shared_files(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !(self.secret_path().exists() && self.path.join("seal.key").exists()) {
            if Instant::now() > deadline {
                panic!(
                    "node 1 did not create cluster.secret and seal.key in 15 s\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Give the writer a moment to finish the files.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    /// The directory holding cluster.toml, the data directories and the node logs.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    pub fn ids(&self) -> Vec<u64> {
        self.members.keys().copied().collect()
    }

    /// The next node of a rolling restart or upgrade, taken out of `remaining`: a follower
    /// while others remain, so that the leader goes last if leadership stays put.
    pub async fn next_to_roll(&mut self, remaining: &mut Vec<u64>) -> (u64, u64) {
        let leader = self.leader().await;
        let id = if remaining.len() > 1 {
            remaining
                .iter()
                .copied()
                .find(|&i| i != leader)
                .unwrap_or(remaining[0])
        } else {
            remaining[0]
        };
        remaining.retain(|&i| i != id);
        (id, leader)
    }

    /// Nodes whose process is running.
    pub fn running(&mut self) -> Vec<u64> {
        self.members
            .values_mut()
            .filter_map(|m| match m.child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(None)) => Some(m.id),
                _ => None,
            })
            .collect()
    }

    /// The cluster version node `id` reports; a 0.1 node does not report one (it runs 2).
    pub async fn cluster_version(&self, id: u64) -> u64 {
        self.status_of(id).await["cluster_version"]
            .as_u64()
            .unwrap_or(2)
    }

    /// Wait until every node in `ids` reports cluster version `version` (the leader looks for
    /// one to raise to every 2 s); how long that took.
    pub async fn wait_cluster_version(&self, ids: &[u64], version: u64) -> Duration {
        const RAISE_WITHIN: Duration = Duration::from_secs(20);
        let start = std::time::Instant::now();
        loop {
            let mut versions = Vec::new();
            for &id in ids {
                versions.push(self.cluster_version(id).await);
            }
            if versions.iter().all(|&v| v == version) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < RAISE_WITHIN,
                "cluster versions {versions:?} on nodes {ids:?}, expected {version} everywhere\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn node_url(&self, id: u64) -> String {
        format!("http://{}", self.member(id).http)
    }

    pub fn endpoint(&self, id: u64) -> Endpoint {
        Endpoint {
            id,
            base: self.node_url(id),
            issuer: self.issuer.clone(),
        }
    }

    /// The advertised internal address of node `id` (the proxy's, when there is one).
    pub fn raft_addr(&self, id: u64) -> SocketAddr {
        self.member(id).raft
    }

    /// The address node `id`'s internal server binds.
    pub fn raft_listen_addr(&self, id: u64) -> SocketAddr {
        self.member(id).raft_listen
    }

    /// An internal URL on node `id`, reached directly (never through the proxy).
    pub fn internal_url(&self, id: u64, path: &str) -> String {
        format!("http://{}{}", self.member(id).raft_listen, path)
    }

    pub fn pool(&self) -> Pool {
        self.pool.clone()
    }

    fn member(&self, id: u64) -> &Member {
        self.members
            .get(&id)
            .unwrap_or_else(|| panic!("node {id} is not in this cluster"))
    }

    fn member_mut(&mut self, id: u64) -> &mut Member {
        self.members
            .get_mut(&id)
            .unwrap_or_else(|| panic!("node {id} is not in this cluster"))
    }

    /// Node `id`'s data directory (its sled database).
    pub fn data_dir(&self, id: u64) -> PathBuf {
        self.member(id);
        self.path.join(format!("node{id}"))
    }

    /// Wait until node `id`'s process exits by itself, and answer how; None if it still runs
    /// after `timeout` (or was not started).
    pub async fn wait_exit(
        &mut self,
        id: u64,
        timeout: Duration,
    ) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let m = self.member_mut(id);
            match m.child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => {
                    m.child = None;
                    return Some(status);
                }
                Some(Ok(None)) if Instant::now() < deadline => {}
                _ => return None,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A POST of raw bytes to node `id`'s internal server with the secret (a Raft RPC):
    /// (status, body as text).
    pub async fn internal_post_bytes(&self, id: u64, path: &str, body: Vec<u8>) -> (u16, String) {
        let response = self
            .internal
            .post(self.internal_url(id, path))
            .header(SECRET_HEADER, self.secret())
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path} on node {id}: {e}"));
        let code = response.status().as_u16();
        (code, response.text().await.unwrap_or_default())
    }

    pub fn secret_path(&self) -> PathBuf {
        self.path.join("cluster.secret")
    }

    /// The shared cluster secret (the file's text, surrounding whitespace trimmed).
    pub fn secret(&self) -> String {
        std::fs::read_to_string(self.secret_path())
            .expect("cluster.secret")
            .trim()
            .to_owned()
    }

    /// The process id of node `id`, while it runs.
    pub fn pid(&self, id: u64) -> Option<u32> {
        self.member(id).child.as_ref().map(Child::id)
    }

    /// From its next start on, run node `id` with `binary` (an upgrade, one node at a time).
    pub fn set_binary(&mut self, id: u64, binary: PathBuf) {
        self.member_mut(id).binary = binary;
    }

    /// Start node `id`'s process without waiting for it.
    pub fn spawn(&mut self, id: u64) {
        let config = self.config.clone();
        let rust_log = self.options.rust_log.clone();
        let m = self.member_mut(id);
        if let Some(child) = m.child.as_mut() {
            if let Ok(None) = child.try_wait() {
                panic!("node {id} is already running");
            }
        }
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)
            .expect("log file");
        use std::io::Write;
        let _ = writeln!(log, "===== test harness: starting node {id} =====");
        let child = Command::new(&m.binary)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--node")
            .arg(id.to_string())
            .env("MCPAUTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", rust_log)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mcpauth");
        m.child = Some(child);
    }

    /// Wait until node `id` answers /readyz with 200, then put it in the pool.
    pub async fn wait_ready(&mut self, id: u64) {
        self.wait_ready_within(id, READY_TIMEOUT).await
    }

    pub async fn wait_ready_within(&mut self, id: u64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let url = format!("{}/readyz", self.node_url(id));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("client");
        loop {
            if let Some(child) = self.member_mut(id).child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("node {id} exited with {status}\n{}", self.logs());
                }
            }
            if let Ok(r) = client.get(&url).send().await {
                if r.status() == 200 {
                    break;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "node {id} not ready in {timeout:?}; statuses: {}\n{}",
                    self.statuses_text().await,
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let endpoint = self.endpoint(id);
        self.pool.lock().unwrap().insert(id, endpoint);
    }

    /// Start node `id` again (its data kept) and wait until it is ready.
    pub async fn restart(&mut self, id: u64) {
        self.spawn(id);
        self.wait_ready(id).await;
    }

    /// Start a node added with [`add_node_config`](Self::add_node_config). It is not ready until
    /// it is made a member, so this does not wait.
    pub fn start_node(&mut self, id: u64) {
        self.spawn(id);
    }

    /// Declare a new node `id` and append its `[[node]]` table to cluster.toml.
    pub fn add_node_config(&mut self, id: u64) {
        assert!(!self.members.contains_key(&id), "node {id} exists");
        self.declare(id);
        let table = Self::node_table(self.member(id));
        let mut toml = std::fs::read_to_string(&self.config).expect("cluster.toml");
        toml.push_str(&table);
        std::fs::write(&self.config, toml).expect("write cluster.toml");
    }

    /// Take node `id` out of the load balancer's pool (its process keeps running).
    pub fn take_out_of_pool(&self, id: u64) {
        self.pool.lock().unwrap().remove(&id);
    }

    /// SIGKILL node `id`: no shutdown code runs. It leaves the pool first.
    pub fn kill(&mut self, id: u64) {
        self.take_out_of_pool(id);
        if let Some(mut child) = self.member_mut(id).child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM node `id` and wait for it to exit (SIGKILL after `grace`). Answers whether it
    /// exited on its own, and how long that took.
    pub async fn terminate(&mut self, id: u64, grace: Duration) -> (bool, Duration) {
        self.take_out_of_pool(id);
        let Some(mut child) = self.member_mut(id).child.take() else {
            return (true, Duration::ZERO);
        };
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return (true, started.elapsed());
            }
            if started.elapsed() > grace {
                let _ = child.kill();
                let _ = child.wait();
                return (false, started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// GET /cluster/status on node `id`'s internal server.
    pub async fn status(&self, id: u64) -> Result<Value, String> {
        let response = self
            .internal
            .get(self.internal_url(id, "/cluster/status"))
            .header(SECRET_HEADER, self.secret())
            .send()
            .await
            .map_err(|e| format!("node {id}: {e}"))?;
        let code = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if !code.is_success() {
            return Err(format!("node {id}: {code}: {text}"));
        }
        serde_json::from_str(&text).map_err(|e| format!("node {id}: {e}: {text}"))
    }

    /// The status of node `id`, or a panic with the logs.
    pub async fn status_of(&self, id: u64) -> Value {
        match self.status(id).await {
            Ok(status) => status,
            Err(e) => panic!("status: {e}\n{}", self.logs()),
        }
    }

    /// A POST to node `id`'s internal server with the secret: (status, body).
    pub async fn admin_post(&self, id: u64, path: &str, body: Value) -> (u16, Value) {
        self.admin(id, reqwest::Method::POST, path, Some(&body))
            .await
    }

    /// `method path` on node `id`'s internal server with the secret: (status, body), the body
    /// as JSON or else as a string.
    pub async fn admin(
        &self,
        id: u64,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client")
            .request(method.clone(), self.internal_url(id, path))
            .header(SECRET_HEADER, self.secret());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path} on node {id}: {e}"));
        let code = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Every running node's status, as text (for failure messages).
    pub async fn statuses_text(&mut self) -> String {
        let mut out = String::new();
        for id in self.running() {
            match self.status(id).await {
                Ok(s) => out.push_str(&format!("\n  node {id}: {s}")),
                Err(e) => out.push_str(&format!("\n  node {id}: {e}")),
            }
        }
        out
    }

    /// The current leader, as every running node agrees.
    pub async fn leader(&mut self) -> u64 {
        self.wait_for_leader(&[]).await
    }

    /// Wait (at most 30 s) until every running node outside `excluding` names the same leader,
    /// outside `excluding`, and that leader says it is Leader.
    pub async fn wait_for_leader(&mut self, excluding: &[u64]) -> u64 {
        self.wait_for_leader_within(excluding, Duration::from_secs(30))
            .await
    }

    pub async fn wait_for_leader_within(&mut self, excluding: &[u64], timeout: Duration) -> u64 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(leader) = self.agreed_leader(excluding).await {
                return leader;
            }
            if Instant::now() > deadline {
                panic!(
                    "no agreed leader outside {excluding:?} in {timeout:?}; statuses: {}\n{}",
                    self.statuses_text().await,
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn agreed_leader(&mut self, excluding: &[u64]) -> Option<u64> {
        let mut agreed = None;
        for id in self.running() {
            if excluding.contains(&id) {
                continue;
            }
            let leader = self.status(id).await.ok()?["leader"].as_u64()?;
            if excluding.contains(&leader) || agreed.is_some_and(|a| a != leader) {
                return None;
            }
            agreed = Some(leader);
        }
        let leader = agreed?;
        let status = self.status(leader).await.ok()?;
        (status["state"] == "Leader").then_some(leader)
    }

    /// Wait (at most 30 s) until every running node reports the same state digest at the same
    /// applied index; answers (digest, digest_index).
    pub async fn wait_converged(&mut self) -> (String, u64) {
        let ids = self.running();
        self.wait_converged_among(&ids).await
    }

    pub async fn wait_converged_among(&mut self, ids: &[u64]) -> (String, u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut seen = Vec::new();
            for &id in ids {
                if let Ok(s) = self.status(id).await {
                    if let (Some(d), Some(i)) = (s["digest"].as_str(), s["digest_index"].as_u64()) {
                        seen.push((d.to_owned(), i));
                    }
                }
            }
            if seen.len() == ids.len() && seen.windows(2).all(|w| w[0] == w[1]) && !ids.is_empty() {
                return seen.remove(0);
            }
            if Instant::now() > deadline {
                panic!(
                    "nodes {ids:?} did not converge in 30 s; statuses: {}\n{}",
                    self.statuses_text().await,
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Run `mcpauth <args>` (a CLI command) and answer (exit code, stdout, stderr).
    pub async fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let mut command = tokio::process::Command::new(binary());
        command.args(args).stdin(Stdio::null()).kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(120), command.output())
            .await
            .unwrap_or_else(|_| panic!("mcpauth {args:?} did not finish in 120 s"))
            .expect("run mcpauth");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Node `id`'s log so far.
    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(&self.member(id).log).unwrap_or_default()
    }

    /// The last lines of every node's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = format!("cluster directory: {}\n", self.path.display());
        for m in self.members.values() {
            let text = std::fs::read_to_string(&m.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            out.push_str(&format!(
                "----- node {} log (last {} of {} lines) -----\n{}\n",
                m.id,
                tail.len(),
                lines.len(),
                tail.join("\n")
            ));
        }
        out
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for m in self.members.values_mut() {
            if let Some(mut child) = m.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                let kept = dir.keep();
                eprintln!("test failed: cluster directory kept at {}", kept.display());
            }
        }
    }
}
