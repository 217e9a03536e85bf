//! `resource` (RFC 8707) as clients send it (issue 10): a query string or an origin's trailing
//! slash still names the configured resource, and the token's `aud` is the configured string;
//! anything else unknown is `invalid_target`; trial mode takes a request that names none.

mod common;

use common::{authorize_params, authorize_path, claims, code_grant_form, code_in, error_sent_back};
use mcpauth_api::testing::{pkce, Options, TestClient, TestNode, ISSUER, RESOURCE};
use serde_json::Value;

fn aud(tokens: &Value) -> Value {
    let jwt = tokens["access_token"].as_str().expect("an access token");
    claims(jwt)["aud"].clone()
}

/// An authorization request for scope `mcp` with state `st`, naming `resource` (None: no
/// member).
fn authorize_pairs<'a>(
    client_id: &'a str,
    challenge: &'a str,
    resource: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut pairs = authorize_params(client_id, challenge, resource);
    pairs.extend([("scope", "mcp"), ("state", "st")]);
    pairs
}

/// A code for `resource` (None: no member), redeemed with `token_resource`; the answer.
async fn flow(
    client: &TestClient,
    client_id: &str,
    resource: Option<&str>,
    token_resource: Option<&str>,
) -> mcpauth_api::testing::Answer {
    let (verifier, challenge) = pkce();
    let location = client
        .authorize(&authorize_pairs(client_id, &challenge, resource))
        .await;
    let code = code_in(&location);
    let mut form = code_grant_form(client_id, &code, &verifier);
    if let Some(r) = token_resource {
        form.push(("resource", r));
    }
    client.post_form("/token", &form).await
}

#[actix_web::test]
async fn claude_codes_query_string_names_the_configured_resource() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let id = client.register_public().await;
    let with_query = format!("{RESOURCE}?utm_source=plugin");
    for token_resource in [None, Some(with_query.as_str()), Some(RESOURCE)] {
        let answer = flow(&client, &id, Some(&with_query), token_resource).await;
        assert_eq!(answer.status.as_u16(), 200, "{}", answer.text());
        assert_eq!(
            aud(&answer.json()),
            RESOURCE,
            "the configured string, without the query"
        );
    }
}

#[actix_web::test]
async fn an_origin_resource_matches_with_or_without_its_slash_and_query() {
    let node = TestNode::start_with(Options {
        resources: vec!["https://mcp.example".into()],
        ..Options::default()
    })
    .await
    .unwrap();
    let client = node.client().await;
    let id = client.register_public().await;
    for named in [
        "https://mcp.example",
        "https://mcp.example/",
        "https://mcp.example/?utm_source=plugin",
        "https://MCP.example:443/",
    ] {
        let answer = flow(&client, &id, Some(named), Some(named)).await;
        assert_eq!(answer.status.as_u16(), 200, "{named}: {}", answer.text());
        assert_eq!(aud(&answer.json()), "https://mcp.example", "{named}");
    }
}

#[actix_web::test]
async fn anything_else_unknown_is_invalid_target_and_issues_nothing() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let id = client.register_public().await;
    // Signed in and consented, so a refusal is not a login page.
    let ok = flow(&client, &id, Some(RESOURCE), None).await;
    assert_eq!(ok.status.as_u16(), 200);
    let before = node.cluster.read(|s| s.counts());
    let (_, challenge) = pkce();
    for unknown in [
        "http://127.0.0.1:9/mcp/",
        "http://127.0.0.1:9/other?utm_source=plugin",
        "http://127.0.0.1:10/mcp?utm_source=plugin",
        "https://127.0.0.1:9/mcp",
        "http://127.0.0.1:9/mcp#fragment",
    ] {
        let answer = client
            .get(&authorize_path(&authorize_pairs(
                &id,
                &challenge,
                Some(unknown),
            )))
            .await;
        assert_eq!(answer.status.as_u16(), 302, "{unknown}");
        let back = error_sent_back(&answer, "st");
        assert_eq!(
            back.get("error").map(String::as_str),
            Some("invalid_target"),
            "{unknown}"
        );
    }
    assert_eq!(node.cluster.read(|s| s.counts()), before, "nothing changed");
    // At the token endpoint too: the code stays unspent and redeems after.
    let (verifier, challenge) = pkce();
    let code = code_in(
        &client
            .authorize(&authorize_pairs(&id, &challenge, Some(RESOURCE)))
            .await,
    );
    let form = |resource: &'static str| {
        let mut form = code_grant_form(&id, &code, &verifier);
        form.push(("resource", resource));
        form
    };
    assert_eq!(
        client
            .post_form(
                "/token",
                &form("http://127.0.0.1:9/other?utm_source=plugin")
            )
            .await
            .oauth_error(),
        (400, "invalid_target".into())
    );
    let answer = client
        .post_form("/token", &form("http://127.0.0.1:9/mcp?utm_source=plugin"))
        .await;
    assert_eq!(
        answer.status.as_u16(),
        200,
        "the refusal spent nothing: {}",
        answer.text()
    );
}

#[actix_web::test]
async fn trial_mode_takes_a_request_without_resource_for_the_issuer() {
    let node = TestNode::start_with(Options {
        resources: Vec::new(),
        ..Options::default()
    })
    .await
    .unwrap();
    let client = node.client().await;
    let id = client.register_public().await;
    let answer = flow(&client, &id, None, None).await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text());
    assert_eq!(aud(&answer.json()), ISSUER);
    // Named, any resource is taken as named.
    let named = "https://anything.example/mcp?x=1";
    let answer = flow(&client, &id, Some(named), None).await;
    assert_eq!(aud(&answer.json()), named);
    // A token request naming another resource than the code's is refused.
    let answer = flow(&client, &id, None, Some("https://other.example/mcp")).await;
    assert_eq!(answer.oauth_error(), (400, "invalid_target".into()));
}
