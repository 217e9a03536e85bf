//! Federated login through a real OpenID Connect provider (oidc-provider, OpenID Certified),
//! on a three-node cluster: the provider is configured through the admin API of one node, the
//! person starts on another, and the provider's callback lands on the third.

use mcpauth_tests::cluster::TestCluster;
use mcpauth_tests::federation::{
    admin_list, admin_put, authorize_goes_to, button_href, claims_of, claims_via, consent_and_code,
    new_flow, on_node, page, Flow,
};
use mcpauth_tests::idp::{self, Idp};
use mcpauth_tests::{http, location, query_of, Browser, Form, Target};
use reqwest::Method;
use serde_json::json;

/// From our login page, follow the provider's button: answers the provider's authorization URL.
async fn choose_provider(
    browser: &Browser,
    target: &impl Target,
    authorize: &str,
    id: &str,
) -> String {
    let login = authorize_goes_to(browser, authorize).await;
    let href = button_href(browser, target, &login, id).await;
    let start = browser.get(&target.url(&href)).await;
    assert_eq!(start.status(), 303, "starting the upstream login");
    location(&start)
}

/// Starts a login for a new client in a new browser, through provider `id`'s button on `n`:
/// (flow, browser, upstream authorization URL).
async fn started(n: &impl Target, id: &str) -> (Flow, Browser, String) {
    let flow = new_flow(n).await;
    let browser = Browser::new();
    let url = choose_provider(&browser, n, &flow.authorize, id).await;
    (flow, browser, url)
}

/// Back from the provider at `callback`: our redirect on into the flow (a 303).
async fn back_from(browser: &Browser, callback: &str) -> reqwest::Response {
    let back = browser.get(callback).await;
    assert_eq!(
        back.status(),
        303,
        "{}",
        back.text().await.unwrap_or_default()
    );
    back
}

#[tokio::test]
async fn a_person_signs_in_through_the_organisations_oidc_provider_across_nodes() {
    let cluster = TestCluster::start(3).await;
    let (n1, n2, n3) = (
        cluster.endpoint(1),
        cluster.endpoint(2),
        cluster.endpoint(3),
    );
    let issuer = n1.issuer.clone();
    let upstream = idp::oidc_provider(&[format!("{issuer}/login/sso/callback")]);

    // Configured at runtime through node 2's admin API; the secret is never shown back.
    let saved = admin_put(
        &cluster,
        2,
        "/admin/identity-providers/sso",
        &idp::oidc_provider_config(&upstream, "sso"),
    )
    .await;
    assert_eq!(saved["secret_set"], true);
    assert!(!saved.to_string().contains("mcpauth-upstream-secret"));
    let listed = admin_list(&cluster, 3).await;
    assert!(!listed.to_string().contains("mcpauth-upstream-secret"));

    // The person starts on node 1...
    let (flow, browser, authorization_url) = started(&n1, "sso").await;
    assert!(
        authorization_url.starts_with(&upstream.url("/")),
        "{authorization_url}"
    );
    let query = query_of(&authorization_url);
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query.contains_key("nonce") && query.contains_key("state"));
    let callback = idp::oidc_sign_in(&browser, &authorization_url, "alice", "alice-password").await;

    // ...and the provider's callback reaches node 3.
    let on_n3 = on_node(&callback, &issuer, &n3);
    browser.carry_cookies(&callback, &on_n3);
    let back = back_from(&browser, &on_n3).await;
    let code = consent_and_code(&browser, &n3, back).await;
    let claims = claims_via(&n2, &n3, &flow, &code).await;
    assert_eq!(claims["sub"], "sso:u-alice");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["groups"], json!(["engineers", "admins"]));

    // The same callback again (a replayed state) is refused and issues nothing.
    let (status, html) = page(&Browser::new(), &on_node(&callback, &issuer, &n2)).await;
    assert_eq!(status, 400);
    assert!(html.contains("Sign-in failed"), "{html}");
}

#[tokio::test]
async fn failed_upstream_logins_end_on_an_error_page_and_issue_nothing() {
    let cluster = TestCluster::start(1).await;
    let n1 = cluster.endpoint(1);
    let issuer = n1.issuer.clone();
    let mut upstream: Idp = idp::oidc_provider(&[
        format!("{issuer}/login/sso/callback"),
        format!("{issuer}/login/sso2/callback"),
    ]);
    admin_put(
        &cluster,
        1,
        "/admin/identity-providers/sso",
        &idp::oidc_provider_config(&upstream, "sso"),
    )
    .await;

    // Denied consent at the provider.
    let (_, browser, url) = started(&n1, "sso").await;
    let mut response = browser.get(&url).await;
    let mut callback = None;
    for _ in 0..8 {
        if response.status().is_redirection() {
            let next = location(&response);
            if next.contains("/login/sso/callback") {
                callback = Some(next);
                break;
            }
            response = browser
                .get(url::Url::parse(&url).unwrap().join(&next).unwrap().as_str())
                .await;
            continue;
        }
        let html = response.text().await.expect("html");
        let form = Form::parse(&html);
        if html.contains("id=\"deny\"") {
            let start = html.find("id=\"deny\"").unwrap();
            let action = Form::parse(&html[start - 30..]).action;
            response = browser
                .post_form(&action, &[("decision".into(), "deny".into())])
                .await;
            continue;
        }
        response = browser
            .post_form(
                &form.action,
                &form.with_credentials("alice", "alice-password"),
            )
            .await;
    }
    let callback = callback.expect("the provider sent the person back");
    assert!(callback.contains("error=access_denied"));
    let (status, html) = page(&browser, &callback).await;
    assert_eq!(status, 400);
    assert!(html.contains("declined"), "{html}");

    // A key set that does not match the ID token's signature (fetched cold: nothing cached).
    admin_put(
        &cluster,
        1,
        "/admin/identity-providers/sso2",
        &idp::oidc_provider_config(&upstream, "sso2"),
    )
    .await;
    idp::set_oidc_mode(&upstream, "bad_signature").await;
    let (_, browser, url) = started(&n1, "sso2").await;
    let callback = idp::oidc_sign_in(&browser, &url, "bob", "bob-password").await;
    let (status, html) = page(&browser, &callback).await;
    assert_eq!(status, 400);
    assert!(html.contains("signature"), "{html}");
    idp::set_oidc_mode(&upstream, "normal").await;

    // The provider rotates its signing key: the unknown kid makes us refetch the key set
    // (once the keys we hold are older than the refetch gap).
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    idp::set_oidc_mode(&upstream, "rotate").await;
    let (_, browser, url) = started(&n1, "sso").await;
    let callback = idp::oidc_sign_in(&browser, &url, "bob", "bob-password").await;
    back_from(&browser, &callback).await;

    // An ID token for another audience, and one with another nonce.
    for (mode, words) in [
        ("id_token_wrong_aud", "audience"),
        ("id_token_wrong_nonce", "nonce"),
        ("id_token_expired", "expired"),
    ] {
        idp::set_oidc_mode(&upstream, mode).await;
        let (_, browser, url) = started(&n1, "sso").await;
        let callback = idp::oidc_sign_in(&browser, &url, "carol", "carol-password").await;
        let (status, html) = page(&browser, &callback).await;
        assert_eq!(status, 400, "{mode}");
        assert!(html.contains(words), "{mode}: {html}");
    }
    idp::set_oidc_mode(&upstream, "normal").await;

    // A callback from another browser (login CSRF) is refused.
    let (_, browser, url) = started(&n1, "sso").await;
    let callback = idp::oidc_sign_in(&browser, &url, "carol", "carol-password").await;
    let (status, html) = page(&Browser::new(), &callback).await;
    assert_eq!(status, 400);
    assert!(html.contains("another browser"), "{html}");

    // The provider is down.
    let flow = new_flow(&n1).await;
    upstream.stop();
    let browser = Browser::new();
    let login = authorize_goes_to(&browser, &flow.authorize).await;
    let href = button_href(&browser, &n1, &login, "sso").await;
    // The cached discovery document still builds the URL; a cold cache would say unavailable.
    let response = browser.get(&n1.url(&href)).await;
    assert!(response.status() == 303 || response.status() == 502);
}

#[tokio::test]
async fn an_invalid_provider_is_refused_and_changes_nothing() {
    let cluster = TestCluster::start(1).await;
    let before = admin_list(&cluster, 1).await;
    for (body, words) in [
        (
            json!({"kind": "oidc", "issuer": "http://idp.example.com", "client_id": "x"}),
            "https",
        ),
        (
            json!({"kind": "oidc", "client_id": "x"}),
            "issuer is required",
        ),
        (
            json!({"kind": "oidc", "preset": "okta", "client_id": "x"}),
            "domain is required",
        ),
        (
            json!({"kind": "ldap", "url": "ldap://ldap.example.com", "user_base": "dc=x"}),
            "starttls",
        ),
        (json!({"kind": "saml"}), "idp_metadata"),
        (json!({"kind": "kerberos"}), "invalid provider"),
        (
            json!({"kind": "oidc", "issuer": "https://idp.example.com", "client_id": "x", "surprise": 1}),
            "surprise",
        ),
    ] {
        let (status, answer) = cluster
            .admin(1, Method::PUT, "/admin/identity-providers/bad", Some(&body))
            .await;
        assert_eq!(status, 400, "{body}");
        assert!(
            answer["error"].as_str().unwrap_or("").contains(words),
            "{body}: {answer}"
        );
    }
    let (status, _) = cluster
        .admin(
            1,
            Method::PUT,
            "/admin/identity-providers/Bad%20Id",
            Some(&json!({"kind": "oidc", "issuer": "https://idp.example.com", "client_id": "x"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(admin_list(&cluster, 1).await, before);

    // Without the cluster secret the admin API refuses.
    let response = http()
        .put(cluster.internal_url(1, "/admin/identity-providers/x"))
        .json(&json!({"kind": "oidc", "issuer": "https://idp.example.com", "client_id": "x"}))
        .send()
        .await
        .expect("PUT");
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_plain_oauth2_provider_signs_in_through_its_user_api() {
    // oidc-provider also serves plain OAuth 2.0: code with PKCE, then its user API (/me), which
    // is how mcpauth talks to GitHub-style providers without ID tokens.
    let cluster = TestCluster::start(1).await;
    let n1 = cluster.endpoint(1);
    let upstream = idp::oidc_provider(&[format!("{}/login/plain/callback", n1.issuer)]);
    let config = json!({
        "kind": "oauth2",
        "display_name": "Plain OAuth",
        "authorization_endpoint": upstream.url("/auth"),
        "token_endpoint": upstream.url("/token"),
        "userinfo_endpoint": upstream.url("/me"),
        "client_id": "mcpauth",
        "client_secret": "mcpauth-upstream-secret",
        "scopes": ["openid", "email", "profile", "groups"],
    });
    admin_put(&cluster, 1, "/admin/identity-providers/plain", &config).await;
    let (flow, browser, url) = started(&n1, "plain").await;
    let query = query_of(&url);
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(!query.contains_key("nonce"));
    let callback = idp::oidc_sign_in(&browser, &url, "bob", "bob-password").await;
    let back = back_from(&browser, &callback).await;
    let code = consent_and_code(&browser, &n1, back).await;
    let claims = claims_of(&n1, &flow, &code).await;
    assert_eq!(claims["sub"], "plain:u-bob");
    assert_eq!(claims["email"], "bob@example.test");
    assert_eq!(claims["groups"], json!(["engineers"]));

    // A wrong client secret: the provider refuses the code exchange; a readable page, no session.
    let mut wrong = config.clone();
    wrong["client_secret"] = json!("not-the-secret");
    admin_put(&cluster, 1, "/admin/identity-providers/plain", &wrong).await;
    let (_, browser, url) = started(&n1, "plain").await;
    let callback = idp::oidc_sign_in(&browser, &url, "bob", "bob-password").await;
    let (status, html) = page(&browser, &callback).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("Sign-in failed"), "{html}");
}

#[tokio::test]
async fn es256_id_tokens_are_accepted_when_the_provider_publishes_es256() {
    // The fixture's `mcpauth-es256` client gets ES256-signed ID tokens; the algorithms allowed
    // come from the provider's discovery document, not a fixed RS256.
    let cluster = TestCluster::start(1).await;
    let n1 = cluster.endpoint(1);
    let upstream = idp::oidc_provider(&[format!("{}/login/ec/callback", n1.issuer)]);
    let mut config = idp::oidc_provider_config(&upstream, "ec");
    config["client_id"] = json!("mcpauth-es256");
    admin_put(&cluster, 1, "/admin/identity-providers/ec", &config).await;
    let (flow, browser, url) = started(&n1, "ec").await;
    let callback = idp::oidc_sign_in(&browser, &url, "carol", "carol-password").await;
    let back = back_from(&browser, &callback).await;
    let code = consent_and_code(&browser, &n1, back).await;
    let claims = claims_of(&n1, &flow, &code).await;
    assert_eq!(claims["sub"], "ec:u-carol");
}

#[tokio::test]
async fn two_sign_ins_started_in_parallel_tabs_both_complete() {
    // One browser starts two logins (two tabs, or an MCP client retrying) before finishing
    // either: each keeps its own binding cookie, so both callbacks are accepted.
    let cluster = TestCluster::start(1).await;
    let n1 = cluster.endpoint(1);
    let upstream = idp::oidc_provider(&[format!("{}/login/sso/callback", n1.issuer)]);
    admin_put(
        &cluster,
        1,
        "/admin/identity-providers/sso",
        &idp::oidc_provider_config(&upstream, "sso"),
    )
    .await;
    let browser = Browser::new();
    let first = new_flow(&n1).await;
    let second = new_flow(&n1).await;
    let first_url = choose_provider(&browser, &n1, &first.authorize, "sso").await;
    let second_url = choose_provider(&browser, &n1, &second.authorize, "sso").await;
    let first_callback = idp::oidc_sign_in(&browser, &first_url, "alice", "alice-password").await;
    let second_callback = idp::oidc_sign_in(&browser, &second_url, "alice", "alice-password").await;
    for (flow, callback) in [(&second, second_callback), (&first, first_callback)] {
        let back = back_from(&browser, &callback).await;
        let code = consent_and_code(&browser, &n1, back).await;
        let claims = claims_of(&n1, flow, &code).await;
        assert_eq!(claims["sub"], "sso:u-alice");
    }
}
