//! /authorize, /consent and /register in process, with the clock pinned: what needs time to
//! pass (a session's end) is tested by moving the clock.

mod common;

use actix_web::http::StatusCode;
use common::{authorize_params, authorize_path};
use mcpauth_api::testing::{pkce, query_of, TestNode, ISSUER, REDIRECT_URI, RESOURCE, T0};
use serde_json::json;

#[actix_web::test]
async fn a_session_ends_when_the_clock_passes_its_lifetime() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let client_id = client.register_public().await;
    // Sign in and consent once.
    client.code_for(&client_id, "mcp").await;
    let (_, challenge) = pkce();
    let mut silent = authorize_params(&client_id, &challenge, Some(RESOURCE));
    silent.extend([("scope", "mcp"), ("state", "s1"), ("prompt", "none")]);

    // Signed in and consented: prompt=none gets a code at once.
    node.clock.advance(12 * 3600 - 1);
    let answer = client.get(&authorize_path(&silent)).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    let back = query_of(answer.location());
    assert!(answer.location().starts_with(REDIRECT_URI));
    assert!(back.contains_key("code"), "{back:?}");
    assert_eq!(back.get("iss").map(String::as_str), Some(ISSUER));

    // Twelve hours after the login the session is over.
    node.clock.advance(1);
    let answer = client.get(&authorize_path(&silent)).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    let back = query_of(answer.location());
    assert!(answer.location().starts_with(REDIRECT_URI));
    assert_eq!(
        back.get("error").map(String::as_str),
        Some("login_required")
    );
    assert_eq!(back.get("state").map(String::as_str), Some("s1"));
    assert!(!back.contains_key("code"));
    let answer = client.get(&authorize_path(&silent[..8])).await;
    assert!(
        answer.location().starts_with("/login?"),
        "without prompt=none: sign in again ({})",
        answer.location()
    );
}

#[actix_web::test]
async fn a_denied_consent_goes_back_with_access_denied() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let client_id = client.register_public().await;
    let (_, challenge) = pkce();
    let mut params = authorize_params(&client_id, &challenge, Some(RESOURCE));
    params.push(("state", "s2"));
    let answer = client.get(&authorize_path(&params)).await;
    let return_to = query_of(answer.location())
        .remove("return_to")
        .unwrap_or_default();
    let back = client.sign_in(&return_to).await;
    let consent = client.get(back.location()).await;
    assert_eq!(consent.status, StatusCode::OK, "the consent page");
    let csrf = client.cookie("mcpauth_csrf").unwrap_or_default();
    let mut form = vec![("csrf", csrf.as_str()), ("decision", "deny")];
    form.extend_from_slice(&params);
    let answer = client.post_form("/consent", &form).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let back = query_of(answer.location());
    assert_eq!(back.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(back.get("state").map(String::as_str), Some("s2"));
    // A forged form (no CSRF token) records nothing and goes nowhere.
    form[0].1 = "";
    let answer = client.post_form("/consent", &form).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn registration_is_stamped_with_the_pinned_clock_and_refusals_are_typed() {
    let node = TestNode::start().await;
    node.clock.advance(42);
    let client = node.client().await;
    let registered = client
        .register(json!({"redirect_uris": [REDIRECT_URI], "client_name": "Stamped"}))
        .await;
    assert_eq!(registered["client_id_issued_at"], T0 + 42);
    assert_eq!(
        registered["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    assert!(registered["client_secret"].is_string());
    let cases = [
        (
            json!({"redirect_uris": ["http://example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": [REDIRECT_URI], "grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ];
    for (metadata, error) in cases {
        let answer = client
            .send(
                actix_web::test::TestRequest::post()
                    .uri("/register")
                    .set_json(&metadata),
            )
            .await;
        assert_eq!(answer.oauth_error(), (400, error.to_owned()), "{metadata}");
    }
}
