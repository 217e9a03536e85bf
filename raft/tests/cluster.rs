//! Raft nodes on the sled stores, talking through `NetworkFactory` and `handle_rpc` over real
//! HTTP. The server side here is a minimal HTTP/1.1 loop standing in for the actix routes of
//! `api/`; it runs on its own runtime, as actix does, while Raft runs on another.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mcpauth_raft::{
    handle_rpc, open_stores, raft_config, secret_matches, BasicNode, NetworkFactory, Raft,
    RaftTuning, RpcKind, StateView, CLUSTER_SECRET_HEADER,
};
use mcpauth_state::{Command, Outcome, Settings, VersionedCommand};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

const SECRET: &str = "test cluster secret";
const WAIT: Option<Duration> = Some(Duration::from_secs(20));

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A settings change, written in the newest storage format.
fn settings(resource: &str) -> VersionedCommand {
    VersionedCommand::new(
        mcpauth_state::format::NEWEST,
        Command::SetSettings {
            settings: Settings {
                resources: vec![resource.to_owned()],
                ..Settings::default()
            },
        },
    )
}

fn tuning() -> RaftTuning {
    RaftTuning {
        // No automatic snapshots: the test triggers one; keep no log behind it so the purge
        // forces a new node to be caught up by snapshot.
        snapshot_every_entries: 100_000,
        keep_entries_behind_snapshot: 0,
        ..RaftTuning::default()
    }
}

struct Node {
    raft: Raft,
    view: StateView,
    addr: String,
}

/// Start a node's Raft (on `raft_rt`) and its HTTP server (on `http_rt`).
fn start_node(id: u64, dir: &Path, secret: &str, raft_rt: &Runtime, http_rt: &Runtime) -> Node {
    let listener = http_rt
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (log_store, state_machine) = open_stores(dir).expect("stores");
    let view = state_machine.view();
    let config = Arc::new(raft_config(&tuning()).expect("config"));
    let network = NetworkFactory::new(secret.to_owned(), None).expect("network");
    let raft = raft_rt
        .block_on(Raft::new(id, config, network, log_store, state_machine))
        .expect("raft");
    http_rt.spawn(serve(listener, raft.clone(), secret.to_owned()));
    Node { raft, view, addr }
}

async fn serve(listener: TcpListener, raft: Raft, secret: String) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(connection(stream, raft.clone(), secret.clone()));
    }
}

/// Keep-alive HTTP/1.1, just enough for reqwest's POSTs.
async fn connection(stream: TcpStream, raft: Raft, secret: String) -> std::io::Result<()> {
    let mut stream = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if stream.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let (mut length, mut presented) = (0usize, String::new());
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
                if name == "content-length" {
                    length = value.parse().unwrap_or(0);
                } else if name == CLUSTER_SECRET_HEADER {
                    presented = value.to_owned();
                }
            }
        }
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await?;
        let (status, reply) = if !secret_matches(&secret, &presented) {
            ("401 Unauthorized", Vec::new())
        } else {
            match RpcKind::from_path(&path) {
                None => ("404 Not Found", Vec::new()),
                Some(kind) => match handle_rpc(&raft, kind, &body).await {
                    Ok(reply) => ("200 OK", reply),
                    Err(e) => ("400 Bad Request", e.to_string().into_bytes()),
                },
            }
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n",
            reply.len()
        );
        stream.get_mut().write_all(head.as_bytes()).await?;
        stream.get_mut().write_all(&reply).await?;
    }
}

fn resources(view: &StateView) -> Vec<String> {
    view.read(|state| state.settings().resources.clone())
}

fn wait_applied(rt: &Runtime, view: &StateView, index: u64) {
    rt.block_on(async {
        tokio::time::timeout(WAIT.unwrap_or_default(), view.wait_applied(index))
            .await
            .expect("applied in time")
            .expect("state machine alive");
    });
}

#[test]
fn single_node_writes_and_restarts() {
    let raft_rt = runtime();
    let http_rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");

    let node = start_node(1, dir.path(), SECRET, &raft_rt, &http_rt);
    let index = raft_rt.block_on(async {
        let members = BTreeMap::from([(1, BasicNode::new(node.addr.clone()))]);
        node.raft.initialize(members).await.expect("initialize");
        node.raft
            .wait(WAIT)
            .current_leader(1, "leader")
            .await
            .expect("leader");
        let written = node
            .raft
            .client_write(settings("https://mcp.example"))
            .await
            .expect("write");
        assert_eq!(written.data, Outcome::Done);
        node.raft.shutdown().await.expect("shutdown");
        written.log_id.index
    });
    assert_eq!(resources(&node.view), ["https://mcp.example"]);
    drop(node);

    // A restart re-applies the committed log on its own (no snapshot was built), before any
    // election: the committed log id was saved.
    let node = start_node(1, dir.path(), SECRET, &raft_rt, &http_rt);
    wait_applied(&raft_rt, &node.view, index);
    assert_eq!(resources(&node.view), ["https://mcp.example"]);
    raft_rt.block_on(node.raft.shutdown()).expect("shutdown");
}

#[test]
fn three_nodes_replicate_and_a_new_node_gets_a_snapshot() {
    let raft_rt = runtime();
    let http_rt = runtime();
    let dirs: Vec<_> = (0..5)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let nodes: Vec<Node> = (1..=3)
        .map(|id| start_node(id, dirs[id as usize].path(), SECRET, &raft_rt, &http_rt))
        .collect();
    let members: BTreeMap<u64, BasicNode> = nodes
        .iter()
        .zip(1..)
        .map(|(n, id)| (id, BasicNode::new(n.addr.clone())))
        .collect();

    let (leader, index) = raft_rt.block_on(async {
        nodes[0].raft.initialize(members).await.expect("initialize");
        let metrics = nodes[0]
            .raft
            .wait(WAIT)
            .metrics(|m| m.current_leader.is_some(), "a leader")
            .await
            .expect("leader");
        let leader = metrics.current_leader.expect("leader id");
        let raft = &nodes[leader as usize - 1].raft;
        let mut last = None;
        for resource in [
            "https://a.example",
            "https://b.example",
            "https://c.example",
        ] {
            let written = raft.client_write(settings(resource)).await.expect("write");
            assert_eq!(written.data, Outcome::Done);
            last = Some(written.log_id.index);
        }
        (leader, last.expect("written"))
    });
    for node in &nodes {
        wait_applied(&raft_rt, &node.view, index);
        assert_eq!(resources(&node.view), ["https://c.example"]);
    }

    // Snapshot and purge the leader's log, then add a fresh learner: it can only catch up
    // through /raft/snapshot.
    let leader_raft = nodes[leader as usize - 1].raft.clone();
    let newcomer = start_node(4, dirs[4].path(), SECRET, &raft_rt, &http_rt);
    raft_rt.block_on(async {
        leader_raft.trigger().snapshot().await.expect("trigger");
        let metrics = leader_raft
            .wait(WAIT)
            .metrics(|m| m.snapshot.is_some_and(|s| s.index >= index), "snapshot")
            .await
            .expect("snapshot built");
        let snapshot = metrics.snapshot.expect("snapshot");
        leader_raft
            .wait(WAIT)
            .purged(Some(snapshot), "purged")
            .await
            .expect("log purged");
        leader_raft
            .add_learner(4, BasicNode::new(newcomer.addr.clone()), true)
            .await
            .expect("add learner");
    });
    wait_applied(&raft_rt, &newcomer.view, index);
    assert_eq!(resources(&newcomer.view), ["https://c.example"]);
    // The metrics report the installed snapshot a moment after the state is applied.
    let installed = raft_rt.block_on(async {
        newcomer
            .raft
            .wait(WAIT)
            .metrics(
                |m| m.snapshot.is_some_and(|s| s.index >= index),
                "snapshot installed",
            )
            .await
            .map(|m| m.snapshot)
    });
    assert!(
        installed.is_ok(),
        "the newcomer was caught up by a snapshot, got {installed:?}"
    );

    // A node with the wrong secret is never caught up: the leader is refused and backs off.
    let stranger = start_node(5, dirs[0].path(), "another secret", &raft_rt, &http_rt);
    raft_rt.block_on(async {
        leader_raft
            .add_learner(5, BasicNode::new(stranger.addr.clone()), false)
            .await
            .expect("add learner");
        tokio::time::sleep(Duration::from_secs(1)).await;
    });
    assert_eq!(*stranger.view.applied_index().borrow(), 0);
    assert!(resources(&stranger.view).is_empty());

    raft_rt.block_on(async {
        for node in nodes.iter().chain([&newcomer, &stranger]) {
            node.raft.shutdown().await.expect("shutdown");
        }
    });
}
