//! One winner across nodes, and read-your-writes across nodes.

use std::sync::Arc;
use std::time::Instant;

use mcpauth_tests::cluster::{serial, Endpoint, TestCluster};
use mcpauth_tests::workload::{authorize_flow, redeem_code, Stats};
use mcpauth_tests::{http, refresh, register_public, verify_access_token, Target, RESOURCE};
use serde_json::Value;
use tokio::sync::Barrier;

const RACERS: usize = 30;

/// The browser flow on `endpoint` for `client_id`: (code, verifier), or a panic with the logs.
async fn code_on(
    cluster: &TestCluster,
    stats: &Stats,
    browser: &reqwest::Client,
    endpoint: &Endpoint,
    client_id: &str,
) -> (String, String) {
    match authorize_flow(stats, browser, endpoint, client_id).await {
        Ok(pair) => pair,
        Err(e) => panic!(
            "authorize for {client_id} on node {}: {e:?}\n{}",
            endpoint.id,
            cluster.logs()
        ),
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Send `RACERS` token requests with `form` at once, spread over the nodes; answers each
/// (node, status, body).
async fn race(endpoints: &[Endpoint], form: Vec<(&'static str, String)>) -> Vec<(u64, u16, Value)> {
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..RACERS {
        let endpoint = endpoints[k % endpoints.len()].clone();
        let (barrier, form) = (barrier.clone(), form.clone());
        tasks.spawn(async move {
            let client = http();
            let request = client.post(endpoint.url("/token")).form(&form);
            barrier.wait().await;
            let response = request.send().await.expect("token request");
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (endpoint.id, status, body)
        });
    }
    let mut answers = Vec::new();
    while let Some(answer) = tasks.join_next().await {
        answers.push(answer.expect("racer"));
    }
    answers
}

/// Exactly one 200; every other answer 400 invalid_grant.
fn exactly_one_winner(cluster: &TestCluster, what: &str, answers: &[(u64, u16, Value)]) -> u64 {
    let winners: Vec<_> = answers.iter().filter(|a| a.1 == 200).collect();
    let others: Vec<_> = answers
        .iter()
        .filter(|a| !(a.1 == 200 || (a.1 == 400 && a.2["error"] == "invalid_grant")))
        .collect();
    assert!(
        winners.len() == 1 && others.is_empty(),
        "{what}: {} winners {:?}, and answers other than invalid_grant: {others:?}\n{}",
        winners.len(),
        winners.iter().map(|w| w.0).collect::<Vec<_>>(),
        cluster.logs()
    );
    winners[0].0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_or_refresh_token_raced_on_every_node_has_exactly_one_winner() {
    let _serial = serial().await;
    let t0 = Instant::now();
    let cluster = TestCluster::start(3).await;
    let endpoints: Vec<Endpoint> = cluster.ids().iter().map(|&i| cluster.endpoint(i)).collect();
    let stats = Stats::default();
    let b = browser();
    let mut code_winners = Vec::new();
    let mut refresh_winners = Vec::new();
    for round in 0..3 {
        let home = &endpoints[round % 3];
        let client = register_public(home).await;
        let client_id = client["client_id"].as_str().unwrap().to_owned();

        // One code, 30 redemptions at once over the three nodes.
        let (code, verifier) = code_on(&cluster, &stats, &b, home, &client_id).await;
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", mcpauth_tests::REDIRECT_URI.to_owned()),
            ("client_id", client_id.clone()),
            ("code_verifier", verifier),
        ];
        let answers = race(&endpoints, form).await;
        code_winners.push(exactly_one_winner(
            &cluster,
            &format!("round {round}: one code raced"),
            &answers,
        ));

        // One refresh token, 30 rotations at once over the three nodes.
        let (code, verifier) = code_on(&cluster, &stats, &b, home, &client_id).await;
        let tokens = redeem_code(&stats, home, &client_id, &code, &verifier)
            .await
            .unwrap_or_else(|e| panic!("{e:?}\n{}", cluster.logs()));
        let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
        let form = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh_token),
            ("client_id", client_id.clone()),
        ];
        let answers = race(&endpoints, form).await;
        refresh_winners.push(exactly_one_winner(
            &cluster,
            &format!("round {round}: one refresh token raced"),
            &answers,
        ));
    }
    assert_eq!(
        stats.retries_503.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "503 answers with no fault injected: {}",
        stats.summary()
    );
    eprintln!(
        "races: {RACERS} requests each; code winners on nodes {code_winners:?}, refresh winners \
         on nodes {refresh_winners:?}; total {:?}",
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_node_is_seen_at_once_through_another() {
    let _serial = serial().await;
    let t0 = Instant::now();
    let mut cluster = TestCluster::start(3).await;
    let [n1, n2, n3] = [1, 2, 3].map(|i| cluster.endpoint(i));
    let stats = Stats::default();
    let b3 = browser();

    // Every node publishes the same metadata (the cluster's issuer) and the same keys.
    let mut jwks = Vec::new();
    for endpoint in [&n1, &n2, &n3] {
        let metadata: Value =
            mcpauth_tests::get_json(&endpoint.url("/.well-known/oauth-authorization-server")).await;
        assert_eq!(metadata["issuer"], cluster.issuer, "node {}", endpoint.id);
        assert_eq!(
            metadata["token_endpoint"],
            format!("{}/token", cluster.issuer),
            "node {}",
            endpoint.id
        );
        let keys: Value = mcpauth_tests::get_json(&endpoint.url("/jwks.json")).await;
        jwks.push(keys);
    }
    assert!(
        jwks.windows(2).all(|w| w[0] == w[1]),
        "nodes publish different JWKS: {jwks:?}"
    );

    let leader = cluster.leader().await;
    for round in 0..5 {
        // Registered through node 1, authorized through node 3 at once.
        let client = register_public(&n1).await;
        let client_id = client["client_id"].as_str().unwrap().to_owned();
        let (code, verifier) = code_on(&cluster, &stats, &b3, &n3, &client_id).await;
        // The code, written through node 3, redeemed through node 1 at once.
        let tokens = redeem_code(&stats, &n1, &client_id, &code, &verifier)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e:?}\n{}", cluster.logs()));
        // The refresh token issued through node 1, used through node 3 at once.
        let response = refresh(&n3, &client_id, tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!(
            response.status(),
            200,
            "round {round}: a refresh token issued through node 1 at node 3: {}\n{}",
            response.text().await.unwrap_or_default(),
            cluster.logs()
        );
        let rotated: Value = response.json().await.unwrap();
        // And its successor through node 2 at once; the access token node 2 signed verifies with
        // node 3's JWKS.
        let response = refresh(&n2, &client_id, rotated["refresh_token"].as_str().unwrap()).await;
        assert_eq!(
            response.status(),
            200,
            "round {round}: a refresh token issued through node 3 at node 2: {}\n{}",
            response.text().await.unwrap_or_default(),
            cluster.logs()
        );
        let signed_by_2: Value = response.json().await.unwrap();
        let claims =
            verify_access_token(&n3, signed_by_2["access_token"].as_str().unwrap(), RESOURCE)
                .await
                .unwrap_or_else(|e| panic!("a token signed via node 2 at node 3's JWKS: {e}"));
        assert_eq!(claims["iss"], cluster.issuer);
        assert_eq!(claims["client_id"], client_id.as_str());
        // The rotated-away token is refused on every node at once (reuse detection is global).
        let response = refresh(&n1, &client_id, rotated["refresh_token"].as_str().unwrap()).await;
        assert_eq!(
            response.status(),
            400,
            "round {round}: reuse through node 1"
        );
    }
    assert_eq!(
        stats.retries_503.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "503 answers with no fault injected: {}",
        stats.summary()
    );
    eprintln!(
        "read-your-writes: 5 rounds over 3 nodes (leader {leader}); total {:?}",
        t0.elapsed()
    );
}
