//! /authorize, the login page and the consent page: every refusal, and the browser rules.

use mcpauth_tests::{
    authorize_url, location, pkce, query_of, register, register_public, Browser, Form, Node,
    ADMIN_PASSWORD, REDIRECT_URI, RESOURCE,
};
use serde_json::json;

struct Setup {
    node: Node,
    client_id: String,
    challenge: String,
}

async fn setup() -> Setup {
    let node = Node::start().await;
    let client = register_public(&node).await;
    let (_, challenge) = pkce();
    Setup {
        client_id: client["client_id"].as_str().unwrap().to_owned(),
        node,
        challenge,
    }
}

impl Setup {
    fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("response_type", "code".into()),
            ("client_id", self.client_id.clone()),
            ("redirect_uri", REDIRECT_URI.into()),
            ("code_challenge", self.challenge.clone()),
            ("code_challenge_method", "S256".into()),
            ("state", "xyz".into()),
            ("resource", RESOURCE.into()),
        ]
    }
    fn url_with(&self, change: &[(&'static str, Option<&str>)]) -> String {
        let mut params = self.params();
        for (key, value) in change {
            params.retain(|(k, _)| k != key);
            if let Some(v) = value {
                params.push((key, v.to_string()));
            }
        }
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        authorize_url(&self.node, &pairs)
    }
}

/// Sign in once so later requests have a session.
async fn signed_in(setup: &Setup) -> Browser {
    let browser = Browser::new();
    let response = browser.get(&setup.url_with(&[])).await;
    assert_eq!(response.status(), 302);
    let login = location(&response);
    assert!(
        login.starts_with("/login?return_to=%2Fauthorize%3F"),
        "{login}"
    );
    let response = browser
        .login(
            &setup.node,
            &setup.node.url(&login),
            "admin",
            ADMIN_PASSWORD,
        )
        .await;
    assert_eq!(response.status(), 303, "login answers 303");
    browser
}

#[tokio::test]
async fn full_flow_returns_code_state_and_iss() {
    let setup = setup().await;
    let browser = Browser::new();
    let pairs: Vec<(&str, String)> = setup.params();
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let target = browser.authorize(&setup.node, &pairs).await;
    assert!(target.starts_with(REDIRECT_URI), "{target}");
    let query = query_of(&target);
    assert_eq!(query["state"], "xyz");
    assert_eq!(query["iss"], setup.node.issuer);
    assert_eq!(query["code"].len(), 43);
    // Consent is remembered: the next authorization goes straight back with a new code.
    let response = browser
        .get(&setup.url_with(&[("state", Some("second"))]))
        .await;
    assert_eq!(response.status(), 302);
    let again = query_of(&location(&response));
    assert_eq!(again["state"], "second");
    assert_ne!(again["code"], query["code"]);
    // prompt=consent (sent with offline_access) shows the consent page again, and is accepted.
    let response = browser
        .get(&setup.url_with(&[
            ("prompt", Some("consent")),
            ("scope", Some("offline_access mcp")),
        ]))
        .await;
    assert_eq!(response.status(), 200);
    let form = Form::parse(&response.text().await.unwrap());
    assert_eq!(form.action, "/consent");
}

#[tokio::test]
async fn untrusted_client_or_redirect_gets_an_error_page_never_a_redirect() {
    let setup = setup().await;
    let cases = [
        setup.url_with(&[("client_id", None)]),
        setup.url_with(&[("client_id", Some("unknown-client"))]),
        setup.url_with(&[("redirect_uri", Some("https://evil.example/callback"))]),
        setup.url_with(&[("redirect_uri", Some("http://127.0.0.1:7777/other"))]),
        format!("{}&client_id=again", setup.url_with(&[])),
    ];
    for url in cases {
        let response = Browser::new().get(&url).await;
        assert_eq!(response.status(), 400, "{url}");
        assert!(response.headers().get("location").is_none(), "{url}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let html = response.text().await.unwrap();
        assert!(html.contains("<h1>"), "{html}");
    }
    // Loopback redirect URIs match on any port.
    let browser = signed_in(&setup).await;
    let response = browser
        .get(&setup.url_with(&[("redirect_uri", Some("http://127.0.0.1:40001/callback"))]))
        .await;
    assert_eq!(
        response.status(),
        200,
        "consent page for a loopback URI on another port"
    );
}

#[tokio::test]
async fn refusals_after_the_redirect_is_trusted_go_back_with_error_state_and_iss() {
    let setup = setup().await;
    type Change<'a> = Vec<(&'static str, Option<&'a str>)>;
    let cases: Vec<(Change, &str)> = vec![
        (vec![("code_challenge", None)], "invalid_request"),
        (
            vec![("code_challenge_method", Some("plain"))],
            "invalid_request",
        ),
        (vec![("code_challenge_method", None)], "invalid_request"),
        (
            vec![("code_challenge", Some("too-short"))],
            "invalid_request",
        ),
        (
            vec![("response_type", Some("token"))],
            "unsupported_response_type",
        ),
        (vec![("response_type", None)], "invalid_request"),
        (
            vec![("resource", Some("https://other.example/mcp"))],
            "invalid_target",
        ),
        (
            vec![("resource", Some("https://x.example/#frag"))],
            "invalid_target",
        ),
        (
            vec![("scope", Some("mcp admin:everything"))],
            "invalid_scope",
        ),
    ];
    for (change, error) in cases {
        let response = Browser::new().get(&setup.url_with(&change)).await;
        assert_eq!(response.status(), 302, "{change:?}");
        let location = location(&response);
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        let query = query_of(&location);
        assert_eq!(query["error"], error, "{change:?}");
        assert_eq!(query["state"], "xyz");
        assert_eq!(query["iss"], setup.node.issuer);
        assert!(!query.contains_key("code"));
    }
}

#[tokio::test]
async fn missing_resource_gets_the_default_and_root_slash_is_insignificant() {
    let node = Node::start_with(&["--resource", "https://mcp.example/"]).await;
    let client = register_public(&node).await;
    let client_id = client["client_id"].as_str().unwrap();
    let (_, challenge) = pkce();
    for resource in [
        None,
        Some("https://mcp.example"),
        Some("https://mcp.example/"),
    ] {
        let mut query = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(r) = resource {
            query.push(("resource", r));
        }
        let location = Browser::new().authorize(&node, &query).await;
        assert!(
            query_of(&location).contains_key("code"),
            "{resource:?}: {location}"
        );
    }
}

#[tokio::test]
async fn several_resources_require_one_to_be_named_and_none_configured_accepts_any() {
    let node = Node::start_with(&[
        "--resource",
        "https://a.example/mcp",
        "--resource",
        "https://b.example/mcp",
    ])
    .await;
    let client = register_public(&node).await;
    let client_id = client["client_id"].as_str().unwrap();
    let (_, challenge) = pkce();
    let base = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let response = Browser::new().get(&authorize_url(&node, &base)).await;
    assert_eq!(query_of(&location(&response))["error"], "invalid_target");

    let trial = Node::start_with(&[]).await;
    assert!(
        trial.log().contains("for trying mcpauth out"),
        "start-up warning"
    );
    let client = register_public(&trial).await;
    let client_id = client["client_id"].as_str().unwrap();
    let mut query = base.to_vec();
    query[1] = ("client_id", client_id);
    let unnamed = query.clone();
    query.push(("resource", "https://anything.example/mcp"));
    let location = Browser::new().authorize(&trial, &query).await;
    assert!(query_of(&location).contains_key("code"));
    // Trial mode takes a request naming no resource too (the token is for the issuer).
    let location = Browser::new().authorize(&trial, &unnamed).await;
    assert!(query_of(&location).contains_key("code"), "{location}");
}

#[tokio::test]
async fn login_page_rules() {
    let setup = setup().await;
    let browser = Browser::new();
    let response = browser.get(&setup.url_with(&[])).await;
    let login_url = setup.node.url(&location(&response));
    let page = browser.get(&login_url).await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(headers["cache-control"], "no-store");
    let csrf_cookie = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("mcpauth_csrf="))
        .expect("a CSRF cookie");
    assert!(csrf_cookie.contains("HttpOnly"));
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script"), "works without JavaScript");
    assert!(html.contains("Test Client"), "names the client");
    let form = Form::parse(&html);
    assert_eq!(form.action, "/login");

    // A wrong password: 303 back to the login page with a message; no session.
    let mut fields = form.hidden.clone();
    fields.push(("username".into(), "admin".into()));
    fields.push(("password".into(), "wrong".into()));
    let response = browser.post_form(&setup.node.url("/login"), &fields).await;
    assert_eq!(response.status(), 303);
    assert!(response
        .headers()
        .get("set-cookie")
        .is_none_or(|c| !c.to_str().unwrap().starts_with("mcpauth_session")));
    let back = location(&response);
    assert!(back.starts_with("/login?") && back.contains("error=invalid"));
    let page = browser
        .get(&setup.node.url(&back))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Unknown username or wrong password"));

    // An unknown user gets the same answer.
    let mut fields = form.hidden.clone();
    fields.push(("username".into(), "nobody".into()));
    fields.push(("password".into(), "x".into()));
    let response = browser.post_form(&setup.node.url("/login"), &fields).await;
    assert!(location(&response).contains("error=invalid"));

    // Without the CSRF cookie (another browser) the form is refused.
    let mut fields = form.hidden.clone();
    fields.push(("username".into(), "admin".into()));
    fields.push(("password".into(), ADMIN_PASSWORD.into()));
    let stranger = Browser::new();
    let response = stranger.post_form(&setup.node.url("/login"), &fields).await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).contains("error=csrf"));

    // return_to must lead back to /authorize: no open redirect.
    for bad in ["https://evil.example/", "//evil.example/", "/logout"] {
        let url = format!(
            "{}/login?return_to={}",
            setup.node.issuer,
            url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>()
        );
        assert_eq!(browser.get(&url).await.status(), 400, "{bad}");
    }

    // The right password: a session cookie (HttpOnly, SameSite=Lax), 303 back to /authorize.
    let response = browser.post_form(&setup.node.url("/login"), &fields).await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/authorize?"));
    let session = set_session_cookie(&response).expect("a session cookie");
    assert!(session.contains("HttpOnly"));
    assert!(session.contains("SameSite=Lax"));
}

#[tokio::test]
async fn a_new_session_id_after_every_login() {
    let setup = setup().await;
    let browser = signed_in(&setup).await;
    let first = session_cookie_value(&browser, &setup).await;
    // Log in again (prompt=login) in the same browser: the session id changes.
    let response = browser
        .get(&setup.url_with(&[("prompt", Some("login"))]))
        .await;
    let login = location(&response);
    assert!(login.starts_with("/login"));
    let response = browser
        .login(
            &setup.node,
            &setup.node.url(&login),
            "admin",
            ADMIN_PASSWORD,
        )
        .await;
    assert_eq!(response.status(), 303);
    let second = session_id(&response);
    assert_ne!(first, second);
    // The old session no longer signs anyone in.
    let old = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = old
        .get(setup.url_with(&[]))
        .header("cookie", format!("mcpauth_session={first}"))
        .send()
        .await
        .unwrap();
    assert!(
        location(&response).starts_with("/login"),
        "old session id was revoked"
    );
}

async fn session_cookie_value(browser: &Browser, setup: &Setup) -> String {
    // Replay the login to read the Set-Cookie value the browser holds.
    let response = browser
        .get(&setup.url_with(&[("prompt", Some("login"))]))
        .await;
    let login = location(&response);
    let response = browser
        .login(
            &setup.node,
            &setup.node.url(&login),
            "admin",
            ADMIN_PASSWORD,
        )
        .await;
    session_id(&response)
}

/// The `Set-Cookie` header that sets the session cookie, if any.
fn set_session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("mcpauth_session="))
}

/// The session id a login response sets.
fn session_id(response: &reqwest::Response) -> String {
    let cookie = set_session_cookie(response).expect("a session cookie");
    cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("mcpauth_session=")
        .to_owned()
}

#[tokio::test]
async fn consent_page_and_its_refusals() {
    let setup = setup().await;
    let browser = signed_in(&setup).await;
    let page = browser
        .get(&setup.url_with(&[("scope", Some("mcp offline_access"))]))
        .await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    assert!(html.contains("Test Client"));
    assert!(html.contains("127.0.0.1"), "shows the redirect host");
    assert!(html.contains("offline_access") && html.contains("<code>mcp</code>"));
    let form = Form::parse(&html);

    // A tampered request in the form is validated again.
    let mut tampered = form.hidden.clone();
    for (k, v) in tampered.iter_mut() {
        if k == "redirect_uri" {
            *v = "https://evil.example/cb".into();
        }
    }
    tampered.push(("decision".into(), "allow".into()));
    let response = browser
        .post_form(&setup.node.url("/consent"), &tampered)
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());

    // Wrong CSRF token.
    let mut wrong = form.hidden.clone();
    for (k, v) in wrong.iter_mut() {
        if k == "csrf" {
            *v = "A".repeat(43);
        }
    }
    wrong.push(("decision".into(), "allow".into()));
    assert_eq!(
        browser
            .post_form(&setup.node.url("/consent"), &wrong)
            .await
            .status(),
        400
    );

    // Deny: 303 back to the client with access_denied, state and iss.
    let mut deny = form.hidden.clone();
    deny.push(("decision".into(), "deny".into()));
    let response = browser.post_form(&setup.node.url("/consent"), &deny).await;
    assert_eq!(response.status(), 303);
    let query = query_of(&location(&response));
    assert_eq!(query["error"], "access_denied");
    assert_eq!(query["state"], "xyz");
    assert_eq!(query["iss"], setup.node.issuer);

    // A denial remembers nothing: the consent page shows again.
    assert_eq!(
        browser
            .get(&setup.url_with(&[("scope", Some("mcp offline_access"))]))
            .await
            .status(),
        200
    );

    // Allow: 303 with a code.
    let mut allow = form.hidden.clone();
    allow.push(("decision".into(), "allow".into()));
    let response = browser.post_form(&setup.node.url("/consent"), &allow).await;
    assert_eq!(response.status(), 303);
    assert!(query_of(&location(&response)).contains_key("code"));
    // A wider scope than consented asks again; a narrower one does not.
    assert_eq!(
        browser
            .get(&setup.url_with(&[("scope", Some("mcp openid"))]))
            .await
            .status(),
        200
    );
    assert_eq!(
        browser
            .get(&setup.url_with(&[("scope", Some("mcp"))]))
            .await
            .status(),
        302
    );
}

#[tokio::test]
async fn prompt_none_without_session_or_consent() {
    let setup = setup().await;
    let response = Browser::new()
        .get(&setup.url_with(&[("prompt", Some("none"))]))
        .await;
    assert_eq!(query_of(&location(&response))["error"], "login_required");
    let browser = signed_in(&setup).await;
    let response = browser
        .get(&setup.url_with(&[("prompt", Some("none"))]))
        .await;
    let query = query_of(&location(&response));
    assert_eq!(query["error"], "consent_required");
    assert_eq!(query["iss"], setup.node.issuer);
}

#[tokio::test]
async fn client_with_several_redirect_uris_must_name_one() {
    let node = Node::start().await;
    let client = register(
        &node,
        json!({"redirect_uris": [REDIRECT_URI, "https://app.example/cb"], "token_endpoint_auth_method": "none"}),
    )
    .await;
    let (_, challenge) = pkce();
    let url = authorize_url(
        &node,
        &[
            ("response_type", "code"),
            ("client_id", client["client_id"].as_str().unwrap()),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let response = Browser::new().get(&url).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn malformed_browser_requests_get_a_readable_page() {
    let node = Node::start().await;
    let browser = Browser::new();
    let responses = [
        browser
            .get(&node.url("/login?return_to=%2Fauthorize%3Fa&return_to=%2Fauthorize%3Fb"))
            .await,
        browser
            .get(&node.url("/authorize?client_id=a&client_id=b"))
            .await,
        browser
            .client
            .post(node.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("csrf=a&csrf=b&return_to=%2Fauthorize%3F")
            .send()
            .await
            .unwrap(),
        browser
            .client
            .post(node.url("/consent"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("%ZZ=1")
            .send()
            .await
            .unwrap(),
    ];
    for response in responses {
        assert_eq!(response.status(), 400);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert_eq!(response.headers()["x-frame-options"], "DENY");
        assert!(response.text().await.unwrap().contains("<h1>"));
    }
}
