//! Key rotation in process with the clock pinned: the schedule decides from the state, a new
//! key is published before it signs, /token switches to it at its activation instant, and the
//! old key leaves JWKS only at its retirement (the end-to-end version on three real nodes is
//! tests/tests/it/key_rotation.rs).

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{node_at_version_4, ok_json};
use mcpauth_api::clock::SharedClock;
use mcpauth_api::key_rotation::policy::CLOCK_SKEW_ALLOWANCE_SECS;
use mcpauth_api::key_rotation::{KeyRotator, RotateError, RotationPolicy, Trigger};
use mcpauth_api::testing::{TestClient, T0};
use serde_json::Value;

const POLICY: RotationPolicy = RotationPolicy {
    rotate_every: 10_000,
    publish_before: 100,
    max_token_lifetime: 3600,
};

fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().expect("header");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("json");
    header["kid"].as_str().expect("kid").to_owned()
}

async fn jwks_kids(client: &TestClient) -> Vec<String> {
    client.get("/jwks.json").await.json()["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

/// Refresh and answer (the new refresh token, the access token's kid).
async fn refresh(client: &TestClient, client_id: &str, refresh_token: &str) -> (String, String) {
    let body = ok_json(&common::refresh(client, client_id, refresh_token).await);
    (
        body["refresh_token"].as_str().expect("refresh").to_owned(),
        kid_of(body["access_token"].as_str().expect("access")),
    )
}

#[actix_web::test]
async fn a_key_is_published_before_it_signs_and_dropped_after_its_tokens_expire() {
    // A one-voter cluster raises its version to 4 within moments of starting.
    let node = node_at_version_4().await;
    let clock: SharedClock = node.clock.clone();
    let rotator = KeyRotator::new(
        node.cluster.clone(),
        node.state.sealer.clone(),
        clock,
        POLICY,
        mcpauth_api::server_config::ServerConfig::new("http://unused").purge_policy(),
    );
    let client = node.client().await;
    let client_id = client.register_public().await;
    let tokens = common::tokens_for(&client, &client_id, "mcp offline_access").await;
    let mut refresh_token = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let first = jwks_kids(&client).await;
    assert_eq!(first.len(), 1);

    // Not due yet: the schedule does nothing.
    node.clock.set(T0 + 9_999);
    assert!(rotator.tick().await.expect("tick").is_none());
    assert_eq!(node.cluster.read(|s| s.signing_keys().len()), 1);

    // Due: one key, published now, signing from publish_before later.
    node.clock.set(T0 + 10_000);
    let added = rotator.tick().await.expect("tick").expect("a key is due");
    assert_eq!(added.created_at, T0 + 10_000);
    assert_eq!(added.activates_at, T0 + 10_100);
    let retires_at = T0 + 10_100 + 3600 + CLOCK_SKEW_ALLOWANCE_SECS;
    let old = node.cluster.read(|s| s.signing_keys()[0].clone());
    assert_eq!(old.retires_at, Some(retires_at));

    // While it is pending, neither the schedule nor an operator adds another.
    assert!(rotator.tick().await.expect("tick").is_none());
    match rotator.rotate(Trigger::Operator).await {
        Err(RotateError::Pending { kid, activates_at }) => {
            assert_eq!((kid, activates_at), (added.kid.clone(), T0 + 10_100));
        }
        other => panic!("expected a refusal while a key is pending, got {other:?}"),
    }
    assert_eq!(node.cluster.read(|s| s.signing_keys().len()), 2);

    // The publish window: both keys in JWKS, tokens still signed by the old one.
    node.clock.set(T0 + 10_099);
    let mut both = vec![old.kid.clone(), added.kid.clone()];
    both.sort();
    let mut published = jwks_kids(&client).await;
    published.sort();
    assert_eq!(published, both);
    let kid;
    (refresh_token, kid) = refresh(&client, &client_id, &refresh_token).await;
    assert_eq!(kid, old.kid, "a pending key signs nothing");

    // From its activation instant, the new key signs; the old one stays published.
    node.clock.set(T0 + 10_100);
    let (_, kid) = refresh(&client, &client_id, &refresh_token).await;
    assert_eq!(kid, added.kid);
    assert!(rotator.tick().await.expect("tick").is_none());
    assert_eq!(jwks_kids(&client).await.len(), 2);

    // Until the last token the old key signed has expired, then the schedule's purge drops it.
    node.clock.set(retires_at - 1);
    assert!(rotator.tick().await.expect("tick").is_none());
    assert_eq!(jwks_kids(&client).await.len(), 2);
    node.clock.set(retires_at);
    assert!(rotator.tick().await.expect("tick").is_none());
    assert_eq!(jwks_kids(&client).await, std::slice::from_ref(&added.kid));

    // An operator's rotation ignores the schedule (the next is due at T0 + 20_000), still
    // publishing first.
    let manual = rotator
        .rotate(Trigger::Operator)
        .await
        .expect("rotate")
        .expect("a key");
    assert_eq!(manual.activates_at, retires_at + 100);
}
