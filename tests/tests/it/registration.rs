//! RFC 7591 dynamic client registration: what is accepted, echoed, and refused.

use mcpauth_tests::{http, register, Node, REDIRECT_URI};
use serde_json::{json, Value};

async fn refused(node: &Node, metadata: Value) -> (u16, Value) {
    let response = http()
        .post(node.url("/register"))
        .json(&metadata)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap())
}

fn unreserved(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

#[tokio::test]
async fn public_client_is_echoed_without_a_secret() {
    let node = Node::start().await;
    let body = register(
        &node,
        json!({
            "redirect_uris": [REDIRECT_URI, "https://claude.ai/api/mcp/auth_callback"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "Claude",
            "scope": "mcp",
            "application_type": "native",
            "software_id": "x",
        }),
    )
    .await;
    let id = body["client_id"].as_str().unwrap();
    assert!(unreserved(id) && id.len() >= 16);
    assert!(body.get("client_secret").is_none());
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(
        body["redirect_uris"],
        json!([REDIRECT_URI, "https://claude.ai/api/mcp/auth_callback"])
    );
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(body["client_name"], "Claude");
    assert_eq!(body["scope"], "mcp");
    assert_eq!(body["application_type"], "native");
    assert_eq!(body["software_id"], "x");
    assert!(body["client_id_issued_at"].as_u64().unwrap() > 1_700_000_000);
    assert!(
        body.as_object().unwrap().values().all(|v| !v.is_null()),
        "no null members: {body}"
    );
}

#[tokio::test]
async fn confidential_clients_and_the_default_method() {
    let node = Node::start().await;
    // RFC 7591 §2: the default method is client_secret_basic, and we say so.
    let body = register(&node, json!({"redirect_uris": [REDIRECT_URI]})).await;
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(body["grant_types"], json!(["authorization_code"]));
    assert_eq!(body["response_types"], json!(["code"]));
    let secret = body["client_secret"].as_str().unwrap();
    assert!(unreserved(secret) && secret.len() >= 32);
    assert_eq!(body["client_secret_expires_at"], 0);
    let post = register(
        &node,
        json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    assert_eq!(post["token_endpoint_auth_method"], "client_secret_post");
    assert_ne!(post["client_id"], body["client_id"]);
    assert_ne!(post["client_secret"], body["client_secret"]);
}

#[tokio::test]
async fn redirect_uri_rules() {
    let node = Node::start().await;
    for ok in [
        "http://127.0.0.1/",
        "http://localhost:3000/cb",
        "http://[::1]:8000/cb",
        "https://vscode.dev/redirect",
    ] {
        register(
            &node,
            json!({"redirect_uris": [ok], "token_endpoint_auth_method": "none"}),
        )
        .await;
    }
    for bad in [
        "http://example.com/callback",
        "https://example.com/cb#fragment",
        "https://user:pass@example.com/cb",
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "other-app://callback",
        "not a uri",
        "/relative/path",
    ] {
        let (status, body) = refused(
            &node,
            json!({"redirect_uris": [bad], "token_endpoint_auth_method": "none"}),
        )
        .await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["error"], "invalid_redirect_uri", "{bad}: {body}");
        assert!(body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
    }
    let (status, body) = refused(&node, json!({"token_endpoint_auth_method": "none"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_redirect_uri"))
    );
}

#[tokio::test]
async fn known_clients_schemes_by_default_and_the_operators_list_replaces_them() {
    let cursor = json!({"redirect_uris": ["cursor://anysphere.cursor-mcp/oauth/callback"], "token_endpoint_auth_method": "none"});
    let defaults = Node::start().await;
    register(&defaults, cursor.clone()).await;
    let node = Node::start_with(&[
        "--resource",
        mcpauth_tests::RESOURCE,
        "--allow-redirect-scheme",
        "com.example.app",
    ])
    .await;
    register(
        &node,
        json!({"redirect_uris": ["com.example.app:/oauth/callback"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    for refused_uri in [
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "javascript:alert(1)",
    ] {
        let (status, body) = refused(
            &node,
            json!({"redirect_uris": [refused_uri], "token_endpoint_auth_method": "none"}),
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_redirect_uri")),
            "{refused_uri}"
        );
    }
}

#[tokio::test]
async fn invalid_metadata_is_refused() {
    let node = Node::start().await;
    let cases = [
        json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"redirect_uris": [REDIRECT_URI], "grant_types": ["password"]}),
        json!({"redirect_uris": [REDIRECT_URI], "grant_types": ["client_credentials"]}),
        json!({"redirect_uris": [REDIRECT_URI], "response_types": ["token"]}),
        json!({"redirect_uris": [REDIRECT_URI], "grant_types": ["refresh_token"]}),
        json!({"redirect_uris": "http://127.0.0.1/cb"}),
    ];
    for case in cases {
        let (status, body) = refused(&node, case.clone()).await;
        assert_eq!(status, 400, "{case}");
        assert_eq!(body["error"], "invalid_client_metadata", "{case}: {body}");
    }
    let response = http()
        .post(node.url("/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client_metadata");
}
