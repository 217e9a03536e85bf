//! `prompt` (OpenID Connect Core §3.1.2.1) at /authorize: `consent` shows the consent page even
//! when consent is stored, `none` never shows a page (it answers `login_required` or
//! `consent_required` at the client's redirect URI, with `state` and `iss`), `login` asks for a
//! new login, and `none` with anything else is `invalid_request`.

mod common;

use actix_web::http::StatusCode;
use common::{authorize_params, authorize_path, error_sent_back};
use mcpauth_api::testing::{pkce, query_of, Answer, TestClient, TestNode, RESOURCE};

async fn authorize(
    client: &TestClient,
    client_id: &str,
    scope: &str,
    prompt: Option<&str>,
) -> Answer {
    let (_, challenge) = pkce();
    let mut params = authorize_params(client_id, &challenge, Some(RESOURCE));
    params.extend([("scope", scope), ("state", "p1")]);
    if let Some(prompt) = prompt {
        params.push(("prompt", prompt));
    }
    client.get(&authorize_path(&params)).await
}

/// The error sent back to the client, after checking it went to the redirect URI with `state`
/// and `iss` and without a code.
fn client_error(answer: &Answer) -> String {
    let back = error_sent_back(answer, "p1");
    assert!(back.get("error_description").is_some_and(|d| !d.is_empty()));
    back.get("error").cloned().unwrap_or_default()
}

fn is_consent_page(answer: &Answer) -> bool {
    answer.status == StatusCode::OK && answer.text().contains("name=\"decision\"")
}

#[actix_web::test]
async fn prompt_consent_shows_the_page_even_with_a_stored_consent() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let id = client.register_public().await;
    client.code_for(&id, "mcp").await;
    // Stored consent: straight back with a code.
    let silent = authorize(&client, &id, "mcp", None).await;
    assert_eq!(silent.status, StatusCode::FOUND);
    assert!(query_of(silent.location()).contains_key("code"));
    // prompt=consent (the Python SDK and TypeScript v2 send it with offline_access): the page.
    let asked = authorize(&client, &id, "mcp", Some("consent")).await;
    assert!(
        is_consent_page(&asked),
        "{}: {}",
        asked.status,
        asked.text()
    );
    // The page's form does not carry the prompt on, so allowing it issues a code.
    assert!(!asked.text().contains("name=\"prompt\""));
}

#[actix_web::test]
async fn prompt_none_without_a_session_is_login_required() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let id = client.register_public().await;
    let before = node.cluster.read(|s| s.counts());
    let answer = authorize(&client, &id, "mcp", Some("none")).await;
    assert_eq!(client_error(&answer), "login_required");
    assert_eq!(node.cluster.read(|s| s.counts()), before, "nothing changed");
}

#[actix_web::test]
async fn prompt_none_without_consent_is_consent_required() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let id = client.register_public().await;
    client.code_for(&id, "mcp").await;
    let before = node.cluster.read(|s| s.counts());
    // Signed in, but consent covers only "mcp".
    let answer = authorize(&client, &id, "mcp offline_access", Some("none")).await;
    assert_eq!(client_error(&answer), "consent_required");
    // With a stored consent for everything asked: a code, no page.
    let answer = authorize(&client, &id, "mcp", Some("none")).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert!(query_of(answer.location()).contains_key("code"));
    let after = node.cluster.read(|s| s.counts());
    assert_eq!(
        after.consents, before.consents,
        "no consent recorded by prompt=none"
    );
    assert_eq!(
        after.codes,
        before.codes + 1,
        "only the allowed request issued a code"
    );
}

#[actix_web::test]
async fn prompt_none_with_anything_else_is_invalid_request() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let id = client.register_public().await;
    client.code_for(&id, "mcp").await;
    let before = node.cluster.read(|s| s.counts());
    for prompt in ["none login", "consent none", "none select_account"] {
        let answer = authorize(&client, &id, "mcp", Some(prompt)).await;
        assert_eq!(client_error(&answer), "invalid_request", "{prompt}");
    }
    assert_eq!(node.cluster.read(|s| s.counts()), before);
}

#[actix_web::test]
async fn prompt_login_asks_a_signed_in_person_to_sign_in_again() {
    let node = TestNode::start().await;
    let client = node.client().await;
    let id = client.register_public().await;
    client.code_for(&id, "mcp").await;
    let answer = authorize(&client, &id, "mcp", Some("login")).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert!(
        answer.location().starts_with("/login?"),
        "{}",
        answer.location()
    );
    let return_to = query_of(answer.location())
        .remove("return_to")
        .unwrap_or_default();
    assert!(
        !return_to.contains("prompt=login"),
        "not asked again after: {return_to}"
    );
    // prompt=login consent: after the login, the consent page.
    let answer = authorize(&client, &id, "mcp", Some("login consent")).await;
    let return_to = query_of(answer.location())
        .remove("return_to")
        .unwrap_or_default();
    let back = client.sign_in(&return_to).await;
    let page = client.get(back.location()).await;
    assert!(is_consent_page(&page), "{}", page.text());
}
