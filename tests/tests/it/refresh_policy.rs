//! The refresh policy on a three-node cluster, with each presentation sent to another node:
//! under `grace` (the default) two sessions sharing one refresh token both stay signed in, and
//! a rotated token presented after its successor was used and its grace period passed revokes
//! the family; under `strict` the second presentation revokes it at once. The decisions are
//! made in apply(), so which node a request reaches does not matter.

use std::time::Duration;

use mcpauth_state::format::NEWEST;
use mcpauth_tests::cluster::{serial, Endpoint, Options, TestCluster};
use mcpauth_tests::{login_and_redeem, refresh};
use serde_json::Value;

/// Start three nodes with `extra_toml` (the refresh settings; none: the shipped default), and
/// wait until they apply format 4's rules.
async fn cluster_with(extra_toml: &str) -> TestCluster {
    let mut options = Options::nodes(3);
    options.refresh_reuse = None;
    options.extra_toml = extra_toml.to_owned();
    let cluster = TestCluster::start_with(options).await;
    cluster
        .wait_cluster_version(&cluster.ids(), u64::from(NEWEST))
        .await;
    cluster
}

/// Refresh on `node`, expecting a new pair; the new refresh token.
async fn rotates(node: &Endpoint, client_id: &str, token: &str) -> String {
    let response = refresh(node, client_id, token).await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, 200, "refresh on node {}: {body}", node.id);
    let next = body["refresh_token"].as_str().expect("a new refresh token");
    assert_ne!(next, token);
    next.to_owned()
}

/// Refresh on `node`, expecting `invalid_grant`.
async fn refused(node: &Endpoint, client_id: &str, token: &str) {
    let response = refresh(node, client_id, token).await;
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant")),
        "refresh on node {}: {body}",
        node.id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_keeps_two_sessions_sharing_a_token_signed_in_and_revokes_real_reuse() {
    let _serial = serial().await;
    // A short grace period, so the test can wait it out.
    let cluster = cluster_with("refresh_grace_secs = 2\n").await;
    let [one, two, three] = [1, 2, 3].map(|id| cluster.endpoint(id));
    let (client_id, tokens) = login_and_redeem(&one).await;
    let shared = tokens["refresh_token"].as_str().expect("refresh token");

    // Two sessions present the same token, on two nodes, then each uses its successor.
    let first = rotates(&one, &client_id, shared).await;
    let second = rotates(&two, &client_id, shared).await;
    let first = rotates(&three, &client_id, &first).await;
    let second = rotates(&one, &client_id, &second).await;
    // And both go on, past the grace period: each token is its holder's newest.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let first = rotates(&two, &client_id, &first).await;
    let second = rotates(&three, &client_id, &second).await;

    // Another sign-in: a token whose successor was used, presented again past its grace.
    let (other_client, tokens) = login_and_redeem(&two).await;
    let stale = tokens["refresh_token"].as_str().expect("refresh token");
    let successor = rotates(&one, &other_client, stale).await;
    let newest = rotates(&two, &other_client, &successor).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    refused(&three, &other_client, stale).await;
    // The whole family is revoked: its newest token too, on every node.
    refused(&one, &other_client, &newest).await;
    refused(&two, &other_client, &successor).await;

    // The two sessions of the first sign-in are another family: still signed in.
    rotates(&one, &client_id, &first).await;
    rotates(&two, &client_id, &second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_revokes_the_family_on_the_second_presentation() {
    let _serial = serial().await;
    let cluster = cluster_with("refresh_reuse = \"strict\"\n").await;
    let [one, two, three] = [1, 2, 3].map(|id| cluster.endpoint(id));
    let (client_id, tokens) = login_and_redeem(&one).await;
    let shared = tokens["refresh_token"].as_str().expect("refresh token");
    let successor = rotates(&two, &client_id, shared).await;
    // The same token again, at once, its successor unused: reuse under strict.
    refused(&three, &client_id, shared).await;
    refused(&one, &client_id, &successor).await;
}
