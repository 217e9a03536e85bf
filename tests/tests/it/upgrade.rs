//! Upgrading a live cluster from the previous release (0.1, storage format 2) to this one,
//! one node at a time, while people sign in and refresh; and this version starting on data the
//! previous one wrote.
//!
//! The previous release is the real 0.1 binary, built from git by the test command
//! (`scripts/build-previous-release.sh`). While any member runs it, the cluster version stays
//! 2: every node writes what 0.1 reads. Once the last node runs this version, the leader raises
//! it to the newest format this version writes (`format::NEWEST`), and entries are written in
//! it from then on.

use std::time::{Duration, Instant};

use mcpauth_state::format::NEWEST;
use mcpauth_tests::cluster::{serial, Options, TestCluster};
use mcpauth_tests::workload::{assert_stream_clean, verify, Workload, WorkloadOptions};
use mcpauth_tests::{binary, login_and_redeem, previous_release_binary, refresh, Target};
use serde_json::Value;

const PROGRESS: Duration = Duration::from_secs(60);
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_upgrade_from_the_previous_release_loses_nothing_acknowledged() {
    let _serial = serial().await;
    let t0 = Instant::now();
    let previous = previous_release_binary();
    // Small snapshots: upgraded nodes load a snapshot 0.1 wrote, and catch up from one.
    let mut cluster = TestCluster::start_with(
        Options::nodes(3)
            .snapshot_every(100)
            .binary(previous.clone()),
    )
    .await;
    for id in cluster.ids() {
        let status = cluster.status_of(id).await;
        assert!(
            status.get("cluster_version").is_none(),
            "node {id} should be running 0.1, which reports no cluster version: {status}"
        );
    }
    let workload = Workload::start(cluster.pool(), WorkloadOptions::default());
    assert!(
        workload.wait_logins(4, PROGRESS).await && workload.wait_refreshes(4, PROGRESS).await,
        "the stream did not get going on 0.1: {}\n{}",
        workload.stats.summary(),
        cluster.logs()
    );

    // Followers first, the leader last (if leadership stays put), each SIGTERMed, started
    // again on the same data with this version's binary.
    let mut report = Vec::new();
    let mut remaining = cluster.ids();
    let mut upgraded = Vec::new();
    while !remaining.is_empty() {
        let (id, leader) = cluster.next_to_roll(&mut remaining).await;
        let step = Instant::now();
        let (graceful, _) = cluster.terminate(id, Duration::from_secs(15)).await;
        cluster.set_binary(id, binary());
        cluster.restart(id).await;
        upgraded.push(id);
        let ready = step.elapsed();
        assert!(
            workload.wait_logins(2, PROGRESS).await && workload.wait_refreshes(2, PROGRESS).await,
            "the stream stalled after upgrading node {id}: {}\n{}",
            workload.stats.summary(),
            cluster.logs()
        );
        if !remaining.is_empty() {
            // A 0.1 node is still a member: the upgraded ones must keep writing format 2.
            // Give the leader time to have looked (it asks every 2 s).
            tokio::time::sleep(Duration::from_secs(3)).await;
            for &done in &upgraded {
                assert_eq!(
                    cluster.cluster_version(done).await,
                    2,
                    "node {done} raised the cluster version while nodes {remaining:?} run 0.1\n{}",
                    cluster.logs()
                );
            }
        }
        report.push(format!(
            "node {id} (leader was {leader}, SIGTERM exited by itself: {graceful}) upgraded, \
             ready after {ready:?}"
        ));
    }
    let raised_after = cluster
        .wait_cluster_version(&cluster.ids(), u64::from(NEWEST))
        .await;
    // More sign-ins and refreshes, now written in the newest format.
    assert!(
        workload.wait_logins(4, PROGRESS).await && workload.wait_refreshes(4, PROGRESS).await,
        "the stream stalled after the cluster version was raised: {}\n{}",
        workload.stats.summary(),
        cluster.logs()
    );
    let stats = workload.stats.clone();
    let mut ack = workload.stop().await;
    assert_stream_clean(&cluster, &stats, "rolling upgrade");
    let problems = verify(&mut ack, &cluster.pool()).await;
    assert!(
        problems.is_empty(),
        "acknowledged state lost in the rolling upgrade:\n  {}\n{}",
        problems.join("\n  "),
        cluster.logs()
    );
    let (digest, index) = cluster.wait_converged().await;
    let refused = a_previous_release_node_is_not_added(&mut cluster, previous).await;
    let raised = cluster.logs().matches("cluster version raised").count();
    assert!(
        raised >= 1,
        "no node logged raising the cluster version\n{}",
        cluster.logs()
    );
    eprintln!(
        "rolling upgrade: {}; cluster version {NEWEST} on every node {raised_after:?} after the last \
         upgrade; stream: {}; {} chains, {} codes acknowledged; converged at index {index} \
         ({digest}); a 0.1 node then refused: {refused}; total {:?}",
        report.join("; "),
        stats.summary(),
        ack.chains.len(),
        ack.codes.len(),
        t0.elapsed()
    );
}

/// Once the cluster writes the newest format, `cluster add-node` refuses a node running 0.1 (it would
/// stop at the first entry) and the members stay as they were. Answers what it printed.
async fn a_previous_release_node_is_not_added(
    cluster: &mut TestCluster,
    previous: std::path::PathBuf,
) -> String {
    let members = cluster.ids();
    cluster.add_node_config(4);
    cluster.set_binary(4, previous);
    cluster.start_node(4);
    let config = cluster.config.display().to_string();
    let add = ["cluster", "add-node", "--config", &config, "--node", "4"];
    // Until its internal server listens, the refusal is that it cannot be asked.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (code, printed) = loop {
        let (code, out, err) = cluster.cli(&add).await;
        let printed = format!("{out}{err}");
        if code == 0 || !printed.contains("cannot ask node 4") || Instant::now() > deadline {
            break (code, printed);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_ne!(
        code, 0,
        "a 0.1 node was added to a format-{NEWEST} cluster: {printed}"
    );
    assert!(
        printed.contains("reads storage formats 1 to 2")
            && printed.contains(&format!("the cluster writes format {NEWEST}")),
        "add-node did not say why: {printed}"
    );
    let status = cluster.status_of(members[0]).await;
    let voters: Vec<u64> = serde_json::from_value(status["voters"].clone()).expect("voters");
    assert_eq!(voters, members, "{status}");
    assert_eq!(status["learners"], serde_json::json!([]), "{status}");
    cluster.kill(4);
    printed.trim().to_owned()
}

/// The refresh token of a token response, and the kid of its access token.
fn refresh_token_and_kid(body: &Value) -> (String, String) {
    let refresh = body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh token in {body}"))
        .to_owned();
    let access = body["access_token"].as_str().expect("access token");
    let header = jsonwebtoken::decode_header(access).expect("a JWT");
    (refresh, header.kid.expect("kid"))
}

async fn refreshed(cluster: &TestCluster, client_id: &str, token: &str) -> Value {
    let response = refresh(&cluster.endpoint(1), client_id, token).await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, 200, "refresh refused: {body}\n{}", cluster.logs());
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn this_version_starts_on_data_the_previous_release_wrote() {
    let _serial = serial().await;
    // A snapshot every 20 entries: the upgraded node loads a format-2 snapshot and replays
    // format-2 entries after it.
    let mut cluster = TestCluster::start_with(
        Options::nodes(1)
            .snapshot_every(20)
            .binary(previous_release_binary()),
    )
    .await;
    let endpoint = cluster.endpoint(1);
    let (client_id, body) = login_and_redeem(&endpoint).await;
    let (mut token, kid) = refresh_token_and_kid(&body);
    for _ in 0..30 {
        let body = refreshed(&cluster, &client_id, &token).await;
        token = refresh_token_and_kid(&body).0;
    }
    let before = cluster.status_of(1).await;
    assert!(
        before["snapshot_index"].as_u64().is_some(),
        "0.1 took no snapshot: {before}"
    );

    cluster.terminate(1, Duration::from_secs(15)).await;
    cluster.set_binary(1, binary());
    cluster.restart(1).await;
    let after = cluster.status_of(1).await;
    assert!(
        after["applied_index"].as_u64() >= before["applied_index"].as_u64(),
        "the upgraded node lost entries: before {before}, after {after}"
    );
    // The refresh token 0.1 issued last still works, signed by the same key.
    let body = refreshed(&cluster, &client_id, &token).await;
    let (next, kid_after) = refresh_token_and_kid(&body);
    assert_eq!(kid_after, kid, "the signing key changed across the upgrade");
    cluster.wait_cluster_version(&[1], u64::from(NEWEST)).await;
    let body = refreshed(&cluster, &client_id, &next).await;
    let (mut token, _) = refresh_token_and_kid(&body);
    for _ in 0..25 {
        let body = refreshed(&cluster, &client_id, &token).await;
        token = refresh_token_and_kid(&body).0;
    }
    // Restart on data now written in both formats: a newest-format snapshot and entries.
    cluster.terminate(1, Duration::from_secs(15)).await;
    cluster.restart(1).await;
    assert_eq!(cluster.cluster_version(1).await, u64::from(NEWEST));
    refreshed(&cluster, &client_id, &token).await;
    // And the previous release refuses data it cannot read rather than misreading it.
    cluster.terminate(1, Duration::from_secs(15)).await;
    cluster.set_binary(1, previous_release_binary());
    cluster.spawn(1);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut served = false;
    while Instant::now() < deadline {
        // Not the `refresh` helper: a node that refuses to start refuses connections.
        let answer = mcpauth_tests::http()
            .post(cluster.endpoint(1).url("/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
                ("client_id", client_id.as_str()),
            ])
            .send()
            .await;
        if answer.is_ok_and(|r| r.status() == 200) {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        !served,
        "0.1 served a refresh on format-{NEWEST} data it cannot read\n{}",
        cluster.logs()
    );
    eprintln!(
        "0.1 on format-{NEWEST} data: {}",
        cluster
            .log(1)
            .lines()
            .rev()
            .find(|l| l.contains("ERROR") || l.contains("format"))
            .unwrap_or("(no error line)")
    );
}
