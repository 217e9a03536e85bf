//! /token: code redemption, refresh rotation, client authentication, and every refusal.

use base64::Engine;
use mcpauth_tests::{
    http, login_and_redeem, pkce, query_of, redeem, refresh, register, register_public,
    verify_access_token, Browser, Node, REDIRECT_URI, RESOURCE,
};
use serde_json::{json, Value};

async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    (status, body["error"].as_str().unwrap().to_owned())
}

/// A token request's form fields.
type Form = Vec<(&'static str, String)>;

async fn post_token(node: &Node, pairs: &[(&'static str, String)]) -> reqwest::Response {
    http()
        .post(node.url("/token"))
        .form(pairs)
        .send()
        .await
        .unwrap()
}

/// A code for `client_id` with a fresh PKCE pair: (code, verifier).
async fn code_for(node: &Node, client_id: &str, extra: &[(&str, &str)]) -> (String, String) {
    let (verifier, challenge) = pkce();
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", RESOURCE),
    ];
    query.extend_from_slice(extra);
    let location = Browser::new().authorize(node, &query).await;
    (query_of(&location)["code"].clone(), verifier)
}

#[tokio::test]
async fn code_exchange_issues_a_bound_es256_access_token_and_a_refresh_token() {
    let node = Node::start().await;
    let client = register_public(&node).await;
    let client_id = client["client_id"].as_str().unwrap();
    let (code, verifier) = code_for(&node, client_id, &[("scope", "mcp offline_access")]).await;
    let response = redeem(&node, client_id, &code, &verifier).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "mcp offline_access");
    assert_eq!(body["refresh_token"].as_str().unwrap().len(), 43);
    let token = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let claims = verify_access_token(&node, token, RESOURCE).await.unwrap();
    assert_eq!(claims["iss"], node.issuer);
    assert_eq!(claims["sub"], "admin");
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["scope"], "mcp offline_access");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    // Bound to the resource: another audience does not accept it.
    assert!(
        verify_access_token(&node, token, "https://other.example/mcp")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_what_it_issued() {
    let node = Node::start().await;
    let client = register_public(&node).await;
    let client_id = client["client_id"].as_str().unwrap();
    let (code, verifier) = code_for(&node, client_id, &[]).await;
    let first: Value = redeem(&node, client_id, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let refresh_token = first["refresh_token"].as_str().unwrap();
    let (status, error) = error_of(redeem(&node, client_id, &code, &verifier).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let (_, error) = error_of(refresh(&node, client_id, refresh_token).await).await;
    assert_eq!(
        error, "invalid_grant",
        "the refresh token issued by the replayed code is revoked"
    );
}

#[tokio::test]
async fn code_redemption_refusals_change_nothing() {
    let node = Node::start().await;
    let client = register_public(&node).await;
    let client_id = client["client_id"].as_str().unwrap();
    let other = register_public(&node).await;
    let other_id = other["client_id"].as_str().unwrap();
    let (code, verifier) = code_for(&node, client_id, &[]).await;
    let (wrong_verifier, _) = pkce();
    let base = |code: &str, verifier: &str, client: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", REDIRECT_URI.to_owned()),
            ("client_id", client.to_owned()),
            ("code_verifier", verifier.to_owned()),
        ]
    };
    let cases: Vec<(Form, u16, &str)> = vec![
        (
            base(&code, &wrong_verifier, client_id),
            400,
            "invalid_grant",
        ),
        (base(&code, &verifier, other_id), 400, "invalid_grant"),
        (
            base("no-such-code", &verifier, client_id),
            400,
            "invalid_grant",
        ),
        (base(&code, "short", client_id), 400, "invalid_request"),
        (
            {
                let mut p = base(&code, &verifier, client_id);
                p.retain(|(k, _)| *k != "code_verifier");
                p
            },
            400,
            "invalid_request",
        ),
        (
            {
                let mut p = base(&code, &verifier, client_id);
                p[2].1 = "http://127.0.0.1:7777/elsewhere".into();
                p
            },
            400,
            "invalid_grant",
        ),
        (
            {
                let mut p = base(&code, &verifier, client_id);
                p.push(("resource", "https://other.example/mcp".into()));
                p
            },
            400,
            "invalid_target",
        ),
        (
            {
                let mut p = base(&code, &verifier, client_id);
                p[3].1 = "unknown-client".into();
                p
            },
            401,
            "invalid_client",
        ),
        (
            {
                let mut p = base(&code, &verifier, client_id);
                p[0].1 = "password".into();
                p
            },
            400,
            "unsupported_grant_type",
        ),
        (
            {
                let mut p = base(&code, &verifier, client_id);
                p.retain(|(k, _)| *k != "grant_type");
                p
            },
            400,
            "invalid_request",
        ),
        (
            {
                let mut p = base(&code, &verifier, client_id);
                p.push(("code", "second".into()));
                p
            },
            400,
            "invalid_request",
        ),
    ];
    for (pairs, status, error) in cases {
        let (got_status, got_error) = error_of(post_token(&node, &pairs).await).await;
        assert_eq!(
            (got_status, got_error.as_str()),
            (status, error),
            "{pairs:?}"
        );
    }
    // None of those refusals consumed the code.
    let response = redeem(&node, client_id, &code, &verifier).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn refresh_rotates_and_a_rotated_token_revokes_the_family() {
    // Strict, so the outcome does not depend on whether the node already runs format 4 (the
    // default grace policy is tested in refresh_policy.rs).
    let config = tempfile::tempdir().unwrap();
    let path = config.path().join("mcpauth.toml");
    std::fs::write(&path, "refresh_reuse = \"strict\"\n").unwrap();
    let node =
        Node::start_with(&["--resource", RESOURCE, "--config", path.to_str().unwrap()]).await;
    let (client_id, first) = login_and_redeem(&node).await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let response = refresh(&node, &client_id, &r1).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let second: Value = response.json().await.unwrap();
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "a new refresh token on every refresh");
    assert_eq!(second["expires_in"], 3600);
    assert_eq!(second["token_type"], "Bearer");
    assert_ne!(second["access_token"], first["access_token"]);
    let claims = verify_access_token(&node, second["access_token"].as_str().unwrap(), RESOURCE)
        .await
        .unwrap();
    assert_eq!(claims["aud"], RESOURCE, "the resource binding is kept");
    assert_eq!(claims["client_id"], client_id.as_str());
    let third: Value = refresh(&node, &client_id, &r2).await.json().await.unwrap();
    let r3 = third["refresh_token"].as_str().unwrap().to_owned();
    // r1 was rotated: presenting it is reuse, and revokes the whole family, r3 included.
    let (status, error) = error_of(refresh(&node, &client_id, &r1).await).await;
    assert_eq!((status, error.as_str()), (400, "invalid_grant"));
    let (_, error) = error_of(refresh(&node, &client_id, &r3).await).await;
    assert_eq!(error, "invalid_grant");
}

#[tokio::test]
async fn refresh_refusals() {
    let node = Node::start().await;
    let (client_id, first) = login_and_redeem(&node).await;
    let token = first["refresh_token"].as_str().unwrap().to_owned();
    let other = register_public(&node).await;
    let other_id = other["client_id"].as_str().unwrap();
    let base = |client: &str| {
        vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", token.as_str()),
            ("client_id", client),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect::<Vec<_>>()
    };
    let cases: Vec<(Form, &str)> = vec![
        (base(other_id), "invalid_grant"),
        (
            vec![
                ("grant_type", "refresh_token".into()),
                ("refresh_token", "nope".into()),
                ("client_id", client_id.clone()),
            ],
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "refresh_token".into()),
                ("client_id", client_id.clone()),
            ],
            "invalid_request",
        ),
        (
            {
                let mut p = base(&client_id);
                p.push(("scope", "mcp openid".into()));
                p
            },
            "invalid_scope",
        ),
        (
            {
                let mut p = base(&client_id);
                p.push(("resource", "https://other.example/mcp".into()));
                p
            },
            "invalid_target",
        ),
    ];
    for (pairs, error) in cases {
        let (status, got) = error_of(post_token(&node, &pairs).await).await;
        assert_eq!((status, got.as_str()), (400, error), "{pairs:?}");
    }
    // The token still works after every refusal, with the resource named slash-insensitively.
    let mut pairs = base(&client_id);
    pairs.push(("resource", RESOURCE.into()));
    let response = post_token(&node, &pairs).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_client_without_the_refresh_grant_gets_no_refresh_token_and_cannot_refresh() {
    let node = Node::start().await;
    let client = register(
        &node,
        json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"]}),
    )
    .await;
    let client_id = client["client_id"].as_str().unwrap();
    let (code, verifier) = code_for(&node, client_id, &[]).await;
    let body: Value = redeem(&node, client_id, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert!(body.get("refresh_token").is_none());
    assert!(body["access_token"].is_string());
    let (status, error) = error_of(refresh(&node, client_id, "anything").await).await;
    assert_eq!((status, error.as_str()), (400, "unauthorized_client"));
}

#[tokio::test]
async fn confidential_clients_authenticate_with_basic_or_post() {
    let node = Node::start().await;
    for method in ["client_secret_basic", "client_secret_post"] {
        let client = register(
            &node,
            json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": method, "grant_types": ["authorization_code", "refresh_token"]}),
        )
        .await;
        let id = client["client_id"].as_str().unwrap();
        let secret = client["client_secret"].as_str().unwrap();
        let (code, verifier) = code_for(&node, id, &[]).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
        ];
        // No secret, a wrong secret, two methods at once: refused, and the code survives.
        let (status, error) = error_of(
            http()
                .post(node.url("/token"))
                .form(&[&form[..], &[("client_id", id)]].concat())
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, error.as_str()),
            (401, "invalid_client"),
            "{method} without secret"
        );
        let wrong = http()
            .post(node.url("/token"))
            .basic_auth(id, Some("wrong-secret"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            wrong.headers()["www-authenticate"],
            "Basic realm=\"mcpauth\""
        );
        let (status, error) = error_of(wrong).await;
        assert_eq!((status, error.as_str()), (401, "invalid_client"));
        let both = http()
            .post(node.url("/token"))
            .basic_auth(id, Some(secret))
            .form(&[&form[..], &[("client_secret", secret)]].concat())
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(both).await, (400, "invalid_request".to_owned()));
        let response = if method == "client_secret_basic" {
            // Built as the TypeScript SDK does: no URL-encoding of the id and secret.
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            http()
                .post(node.url("/token"))
                .header("authorization", format!("Basic {basic}"))
                .form(&form)
                .send()
                .await
                .unwrap()
        } else {
            http()
                .post(node.url("/token"))
                .form(&[&form[..], &[("client_id", id), ("client_secret", secret)]].concat())
                .send()
                .await
                .unwrap()
        };
        assert_eq!(response.status(), 200, "{method}");
    }
    // A public client presenting a secret is refused.
    let (client_id, _) = login_and_redeem(&node).await;
    let response = http()
        .post(node.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", &client_id),
            ("client_secret", "guess"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await, (401, "invalid_client".to_owned()));
}

#[tokio::test]
async fn each_code_needs_its_own_verifier() {
    let node = Node::start().await;
    let client = register_public(&node).await;
    let client_id = client["client_id"].as_str().unwrap();
    let (code_a, verifier_a) = code_for(&node, client_id, &[]).await;
    let (code_b, verifier_b) = code_for(&node, client_id, &[]).await;
    assert_ne!(code_a, code_b);
    // Each code needs its own verifier.
    assert_eq!(
        error_of(redeem(&node, client_id, &code_a, &verifier_b).await)
            .await
            .1,
        "invalid_grant"
    );
    assert_eq!(
        redeem(&node, client_id, &code_b, &verifier_b)
            .await
            .status(),
        200
    );
    assert_eq!(
        redeem(&node, client_id, &code_a, &verifier_a)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn concurrent_redemptions_of_one_code_have_exactly_one_winner() {
    let node = Node::start().await;
    let client = register_public(&node).await;
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let (code, verifier) = code_for(&node, &client_id, &[]).await;
    let attempts = (0..16).map(|_| {
        let (url, client_id, code, verifier) = (
            node.url("/token"),
            client_id.clone(),
            code.clone(),
            verifier.clone(),
        );
        tokio::spawn(async move {
            http()
                .post(url)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT_URI),
                    ("client_id", &client_id),
                    ("code_verifier", &verifier),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    });
    let statuses: Vec<u16> = futures_join(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.iter().all(|s| *s == 200 || *s == 400));
}

async fn futures_join<T: Send + 'static>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks.collect::<Vec<_>>() {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test]
async fn error_responses_use_the_rfc_shape() {
    let node = Node::start().await;
    let response = http()
        .post(node.url("/token"))
        .body("grant_type=authorization_code&code=")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(status, 401, "no client authentication at all");
    assert_eq!(error, "invalid_client");
}
