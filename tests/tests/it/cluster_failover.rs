//! Failover under load: SIGKILL of the leader, and a rolling restart of every node, while people
//! sign in and clients rotate refresh tokens against all nodes. Nothing acknowledged is lost, and
//! the nodes end with the same state.

use std::time::{Duration, Instant};

use mcpauth_tests::cluster::{serial, Options, TestCluster};
use mcpauth_tests::workload::{
    assert_stream_clean, verify, Acknowledged, Workload, WorkloadOptions,
};

const PROGRESS: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_mid_stream_loses_nothing_acknowledged() {
    let _serial = serial().await;
    let t0 = Instant::now();
    let mut cluster = TestCluster::start(3).await;
    let started_in = t0.elapsed();
    let leader = cluster.leader().await;

    let workload = Workload::start(cluster.pool(), WorkloadOptions::default());
    assert!(
        workload.wait_logins(6, PROGRESS).await && workload.wait_refreshes(4, PROGRESS).await,
        "the stream did not get going: {}\n{}",
        workload.stats.summary(),
        cluster.logs()
    );

    let killed_at = Instant::now();
    cluster.kill(leader);
    let new_leader = cluster.wait_for_leader(&[leader]).await;
    let failover = killed_at.elapsed();
    assert_ne!(new_leader, leader);

    // The stream goes on through the two nodes left.
    assert!(
        workload.wait_logins(6, PROGRESS).await && workload.wait_refreshes(6, PROGRESS).await,
        "the stream did not continue after the failover: {}\n{}",
        workload.stats.summary(),
        cluster.logs()
    );
    let stats = workload.stats.clone();
    let mut ack = workload.stop().await;
    let acknowledged = format!(
        "{} chains, {} codes, {} clients",
        ack.chains.len(),
        ack.codes.len(),
        ack.clients.len()
    );
    assert_stream_clean(&cluster, &stats, "leader kill");
    // Only requests to the killed node may have broken.
    let broken = stats.connection_errors.lock().unwrap().clone();
    assert!(
        broken.keys().all(|&id| id == leader),
        "connections broke on live nodes: {broken:?}\n{}",
        cluster.logs()
    );

    let problems = verify(&mut ack, &cluster.pool()).await;
    assert!(
        problems.is_empty(),
        "acknowledged state lost after the leader's SIGKILL:\n  {}\n{}",
        problems.join("\n  "),
        cluster.logs()
    );

    // The killed node comes back with its data, catches up, and agrees.
    let restarted_at = Instant::now();
    cluster.restart(leader).await;
    let ready_in = restarted_at.elapsed();
    let (digest, index) = cluster.wait_converged().await;
    // It serves what was written while it was down.
    let mut through_it = Acknowledged {
        chains: ack.chains.iter().take(5).cloned().collect(),
        clients: ack.clients.iter().take(5).cloned().collect(),
        ..Default::default()
    };
    let pool = cluster.pool();
    pool.lock().unwrap().retain(|&id, _| id == leader);
    let problems = verify(&mut through_it, &pool).await;
    assert!(problems.is_empty(), "{problems:?}\n{}", cluster.logs());

    eprintln!(
        "leader kill: cluster up in {started_in:?}; killed leader {leader}; node {new_leader} led \
         after {failover:?}; stream: {}; acknowledged: {acknowledged}; \
         restarted node ready in {ready_in:?}; converged at index {index} ({digest}); total {:?}",
        stats.summary(),
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_after_leader_killed_under_load_loses_nothing_acknowledged() {
    let _serial = serial().await;
    let t0 = Instant::now();
    let mut cluster = TestCluster::start(3).await;
    let workload = Workload::start(
        cluster.pool(),
        WorkloadOptions {
            workers: 6,
            ..Default::default()
        },
    );
    assert!(
        workload.wait_logins(4, PROGRESS).await,
        "the stream did not get going: {}\n{}",
        workload.stats.summary(),
        cluster.logs()
    );
    let mut killed = Vec::new();
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let leader = cluster.leader().await;
        let at = Instant::now();
        cluster.kill(leader);
        killed.push(leader);
        let next = cluster.wait_for_leader(&[leader]).await;
        let failover = at.elapsed();
        assert!(
            workload.wait_logins(3, PROGRESS).await && workload.wait_refreshes(3, PROGRESS).await,
            "the stream stalled after killing leader {leader}: {}\n{}",
            workload.stats.summary(),
            cluster.logs()
        );
        // Back under load: it catches up while the others keep writing.
        cluster.restart(leader).await;
        rounds.push(format!("killed {leader}, {next} led after {failover:?}"));
    }
    let stats = workload.stats.clone();
    let mut ack = workload.stop().await;
    assert_stream_clean(&cluster, &stats, "leader after leader");
    let broken = stats.connection_errors.lock().unwrap().clone();
    assert!(
        broken.keys().all(|id| killed.contains(id)),
        "connections broke on nodes never killed: {broken:?}"
    );
    let acknowledged = format!(
        "{} chains, {} codes, {} clients",
        ack.chains.len(),
        ack.codes.len(),
        ack.clients.len()
    );
    let problems = verify(&mut ack, &cluster.pool()).await;
    assert!(
        problems.is_empty(),
        "acknowledged state lost after repeated leader kills:\n  {}\n{}",
        problems.join("\n  "),
        cluster.logs()
    );
    let (digest, index) = cluster.wait_converged().await;
    eprintln!(
        "leader after leader: {}; stream: {}; acknowledged: {acknowledged}; converged at {index} \
         ({digest}); total {:?}",
        rounds.join("; "),
        stats.summary(),
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_under_load_loses_nothing_acknowledged() {
    let _serial = serial().await;
    let t0 = Instant::now();
    // Small snapshots: restarts load a snapshot and replay the log after it.
    let mut cluster = TestCluster::start_with(Options::nodes(3).snapshot_every(100)).await;
    let workload = Workload::start(cluster.pool(), WorkloadOptions::default());
    assert!(
        workload.wait_logins(4, PROGRESS).await,
        "the stream did not get going: {}\n{}",
        workload.stats.summary(),
        cluster.logs()
    );
    let mut report = Vec::new();
    let mut findings = Vec::new();
    // One node at a time: first a follower (SIGTERM), then another follower (SIGKILL), then
    // the last one, the leader if leadership stayed put (SIGTERM).
    let mut remaining = cluster.ids();
    let total = remaining.len();
    for position in 0..total {
        let (id, leader) = cluster.next_to_roll(&mut remaining).await;
        let step = Instant::now();
        let how = if position % 2 == 0 {
            let (graceful, took) = cluster.terminate(id, Duration::from_secs(15)).await;
            if !graceful {
                findings.push(format!(
                    "node {id} (leader: {}) did not exit within 15 s of SIGTERM (then SIGKILLed)",
                    id == leader
                ));
            }
            format!("SIGTERM (exited by itself: {graceful}, after {took:?})")
        } else {
            cluster.kill(id);
            "SIGKILL".to_owned()
        };
        let stopped = step.elapsed();
        cluster.restart(id).await;
        let ready = step.elapsed();
        // Progress between restarts, so each restart happens under load.
        let progressed =
            workload.wait_logins(2, PROGRESS).await && workload.wait_refreshes(2, PROGRESS).await;
        assert!(
            progressed,
            "the stream stalled after restarting node {id}: {}\n{}",
            workload.stats.summary(),
            cluster.logs()
        );
        report.push(format!(
            "node {id} (leader was {leader}) {how}, stopped after {stopped:?}, ready again after \
             {ready:?}"
        ));
    }
    let stats = workload.stats.clone();
    let mut ack = workload.stop().await;
    let acknowledged = format!(
        "{} chains, {} codes, {} clients",
        ack.chains.len(),
        ack.codes.len(),
        ack.clients.len()
    );
    assert_stream_clean(&cluster, &stats, "rolling restart");
    let problems = verify(&mut ack, &cluster.pool()).await;
    assert!(
        problems.is_empty(),
        "acknowledged state lost in the rolling restart:\n  {}\n{}",
        problems.join("\n  "),
        cluster.logs()
    );
    let (digest, index) = cluster.wait_converged().await;
    assert!(
        findings.is_empty(),
        "rolling restart: {}\nsteps: {}\nstream: {}",
        findings.join("; "),
        report.join("; "),
        stats.summary()
    );
    eprintln!(
        "rolling restart: {}; stream: {}; acknowledged: {acknowledged}; \
         converged at index {index} ({digest}); total {:?}",
        report.join("; "),
        stats.summary(),
        t0.elapsed()
    );
}
