//! The internal server (Raft RPCs and the admin API) answers only requests that carry the
//! cluster secret; every refusal is logged, and the public port serves none of it.

use std::time::{Duration, Instant};

use mcpauth_tests::cluster::{serial, TestCluster, SECRET_HEADER};
use serde_json::{json, Value};

const INTERNAL: &[(&str, &str)] = &[
    ("GET", "/cluster/status"),
    ("POST", "/raft/append"),
    ("POST", "/raft/vote"),
    ("POST", "/raft/snapshot"),
    ("POST", "/raft/forward"),
    ("GET", "/raft/read-index"),
    ("POST", "/cluster/add-learner"),
    ("POST", "/cluster/promote"),
    ("POST", "/cluster/remove"),
];

async fn call(url: &str, method: &str, secret: Option<&str>, body: &Value) -> (u16, String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut request = match method {
        "GET" => client.get(url),
        _ => client.post(url).json(body),
    };
    if let Some(secret) = secret {
        request = request.header(SECRET_HEADER, secret);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Lines of `log` that look like a refused internal request.
fn refusal_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            let l = l.to_lowercase();
            l.contains("secret") || l.contains("401") || l.contains("unauthori")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_internal_api_refuses_requests_without_the_cluster_secret() {
    let _serial = serial().await;
    let t0 = Instant::now();
    let cluster = TestCluster::start(3).await;
    let secret = cluster.secret();
    assert!(
        secret.len() >= 32,
        "the generated cluster secret is short: {} characters",
        secret.len()
    );
    let wrong = format!("{secret}x");
    let node = 2;
    let log_before = cluster.log(node);
    let refusals_before = refusal_lines(&log_before).len();
    // A removal that would go through with the secret (force) must do nothing without it.
    let body = json!({"id": 3, "force": true, "raft": "127.0.0.1:1"});
    let mut refused = 0;
    for (method, path) in INTERNAL {
        let url = cluster.internal_url(node, path);
        for secret in [
            None,
            Some(wrong.as_str()),
            Some(""),
            Some(&secret[..secret.len() / 2]),
        ] {
            let (status, text) = call(&url, method, secret, &body).await;
            assert_eq!(
                status, 401,
                "{method} {path} with secret {secret:?} answered {status}: {text}"
            );
            refused += 1;
        }
    }
    // The refusals are in the node's log.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = cluster.log(node);
    let refusals = refusal_lines(&log).len() - refusals_before;
    assert!(
        refusals >= 1,
        "node {node} logged none of {refused} refused internal requests; log since:\n{}",
        &log[log_before.len().min(log.len())..]
    );
    assert!(
        !log.contains(&secret),
        "node {node} wrote the cluster secret to its log"
    );

    // Nothing changed: node 3 is still a voter.
    let status = cluster.status_of(1).await;
    let mut voters: Vec<u64> = status["voters"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    voters.sort();
    assert_eq!(voters, [1, 2, 3], "{status}");

    // With the secret, the same server answers.
    let (code, text) = call(
        &cluster.internal_url(node, "/cluster/status"),
        "GET",
        Some(&secret),
        &Value::Null,
    )
    .await;
    assert_eq!(code, 200, "{text}");

    // The public port serves none of the internal routes, with or without the secret.
    for (method, path) in INTERNAL {
        let url = format!("{}{path}", cluster.node_url(node));
        let (status, text) = call(&url, method, Some(&secret), &body).await;
        assert!(
            status == 404 || status == 405,
            "{method} {path} on the public port answered {status}: {text}"
        );
    }
    eprintln!(
        "security: {refused} refused internal requests, {refusals} log lines about them; total \
         {:?}",
        t0.elapsed()
    );
}
