//! RFC 7592 in process: the registration access token of /register's 201, and GET, PUT and
//! DELETE on /register/{client_id}, over a one-node Raft on sled (mcpauth_api::testing).

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{basic, bearer, node_at_version_4, redeem};
use mcpauth_api::oauth::registration_policy::{RegistrationMode, RegistrationPolicy};
use mcpauth_api::testing::{Answer, Options, TestClient, TestNode, ISSUER, REDIRECT_URI};
use serde_json::{json, Value};

/// A registration: its 201 body, client_id and registration access token.
struct Registration {
    body: Value,
    id: String,
    token: String,
}

async fn register(client: &TestClient, metadata: Value) -> Registration {
    let body = client.register(metadata).await;
    Registration {
        id: body["client_id"].as_str().unwrap().to_owned(),
        token: body["registration_access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no registration_access_token: {body}"))
            .to_owned(),
        body,
    }
}

fn public_metadata() -> Value {
    json!({
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "client_name": "Before",
    })
}

async fn get(client: &TestClient, id: &str, authorization: Option<&str>) -> Answer {
    let mut request = TestRequest::get().uri(&format!("/register/{id}"));
    if let Some(value) = authorization {
        request = request.insert_header(("Authorization", value));
    }
    client.send(request).await
}

async fn put(client: &TestClient, id: &str, token: &str, body: Value) -> Answer {
    client
        .send(
            TestRequest::put()
                .uri(&format!("/register/{id}"))
                .insert_header(("Authorization", bearer(token)))
                .set_json(body),
        )
        .await
}

async fn delete(client: &TestClient, id: &str, authorization: &str) -> Answer {
    client
        .send(
            TestRequest::delete()
                .uri(&format!("/register/{id}"))
                .insert_header(("Authorization", authorization)),
        )
        .await
}

/// A 401 invalid_token with its RFC 6750 challenge (`error` only when a token was sent).
fn assert_invalid_token(answer: &Answer, token_sent: bool, what: &str) {
    assert_eq!(
        answer.oauth_error(),
        (401, "invalid_token".into()),
        "{what}"
    );
    let challenge = answer.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer "), "{what}: {challenge}");
    assert_eq!(
        challenge.contains("error=\"invalid_token\""),
        token_sent,
        "{what}: {challenge}"
    );
}

#[actix_web::test]
async fn the_201_carries_a_token_that_reads_the_registration() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let registration = register(&client, public_metadata()).await;
    assert_eq!(
        registration.body["registration_client_uri"],
        format!("{ISSUER}/register/{}", registration.id)
    );
    assert_eq!(registration.token.len(), 43, "256 bits, base64url");
    let stored = node.cluster.read(|s| {
        s.client(&registration.id)
            .and_then(|c| c.registration_token_digest)
    });
    assert_eq!(
        stored,
        Some(mcpauth_api::secrets::digest(&registration.token)),
        "only the digest is kept"
    );

    let answer = get(
        &client,
        &registration.id,
        Some(&bearer(&registration.token)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.json(), registration.body, "the 201, as it was");
}

#[actix_web::test]
async fn a_confidential_registration_is_read_without_its_secret() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let registration = register(
        &client,
        json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "client_secret_post",
        }),
    )
    .await;
    assert!(registration.body["client_secret"].is_string());
    let answer = get(
        &client,
        &registration.id,
        Some(&bearer(&registration.token)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let read = answer.json();
    assert!(read.get("client_secret").is_none(), "{read}");
    assert_eq!(read["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(
        read["registration_access_token"],
        registration.token.as_str()
    );
}

#[actix_web::test]
async fn wrong_missing_and_foreign_tokens_are_invalid_token() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let mine = register(&client, public_metadata()).await;
    let theirs = register(&client, public_metadata()).await;
    let basic = basic(&mine.id, "x");
    let cases: Vec<(String, Option<String>, bool)> = vec![
        (mine.id.clone(), None, false),
        (mine.id.clone(), Some("Bearer".into()), false),
        (mine.id.clone(), Some(basic), false),
        (mine.id.clone(), Some(bearer("wrong")), true),
        (mine.id.clone(), Some(bearer(&theirs.token)), true),
        (mine.id.clone(), Some(bearer(&mine.token[1..])), true),
        ("no-such-client".into(), Some(bearer(&mine.token)), true),
    ];
    for (id, authorization, token_sent) in cases {
        let what = format!("{id} {authorization:?}");
        let answer = get(&client, &id, authorization.as_deref()).await;
        assert_invalid_token(&answer, token_sent, &what);
        let answer = delete(&client, &id, authorization.as_deref().unwrap_or("")).await;
        assert_invalid_token(&answer, token_sent, &what);
        let answer = client
            .send(
                TestRequest::put()
                    .uri(&format!("/register/{id}"))
                    .insert_header(("Authorization", authorization.clone().unwrap_or_default()))
                    .set_json(json!({"client_id": id, "redirect_uris": [REDIRECT_URI]})),
            )
            .await;
        assert_invalid_token(&answer, token_sent, &what);
    }
    // Nothing changed: both still read as registered.
    for r in [&mine, &theirs] {
        let answer = get(&client, &r.id, Some(&bearer(&r.token))).await;
        assert_eq!(answer.json(), r.body);
    }
}

#[actix_web::test]
async fn an_update_replaces_the_metadata_after_validating_it() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let registration = register(&client, public_metadata()).await;
    let mut update = registration.body.clone();
    update["client_name"] = json!("After (renamed)");
    update["redirect_uris"] = json!([REDIRECT_URI, "https://app.example/cb"]);
    let answer = put(&client, &registration.id, &registration.token, update).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let updated = answer.json();
    assert_eq!(updated["client_name"], "After (renamed)");
    assert_eq!(
        updated["redirect_uris"],
        json!([REDIRECT_URI, "https://app.example/cb"])
    );
    assert_eq!(
        updated["registration_access_token"],
        registration.token.as_str()
    );
    let read = get(
        &client,
        &registration.id,
        Some(&bearer(&registration.token)),
    )
    .await;
    assert_eq!(read.json(), updated);

    // Omitted fields fall back to their defaults (RFC 7592 §2.2): here the grant types.
    let answer = put(
        &client,
        &registration.id,
        &registration.token,
        json!({
            "client_id": registration.id,
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let narrowed = answer.json();
    assert_eq!(narrowed["grant_types"], json!(["authorization_code"]));
    assert!(narrowed.get("client_name").is_none());
}

#[actix_web::test]
async fn update_refusals_change_nothing() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let public = register(&client, public_metadata()).await;
    let confidential = register(
        &client,
        json!({"redirect_uris": [REDIRECT_URI], "client_name": "Confidential"}),
    )
    .await;
    let with = |base: &Value, changes: Value| {
        let mut body = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let mut without_id = public.body.clone();
    without_id.as_object_mut().unwrap().remove("client_id");
    // (registration, body, status, error)
    let cases: Vec<(&Registration, Value, u16, &str)> = vec![
        (&public, without_id, 400, "invalid_request"),
        (
            &public,
            with(&public.body, json!({"client_id": confidential.id})),
            400,
            "invalid_request",
        ),
        (
            &public,
            with(&public.body, json!({"client_secret": "chosen-by-me"})),
            400,
            "invalid_request",
        ),
        (
            &confidential,
            with(&confidential.body, json!({"client_secret": "wrong"})),
            400,
            "invalid_request",
        ),
        (
            &public,
            with(
                &public.body,
                json!({"redirect_uris": ["javascript:alert(1)"]}),
            ),
            400,
            "invalid_redirect_uri",
        ),
        (
            &public,
            with(&public.body, json!({"grant_types": ["implicit"]})),
            400,
            "invalid_client_metadata",
        ),
        (
            &public,
            with(
                &public.body,
                json!({"token_endpoint_auth_method": "client_secret_basic"}),
            ),
            400,
            "invalid_client_metadata",
        ),
        (
            &confidential,
            with(
                &confidential.body,
                json!({"token_endpoint_auth_method": "none"}),
            ),
            400,
            "invalid_client_metadata",
        ),
        (&public, json!([1, 2]), 400, "invalid_client_metadata"),
    ];
    for (registration, body, status, error) in cases {
        let what = body.to_string();
        let answer = put(&client, &registration.id, &registration.token, body).await;
        assert_eq!(answer.oauth_error(), (status, error.to_owned()), "{what}");
    }
    for r in [&public, &confidential] {
        let answer = get(&client, &r.id, Some(&bearer(&r.token))).await;
        let mut expected = r.body.clone();
        expected.as_object_mut().unwrap().remove("client_secret");
        expected
            .as_object_mut()
            .unwrap()
            .remove("client_secret_expires_at");
        let mut read = answer.json();
        read.as_object_mut()
            .unwrap()
            .remove("client_secret_expires_at");
        assert_eq!(read, expected, "unchanged");
    }
    // The right secret (the 201 echoed whole) is accepted; so is a switch to the post method.
    assert!(confidential.body["client_secret"].is_string());
    let answer = put(
        &client,
        &confidential.id,
        &confidential.token,
        with(
            &confidential.body,
            json!({"token_endpoint_auth_method": "client_secret_post"}),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(
        answer.json()["token_endpoint_auth_method"],
        "client_secret_post"
    );
}

#[actix_web::test]
async fn a_deleted_registration_takes_its_grants_and_token_with_it() {
    let node = node_at_version_4().await;
    let client = node.client().await;
    let rs = client
        .register(json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .await;
    let rs_basic = basic(
        rs["client_id"].as_str().unwrap(),
        rs["client_secret"].as_str().unwrap(),
    );
    let registration = register(&client, public_metadata()).await;
    let id = registration.id.as_str();
    let (code, verifier) = client.code_for(id, "mcp").await;
    let answer = redeem(&client, id, &code, &verifier).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let tokens = answer.json();
    let (pending_code, pending_verifier) = client.code_for(id, "mcp").await;

    let answer = delete(&client, id, &bearer(&registration.token)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text());
    assert!(node.cluster.read(|s| s.client(id).is_none()));

    assert_invalid_token(
        &get(&client, id, Some(&bearer(&registration.token))).await,
        true,
        "after delete",
    );
    assert_invalid_token(
        &delete(&client, id, &bearer(&registration.token)).await,
        true,
        "deleted twice",
    );
    let refresh = common::refresh(&client, id, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refresh.oauth_error(), (401, "invalid_client".into()));
    let redeemed = redeem(&client, id, &pending_code, &pending_verifier).await;
    assert_eq!(redeemed.oauth_error(), (401, "invalid_client".into()));
    let family_gone = node.cluster.read(|s| {
        s.refresh_token_family(&mcpauth_api::secrets::digest(
            tokens["refresh_token"].as_str().unwrap(),
        ))
        .is_none()
    });
    assert!(family_gone, "the refresh family is gone from the state");
    for token in ["access_token", "refresh_token"] {
        let answer = client
            .send(
                TestRequest::post()
                    .uri("/introspect")
                    .insert_header(("Authorization", rs_basic.clone()))
                    .set_form([("token", tokens[token].as_str().unwrap())]),
            )
            .await;
        assert_eq!(answer.json(), json!({"active": false}), "{token}");
    }
}

#[actix_web::test]
async fn an_update_is_bound_by_the_operators_redirect_patterns() {
    let node = TestNode::start_with(Options {
        configure: |c| {
            c.registration = RegistrationPolicy::new(
                RegistrationMode::Open,
                &[r"http://127\.0\.0\.1(:\d+)?/callback".into()],
            )
            .expect("valid patterns");
        },
        ..Options::default()
    })
    .await
    .unwrap();
    node.wait_cluster_version(4).await;
    let client = node.client().await;
    let registration = register(&client, public_metadata()).await;
    let mut update = registration.body.clone();
    update["redirect_uris"] = json!([REDIRECT_URI, "https://app.example/cb"]);
    let answer = put(&client, &registration.id, &registration.token, update).await;
    assert_eq!(answer.oauth_error(), (400, "invalid_redirect_uri".into()));
    let read = get(
        &client,
        &registration.id,
        Some(&bearer(&registration.token)),
    )
    .await;
    assert_eq!(read.json(), registration.body, "unchanged");
}
