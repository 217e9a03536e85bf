//! Steps shared by the federated-login tests (`tests/federation_*.rs`): the identity-provider
//! admin API of a [`TestCluster`] (through [`TestCluster::admin`], with the cluster secret), and a browser's way through
//! `/authorize`, our login page's provider buttons and our consent page to a code and tokens.

use reqwest::Method;
use serde_json::Value;

use crate::cluster::TestCluster;
use crate::{
    authorize_url, location, pkce, query_of, redeem, register_public, verify_access_token, Browser,
    Target, REDIRECT_URI, RESOURCE,
};

// ---------------------------------------------------------------- admin API

/// PUT `body` at `path`, which must answer 200: the answer.
pub async fn admin_put(cluster: &TestCluster, node: u64, path: &str, body: &Value) -> Value {
    let (status, answer) = cluster.admin(node, Method::PUT, path, Some(body)).await;
    assert_eq!(status, 200, "PUT {path} on node {node}: {answer}");
    answer
}

/// The identity providers (and login settings) as node `node` lists them.
pub async fn admin_list(cluster: &TestCluster, node: u64) -> Value {
    let (status, answer) = cluster
        .admin(node, Method::GET, "/admin/identity-providers", None)
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Provider `id` in an [`admin_list`] answer.
pub fn listed<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list["identity_providers"]
        .as_array()?
        .iter()
        .find(|p| p["id"] == id)
}

// ---------------------------------------------------------------- browser steps

/// Move `url` (on the issuer's host) to `target`'s base URL: what a load balancer does when it
/// sends the next request to another node.
pub fn on_node(url: &str, issuer: &str, target: &impl Target) -> String {
    let path = url.strip_prefix(issuer).expect("a URL on the issuer");
    target.url(path)
}

/// A new public client's login: its id, its PKCE verifier, and its `/authorize` URL (state
/// `client-state`, for [`RESOURCE`]).
pub struct Flow {
    pub client_id: String,
    pub verifier: String,
    pub authorize: String,
}

pub async fn new_flow(target: &impl Target) -> Flow {
    let client = register_public(target).await;
    let client_id = client["client_id"].as_str().expect("client_id").to_owned();
    let (verifier, challenge) = pkce();
    let authorize = authorize_url(
        target,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "client-state"),
            ("resource", RESOURCE),
        ],
    );
    Flow {
        client_id,
        verifier,
        authorize,
    }
}

/// Where `/authorize` sends a browser without a session (a path with its query).
pub async fn authorize_goes_to(browser: &Browser, authorize: &str) -> String {
    let response = browser.get(authorize).await;
    assert_eq!(response.status(), 302, "/authorize without a session");
    location(&response)
}

/// A page: (status, body).
pub async fn page(browser: &Browser, url: &str) -> (u16, String) {
    page_of(browser.get(url).await).await
}

/// A response as a page: (status, body).
pub async fn page_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// The href of the provider's button on our login page.
pub fn provider_href(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"provider-{id}\" href=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].replace("&amp;", "&"))
}

/// The href of provider `id`'s button on our login page at `login` (a path) on `target`; the
/// page must answer 200 and show the button.
pub async fn button_href(browser: &Browser, target: &impl Target, login: &str, id: &str) -> String {
    let (status, html) = page(browser, &target.url(login)).await;
    assert_eq!(status, 200);
    provider_href(&html, id).unwrap_or_else(|| panic!("no button for {id}: {html}"))
}

/// From a redirect back to `/authorize` (or our consent page), through consent: the code, sent
/// to [`REDIRECT_URI`] with the flow's state.
pub async fn consent_and_code(
    browser: &Browser,
    target: &impl Target,
    mut response: reqwest::Response,
) -> String {
    for _ in 0..4 {
        let status = response.status().as_u16();
        if status == 200 {
            response = browser.allow(target, response).await;
            continue;
        }
        assert!(
            status == 302 || status == 303,
            "unexpected {status}: {}",
            response.text().await.unwrap_or_default()
        );
        let next = location(&response);
        if next.starts_with(REDIRECT_URI) {
            let query = query_of(&next);
            assert_eq!(query["state"], "client-state");
            return query
                .get("code")
                .unwrap_or_else(|| panic!("no code: {next}"))
                .clone();
        }
        response = browser.get(&target.url(&next)).await;
    }
    panic!("no code");
}

/// Redeem `code` on `redeem_on` and verify the access token on `verify_on`: the claims.
pub async fn claims_via(
    redeem_on: &impl Target,
    verify_on: &impl Target,
    flow: &Flow,
    code: &str,
) -> Value {
    let response = redeem(redeem_on, &flow.client_id, code, &flow.verifier).await;
    assert_eq!(response.status(), 200, "token");
    let tokens: Value = response.json().await.expect("tokens");
    let access = tokens["access_token"].as_str().expect("access token");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    verify_access_token(verify_on, access, RESOURCE)
        .await
        .expect("a valid access token")
}

/// Redeem `code` on `target` and verify the access token there: the claims.
pub async fn claims_of(target: &impl Target, flow: &Flow, code: &str) -> Value {
    claims_via(target, target, flow, code).await
}
