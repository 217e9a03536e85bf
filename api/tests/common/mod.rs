//! Helpers shared by the api crate's route tests (`mod common;` in each test file), on top of
//! `mcpauth_api::testing`: nodes at cluster version 4, confidential clients, authorization
//! requests and the errors sent back from them, /token forms for the code and refresh grants,
//! and reading an access token's claims.

// Every test file compiles this module on its own and uses only some of its helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use mcpauth_api::testing::{query_of, Answer, TestClient, TestNode, ISSUER, REDIRECT_URI};
use serde_json::{json, Value};

/// A node whose cluster version is 4 (revocation, registration access tokens); a fresh
/// cluster reaches it in moments.
pub async fn node_at_version_4() -> TestNode {
    let node = TestNode::start().await;
    node.wait_cluster_version(4).await;
    node
}

/// The claims of a JWT, unverified (the signature is checked end to end in tests/).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// An HTTP Basic `Authorization` value.
pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// A Bearer `Authorization` value.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A confidential client: (client_id, client_secret).
pub struct Confidential {
    pub id: String,
    pub secret: String,
}

impl Confidential {
    /// Its `Authorization: Basic` value.
    pub fn basic(&self) -> String {
        basic(&self.id, &self.secret)
    }
}

/// Register a `client_secret_basic` client with the code and refresh grants.
pub async fn register_confidential(client: &TestClient) -> Confidential {
    let registered = client
        .register(json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"],
        }))
        .await;
    Confidential {
        id: registered["client_id"].as_str().unwrap().to_owned(),
        secret: registered["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// An authorization request's parameters for `client_id` at [`REDIRECT_URI`] with the PKCE
/// `challenge`, naming `resource` (None: no member); callers add scope, state or prompt.
pub fn authorize_params<'a>(
    client_id: &'a str,
    challenge: &'a str,
    resource: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    if let Some(resource) = resource {
        params.push(("resource", resource));
    }
    params
}

/// The /authorize path carrying `pairs` as its query.
pub fn authorize_path(pairs: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("/authorize?{query}")
}

/// The code in a redirect back to the client; panics without one.
pub fn code_in(location: &str) -> String {
    query_of(location)
        .remove("code")
        .unwrap_or_else(|| panic!("no code in {location}"))
}

/// The query of an error sent back to the client, after checking it went to [`REDIRECT_URI`]
/// with `state` and `iss` and without a code.
pub fn error_sent_back(answer: &Answer, state: &str) -> BTreeMap<String, String> {
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.text());
    assert!(
        answer.location().starts_with(REDIRECT_URI),
        "to the client, not a page: {}",
        answer.location()
    );
    let back = query_of(answer.location());
    assert_eq!(
        back.get("state").map(String::as_str),
        Some(state),
        "{back:?}"
    );
    assert_eq!(
        back.get("iss").map(String::as_str),
        Some(ISSUER),
        "{back:?}"
    );
    assert!(!back.contains_key("code"), "{back:?}");
    back
}

/// The /token form redeeming `code` for the public client `client_id` at [`REDIRECT_URI`].
pub fn code_grant_form<'a>(
    client_id: &'a str,
    code: &'a str,
    verifier: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", client_id),
        ("code_verifier", verifier),
    ]
}

/// The /token form refreshing `refresh_token` for the public client `client_id`.
pub fn refresh_grant_form<'a>(
    client_id: &'a str,
    refresh_token: &'a str,
) -> [(&'a str, &'a str); 3] {
    [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
    ]
}

/// Post `pairs` to /token.
pub async fn token(client: &TestClient, pairs: &[(&str, &str)]) -> Answer {
    client.post_form("/token", pairs).await
}

/// Redeem `code` for the public client `client_id` (see [`code_grant_form`]).
pub async fn redeem(client: &TestClient, client_id: &str, code: &str, verifier: &str) -> Answer {
    token(client, &code_grant_form(client_id, code, verifier)).await
}

/// Refresh `refresh_token` for the public client `client_id` (see [`refresh_grant_form`]).
pub async fn refresh(client: &TestClient, client_id: &str, refresh_token: &str) -> Answer {
    token(client, &refresh_grant_form(client_id, refresh_token)).await
}

/// The JSON body of a 200 answer; panics with the body otherwise.
pub fn ok_json(answer: &Answer) -> Value {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()
}

/// Sign in, consent to `scope` and redeem the code for the public client `client_id`: the
/// token response (asserted 200).
pub async fn tokens_for(client: &TestClient, client_id: &str, scope: &str) -> Value {
    let (code, verifier) = client.code_for(client_id, scope).await;
    ok_json(&redeem(client, client_id, &code, &verifier).await)
}
