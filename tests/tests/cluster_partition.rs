//! Network partitions, made with the fault-injecting proxy between nodes: the minority side
//! refuses writes with 503 in bounded time and issues nothing; the majority side serves; after
//! healing the nodes agree and everything issued on the majority side works everywhere.

use std::time::{Duration, Instant};

use mcpauth_tests::cluster::{serial, Endpoint, TestCluster};
use mcpauth_tests::workload::{sign_in_flow, Chain, SignedIn, Stats};
use mcpauth_tests::{http, refresh, Target, REDIRECT_URI};
use serde_json::{json, Value};

/// How long a node cut off from the leader may take to say 503.
const BOUND: Duration = Duration::from_secs(15);

async fn sign_in(cluster: &TestCluster, stats: &Stats, endpoint: &Endpoint) -> Chain {
    match sign_in_flow(stats, endpoint, false, &mut Vec::new()).await {
        Ok(SignedIn::Tokens(chain)) => chain,
        Ok(SignedIn::Code(_)) => unreachable!(),
        Err(e) => panic!("sign-in on node {}: {e:?}\n{}", endpoint.id, cluster.logs()),
    }
}

/// Refresh through `endpoint`, retrying 503s for a while (a node rejoining, an election).
async fn refresh_ok(cluster: &TestCluster, endpoint: &Endpoint, chain: &Chain) -> Chain {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = refresh(endpoint, &chain.client_id, &chain.refresh_token).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == 200 {
            return Chain {
                client_id: chain.client_id.clone(),
                refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
                access_token: body["access_token"].as_str().unwrap().to_owned(),
                rotations: chain.rotations + 1,
            };
        }
        assert!(
            status == 503 && Instant::now() < deadline,
            "refresh of {} through node {}: {status} {body}\n{}",
            chain.client_id,
            endpoint.id,
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A write on a node cut off from the majority: 503 `temporarily_unavailable` within [`BOUND`],
/// never a token. Answers how long it took.
async fn refused_in_minority(
    cluster: &TestCluster,
    endpoint: &Endpoint,
    what: &str,
    request: reqwest::RequestBuilder,
) -> Duration {
    let started = Instant::now();
    let response = tokio::time::timeout(BOUND, request.send())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{what} on node {} (minority) gave no answer in {BOUND:?}\n{}",
                endpoint.id,
                cluster.logs()
            )
        })
        .expect("request");
    let took = started.elapsed();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(
        status,
        503,
        "{what} on node {} (minority): {status} {text}\n{}",
        endpoint.id,
        cluster.logs()
    );
    assert!(
        content_type.starts_with("application/json"),
        "{what}: 503 as {content_type}: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert_eq!(
        body["error"], "temporarily_unavailable",
        "{what} on node {} (minority): {text}",
        endpoint.id
    );
    took
}

fn refresh_request(endpoint: &Endpoint, chain: &Chain) -> reqwest::RequestBuilder {
    http().post(endpoint.url("/token")).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", chain.refresh_token.as_str()),
        ("client_id", chain.client_id.as_str()),
    ])
}

fn register_request(endpoint: &Endpoint) -> reqwest::RequestBuilder {
    http().post(endpoint.url("/register")).json(&json!({
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
    }))
}

async fn readyz(endpoint: &Endpoint) -> u16 {
    match http().get(endpoint.url("/readyz")).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// Cut `isolated` off from the two others (refusing or blackholing), check both sides, heal,
/// check convergence. Answers a line for the report.
async fn isolate(cluster: &mut TestCluster, isolated: u64, blackhole: bool) -> String {
    let stats = Stats::default();
    let ids = cluster.ids();
    let majority: Vec<u64> = ids.iter().copied().filter(|&i| i != isolated).collect();
    let [m1, m2] = [majority[0], majority[1]].map(|i| cluster.endpoint(i));
    let lonely = cluster.endpoint(isolated);
    let leader_before = cluster.leader().await;

    // Before: chains from every node. `probe` is presented at the minority during the
    // partition, `kept` rotated on the majority side.
    let probe = sign_in(cluster, &stats, &lonely).await;
    let kept = sign_in(cluster, &stats, &m1).await;

    let proxy = cluster.proxy.as_ref().expect("a cluster with proxies");
    if blackhole {
        proxy.partition_blackhole(&[&[isolated], &majority]);
    } else {
        proxy.partition(&[&[isolated], &majority]);
    }
    let cut_at = Instant::now();

    // The minority refuses writes, in bounded time, and issues nothing.
    let refresh_took = refused_in_minority(
        cluster,
        &lonely,
        "refresh",
        refresh_request(&lonely, &probe),
    )
    .await;
    let register_took =
        refused_in_minority(cluster, &lonely, "register", register_request(&lonely)).await;

    // The majority has (or elects) a leader of its own and serves sign-ins and refreshes.
    let leader = cluster.wait_for_leader(&[isolated]).await;
    let majority_leader_after = cut_at.elapsed();
    let during = sign_in(cluster, &stats, &m2).await;
    let during = refresh_ok(cluster, &m1, &during).await;
    let kept = refresh_ok(cluster, &m2, &kept).await;

    // Still refused on the minority, now that the majority has moved on.
    let again_took = refused_in_minority(
        cluster,
        &lonely,
        "refresh (later)",
        refresh_request(&lonely, &probe),
    )
    .await;
    let lonely_status = cluster.status(isolated).await.unwrap_or(Value::Null);
    let lonely_ready = readyz(&lonely).await;
    let proxy_stats = cluster.proxy.as_ref().unwrap().stats();

    cluster.proxy.as_ref().unwrap().heal();
    let healed_at = Instant::now();
    let (digest, index) = cluster.wait_converged().await;
    let converged_after = healed_at.elapsed();
    let leader_after = cluster.leader().await;
    // Everything issued on the majority side works through the formerly isolated node...
    refresh_ok(cluster, &lonely, &during).await;
    refresh_ok(cluster, &lonely, &kept).await;
    // ... and the token presented at the minority was never rotated: it still refreshes once.
    refresh_ok(cluster, &lonely, &probe).await;
    assert_eq!(
        stats.retries_503.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "the majority answered 503: {}\n{}",
        stats.summary(),
        cluster.logs()
    );
    format!(
        "isolated node {isolated} ({}; leader before {leader_before}): minority answered 503 to \
         refresh in {refresh_took:?}, to register in {register_took:?}, later refresh in \
         {again_took:?}; its status then: state {} leader {} term {}, readyz {lonely_ready}; \
         majority leader {leader} agreed after {majority_leader_after:?}; proxy {proxy_stats:?}; \
         after heal converged in {converged_after:?} at index {index} ({digest}), leader \
         {leader_after}",
        if blackhole { "blackhole" } else { "refused" },
        lonely_status["state"],
        lonely_status["leader"],
        lonely_status["term"],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_leader_refuses_writes_and_the_majority_serves() {
    let _serial = serial().await;
    let t0 = Instant::now();
    let mut cluster = TestCluster::start_with_proxy(3).await;
    let leader = cluster.leader().await;
    let report = isolate(&mut cluster, leader, false).await;
    eprintln!("partition: {report}; total {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_cut_off_by_lost_packets_refuses_writes_and_rejoins() {
    let _serial = serial().await;
    let t0 = Instant::now();
    let mut cluster = TestCluster::start_with_proxy(3).await;
    let leader = cluster.leader().await;
    let follower = cluster.ids().into_iter().find(|&i| i != leader).unwrap();
    let report = isolate(&mut cluster, follower, true).await;
    eprintln!("partition: {report}; total {:?}", t0.elapsed());
}
