//! Revocation (RFC 7009) on one node, seen on the others: the revoked refresh token's next
//! refresh on another node is invalid_grant, and a revoked access token introspects
//! (RFC 7662) as inactive on a third. Three real processes.

use mcpauth_tests::cluster::{serial, Endpoint, TestCluster};
use mcpauth_tests::{http, login_and_redeem, refresh, register, REDIRECT_URI};
use serde_json::{json, Value};

async fn revoke(endpoint: &Endpoint, client_id: &str, token: &str) -> u16 {
    http()
        .post(format!("{}/revoke", endpoint.base))
        .form(&[("token", token), ("client_id", client_id)])
        .send()
        .await
        .expect("revoke")
        .status()
        .as_u16()
}

async fn introspect(endpoint: &Endpoint, id: &str, secret: &str, token: &str) -> Value {
    let response = http()
        .post(format!("{}/introspect", endpoint.base))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspect");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_node_holds_on_the_others() {
    let _serial = serial().await;
    let cluster = TestCluster::start(3).await;
    // Revocation writes format-4 commands: wait until every node reads them.
    cluster
        .wait_cluster_version(&cluster.ids(), u64::from(mcpauth_state::format::NEWEST))
        .await;
    let nodes: Vec<Endpoint> = cluster.ids().iter().map(|&i| cluster.endpoint(i)).collect();
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);

    // The resource server registers on node C as a confidential client.
    let rs = register(
        c,
        json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "client_secret_basic",
        }),
    )
    .await;
    let (rs_id, rs_secret) = (
        rs["client_id"].as_str().unwrap(),
        rs["client_secret"].as_str().unwrap(),
    );

    // Refresh token: revoked through A, refreshed through B.
    let (client_id, tokens) = login_and_redeem(a).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(revoke(a, &client_id, refresh_token).await, 200);
    let response = refresh(b, &client_id, refresh_token).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}\n{}",
        cluster.logs()
    );

    // Access token: active on C, revoked through B, at once inactive on C and on A.
    let (client_id, tokens) = login_and_redeem(b).await;
    let access = tokens["access_token"].as_str().unwrap();
    let active = introspect(c, rs_id, rs_secret, access).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["client_id"], client_id.as_str());
    assert_eq!(revoke(b, &client_id, access).await, 200);
    for node in [c, a] {
        assert_eq!(
            introspect(node, rs_id, rs_secret, access).await,
            json!({"active": false}),
            "node {}\n{}",
            node.id,
            cluster.logs()
        );
    }
    // The refresh token of that grant was not revoked with it.
    let response = refresh(c, &client_id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
}
