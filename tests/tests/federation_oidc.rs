//! Federated login through a real OpenID Connect provider (oidc-provider, OpenID Certified),
//! on a three-node cluster: the provider is configured through the admin API of one node, the
//! person starts on another, and the provider's callback lands on the third.

use mcpauth_tests::cluster::{TestCluster, SECRET_HEADER};
use mcpauth_tests::idp::{self, Idp};
use mcpauth_tests::{
    http, location, pkce, query_of, redeem, register_public, verify_access_token, Browser, Form,
    Target, REDIRECT_URI, RESOURCE,
};
use serde_json::{json, Value};

async fn admin_put(cluster: &TestCluster, node: u64, path: &str, body: &Value) -> (u16, Value) {
    let response = http()
        .put(cluster.internal_url(node, path))
        .header(SECRET_HEADER, cluster.secret())
        .json(body)
        .send()
        .await
        .expect("admin PUT");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn admin_list(cluster: &TestCluster, node: u64) -> Value {
    http()
        .get(cluster.internal_url(node, "/admin/identity-providers"))
        .header(SECRET_HEADER, cluster.secret())
        .send()
        .await
        .expect("admin GET")
        .json()
        .await
        .expect("json")
}

/// Move `url` (on the issuer's host) to `target`'s base URL: what a load balancer does when it
/// sends the next request to another node.
fn on_node(url: &str, issuer: &str, target: &impl Target) -> String {
    let path = url.strip_prefix(issuer).expect("a URL on the issuer");
    target.url(path)
}

/// Sign in at the upstream provider's own pages (login form, then consent "allow"), starting
/// from its authorization URL; answers the redirect back to us (the callback URL).
async fn upstream_login(
    browser: &Browser,
    authorization_url: &str,
    user: &str,
    password: &str,
) -> String {
    let mut response = browser.get(authorization_url).await;
    let mut logged_in = false;
    for _ in 0..10 {
        let status = response.status().as_u16();
        if status == 303 || status == 302 {
            let next = location(&response);
            if next.contains("/login/") && next.contains("/callback") {
                return next;
            }
            let next = url::Url::parse(authorization_url)
                .expect("url")
                .join(&next)
                .expect("join")
                .to_string();
            response = browser.get(&next).await;
            continue;
        }
        assert_eq!(status, 200, "unexpected answer from the provider");
        let html = response.text().await.expect("html");
        let form = Form::parse(&html);
        let mut fields = form.hidden.clone();
        if !logged_in {
            fields.push(("username".into(), user.into()));
            fields.push(("password".into(), password.into()));
            logged_in = true;
        } else {
            fields.push(("decision".into(), "allow".into()));
        }
        response = browser.post_form(&form.action, &fields).await;
    }
    panic!("the upstream login did not come back");
}

struct Flow {
    client_id: String,
    verifier: String,
    authorize: String,
}

async fn new_flow(target: &impl Target) -> Flow {
    let client = register_public(target).await;
    let client_id = client["client_id"].as_str().expect("client_id").to_owned();
    let (verifier, challenge) = pkce();
    let authorize = mcpauth_tests::authorize_url(
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

/// From our login page, follow the provider's button: answers the provider's authorization URL.
async fn choose_provider(
    browser: &Browser,
    target: &impl Target,
    authorize: &str,
    id: &str,
) -> String {
    let response = browser.get(authorize).await;
    assert_eq!(response.status(), 302);
    let login_page = location(&response);
    let page = browser.get(&target.url(&login_page)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    let marker = format!("id=\"provider-{id}\" href=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no button for {id}: {html}"))
        + marker.len();
    let href =
        html[start..start + html[start..].find('"').expect("href end")].replace("&amp;", "&");
    let start = browser.get(&target.url(&href)).await;
    assert_eq!(start.status(), 303, "starting the upstream login");
    location(&start)
}

async fn consent_and_code(
    browser: &Browser,
    target: &impl Target,
    mut response: reqwest::Response,
) -> String {
    for _ in 0..4 {
        let status = response.status().as_u16();
        if status == 200 {
            let html = response.text().await.expect("html");
            let form = Form::parse(&html);
            assert_eq!(form.action, "/consent", "expected our consent page: {html}");
            let mut fields = form.hidden.clone();
            fields.push(("decision".into(), "allow".into()));
            response = browser.post_form(&target.url("/consent"), &fields).await;
            continue;
        }
        let next = location(&response);
        if next.starts_with(REDIRECT_URI) {
            return query_of(&next)["code"].clone();
        }
        response = browser.get(&target.url(&next)).await;
    }
    panic!("no code");
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
    let (status, saved) = admin_put(
        &cluster,
        2,
        "/admin/identity-providers/sso",
        &idp::oidc_provider_config(&upstream, "sso"),
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["secret_set"], true);
    assert!(!saved.to_string().contains("mcpauth-upstream-secret"));
    let listed = admin_list(&cluster, 3).await;
    assert!(!listed.to_string().contains("mcpauth-upstream-secret"));

    // The person starts on node 1...
    let flow = new_flow(&n1).await;
    let browser = Browser::new();
    let authorization_url = choose_provider(&browser, &n1, &flow.authorize, "sso").await;
    assert!(
        authorization_url.starts_with(&upstream.url("/")),
        "{authorization_url}"
    );
    let query = query_of(&authorization_url);
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query.contains_key("nonce") && query.contains_key("state"));
    let callback = upstream_login(&browser, &authorization_url, "alice", "alice-password").await;

    // ...and the provider's callback reaches node 3.
    let on_n3 = on_node(&callback, &issuer, &n3);
    browser.carry_cookies(&callback, &on_n3);
    let back = browser.get(&on_n3).await;
    assert_eq!(
        back.status(),
        303,
        "{}",
        back.text().await.unwrap_or_default()
    );
    let code = consent_and_code(&browser, &n3, back).await;
    let tokens: Value = redeem(&n2, &flow.client_id, &code, &flow.verifier)
        .await
        .json()
        .await
        .expect("tokens");
    let access = tokens["access_token"].as_str().expect("access token");
    let claims = verify_access_token(&n3, access, RESOURCE)
        .await
        .expect("valid token");
    assert_eq!(claims["sub"], "sso:u-alice");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["groups"], json!(["engineers", "admins"]));

    // The same callback again (a replayed state) is refused and issues nothing.
    let replay = Browser::new().get(&on_node(&callback, &issuer, &n2)).await;
    assert_eq!(replay.status(), 400);
    let page = replay.text().await.expect("html");
    assert!(page.contains("Sign-in failed"), "{page}");
}

async fn failed_page(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Starts a login and answers (browser, upstream authorization URL) for failure cases.
async fn started(n: &impl Target, id: &str) -> (Browser, String) {
    let flow = new_flow(n).await;
    let browser = Browser::new();
    let url = choose_provider(&browser, n, &flow.authorize, id).await;
    (browser, url)
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
    let (status, body) = admin_put(
        &cluster,
        1,
        "/admin/identity-providers/sso",
        &idp::oidc_provider_config(&upstream, "sso"),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Denied consent at the provider.
    let (browser, url) = started(&n1, "sso").await;
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
        let mut fields = form.hidden.clone();
        if html.contains("id=\"deny\"") {
            let start = html.find("id=\"deny\"").unwrap();
            let action = Form::parse(&html[start - 30..]).action;
            response = browser
                .post_form(&action, &[("decision".into(), "deny".into())])
                .await;
            continue;
        }
        fields.push(("username".into(), "alice".into()));
        fields.push(("password".into(), "alice-password".into()));
        response = browser.post_form(&form.action, &fields).await;
    }
    let callback = callback.expect("the provider sent the person back");
    assert!(callback.contains("error=access_denied"));
    let (status, page) = failed_page(browser.get(&callback).await).await;
    assert_eq!(status, 400);
    assert!(page.contains("declined"), "{page}");

    // A key set that does not match the ID token's signature (fetched cold: nothing cached).
    let (status, body) = admin_put(
        &cluster,
        1,
        "/admin/identity-providers/sso2",
        &idp::oidc_provider_config(&upstream, "sso2"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    idp::set_oidc_mode(&upstream, "bad_signature").await;
    let (browser, url) = started(&n1, "sso2").await;
    let callback = upstream_login(&browser, &url, "bob", "bob-password").await;
    let (status, page) = failed_page(browser.get(&callback).await).await;
    assert_eq!(status, 400);
    assert!(page.contains("signature"), "{page}");
    idp::set_oidc_mode(&upstream, "normal").await;

    // The provider rotates its signing key: the unknown kid makes us refetch the key set
    // (once the keys we hold are older than the refetch gap).
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    idp::set_oidc_mode(&upstream, "rotate").await;
    let (browser, url) = started(&n1, "sso").await;
    let callback = upstream_login(&browser, &url, "bob", "bob-password").await;
    let back = browser.get(&callback).await;
    assert_eq!(
        back.status(),
        303,
        "{}",
        back.text().await.unwrap_or_default()
    );

    // An ID token for another audience, and one with another nonce.
    for (mode, words) in [
        ("id_token_wrong_aud", "audience"),
        ("id_token_wrong_nonce", "nonce"),
        ("id_token_expired", "expired"),
    ] {
        idp::set_oidc_mode(&upstream, mode).await;
        let (browser, url) = started(&n1, "sso").await;
        let callback = upstream_login(&browser, &url, "carol", "carol-password").await;
        let (status, page) = failed_page(browser.get(&callback).await).await;
        assert_eq!(status, 400, "{mode}");
        assert!(page.contains(words), "{mode}: {page}");
    }
    idp::set_oidc_mode(&upstream, "normal").await;

    // A callback from another browser (login CSRF) is refused.
    let (browser, url) = started(&n1, "sso").await;
    let callback = upstream_login(&browser, &url, "carol", "carol-password").await;
    let (status, page) = failed_page(Browser::new().get(&callback).await).await;
    assert_eq!(status, 400);
    assert!(page.contains("another browser"), "{page}");

    // The provider is down.
    let flow = new_flow(&n1).await;
    upstream.stop();
    let browser = Browser::new();
    let response = browser.get(&flow.authorize).await;
    let login_page = location(&response);
    let html = browser
        .get(&n1.url(&login_page))
        .await
        .text()
        .await
        .expect("html");
    let marker = "id=\"provider-sso\" href=\"";
    let start = html.find(marker).expect("button") + marker.len();
    let href = html[start..start + html[start..].find('"').unwrap()].replace("&amp;", "&");
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
        let (status, answer) = admin_put(&cluster, 1, "/admin/identity-providers/bad", &body).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            answer["error"].as_str().unwrap_or("").contains(words),
            "{body}: {answer}"
        );
    }
    let (status, _) = admin_put(
        &cluster,
        1,
        "/admin/identity-providers/Bad%20Id",
        &json!({"kind": "oidc", "issuer": "https://idp.example.com", "client_id": "x"}),
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
    let (status, body) = admin_put(&cluster, 1, "/admin/identity-providers/plain", &config).await;
    assert_eq!(status, 200, "{body}");
    let flow = new_flow(&n1).await;
    let browser = Browser::new();
    let url = choose_provider(&browser, &n1, &flow.authorize, "plain").await;
    let query = query_of(&url);
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(!query.contains_key("nonce"));
    let callback = upstream_login(&browser, &url, "bob", "bob-password").await;
    let back = browser.get(&callback).await;
    assert_eq!(
        back.status(),
        303,
        "{}",
        back.text().await.unwrap_or_default()
    );
    let code = consent_and_code(&browser, &n1, back).await;
    let tokens: Value = redeem(&n1, &flow.client_id, &code, &flow.verifier)
        .await
        .json()
        .await
        .expect("tokens");
    let claims = verify_access_token(
        &n1,
        tokens["access_token"].as_str().expect("token"),
        RESOURCE,
    )
    .await
    .expect("valid");
    assert_eq!(claims["sub"], "plain:u-bob");
    assert_eq!(claims["email"], "bob@example.test");
    assert_eq!(claims["groups"], json!(["engineers"]));

    // A wrong client secret: the provider refuses the code exchange; a readable page, no session.
    let mut wrong = config.clone();
    wrong["client_secret"] = json!("not-the-secret");
    let (status, _) = admin_put(&cluster, 1, "/admin/identity-providers/plain", &wrong).await;
    assert_eq!(status, 200);
    let flow = new_flow(&n1).await;
    let browser = Browser::new();
    let url = choose_provider(&browser, &n1, &flow.authorize, "plain").await;
    let callback = upstream_login(&browser, &url, "bob", "bob-password").await;
    let (status, page) = failed_page(browser.get(&callback).await).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("Sign-in failed"), "{page}");
}
