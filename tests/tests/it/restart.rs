//! Durability: what was acknowledged survives SIGKILL and a restart.

use mcpauth_tests::{
    location, login_and_redeem, pkce, query_of, redeem, refresh, verify_access_token, Browser,
    Node, REDIRECT_URI, RESOURCE,
};
use serde_json::Value;

#[tokio::test]
async fn a_token_issued_before_sigkill_refreshes_after_restart() {
    // Strict: a rotated token presented again is refused at once (under the default grace
    // policy it would be accepted within a minute), which shows the rotation survived.
    let config = tempfile::tempdir().unwrap();
    let path = config.path().join("mcpauth.toml");
    std::fs::write(&path, "refresh_reuse = \"strict\"\n").unwrap();
    let mut node =
        Node::start_with(&["--resource", RESOURCE, "--config", path.to_str().unwrap()]).await;
    let (client_id, first) = login_and_redeem(&node).await;
    let refresh_token = first["refresh_token"].as_str().unwrap().to_owned();
    let jwks_before: Value = mcpauth_tests::get_json(&node.url("/jwks.json")).await;

    // A browser session and its consent, and an unredeemed code, all acknowledged.
    let browser = Browser::new();
    let (verifier, challenge) = pkce();
    let query = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", RESOURCE),
    ];
    let pending_code = query_of(&browser.authorize(&node, &query).await)["code"].clone();

    node.kill();
    node.spawn().await;

    // The refresh token issued before the kill rotates after the restart.
    let response = refresh(&node, &client_id, &refresh_token).await;
    assert_eq!(response.status(), 200, "{}", node.log());
    let body: Value = response.json().await.unwrap();
    let claims = verify_access_token(&node, body["access_token"].as_str().unwrap(), RESOURCE)
        .await
        .unwrap();
    assert_eq!(claims["client_id"], client_id.as_str());
    // The old access token still verifies: the signing key survived.
    assert!(
        verify_access_token(&node, first["access_token"].as_str().unwrap(), RESOURCE)
            .await
            .is_ok()
    );
    let jwks_after: Value = mcpauth_tests::get_json(&node.url("/jwks.json")).await;
    assert_eq!(jwks_before, jwks_after);
    // The code issued before the kill is redeemable once.
    assert_eq!(
        redeem(&node, &client_id, &pending_code, &verifier)
            .await
            .status(),
        200
    );
    assert_eq!(
        redeem(&node, &client_id, &pending_code, &verifier)
            .await
            .status(),
        400
    );
    // The session and the consent survived: straight back to the client with a code.
    let (_, challenge) = pkce();
    let mut query = query.to_vec();
    query[3] = ("code_challenge", challenge.as_str());
    let response = browser
        .get(&mcpauth_tests::authorize_url(&node, &query))
        .await;
    assert_eq!(response.status(), 302);
    assert!(query_of(&location(&response)).contains_key("code"));
    // The rotated token is still known as rotated after the restart: reuse is detected.
    assert_eq!(
        refresh(&node, &client_id, &refresh_token).await.status(),
        400
    );
}

#[tokio::test]
async fn repeated_kills_lose_nothing_acknowledged() {
    let mut node = Node::start().await;
    let mut chains: Vec<(String, String)> = Vec::new();
    for round in 0..3 {
        for _ in 0..3 {
            let (client_id, body) = login_and_redeem(&node).await;
            chains.push((
                client_id,
                body["refresh_token"].as_str().unwrap().to_owned(),
            ));
        }
        // Rotate every chain so far, then kill without warning.
        for (client_id, token) in chains.iter_mut() {
            let response = refresh(&node, client_id, token).await;
            assert_eq!(response.status(), 200, "round {round}: {}", node.log());
            let body: Value = response.json().await.unwrap();
            *token = body["refresh_token"].as_str().unwrap().to_owned();
        }
        node.kill();
        node.spawn().await;
    }
    for (client_id, token) in &chains {
        assert_eq!(refresh(&node, client_id, token).await.status(), 200);
    }
}
