//! RFC 8414 metadata, the OpenID configuration, JWKS and CORS.

use mcpauth_tests::{http, Node};
use serde_json::Value;

#[tokio::test]
async fn metadata_has_what_mcp_clients_require() {
    let node = Node::start().await;
    let response = http()
        .get(node.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let m: Value = response.json().await.unwrap();
    assert_eq!(
        m["issuer"],
        node.issuer.as_str(),
        "issuer is byte-identical"
    );
    assert_eq!(m["authorization_endpoint"], node.url("/authorize"));
    assert_eq!(m["token_endpoint"], node.url("/token"));
    assert_eq!(m["registration_endpoint"], node.url("/register"));
    assert_eq!(m["jwks_uri"], node.url("/jwks.json"));
    assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        serde_json::json!(["none", "client_secret_basic", "client_secret_post"])
    );
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    assert!(m["scopes_supported"]
        .as_array()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(m["subject_types_supported"], serde_json::json!(["public"]));
    assert_eq!(
        m["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );

    let oidc: Value = mcpauth_tests::get_json(&node.url("/.well-known/openid-configuration")).await;
    assert_eq!(oidc, m, "the OpenID configuration is the same document");
}

#[tokio::test]
async fn jwks_publishes_the_es256_signing_key() {
    let node = Node::start().await;
    let jwks: Value = mcpauth_tests::get_json(&node.url("/jwks.json")).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
    assert!(key.get("d").is_none(), "no private part is published");
    let parsed: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    assert!(jsonwebtoken::DecodingKey::from_jwk(&parsed.keys[0]).is_ok());
}

#[tokio::test]
async fn cors_on_metadata_jwks_token_register_but_never_authorize() {
    let node = Node::start().await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/jwks.json",
        "/token",
        "/register",
    ] {
        let preflight = http()
            .request(reqwest::Method::OPTIONS, node.url(path))
            .header("Origin", "https://app.example")
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "content-type, mcp-protocol-version",
            )
            .send()
            .await
            .unwrap();
        assert!(
            preflight.status().is_success(),
            "OPTIONS {path} needs no authentication"
        );
        assert_eq!(
            preflight.headers()["access-control-allow-origin"],
            "*",
            "{path}"
        );
        let allowed = preflight.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(
            allowed.contains("mcp-protocol-version"),
            "{path}: {allowed}"
        );
    }
    let metadata = http()
        .get(node.url("/.well-known/oauth-authorization-server"))
        .header("Origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(metadata.headers()["access-control-allow-origin"], "*");
    // Even an error answer from /token carries CORS, so scripts can read the error.
    let token_error = http()
        .post(node.url("/token"))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(token_error.status(), 400);
    assert_eq!(token_error.headers()["access-control-allow-origin"], "*");

    let authorize = http()
        .get(node.url("/authorize"))
        .header("Origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert!(authorize
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let preflight = http()
        .request(reqwest::Method::OPTIONS, node.url("/authorize"))
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert!(preflight
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn health_and_readiness() {
    let node = Node::start().await;
    assert_eq!(
        http()
            .get(node.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = http().get(node.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert!(ready.text().await.unwrap().contains("leader 1"));
}
