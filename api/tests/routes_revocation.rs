//! /revoke (RFC 7009) and /introspect (RFC 7662) in process: the real routes over a one-node
//! Raft on sled (mcpauth_api::testing), clock pinned, so expiry is a move of the clock.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{basic, claims, node_at_version_4, register_confidential, Confidential};
use mcpauth_api::testing::{Options, TestClient, TestNode, REDIRECT_URI, RESOURCE, T0};
use serde_json::{json, Value};

/// Tokens of one grant.
struct Tokens {
    access: String,
    refresh: String,
}

/// Sign in and redeem a code for the public client `client_id`.
async fn tokens_for(client: &TestClient, client_id: &str) -> Tokens {
    let body = common::tokens_for(client, client_id, "mcp offline_access").await;
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

/// A refresh of the public client's token: the status and body.
async fn refresh(client: &TestClient, client_id: &str, token: &str) -> (u16, Value) {
    let answer = common::refresh(client, client_id, token).await;
    (answer.status.as_u16(), answer.json())
}

async fn revoke(client: &TestClient, form: &[(&str, &str)]) -> mcpauth_api::testing::Answer {
    client.post_form("/revoke", form).await
}

/// Introspect `token` as `rs`; panics unless 200 with no-store.
async fn introspect(client: &TestClient, rs: &Confidential, token: &str) -> Value {
    let answer = client
        .send(
            TestRequest::post()
                .uri("/introspect")
                .insert_header(("Authorization", rs.basic()))
                .set_form([("token", token)]),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    answer.json()
}

/// A refused request: (form, Authorization, status, error, Basic challenge expected).
type Case<'a> = (Vec<(&'a str, &'a str)>, Option<String>, u16, &'a str, bool);

#[actix_web::test]
async fn a_revoked_refresh_token_takes_its_family_with_it() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let rs = register_confidential(&client).await;
    let id = client.register_public().await;
    let first = tokens_for(&client, &id).await;
    // Rotate once: the family now has a current token and a retired one.
    let (status, body) = refresh(&client, &id, &first.refresh).await;
    assert_eq!(status, 200, "{body}");
    let current = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&client, &rs, &current).await["active"], true);

    // A wrong hint does not stop the search.
    let answer = revoke(
        &client,
        &[
            ("token", &current),
            ("token_type_hint", "access_token"),
            ("client_id", &id),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.body.is_empty(), "RFC 7009 §2.2: no body");
    assert_eq!(answer.header("cache-control"), Some("no-store"));

    for token in [&current, &first.refresh] {
        let (status, body) = refresh(&client, &id, token).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        assert_eq!(
            introspect(&client, &rs, token).await,
            json!({"active": false})
        );
    }
    // Revoking it again is no error, and neither is a token we never issued.
    for token in [current.as_str(), "never-issued", "a.b.c"] {
        let answer = revoke(&client, &[("token", token), ("client_id", &id)]).await;
        assert_eq!(answer.status, StatusCode::OK, "{token}: {}", answer.text());
    }
}

#[actix_web::test]
async fn a_revoked_access_token_is_inactive_until_and_after_it_expires() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let rs = register_confidential(&client).await;
    let id = client.register_public().await;
    let tokens = tokens_for(&client, &id).await;
    let jti = claims(&tokens.access)["jti"].as_str().unwrap().to_owned();

    let active = introspect(&client, &rs, &tokens.access).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["client_id"], id.as_str());
    assert_eq!(active["sub"], "admin");
    assert_eq!(active["aud"], RESOURCE);
    assert_eq!(active["iss"], mcpauth_api::testing::ISSUER);
    assert_eq!(active["scope"], "mcp offline_access");
    assert_eq!(active["token_type"], "Bearer");
    assert_eq!(active["iat"], T0);
    assert_eq!(active["exp"], T0 + 3600);
    assert_eq!(active["jti"], jti.as_str());

    let answer = revoke(
        &client,
        &[
            ("token", &tokens.access),
            ("token_type_hint", "refresh_token"),
            ("client_id", &id),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(node.cluster.read(|s| s.access_token_revoked(&jti)));
    assert_eq!(
        introspect(&client, &rs, &tokens.access).await,
        json!({"active": false})
    );
    // The refresh token of the same grant is another token: it still works.
    let (status, body) = refresh(&client, &id, &tokens.refresh).await;
    assert_eq!(status, 200, "{body}");
}

#[actix_web::test]
async fn an_expired_access_token_is_inactive_and_revoking_it_writes_nothing() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let rs = register_confidential(&client).await;
    let id = client.register_public().await;
    let tokens = tokens_for(&client, &id).await;
    let jti = claims(&tokens.access)["jti"].as_str().unwrap().to_owned();
    node.clock.advance(3599);
    assert_eq!(
        introspect(&client, &rs, &tokens.access).await["active"],
        true
    );
    node.clock.advance(1);
    assert_eq!(
        introspect(&client, &rs, &tokens.access).await,
        json!({"active": false}),
        "at exp the token is expired"
    );
    let answer = revoke(&client, &[("token", &tokens.access), ("client_id", &id)]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(!node.cluster.read(|s| s.access_token_revoked(&jti)));
}

#[actix_web::test]
async fn another_clients_tokens_cannot_be_revoked() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let rs = register_confidential(&client).await;
    let owner = client.register_public().await;
    let stranger = client.register_public().await;
    let tokens = tokens_for(&client, &owner).await;
    for token in [&tokens.access, &tokens.refresh] {
        let answer = revoke(&client, &[("token", token), ("client_id", &stranger)]).await;
        assert_eq!(answer.oauth_error(), (400, "unauthorized_client".into()));
        // Nor by the resource server, which is a client too.
        let answer = client
            .send(
                TestRequest::post()
                    .uri("/revoke")
                    .insert_header(("Authorization", rs.basic()))
                    .set_form([("token", token.as_str())]),
            )
            .await;
        assert_eq!(answer.oauth_error(), (400, "unauthorized_client".into()));
        assert_eq!(introspect(&client, &rs, token).await["active"], true);
    }
    let (status, body) = refresh(&client, &owner, &tokens.refresh).await;
    assert_eq!(status, 200, "nothing was revoked: {body}");
}

#[actix_web::test]
async fn revocation_refusals() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let rs = register_confidential(&client).await;
    let id = client.register_public().await;
    let tokens = tokens_for(&client, &id).await;
    let refresh_token = tokens.refresh.as_str();
    let cases: Vec<Case> = vec![
        (
            vec![("token", refresh_token)],
            None,
            401,
            "invalid_client",
            false,
        ),
        (
            vec![("token", refresh_token), ("client_id", "no-such-client")],
            None,
            401,
            "invalid_client",
            false,
        ),
        (
            vec![("token", refresh_token)],
            Some(basic(&rs.id, "wrong")),
            401,
            "invalid_client",
            true,
        ),
        (
            vec![
                ("token", refresh_token),
                ("client_id", &rs.id),
                ("client_secret", "wrong"),
            ],
            None,
            401,
            "invalid_client",
            false,
        ),
        (
            vec![("token", refresh_token), ("client_id", &rs.id)],
            None,
            401,
            "invalid_client",
            false,
        ),
        (
            vec![("client_id", &id)],
            None,
            400,
            "invalid_request",
            false,
        ),
        (
            vec![("token", refresh_token), ("token", "x"), ("client_id", &id)],
            None,
            400,
            "invalid_request",
            false,
        ),
        (
            vec![
                ("token", "never-issued"),
                ("token_type_hint", "id_token"),
                ("client_id", &id),
            ],
            None,
            400,
            "unsupported_token_type",
            false,
        ),
    ];
    for (form, authorization, status, error, challenge) in cases {
        let what = format!("{form:?} {authorization:?}");
        let mut request = TestRequest::post().uri("/revoke").set_form(&form);
        if let Some(value) = authorization {
            request = request.insert_header(("Authorization", value));
        }
        let answer = client.send(request).await;
        assert_eq!(answer.oauth_error(), (status, error.to_owned()), "{what}");
        assert_eq!(
            answer.header("www-authenticate").is_some(),
            challenge,
            "{what}"
        );
    }
    // None of them revoked anything; a hint we do not issue does not hide a token we know.
    let answer = revoke(
        &client,
        &[
            ("token", refresh_token),
            ("token_type_hint", "id_token"),
            ("client_id", &id),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let (status, _) = refresh(&client, &id, refresh_token).await;
    assert_eq!(status, 400, "revoked by the last request, not before");
}

#[actix_web::test]
async fn a_confidential_client_revokes_with_its_secret_and_the_endpoint_has_cors() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let rs = register_confidential(&client).await;
    let (code, verifier) = client.code_for(&rs.id, "mcp").await;
    let answer = client
        .send(
            TestRequest::post()
                .uri("/token")
                .insert_header(("Authorization", rs.basic()))
                .set_form([
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", REDIRECT_URI),
                    ("code_verifier", verifier.as_str()),
                ]),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let refresh_token = answer.json()["refresh_token"].as_str().unwrap().to_owned();
    let answer = revoke(
        &client,
        &[
            ("token", &refresh_token),
            ("client_id", &rs.id),
            ("client_secret", &rs.secret),
        ],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        introspect(&client, &rs, &refresh_token).await,
        json!({"active": false})
    );

    let preflight = client
        .send(
            TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .uri("/revoke"),
        )
        .await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
}

#[actix_web::test]
async fn introspection_of_refresh_tokens_follows_rotation() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let rs = register_confidential(&client).await;
    let id = client.register_public().await;
    let tokens = tokens_for(&client, &id).await;
    let active = introspect(&client, &rs, &tokens.refresh).await;
    assert_eq!(
        active,
        json!({
            "active": true,
            "scope": "mcp offline_access",
            "client_id": id,
            "sub": "admin",
            "aud": RESOURCE,
            "iss": mcpauth_api::testing::ISSUER,
            "exp": T0 + 30 * 24 * 3600,
        })
    );
    let (status, body) = refresh(&client, &id, &tokens.refresh).await;
    assert_eq!(status, 200, "{body}");
    let next = body["refresh_token"].as_str().unwrap();
    assert_eq!(
        introspect(&client, &rs, &tokens.refresh).await,
        json!({"active": false}),
        "a rotated-out token is inactive, even inside the grace period"
    );
    assert_eq!(introspect(&client, &rs, next).await["active"], true);
    node.clock.advance(30 * 24 * 3600);
    assert_eq!(
        introspect(&client, &rs, next).await,
        json!({"active": false}),
        "idled out"
    );
}

#[actix_web::test]
async fn introspection_refusals_and_inactive_answers() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let rs = register_confidential(&client).await;
    let id = client.register_public().await;
    let tokens = tokens_for(&client, &id).await;

    // Public clients cannot introspect, whatever they send.
    for form in [
        vec![
            ("token", tokens.access.as_str()),
            ("client_id", id.as_str()),
        ],
        vec![
            ("token", tokens.access.as_str()),
            ("client_id", id.as_str()),
            ("client_secret", ""),
        ],
    ] {
        let answer = client.post_form("/introspect", &form).await;
        assert_eq!(
            answer.oauth_error(),
            (401, "invalid_client".into()),
            "{form:?}"
        );
    }
    let answer = client
        .send(
            TestRequest::post()
                .uri("/introspect")
                .insert_header(("Authorization", basic(&rs.id, "wrong")))
                .set_form([("token", tokens.access.as_str())]),
        )
        .await;
    assert_eq!(answer.oauth_error(), (401, "invalid_client".into()));
    assert!(answer.header("www-authenticate").is_some());
    let answer = client
        .send(
            TestRequest::post()
                .uri("/introspect")
                .insert_header(("Authorization", rs.basic())),
        )
        .await;
    assert_eq!(answer.oauth_error(), (400, "invalid_request".into()));

    // Tampered, foreign and junk tokens: inactive, and nothing else said.
    let parts: Vec<&str> = tokens.access.split('.').collect();
    let mut forged_claims = claims(&tokens.access);
    forged_claims["scope"] = json!("admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
        parts[2]
    );
    for token in [forged.as_str(), "junk", "a.b.c", &tokens.refresh[1..]] {
        assert_eq!(
            introspect(&client, &rs, token).await,
            json!({"active": false}),
            "{token}"
        );
    }
}

#[actix_web::test]
async fn below_cluster_version_4_revocation_is_temporarily_unavailable() {
    let node = TestNode::start_with(Options {
        raise_cluster_version: false,
        ..Options::default()
    })
    .await
    .unwrap();
    let client = node.client().await;
    let registered = client
        .register(json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
        }))
        .await;
    assert!(
        registered.get("registration_access_token").is_none(),
        "no RFC 7592 token the cluster could not keep: {registered}"
    );
    let id = registered["client_id"].as_str().unwrap();
    // A client without a registration token cannot be managed (RFC 7592): 401.
    let answer = client
        .send(
            TestRequest::get()
                .uri(&format!("/register/{id}"))
                .insert_header(("Authorization", "Bearer anything")),
        )
        .await;
    assert_eq!(answer.oauth_error(), (401, "invalid_token".into()));
    let tokens = tokens_for(&client, id).await;
    for token in [&tokens.refresh, &tokens.access] {
        let answer = revoke(&client, &[("token", token), ("client_id", id)]).await;
        assert_eq!(
            answer.oauth_error(),
            (503, "temporarily_unavailable".into())
        );
    }
    let (status, body) = refresh(&client, id, &tokens.refresh).await;
    assert_eq!(status, 200, "nothing was revoked: {body}");
}

#[actix_web::test]
async fn both_discovery_documents_advertise_the_endpoints() {
    let node = TestNode::start().await;
    let client = node.client().await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let metadata = client.get(path).await.json();
        let issuer = mcpauth_api::testing::ISSUER;
        assert_eq!(metadata["revocation_endpoint"], format!("{issuer}/revoke"));
        assert_eq!(
            metadata["revocation_endpoint_auth_methods_supported"],
            json!(["none", "client_secret_basic", "client_secret_post"])
        );
        assert_eq!(
            metadata["introspection_endpoint"],
            format!("{issuer}/introspect")
        );
        assert_eq!(
            metadata["introspection_endpoint_auth_methods_supported"],
            json!(["client_secret_basic", "client_secret_post"])
        );
    }
}
