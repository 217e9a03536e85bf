//! /register as real clients and operators need it (issue 10): Cursor's three-URI registration
//! with the default schemes and its whole flow through cursor://, an empty scheme list that
//! allows none, `application_type`, the operator's redirect patterns, and registration off.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use mcpauth_api::oauth::registration_policy::{RegistrationMode, RegistrationPolicy};
use mcpauth_api::testing::{
    pkce, query_of, Answer, Options, TestClient, TestNode, ISSUER, RESOURCE,
};
use serde_json::{json, Value};

const CURSOR_CALLBACK: &str = "cursor://anysphere.cursor-mcp/oauth/callback";

/// Cursor's registration: the three redirect URIs it sends (INTEROP.md) and the members the
/// TypeScript SDK it is built on sends with them.
fn cursor() -> Value {
    json!({
        "redirect_uris": [
            CURSOR_CALLBACK,
            "https://www.cursor.com/agents/mcp/oauth/callback",
            "http://localhost:8787/callback",
        ],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "Cursor",
    })
}

async fn post_register(client: &TestClient, body: &Value) -> Answer {
    client
        .send(TestRequest::post().uri("/register").set_json(body))
        .await
}

/// A refused registration: its `(status, error)`, after checking nothing was stored.
async fn refused(node: &TestNode, client: &TestClient, body: Value) -> (u16, String, String) {
    let before = node.cluster.read(|s| s.counts());
    let answer = post_register(client, &body).await;
    let (status, error) = answer.oauth_error();
    assert_eq!(
        node.cluster.read(|s| s.counts()),
        before,
        "nothing stored for {body}"
    );
    let description = answer.json()["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, error, description)
}

#[actix_web::test]
async fn cursors_registration_passes_with_the_defaults_and_signs_in_through_cursor_scheme() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let registered = client.register(cursor()).await;
    assert_eq!(
        registered["redirect_uris"],
        cursor()["redirect_uris"],
        "all three echoed"
    );
    assert_eq!(registered["token_endpoint_auth_method"], "none");
    let id = registered["client_id"].as_str().unwrap();

    let (verifier, challenge) = pkce();
    let location = client
        .authorize(&[
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", CURSOR_CALLBACK),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", RESOURCE),
            ("state", "cur"),
        ])
        .await;
    assert!(
        location.starts_with(&format!("{CURSOR_CALLBACK}?")),
        "back to Cursor: {location}"
    );
    let back = query_of(&location);
    assert_eq!(back.get("iss").map(String::as_str), Some(ISSUER));
    assert_eq!(back.get("state").map(String::as_str), Some("cur"));
    let code = back.get("code").cloned().expect("a code");
    let answer = client
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CURSOR_CALLBACK),
                ("client_id", id),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let tokens = answer.json();
    assert_eq!(tokens["scope"], "mcp");
    assert!(tokens["refresh_token"].is_string());
}

#[actix_web::test]
async fn an_empty_scheme_list_allows_no_private_use_scheme() {
    let node = TestNode::start_with(Options {
        allowed_redirect_schemes: Vec::new(),
        ..Options::default()
    })
    .await
    .unwrap();
    let client = node.client().await;
    let (status, error, description) = refused(&node, &client, cursor()).await;
    assert_eq!((status, error.as_str()), (400, "invalid_redirect_uri"));
    assert!(description.contains(CURSOR_CALLBACK), "{description}");
    // Without the cursor:// URI the rest of Cursor's set is fine.
    let mut rest = cursor();
    rest["redirect_uris"] = json!([
        "https://www.cursor.com/agents/mcp/oauth/callback",
        "http://localhost:8787/callback"
    ]);
    client.register(rest).await;
}

#[actix_web::test]
async fn dangerous_schemes_stay_refused_with_the_defaults() {
    let node = TestNode::start().await;
    let client = node.client().await;
    for uri in [
        "javascript:alert(1)",
        "data:text/html,x",
        "file:///etc/passwd",
        "other-app://cb",
    ] {
        let (status, error, _) = refused(
            &node,
            &client,
            json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"}),
        )
        .await;
        assert_eq!(
            (status, error.as_str()),
            (400, "invalid_redirect_uri"),
            "{uri}"
        );
    }
}

#[actix_web::test]
async fn application_type_is_accepted_echoed_and_enforced() {
    let node = TestNode::start().await;
    let client = node.client().await;
    // Real registrations (INTEROP.md), typed as MCP 2026-07-28 clients type them.
    let vscode = json!({
        "client_name": "Visual Studio Code",
        "redirect_uris": [
            "http://127.0.0.1/",
            "http://127.0.0.1:33418/",
            "https://vscode.dev/redirect",
            "https://insiders.vscode.dev/redirect",
        ],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "application_type": "native",
    });
    let claude = json!({
        "client_name": "Claude",
        "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
        "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["authorization_code", "refresh_token"],
        "application_type": "web",
    });
    let claude_code = json!({
        "client_name": "Claude Code (my-server)",
        "redirect_uris": ["http://localhost:53117/callback"],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "application_type": "native",
    });
    let mut cursor_native = cursor();
    cursor_native["application_type"] = "native".into();
    for body in [vscode.clone(), claude, claude_code, cursor_native] {
        let registered = client.register(body.clone()).await;
        assert_eq!(registered["application_type"], body["application_type"]);
    }
    // Untyped, as older clients: today's rules.
    let mut untyped = vscode;
    untyped.as_object_mut().unwrap().remove("application_type");
    assert!(client
        .register(untyped)
        .await
        .get("application_type")
        .is_none());

    for uri in [
        "http://127.0.0.1:5000/callback",
        "https://localhost/cb",
        CURSOR_CALLBACK,
    ] {
        let (status, error, description) = refused(
            &node,
            &client,
            json!({"redirect_uris": ["https://app.example/cb", uri], "application_type": "web"}),
        )
        .await;
        assert_eq!(
            (status, error.as_str()),
            (400, "invalid_redirect_uri"),
            "{uri}"
        );
        assert!(
            description.contains(uri) && description.contains("web"),
            "{description}"
        );
    }
    for value in [json!("desktop"), json!("Native"), json!("")] {
        let (status, error, _) = refused(
            &node,
            &client,
            json!({"redirect_uris": ["http://127.0.0.1/cb"], "application_type": value}),
        )
        .await;
        assert_eq!(
            (status, error.as_str()),
            (400, "invalid_client_metadata"),
            "{value}"
        );
    }
}

#[actix_web::test]
async fn the_operators_redirect_patterns_bound_every_uri_of_a_registration() {
    let node = TestNode::start_with(Options {
        configure: |c| {
            c.registration = RegistrationPolicy::new(
                RegistrationMode::Open,
                &[
                    r"https://claude\.ai/api/mcp/auth_callback".into(),
                    r"http://(127\.0\.0\.1|localhost)(:\d+)?/callback".into(),
                ],
            )
            .expect("valid patterns");
        },
        ..Options::default()
    })
    .await
    .unwrap();
    let client = node.client().await;
    client
        .register(json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback", "http://localhost:8787/callback"]}))
        .await;
    // One URI outside the patterns refuses the whole registration.
    let (status, error, description) = refused(&node, &client, cursor()).await;
    assert_eq!((status, error.as_str()), (400, "invalid_redirect_uri"));
    assert!(description.contains("registration policy"), "{description}");
    // Anchored: a pattern does not match inside a longer URI.
    let (_, error, _) = refused(
        &node,
        &client,
        json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback/../../evil"]}),
    )
    .await;
    assert_eq!(error, "invalid_redirect_uri");
}

#[actix_web::test]
async fn registration_off_is_403_and_absent_from_discovery() {
    let node = TestNode::start_with(Options {
        configure: |c| {
            c.registration =
                RegistrationPolicy::new(RegistrationMode::Off, &[]).expect("no patterns");
        },
        ..Options::default()
    })
    .await
    .unwrap();
    let client = node.client().await;
    for body in [cursor(), json!("not even an object")] {
        let (status, error, description) = refused(&node, &client, body).await;
        assert_eq!((status, error.as_str()), (403, "access_denied"));
        assert!(description.contains("switched off"), "{description}");
    }
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let metadata = client.get(path).await.json();
        assert!(
            metadata.get("registration_endpoint").is_none(),
            "{path}: {metadata}"
        );
        assert_eq!(metadata["token_endpoint"], format!("{ISSUER}/token"));
    }
}

#[actix_web::test]
async fn registration_open_is_advertised() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let metadata = client
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    assert_eq!(
        metadata["registration_endpoint"],
        format!("{ISSUER}/register")
    );
}
