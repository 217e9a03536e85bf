//! A new cluster forms whatever order its nodes start in, and a whole cluster stopped at once
//! (SIGKILL of every node) comes back with everything it acknowledged.

use std::time::Instant;

use mcpauth_tests::cluster::{serial, Options, TestCluster};
use mcpauth_tests::workload::{sign_in_flow, verify, Acknowledged, SignedIn, Stats};
use serde_json::Value;

fn sorted(value: &Value) -> Vec<u64> {
    let mut ids: Vec<u64> = value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

/// GET /cluster/status answers every field the spec lists, with its type.
fn check_status_shape(status: &Value, leader: bool) {
    let id = status["id"].as_u64().expect("id");
    assert!(
        ["Leader", "Follower", "Learner", "Candidate", "Shutdown"]
            .contains(&status["state"].as_str().unwrap_or("")),
        "{status}"
    );
    assert_eq!(status["state"] == "Leader", leader, "{status}");
    for key in ["term", "last_log_index", "applied_index", "digest_index"] {
        assert!(status[key].is_u64(), "node {id}: {key} in {status}");
    }
    for key in ["leader", "snapshot_index", "purged_index"] {
        assert!(
            status.get(key).is_some_and(|v| v.is_u64() || v.is_null()),
            "node {id}: {key} in {status}"
        );
    }
    assert!(
        status["voters"].is_array() && status["learners"].is_array(),
        "{status}"
    );
    let nodes = status["nodes"].as_object().expect("nodes");
    assert!(
        nodes
            .values()
            .all(|a| a.as_str().is_some_and(|a| a.contains(':'))),
        "{status}"
    );
    let digest = status["digest"].as_str().expect("digest");
    assert!(
        digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
        "digest: {digest}"
    );
    if leader {
        let replication = status["replication"].as_object().expect("replication");
        assert!(
            replication.len() == 3 && replication.values().all(Value::is_u64),
            "{status}"
        );
    } else {
        assert!(status["replication"].is_null(), "{status}");
    }
}

/// Sign in once through every node; answers what was acknowledged.
async fn sign_in_everywhere(cluster: &TestCluster) -> Acknowledged {
    let stats = Stats::default();
    let mut ack = Acknowledged::default();
    for id in cluster.ids() {
        let endpoint = cluster.endpoint(id);
        match sign_in_flow(&stats, &endpoint, false, &mut ack.clients).await {
            Ok(SignedIn::Tokens(chain)) => ack.chains.push(chain),
            Ok(SignedIn::Code(_)) => unreachable!(),
            Err(e) => panic!("sign-in through node {id}: {e:?}\n{}", cluster.logs()),
        }
    }
    ack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_started_all_at_once_in_any_order_form_one_cluster() {
    let _serial = serial().await;
    let t0 = Instant::now();
    // Last node first, all at once, and no shared secret or seal key file yet: whoever creates
    // them, every node must end up with the same ones.
    let mut cluster = TestCluster::start_with(Options::nodes(3).all_at_once()).await;
    let ready_in = t0.elapsed();
    let leader = cluster.leader().await;
    for id in cluster.ids() {
        let status = cluster.status_of(id).await;
        assert_eq!(sorted(&status["voters"]), [1, 2, 3], "node {id}: {status}");
        assert_eq!(status["leader"], leader, "node {id}: {status}");
        check_status_shape(&status, id == leader);
        // Relative paths in cluster.toml are relative to its directory.
        assert!(
            cluster.dir().join(format!("node{id}")).is_dir(),
            "node {id}'s data_dir is not next to cluster.toml"
        );
    }
    // One cluster, one key: a sign-in through each node, and each token verifies everywhere.
    let mut ack = sign_in_everywhere(&cluster).await;
    let problems = verify(&mut ack, &cluster.pool()).await;
    assert!(
        problems.is_empty(),
        "{}\n{}",
        problems.join("\n"),
        cluster.logs()
    );
    let (digest, index) = cluster.wait_converged().await;
    eprintln!(
        "bootstrap all at once: ready in {ready_in:?}, leader {leader}, converged at {index} \
         ({digest}); total {:?}",
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_cluster_killed_at_once_comes_back_with_everything() {
    let _serial = serial().await;
    let t0 = Instant::now();
    let mut cluster = TestCluster::start(3).await;
    let mut ack = sign_in_everywhere(&cluster).await;
    let (digest_before, index_before) = cluster.wait_converged().await;
    for id in cluster.ids() {
        cluster.kill(id);
    }
    // Back in another order.
    for id in [2, 3, 1] {
        cluster.spawn(id);
    }
    for id in cluster.ids() {
        cluster.wait_ready(id).await;
    }
    let back_in = t0.elapsed();
    let leader = cluster.leader().await;
    let problems = verify(&mut ack, &cluster.pool()).await;
    assert!(
        problems.is_empty(),
        "acknowledged state lost in a whole-cluster SIGKILL:\n{}\n{}",
        problems.join("\n"),
        cluster.logs()
    );
    let (digest, index) = cluster.wait_converged().await;
    assert!(index >= index_before, "{index} < {index_before}");
    eprintln!(
        "whole-cluster kill: before {index_before} ({digest_before}); back (leader {leader}) \
         after {back_in:?}; converged at {index} ({digest}); total {:?}",
        t0.elapsed()
    );
}
