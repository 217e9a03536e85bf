//! Resizing a live cluster with the CLI while people sign in: add a fourth node (learner, catch
//! up, voter), remove one, read `cluster status`, and refuse a removal that would lose quorum;
//! and the admin API's other membership refusals (promoting a learner that has not caught up).

use std::time::{Duration, Instant};

use mcpauth_tests::cluster::{serial, Options, TestCluster};
use mcpauth_tests::workload::{assert_stream_clean, verify, Workload, WorkloadOptions};
use serde_json::{json, Value};

const PROGRESS: Duration = Duration::from_secs(60);

fn ids(value: &Value) -> Vec<u64> {
    let mut ids: Vec<u64> = value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Wait (at most 15 s) until node `via` reports exactly `voters`.
async fn wait_voters(cluster: &TestCluster, via: u64, voters: &[u64]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = cluster.status_of(via).await;
        if ids(&status["voters"]) == voters {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "node {via} reports voters {} learners {}, expected {voters:?}\n{}",
            status["voters"],
            status["learners"],
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Take `id` out of the load balancer's pool and let the sign-ins running there finish.
async fn drain(cluster: &TestCluster, id: u64) {
    cluster.take_out_of_pool(id);
    tokio::time::sleep(Duration::from_secs(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_are_added_and_removed_under_load_with_the_cli() {
    let _serial = serial().await;
    let t0 = Instant::now();
    // Small snapshots: the new node catches up from a snapshot, not only from the log.
    let mut cluster = TestCluster::start_with(Options::nodes(3).snapshot_every(100)).await;
    let config = cluster.config.display().to_string();
    let workload = Workload::start(
        cluster.pool(),
        WorkloadOptions {
            workers: 3,
            keep_codes: false,
            ..Default::default()
        },
    );
    assert!(
        workload.wait_logins(4, PROGRESS).await,
        "the stream did not get going: {}\n{}",
        workload.stats.summary(),
        cluster.logs()
    );

    // Enough log for the leader to have compacted part of it (a snapshot every 100 entries, 500
    // kept behind it): the new node cannot catch up from the log alone.
    let deadline = Instant::now() + PROGRESS;
    loop {
        let leader = cluster.leader().await;
        let status = cluster.status_of(leader).await;
        if status["last_log_index"].as_u64().unwrap_or(0) >= 800 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the log did not reach 800 entries: {status}\n{}",
            workload.stats.summary()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A fourth node, declared in the file and started, waits to be added.
    cluster.add_node_config(4);
    cluster.start_node(4);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        cluster.running().contains(&4),
        "node 4 exited while waiting to be added\n{}",
        cluster.logs()
    );
    let waiting = cluster.status(4).await;
    let waiting_ready = reqwest::get(format!("{}/readyz", cluster.node_url(4)))
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    let before = cluster.status_of(1).await;
    assert_eq!(
        ids(&before["voters"]),
        vec![1, 2, 3],
        "a node listed in the file but not added must not be a member"
    );

    let added_at = Instant::now();
    let (code, out, err) = cluster
        .cli(&["cluster", "add-node", "--config", &config, "--node", "4"])
        .await;
    let add_took = added_at.elapsed();
    assert_eq!(
        code,
        0,
        "cluster add-node 4 failed:\nstdout: {out}\nstderr: {err}\n{}",
        cluster.logs()
    );
    let add_output = format!("{out}{err}");
    assert!(
        add_output.contains('4') && add_output.lines().count() >= 2,
        "add-node printed no progress: {add_output}"
    );
    cluster.wait_ready(4).await;
    let status = wait_voters(&cluster, 1, &[1, 2, 3, 4]).await;
    assert!(ids(&status["learners"]).is_empty(), "{status}");
    let node4 = cluster.status_of(4).await;
    let leader_now = cluster.leader().await;
    let leader_status = cluster.status_of(leader_now).await;
    let mut findings = Vec::new();
    if leader_status["purged_index"].is_null() || node4["snapshot_index"].is_null() {
        findings.push(format!(
            "with snapshot_every = 100 the leader should have compacted its log and node 4 \
             caught up from a snapshot; leader: {leader_status}\nnode 4: {node4}"
        ));
    }
    assert!(
        workload.wait_logins(2, PROGRESS).await,
        "stalled after add-node: {}",
        workload.stats.summary()
    );
    // Under load the nodes never stand still at one index, so here node 4 must keep up: it
    // applies what the leader had applied a moment ago. Equal digests are checked once the
    // load stops.
    let leader_id = cluster.leader().await;
    let target = cluster.status_of(leader_id).await["applied_index"]
        .as_u64()
        .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let applied = cluster.status_of(4).await["applied_index"]
            .as_u64()
            .unwrap_or(0);
        if applied >= target {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 4 stuck at {applied}, leader was at {target}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Remove node 2 (out of the pool first, as an operator would).
    drain(&cluster, 2).await;
    let (code, out, err) = cluster
        .cli(&["cluster", "remove-node", "2", "--config", &config])
        .await;
    assert_eq!(
        code,
        0,
        "cluster remove-node 2 failed:\nstdout: {out}\nstderr: {err}\n{}",
        cluster.logs()
    );
    let remove_output = format!("{out}{err}");
    let status = wait_voters(&cluster, 1, &[1, 3, 4]).await;
    assert!(
        !status["nodes"]
            .as_object()
            .is_some_and(|n| n.contains_key("2")),
        "node 2 is still in the membership's nodes: {status}"
    );
    let removed_status = cluster.status(2).await;
    // An operator may be slow to stop the removed node: it must not disturb the others (it
    // hears no more heartbeats, and may start elections).
    let term_before = cluster.status_of(1).await["term"].as_u64();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let term_after = cluster.status_of(1).await["term"].as_u64();
    let removed_later = cluster.status(2).await;
    cluster.kill(2);
    assert!(
        workload.wait_logins(2, PROGRESS).await,
        "stalled after remove-node: {}",
        workload.stats.summary()
    );

    // `cluster status` shows the membership and the leader.
    let leader = cluster.leader().await;
    let (code, out, err) = cluster
        .cli(&["cluster", "status", "--config", &config])
        .await;
    assert_eq!(
        code, 0,
        "cluster status failed:\nstdout: {out}\nstderr: {err}"
    );
    for id in ["1", "3", "4"] {
        assert!(
            out.contains(id),
            "cluster status does not show node {id}:\n{out}"
        );
    }
    assert!(
        out.to_lowercase().contains("leader"),
        "cluster status does not show the leader:\n{out}"
    );
    let status_output = out;

    // With one of the three voters down, removing a live one would leave a two-node membership
    // with one node up: refused without --force, by the CLI and by the API.
    let (victim, survivor) = {
        let mut others = [1u64, 3, 4].into_iter().filter(|&i| i != leader);
        (others.next().unwrap(), others.next().unwrap())
    };
    drain(&cluster, victim).await;
    cluster.kill(victim);
    let (code, out, err) = cluster
        .cli(&[
            "cluster",
            "remove-node",
            &survivor.to_string(),
            "--config",
            &config,
        ])
        .await;
    assert_ne!(
        code, 0,
        "removing live node {survivor} with {victim} down was accepted:\n{out}{err}"
    );
    let refused_output = format!("{out}{err}");
    // Through a follower: admin calls may go to any node.
    let (status_code, body) = cluster
        .admin_post(
            survivor,
            "/cluster/remove",
            json!({"id": survivor, "force": false}),
        )
        .await;
    assert_eq!(status_code, 409, "API removal of {survivor}: {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "409 without an error message: {body}"
    );
    wait_voters(&cluster, leader, &[1, 3, 4]).await;

    // Removing the dead node keeps a quorum of live ones: allowed.
    let (code, out, err) = cluster
        .cli(&[
            "cluster",
            "remove-node",
            &victim.to_string(),
            "--config",
            &config,
        ])
        .await;
    assert_eq!(
        code,
        0,
        "removing dead node {victim} failed:\n{out}{err}\n{}",
        cluster.logs()
    );
    let mut remaining = vec![leader, survivor];
    remaining.sort();
    wait_voters(&cluster, leader, &remaining).await;
    assert!(
        workload.wait_logins(2, PROGRESS).await,
        "stalled after removing dead node {victim}: {}",
        workload.stats.summary()
    );

    let stats = workload.stats.clone();
    let mut ack = workload.stop().await;
    assert_stream_clean(&cluster, &stats, "resize");
    assert_eq!(
        stats.aborted.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "sign-ins failed during the resize: {}",
        stats.summary()
    );
    let problems = verify(&mut ack, &cluster.pool()).await;
    assert!(
        problems.is_empty(),
        "acknowledged state lost in the resize:\n  {}\n{}",
        problems.join("\n  "),
        cluster.logs()
    );
    let (digest, index) = cluster.wait_converged_among(&remaining).await;
    assert!(findings.is_empty(), "{}", findings.join("\n"));
    eprintln!(
        "resize: node 4 while waiting: status {waiting:?}, readyz {waiting_ready}; add-node took \
         {add_took:?}; node 4 then: {node4}; add-node printed:\n{add_output}\nremove-node 2 printed:\n{remove_output}\nnode 2 \
         after removal: {removed_status:?}\nnode 2 5 s later: {removed_later:?}; the \
         members' term {term_before:?} -> {term_after:?}\ncluster status printed:\n{status_output}\nrefused removal \
         printed: {refused_output}; API: {body}\nstream: {}; converged at {index} ({digest}); \
         total {:?}",
        stats.summary(),
        t0.elapsed()
    );
}

/// The admin API's membership refusals, each with its status and a reason, through a follower
/// (relayed to the leader) and the leader alike: a node that does not say which storage formats
/// it reads is not added, a learner that has not caught up is not promoted (unless forced), an
/// unknown node is not removed, and a voter is not "promoted".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_that_are_not_safe_are_refused_with_typed_answers() {
    let _serial = serial().await;
    let mut cluster = TestCluster::start(3).await;
    let leader = cluster.leader().await;
    let follower = cluster.ids().into_iter().find(|&i| i != leader).unwrap();
    // Nothing listens there: whether it could read the log is unknown, so it is not added.
    let (status, body) = cluster
        .admin_post(
            follower,
            "/cluster/add-learner",
            json!({ "id": 9, "raft": "127.0.0.1:9" }),
        )
        .await;
    assert_eq!(status, 409, "add-learner of a node that is not up: {body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("which storage formats it reads")),
        "{body}"
    );
    let status = cluster.status_of(leader).await;
    assert!(ids(&status["learners"]).is_empty(), "not added: {status}");

    // A real fourth node, added as a learner and then killed, falls behind as writes go on.
    cluster.add_node_config(9);
    cluster.start_node(9);
    let raft = cluster.raft_addr(9).to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = cluster
            .admin_post(
                follower,
                "/cluster/add-learner",
                json!({ "id": 9, "raft": raft }),
            )
            .await;
        if status == 200 {
            break;
        }
        assert!(
            status == 409 && Instant::now() < deadline,
            "add-learner of a started node: {status} {body}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster.kill(9);
    let endpoint = cluster.endpoint(leader);
    // One entry each: more than a learner may lag and still count as caught up.
    for _ in 0..mcpauth_raft::membership::PROMOTE_LAG + 10 {
        mcpauth_tests::register_public(&endpoint).await;
    }
    for via in [follower, leader] {
        let (status, body) = cluster
            .admin_post(via, "/cluster/promote", json!({ "id": 9 }))
            .await;
        assert_eq!(
            status, 409,
            "promote a learner that has not caught up: {body}"
        );
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("has not caught up")),
            "{body}"
        );
    }
    let status = cluster.status_of(leader).await;
    assert_eq!(ids(&status["learners"]), [9], "still a learner: {status}");
    assert_eq!(ids(&status["voters"]), [1, 2, 3]);

    let (status, body) = cluster
        .admin_post(follower, "/cluster/promote", json!({ "id": 42 }))
        .await;
    assert_eq!(status, 409, "promote a node that is not a learner: {body}");
    let (status, body) = cluster
        .admin_post(follower, "/cluster/remove", json!({ "id": 42 }))
        .await;
    assert_eq!(status, 404, "remove a node that is not a member: {body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("not a member")),
        "{body}"
    );

    // The learner that never caught up can be removed again.
    let (status, body) = cluster
        .admin_post(follower, "/cluster/remove", json!({ "id": 9 }))
        .await;
    assert_eq!(status, 200, "remove the learner: {body}");
    let status = cluster.status_of(leader).await;
    assert!(ids(&status["learners"]).is_empty(), "{status}");
}
