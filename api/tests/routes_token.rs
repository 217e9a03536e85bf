//! /token in process: the real routes, actors and a one-node Raft on sled (mcpauth_api::testing),
//! with the clock pinned, so expiry is tested by moving time instead of waiting for it.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{basic, claims, code_grant_form, refresh_grant_form, register_confidential, token};
use mcpauth_api::testing::{pkce, TestNode, REDIRECT_URI, RESOURCE, T0};
use serde_json::json;

/// A token request's form, owned.
type Form = Vec<(&'static str, String)>;

#[actix_web::test]
async fn a_code_then_refreshes_with_the_time_the_clock_says() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let client_id = client.register_public().await;
    let (code, verifier) = client.code_for(&client_id, "mcp offline_access").await;

    node.clock.advance(5);
    let answer = token(&client, &code_grant_form(&client_id, &code, &verifier)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let first = answer.json();
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["expires_in"], 3600);
    assert_eq!(first["scope"], "mcp offline_access");
    let access = claims(first["access_token"].as_str().unwrap());
    assert_eq!(access["iat"], T0 + 5, "issued at the pinned time");
    assert_eq!(access["exp"], T0 + 5 + 3600);
    assert_eq!(access["aud"], RESOURCE);
    assert_eq!(access["client_id"], client_id.as_str());
    assert_eq!(access["sub"], "admin");
    assert_eq!(access["auth_time"], T0, "signed in at the pinned start");

    node.clock.advance(100);
    let r1 = first["refresh_token"].as_str().unwrap();
    let refresh = refresh_grant_form(&client_id, r1);
    let answer = token(&client, &refresh).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let second = answer.json();
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2, "the refresh token rotates");
    let access = claims(second["access_token"].as_str().unwrap());
    assert_eq!(access["iat"], T0 + 105);
    assert_eq!(access["aud"], RESOURCE, "the resource binding is kept");

    // The code is spent, and the rotated token is reuse: the family goes, r2 with it.
    let (_, error) = token(&client, &code_grant_form(&client_id, &code, &verifier))
        .await
        .oauth_error();
    assert_eq!(error, "invalid_grant");
    assert_eq!(
        token(&client, &refresh).await.oauth_error(),
        (400, "invalid_grant".into())
    );
    let after_reuse = refresh_grant_form(&client_id, r2);
    assert_eq!(
        token(&client, &after_reuse).await.oauth_error(),
        (400, "invalid_grant".into())
    );
}

#[actix_web::test]
async fn a_code_expires_when_the_clock_passes_its_sixty_seconds() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let client_id = client.register_public().await;
    let (late, late_verifier) = client.code_for(&client_id, "mcp").await;
    let (timely, timely_verifier) = client.code_for(&client_id, "mcp").await;

    node.clock.advance(59);
    let answer = token(
        &client,
        &code_grant_form(&client_id, &timely, &timely_verifier),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    node.clock.advance(1);
    assert_eq!(
        token(&client, &code_grant_form(&client_id, &late, &late_verifier))
            .await
            .oauth_error(),
        (400, "invalid_grant".into()),
        "at 60 s the code is expired"
    );
}

#[actix_web::test]
async fn a_wrong_verifier_is_refused_and_consumes_nothing() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let client_id = client.register_public().await;
    let (code, verifier) = client.code_for(&client_id, "mcp").await;
    let (other_verifier, _) = pkce();
    assert_eq!(
        token(
            &client,
            &code_grant_form(&client_id, &code, &other_verifier)
        )
        .await
        .oauth_error(),
        (400, "invalid_grant".into())
    );
    let answer = token(&client, &code_grant_form(&client_id, &code, &verifier)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

#[actix_web::test]
async fn wrong_client_authentication_is_refused() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let common::Confidential { id, secret } = register_confidential(&client).await;
    let public_id = client.register_public().await;
    let (code, verifier) = client.code_for(&id, "mcp").await;
    let grant = |extra: &[(&'static str, String)]| {
        let mut form: Form = vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT_URI.into()),
            ("code_verifier", verifier.clone()),
        ];
        form.extend_from_slice(extra);
        form
    };
    let send = |form: Form, authorization: Option<String>| {
        let mut request = TestRequest::post().uri("/token").set_form(form);
        if let Some(value) = authorization {
            request = request.insert_header(("Authorization", value));
        }
        client.send(request)
    };

    // (form, Authorization header, status, error, Basic challenge expected)
    let cases: Vec<(Form, Option<String>, u16, &str, bool)> = vec![
        (
            grant(&[]),
            Some(basic(&id, "wrong")),
            401,
            "invalid_client",
            true,
        ),
        (
            grant(&[("client_id", id.clone()), ("client_secret", "wrong".into())]),
            None,
            401,
            "invalid_client",
            false,
        ),
        (
            grant(&[("client_id", id.clone())]),
            None,
            401,
            "invalid_client",
            false,
        ),
        (grant(&[]), None, 401, "invalid_client", false),
        (
            grant(&[]),
            Some(basic("no-such-client", "x")),
            401,
            "invalid_client",
            true,
        ),
        (
            grant(&[]),
            Some("Basic not-base64!".into()),
            401,
            "invalid_client",
            false,
        ),
        (
            grant(&[("client_id", public_id.clone())]),
            Some(basic(&id, &secret)),
            401,
            "invalid_client",
            false,
        ),
        (
            grant(&[("client_secret", secret.clone())]),
            Some(basic(&id, &secret)),
            400,
            "invalid_request",
            false,
        ),
        (
            grant(&[
                ("client_id", public_id.clone()),
                ("client_secret", "anything".into()),
            ]),
            None,
            401,
            "invalid_client",
            false,
        ),
    ];
    for (form, authorization, status, error, challenge) in cases {
        let what = format!("{form:?} {authorization:?}");
        let answer = send(form, authorization).await;
        assert_eq!(answer.oauth_error(), (status, error.to_owned()), "{what}");
        assert_eq!(
            answer.header("www-authenticate").is_some(),
            challenge,
            "{what}"
        );
    }
    // None of those consumed the code: the right secret still redeems it.
    let answer = send(grant(&[]), Some(basic(&id, &secret))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

#[actix_web::test]
async fn unsupported_grants_and_missing_parameters_are_invalid_requests() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let client_id = client.register_public().await;
    let (code, verifier) = client.code_for(&client_id, "mcp").await;
    let id = client_id.as_str();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![("grant_type", "password"), ("client_id", id)],
            "unsupported_grant_type",
        ),
        (
            vec![("grant_type", "client_credentials"), ("client_id", id)],
            "unsupported_grant_type",
        ),
        (vec![("client_id", id), ("code", &code)], "invalid_request"),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("code_verifier", &verifier),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("code", &code),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("code", &code),
                ("code_verifier", "too-short"),
            ],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("code", &code),
                ("code", "again"),
                ("code_verifier", &verifier),
            ],
            "invalid_request",
        ),
        (
            vec![("grant_type", "refresh_token"), ("client_id", id)],
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("code", &code),
                ("code_verifier", &verifier),
                ("resource", "https://elsewhere.example/mcp"),
            ],
            "invalid_target",
        ),
    ];
    for (form, error) in cases {
        assert_eq!(
            token(&client, &form).await.oauth_error(),
            (400, error.to_owned()),
            "{form:?}"
        );
    }
    let answer = token(&client, &code_grant_form(id, &code, &verifier)).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "none of those consumed the code"
    );
}

#[actix_web::test]
async fn a_client_without_the_refresh_grant_gets_no_refresh_token() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let registered = client
        .register(json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code"],
        }))
        .await;
    let id = registered["client_id"].as_str().unwrap();
    let (code, verifier) = client.code_for(id, "mcp").await;
    let answer = token(&client, &code_grant_form(id, &code, &verifier)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.json().get("refresh_token").is_none());
    let refresh = refresh_grant_form(id, "x");
    assert_eq!(
        token(&client, &refresh).await.oauth_error(),
        (400, "unauthorized_client".into())
    );
}
