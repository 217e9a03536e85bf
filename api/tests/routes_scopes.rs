//! Scopes as clients send them (issue 10): a request without `scope` gets a default, a
//! registration's `scope` is no cage, token responses always say the scope, and the code grant
//! hands out a refresh token without `offline_access` to clients that registered the grant.

mod common;

use common::{authorize_params, authorize_path, claims, code_in, error_sent_back, ok_json, redeem};
use mcpauth_api::testing::{pkce, Options, TestClient, TestNode, REDIRECT_URI, RESOURCE};
use serde_json::{json, Value};

/// Sign in, consent and redeem a code for `client_id` with `scope` (None: no `scope` member);
/// the token response.
async fn tokens(client: &TestClient, client_id: &str, scope: Option<&str>) -> Value {
    let (verifier, challenge) = pkce();
    let mut params = authorize_params(client_id, &challenge, Some(RESOURCE));
    if let Some(scope) = scope {
        params.push(("scope", scope));
    }
    let code = code_in(&client.authorize(&params).await);
    ok_json(&redeem(client, client_id, &code, &verifier).await)
}

async fn refresh(client: &TestClient, client_id: &str, refresh_token: &str) -> Value {
    ok_json(&common::refresh(client, client_id, refresh_token).await)
}

#[actix_web::test]
async fn no_scope_gets_the_default_and_both_grants_say_which() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let client_id = client.register_public().await;
    let first = tokens(&client, &client_id, None).await;
    assert_eq!(first["scope"], "mcp", "{first}");
    assert_eq!(
        claims(first["access_token"].as_str().unwrap())["scope"],
        "mcp"
    );
    let second = refresh(
        &client,
        &client_id,
        first["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        second["scope"], "mcp",
        "the refresh grant carries scope too: {second}"
    );
    // A blank scope names nothing either.
    let blank = tokens(&client, &client_id, Some(" ")).await;
    assert_eq!(blank["scope"], "mcp");
}

#[actix_web::test]
async fn the_configured_default_scopes_apply() {
    let node = TestNode::start_with(Options {
        configure: |c| c.default_scopes = vec!["openid".into(), "mcp".into()],
        ..Options::default()
    })
    .await
    .unwrap();
    let client = node.client().await;
    let client_id = client.register_public().await;
    assert_eq!(
        tokens(&client, &client_id, None).await["scope"],
        "openid mcp"
    );
}

#[actix_web::test]
async fn a_registered_scope_is_that_clients_default_not_its_limit() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let registered = client
        .register(json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid mcp unknown:scope",
        }))
        .await;
    let id = registered["client_id"].as_str().unwrap();
    assert_eq!(
        tokens(&client, id, None).await["scope"],
        "openid mcp",
        "its registered scopes, those served here"
    );
    // More than it registered: step-up with the same registration is not refused.
    let more = tokens(&client, id, Some("mcp offline_access profile")).await;
    assert_eq!(more["scope"], "mcp offline_access profile");
}

#[actix_web::test]
async fn a_scopeless_registration_may_ask_for_every_supported_scope() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let client_id = client.register_public().await;
    let all = "openid profile email offline_access mcp";
    let answer = tokens(&client, &client_id, Some(all)).await;
    assert_eq!(answer["scope"], all);
    assert_eq!(
        claims(answer["access_token"].as_str().unwrap())["scope"],
        all
    );
}

#[actix_web::test]
async fn an_unknown_scope_goes_back_as_invalid_scope_and_issues_nothing() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let client_id = client.register_public().await;
    tokens(&client, &client_id, None).await;
    let before = node.cluster.read(|s| s.counts());
    let (_, challenge) = pkce();
    let mut params = authorize_params(&client_id, &challenge, Some(RESOURCE));
    params.extend([("scope", "mcp files:delete"), ("state", "s9")]);
    let answer = client.get(&authorize_path(&params)).await;
    let back = error_sent_back(&answer, "s9");
    assert_eq!(back.get("error").map(String::as_str), Some("invalid_scope"));
    assert!(
        back["error_description"].contains("files:delete"),
        "{back:?}"
    );
    assert_eq!(node.cluster.read(|s| s.counts()), before, "nothing changed");
}

#[actix_web::test]
async fn the_code_grant_hands_out_a_refresh_token_without_offline_access() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let client_id = client.register_public().await;
    let first = tokens(&client, &client_id, Some("mcp")).await;
    let r1 = first["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("claude.ai never asks for offline_access: {first}"));
    let second = refresh(&client, &client_id, r1).await;
    assert!(second["refresh_token"].is_string(), "{second}");
    assert_eq!(second["scope"], "mcp");
    // A client that did not register the refresh grant gets none, offline_access or not.
    let code_only = client
        .register(json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
        }))
        .await;
    let id = code_only["client_id"].as_str().unwrap();
    let answer = tokens(&client, id, Some("mcp offline_access")).await;
    assert!(answer.get("refresh_token").is_none(), "{answer}");
    assert_eq!(answer["scope"], "mcp offline_access");
}
