//! Federated login through a real directory (OpenLDAP slapd) and a real SAML IdP (pysaml2), on
//! clusters of real nodes: providers configured through the admin API of one node, the person
//! sent back to another, tokens redeemed on a third; every failure ends on a page and issues
//! nothing. Also: switching the active provider on a running cluster, and seeding providers
//! from the config file (first start only).
//!
//! Each test starts its own cluster and fixtures, and holds [`serial`] so that one cluster runs
//! at a time (the "visible on every node within a couple of seconds" checks stay meaningful).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mcpauth_tests::cluster::{serial, Endpoint, Options, TestCluster};
use mcpauth_tests::federation::{
    admin_list, admin_put, authorize_goes_to, button_href, claims_of, consent_and_code, listed,
    new_flow, on_node, page, page_of, Flow,
};
use mcpauth_tests::idp::{self, Idp};
use mcpauth_tests::{
    binary, free_port, http, location, query_of, Browser, Form, Target, ADMIN_PASSWORD, RESOURCE,
};
use serde_json::{json, Value};

/// How long an admin change may take to be visible on every node.
const SETTLE: Duration = Duration::from_secs(3);

/// Poll `$body` (an expression answering `Option<T>`, which may `.await`) until it is `Some`,
/// at most [`SETTLE`]; answers the value.
macro_rules! eventually {
    ($what:expr, $body:expr) => {{
        let deadline = Instant::now() + SETTLE;
        loop {
            if let Some(value) = $body {
                break value;
            }
            assert!(
                Instant::now() < deadline,
                "not within {SETTLE:?}: {}",
                $what
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }};
}

// ---------------------------------------------------------------- browser steps

/// Whether a page shows the local username/password form.
fn has_local_form(html: &str) -> bool {
    html.contains("action=\"/login\"")
}

/// Whether a response starts a session (sets our session cookie to a value).
fn sets_session(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| c.starts_with("mcpauth_session=") && !c.starts_with("mcpauth_session=;"))
}

/// Nothing was issued to this browser: `/authorize` still asks it to sign in.
async fn assert_signed_out(browser: &Browser, authorize: &str) {
    let next = authorize_goes_to(browser, authorize).await;
    assert!(next.starts_with("/login"), "a session was issued: {next}");
}

/// A sign-in that worked: a 303 that starts a session; where it sends the browser.
async fn signed_in(response: reqwest::Response) -> String {
    assert_eq!(
        response.status(),
        303,
        "{}",
        response.text().await.unwrap_or_default()
    );
    assert!(sets_session(&response));
    location(&response)
}

/// A refused sign-in: no session started, and our error page with `status`: its HTML.
async fn refused(response: reqwest::Response, status: u16, what: &str) -> String {
    assert!(!sets_session(&response), "{what}");
    let (got, html) = page_of(response).await;
    assert_eq!(got, status, "{what}: {html}");
    html
}

// ---------------------------------------------------------------- 1. LDAP

/// The directory's password form for `flow`, reached through our login page's button on
/// `target`: (form, page).
async fn directory_form(
    browser: &Browser,
    target: &Endpoint,
    flow: &Flow,
    id: &str,
) -> (Form, String) {
    let login = authorize_goes_to(browser, &flow.authorize).await;
    assert!(login.starts_with("/login?"), "{login}");
    let href = button_href(browser, target, &login, id).await;
    assert!(
        href.starts_with(&format!("/login/{id}?return_to=")),
        "{href}"
    );
    let (status, form_page) = page(browser, &target.url(&href)).await;
    assert_eq!(status, 200, "{form_page}");
    (Form::parse(&form_page), form_page)
}

/// Post `fields` to the directory's form on `target`, which must send the browser back to the
/// form with `error` and start no session: the form page, which must answer 200.
async fn back_to_the_form(
    browser: &Browser,
    target: &Endpoint,
    fields: &[(String, String)],
    error: &str,
    what: &str,
) -> String {
    let response = browser
        .post_form(&target.url("/login/directory"), fields)
        .await;
    assert_eq!(response.status(), 303, "{what}");
    assert!(!sets_session(&response), "{what}");
    let back = location(&response);
    assert!(
        back.starts_with("/login/directory?return_to=") && back.contains(&format!("error={error}")),
        "{back}"
    );
    let (status, html) = page(browser, &target.url(&back)).await;
    assert_eq!(status, 200);
    html
}

/// Sign in as `user` on the directory's `form`, posted to `target`: on through consent, the code.
async fn directory_code(
    browser: &Browser,
    target: &Endpoint,
    form: &Form,
    user: &str,
    password: &str,
) -> String {
    let response = browser
        .post_form(
            &target.url("/login/directory"),
            &form.with_credentials(user, password),
        )
        .await;
    assert_eq!(response.status(), 303);
    let back = browser.get(&target.url(&location(&response))).await;
    consent_and_code(browser, target, back).await
}

#[tokio::test]
async fn a_person_signs_in_with_the_directory_on_a_three_node_cluster() {
    let _serial = serial().await;
    let started = Instant::now();
    let (mut slapd, _) = idp::slapd();
    let cluster = TestCluster::start(3).await;
    let (n1, n2, n3) = (
        cluster.endpoint(1),
        cluster.endpoint(2),
        cluster.endpoint(3),
    );

    // Configured through node 2's admin API; the bind password is never shown back.
    let saved = admin_put(
        &cluster,
        2,
        "/admin/identity-providers/directory",
        &idp::ldap_provider_config(&slapd, "directory"),
    )
    .await;
    assert_eq!(saved["secret_set"], true, "{saved}");
    assert_eq!(saved["kind"], "ldap");
    assert!(!saved.to_string().contains("service-secret"));
    assert!(!admin_list(&cluster, 3)
        .await
        .to_string()
        .contains("service-secret"));

    // Node 1's login page offers the directory (next to the local form).
    let flow = new_flow(&n1).await;
    let browser = Browser::new();
    let login = authorize_goes_to(&browser, &flow.authorize).await;
    let html = eventually!("node 1 lists the directory", {
        let (status, html) = page(&browser, &n1.url(&login)).await;
        (status == 200 && html.contains("provider-directory")).then_some(html)
    });
    assert!(html.contains("Sign in with Example Directory"), "{html}");
    assert!(has_local_form(&html), "{html}");

    // The button leads to the directory's password form.
    let (form, form_page) = directory_form(&browser, &n1, &flow, "directory").await;
    assert_eq!(form.action, "/login/directory");
    assert!(
        form_page.contains("Sign in with Example Directory"),
        "{form_page}"
    );
    assert!(form.hidden.iter().any(|(k, _)| k == "csrf"));
    let return_to = form
        .hidden
        .iter()
        .find(|(k, _)| k == "return_to")
        .map(|(_, v)| v.clone())
        .expect("return_to");
    assert!(return_to.starts_with("/authorize?"), "{return_to}");

    // A wrong password, an unknown user, an empty password (an unauthenticated bind would
    // "succeed") and filter metacharacters: the form again, the same message, no session.
    for (user, password) in [
        ("alice", "not-her-password"),
        ("mallory", "whatever"),
        ("alice", ""),
        ("*", "alice-password"),
        ("alice)(uid=*", "alice-password"),
    ] {
        let fields = form.with_credentials(user, password);
        let html = back_to_the_form(&browser, &n1, &fields, "invalid", user).await;
        assert!(
            html.contains("Unknown username or wrong password"),
            "{html}"
        );
        assert_eq!(Form::parse(&html).action, "/login/directory");
    }
    assert_signed_out(&browser, &flow.authorize).await;

    // Without the CSRF field: the form again, with the error, no session.
    let no_csrf: Vec<(String, String)> = form
        .with_credentials("alice", "alice-password")
        .into_iter()
        .filter(|(k, _)| k != "csrf")
        .collect();
    let html = back_to_the_form(&browser, &n1, &no_csrf, "csrf", "no csrf").await;
    assert!(html.contains("The form expired"), "{html}");
    assert_signed_out(&browser, &flow.authorize).await;

    // The right password, posted to node 2 (the form came from node 1): back to /authorize.
    browser.carry_cookies(&n1.url("/"), &n2.url("/"));
    let response = browser
        .post_form(
            &n2.url("/login/directory"),
            &form.with_credentials("alice", "alice-password"),
        )
        .await;
    assert_eq!(signed_in(response).await, return_to);
    let back = browser.get(&n2.url(&return_to)).await;
    assert_eq!(back.status(), 200, "our consent page");
    let code = consent_and_code(&browser, &n2, back).await;

    // Redeemed on node 3; the access token carries the directory's profile.
    let claims = claims_of(&n3, &flow, &code).await;
    assert_eq!(claims["sub"], "directory:alice");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["name"], "Alice Liddell");
    assert_eq!(claims["groups"], json!(["admins", "engineers"]));

    // The directory is down: a readable error page (502), and nothing issued.
    slapd.stop();
    let flow = new_flow(&n3).await;
    let browser = Browser::new();
    let (form, _) = directory_form(&browser, &n3, &flow, "directory").await;
    let response = browser
        .post_form(
            &n3.url("/login/directory"),
            &form.with_credentials("alice", "alice-password"),
        )
        .await;
    let html = refused(response, 502, "the directory is down").await;
    assert!(html.contains("Sign-in failed"), "{html}");
    assert!(
        html.contains("Example Directory") && html.contains("unavailable"),
        "{html}"
    );
    assert!(html.contains("Nothing was issued"), "{html}");
    assert_signed_out(&browser, &flow.authorize).await;
    eprintln!("ldap test: {:?}", started.elapsed());
}

// ---------------------------------------------------------------- 2. SAML

/// Set test knobs of the SAML IdP (`mode`, `sign`, `nameid`).
async fn set_saml_knobs(idp: &Idp, knobs: Value) {
    let response = http()
        .post(idp.url("/_test/mode"))
        .json(&knobs)
        .send()
        .await
        .expect("mode");
    assert!(response.status().is_success(), "knobs {knobs}");
}

async fn set_saml_mode(idp: &Idp, mode: &str) {
    set_saml_knobs(idp, json!({ "mode": mode })).await;
}

/// The IdP's answer, as its auto-submitting page would post it: ACS URL and fields.
struct IdpAnswer {
    acs: String,
    fields: Vec<(String, String)>,
    /// The RelayState we sent to the IdP (from our redirect to it).
    relay_state: String,
}

/// From /authorize on `start`, through our login page's button and the IdP's login form
/// ("login" with the password, or "cancel"): the IdP's auto-post form.
async fn saml_at_idp(
    browser: &Browser,
    start: &Endpoint,
    flow: &Flow,
    id: &str,
    idp: &Idp,
    (user, action): (&str, &str),
) -> IdpAnswer {
    let redirect = saml_redirect(browser, start, flow, id, idp).await;
    let relay_state = query_of(&redirect)["RelayState"].clone();
    let (status, html) = page(browser, &redirect).await;
    assert_eq!(status, 200, "the IdP's login form: {html}");
    let form = Form::parse(&html);
    assert_eq!(form.action, "/sso/login");
    let password = format!("{user}-password");
    let fields = form.with(&[
        ("username", user),
        ("password", &password),
        ("action", action),
    ]);
    let (status, html) = page_of(browser.post_form(&idp.url(&form.action), &fields).await).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("id=\"saml-post\""), "{html}");
    let form = Form::parse(&html);
    assert!(form.hidden.iter().any(|(k, _)| k == "SAMLResponse"));
    assert!(form
        .hidden
        .iter()
        .any(|(k, v)| k == "RelayState" && *v == relay_state));
    IdpAnswer {
        acs: form.action,
        fields: form.hidden,
        relay_state,
    }
}

/// Our redirect to the IdP (HTTP-Redirect binding), from the login page's button on `start`.
async fn saml_redirect(
    browser: &Browser,
    start: &Endpoint,
    flow: &Flow,
    id: &str,
    idp: &Idp,
) -> String {
    let login = authorize_goes_to(browser, &flow.authorize).await;
    let href = button_href(browser, start, &login, id).await;
    let response = browser.get(&start.url(&href)).await;
    assert_eq!(response.status(), 303, "starting the SAML login");
    let redirect = location(&response);
    assert!(
        redirect.starts_with(&idp.url("/sso?")),
        "not to the IdP: {redirect}"
    );
    let query = query_of(&redirect);
    assert!(query.contains_key("SAMLRequest") && query.contains_key("RelayState"));
    redirect
}

/// Post the IdP's answer to the ACS on `target` (the browser's cookies carried from `from`).
async fn post_to_acs(
    browser: &Browser,
    issuer: &str,
    from: &Endpoint,
    target: &Endpoint,
    acs: &str,
    fields: &[(String, String)],
) -> reqwest::Response {
    let url = on_node(acs, issuer, target);
    browser.carry_cookies(&from.url("/"), &target.url("/"));
    browser.post_form(&url, fields).await
}

/// A new client's login in a new browser, started on `start` with provider "corp" and through
/// the IdP as `(user, action)`; the IdP's answer posted to the ACS on `target`: (flow, browser,
/// our answer to that post).
async fn saml_login(
    issuer: &str,
    start: &Endpoint,
    target: &Endpoint,
    idp: &Idp,
    who: (&str, &str),
) -> (Flow, Browser, reqwest::Response) {
    let flow = new_flow(start).await;
    let browser = Browser::new();
    let answer = saml_at_idp(&browser, start, &flow, "corp", idp, who).await;
    let response = post_to_acs(&browser, issuer, start, target, &answer.acs, &answer.fields).await;
    (flow, browser, response)
}

async fn last_response(idp: &Idp) -> Value {
    let response = http()
        .get(idp.url("/_test/last_response"))
        .send()
        .await
        .expect("last response");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

#[tokio::test]
async fn a_person_signs_in_through_a_saml_idp_and_bad_assertions_are_refused() {
    let _serial = serial().await;
    let started = Instant::now();
    let cluster = TestCluster::start(3).await;
    let (n1, n2, n3) = (
        cluster.endpoint(1),
        cluster.endpoint(2),
        cluster.endpoint(3),
    );
    let issuer = cluster.issuer.clone();
    // The IdP reads our SP metadata lazily, at the first AuthnRequest: it may start before
    // the provider exists (and it must, for the provider to name its metadata URL).
    let saml = idp::saml_idp(&format!("{issuer}/saml/corp/metadata"));
    let saved = admin_put(
        &cluster,
        3,
        "/admin/identity-providers/corp",
        &json!({
            "kind": "saml",
            "display_name": "Example SAML",
            "idp_metadata_url": saml.url("/metadata"),
        }),
    )
    .await;
    assert_eq!(saved["kind"], "saml");
    assert_eq!(saved["secret_set"], false);

    // Our SP metadata, on node 1 (where the IdP fetches it), names our entity ID and ACS.
    let metadata = eventually!("node 1 serves the SP metadata", {
        let response = http()
            .get(n1.url("/saml/corp/metadata"))
            .send()
            .await
            .expect("metadata");
        match response.status().as_u16() {
            200 => Some(response.text().await.expect("xml")),
            _ => None,
        }
    });
    assert!(metadata.contains("EntityDescriptor"), "{metadata}");
    assert!(
        metadata.contains(&format!("{issuer}/saml/corp/metadata")),
        "{metadata}"
    );
    assert!(
        metadata.contains(&format!("{issuer}/saml/corp/acs")),
        "{metadata}"
    );
    // A new provider advertises (and asks for) persistent NameIDs.
    assert!(
        metadata.contains("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
        "{metadata}"
    );

    // Alice starts on node 1; the IdP's post reaches node 3; tokens are redeemed on node 2.
    let flow = new_flow(&n1).await;
    let browser = Browser::new();
    let answer = saml_at_idp(&browser, &n1, &flow, "corp", &saml, ("alice", "login")).await;
    assert_eq!(answer.acs, format!("{issuer}/saml/corp/acs"));
    let response = post_to_acs(&browser, &issuer, &n1, &n3, &answer.acs, &answer.fields).await;
    let return_to = signed_in(response).await;
    assert!(return_to.starts_with("/authorize?"), "{return_to}");
    let back = browser.get(&n3.url(&return_to)).await;
    let code = consent_and_code(&browser, &n3, back).await;
    let claims = claims_of(&n2, &flow, &code).await;
    // The subject is the persistent NameID we asked for (the IdP would pick email otherwise).
    assert_eq!(claims["sub"], "corp:5b0f2c1e-7a7d-4d0e-9a51-000000000001");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["name"], "Alice Liddell");
    let mut groups: Vec<String> = serde_json::from_value(claims["groups"].clone()).expect("groups");
    groups.sort();
    assert_eq!(groups, ["admins", "engineers"]);
    let used = last_response(&saml).await;
    assert_eq!(
        used["RelayState"].as_str(),
        Some(answer.relay_state.as_str())
    );

    // Replay: the same SAMLResponse and RelayState again, from another browser and from the
    // one that signed in, on another node: the state is single-use.
    let replayed = [
        (
            "SAMLResponse".to_owned(),
            used["SAMLResponse"].as_str().expect("b64").to_owned(),
        ),
        (
            "RelayState".to_owned(),
            used["RelayState"].as_str().expect("relay").to_owned(),
        ),
    ];
    for (who, replayer) in [("another browser", &Browser::new()), ("the same", &browser)] {
        let response = post_to_acs(replayer, &issuer, &n3, &n2, &answer.acs, &replayed).await;
        let html = refused(response, 400, who).await;
        assert!(html.contains("already completed"), "{who}: {html}");
    }

    // The old assertion under a fresh RelayState (a new login's state, this browser's cookie):
    // the state is accepted, but the assertion answers another AuthnRequest (InResponseTo),
    // so it is refused before the assertion-ID replay cache is even consulted.
    let flow = new_flow(&n2).await;
    let browser = Browser::new();
    let redirect = saml_redirect(&browser, &n2, &flow, "corp", &saml).await;
    let fresh = [
        replayed[0].clone(),
        (
            "RelayState".to_owned(),
            query_of(&redirect)["RelayState"].clone(),
        ),
    ];
    let response = post_to_acs(&browser, &issuer, &n2, &n1, &answer.acs, &fresh).await;
    let html = refused(response, 400, "a fresh RelayState").await;
    assert!(html.contains("answer our login request"), "{html}");
    assert_signed_out(&browser, &flow.authorize).await;

    // Bad assertions from the IdP: each ends on our error page naming the problem.
    for (mode, words) in [
        ("wrong_key", "signature does not verify"),
        ("expired", "has expired"),
        ("wrong_audience", "another audience"),
        ("tampered", "signature does not verify"),
    ] {
        set_saml_mode(&saml, mode).await;
        let (flow, browser, response) =
            saml_login(&issuer, &n2, &n1, &saml, ("alice", "login")).await;
        let html = refused(response, 400, mode).await;
        assert!(html.contains("Sign-in failed"), "{mode}: {html}");
        assert!(html.contains(words), "{mode}: {html}");
        assert!(html.contains("Nothing was issued"), "{mode}: {html}");
        assert_signed_out(&browser, &flow.authorize).await;
    }
    set_saml_mode(&saml, "normal").await;

    // Signed with RSA-SHA1: refused, and the page tells the administrator what to configure.
    set_saml_knobs(&saml, json!({"alg": "sha1"})).await;
    let (flow, browser, response) = saml_login(&issuer, &n2, &n1, &saml, ("alice", "login")).await;
    let html = refused(response, 502, "RSA-SHA1").await;
    assert!(html.contains("Sign-in failed"), "{html}");
    assert!(html.contains("RSA-SHA1"), "{html}");
    assert!(html.contains("RSA-SHA256"), "{html}");
    assert_signed_out(&browser, &flow.authorize).await;
    set_saml_knobs(&saml, json!({"alg": "sha256"})).await;

    // Only the Response signed (not the assertion): accepted, and the subject is the
    // persistent NameID.
    set_saml_knobs(&saml, json!({"sign": "response", "nameid": "persistent"})).await;
    let (flow, browser, response) = saml_login(&issuer, &n2, &n1, &saml, ("bob", "login")).await;
    assert_eq!(
        response.status(),
        303,
        "{}",
        response.text().await.unwrap_or_default()
    );
    let back = browser.get(&n1.url(&location(&response))).await;
    let code = consent_and_code(&browser, &n1, back).await;
    let claims = claims_of(&n3, &flow, &code).await;
    assert_eq!(claims["sub"], "corp:5b0f2c1e-7a7d-4d0e-9a51-000000000002");
    assert_eq!(claims["email"], "bob@example.test");
    assert_eq!(claims["groups"], json!(["engineers"]));
    set_saml_knobs(&saml, json!({"sign": "assertion", "nameid": "email"})).await;

    // Cancel at the IdP.
    let (flow, browser, response) = saml_login(&issuer, &n3, &n3, &saml, ("alice", "cancel")).await;
    let html = refused(response, 400, "cancelled").await;
    assert!(html.contains("did not sign you in"), "{html}");
    assert_signed_out(&browser, &flow.authorize).await;
    eprintln!("saml test: {:?}", started.elapsed());
}

// ---------------------------------------------------------------- 3. switching providers

/// Wait until `/authorize` sends a new browser to a path starting with `prefix` on every node
/// of `nodes`; answers how long that took.
async fn wait_on_every_node(nodes: &[Endpoint], flow: &Flow, prefix: &str) -> Duration {
    let started = Instant::now();
    for node in nodes {
        let authorize = on_node(&flow.authorize, &node.issuer, node);
        eventually!(format!("node {} sends /authorize to {prefix}", node.id), {
            let next = authorize_goes_to(&Browser::new(), &authorize).await;
            next.starts_with(prefix).then_some(())
        });
    }
    started.elapsed()
}

#[tokio::test]
async fn the_active_provider_is_switched_on_a_running_cluster() {
    let _serial = serial().await;
    let started = Instant::now();
    let (slapd, _) = idp::slapd();
    let cluster = TestCluster::start(3).await;
    let nodes: Vec<Endpoint> = cluster.ids().iter().map(|&i| cluster.endpoint(i)).collect();
    let (n1, n2) = (&nodes[0], &nodes[1]);
    let issuer = cluster.issuer.clone();
    let upstream = idp::oidc_provider(&[format!("{issuer}/login/sso/callback")]);
    let directory = idp::ldap_provider_config(&slapd, "directory");
    admin_put(
        &cluster,
        1,
        "/admin/identity-providers/sso",
        &idp::oidc_provider_config(&upstream, "sso"),
    )
    .await;
    admin_put(
        &cluster,
        1,
        "/admin/identity-providers/directory",
        &directory,
    )
    .await;
    let flow = new_flow(n1).await;

    // Both providers and the local form, on every node.
    let took = wait_on_every_node(&nodes, &flow, "/login?").await;
    for node in &nodes {
        let browser = Browser::new();
        let authorize = on_node(&flow.authorize, &issuer, node);
        let login = authorize_goes_to(&browser, &authorize).await;
        let html = eventually!(format!("node {} lists both providers", node.id), {
            let (_, html) = page(&browser, &node.url(&login)).await;
            (html.contains("provider-sso") && html.contains("provider-directory")).then_some(html)
        });
        assert!(has_local_form(&html), "{html}");
    }
    eprintln!("both providers visible on every node after {took:?}");

    // Local accounts off and the directory disabled (through node 2): exactly one way in, so
    // /authorize goes straight to the OIDC provider on every node.
    let answer = admin_put(
        &cluster,
        2,
        "/admin/login-settings",
        &json!({"local_login": false}),
    )
    .await;
    assert_eq!(answer["local_login"], false);
    let mut disabled = directory.clone();
    disabled["enabled"] = json!(false);
    let saved = admin_put(
        &cluster,
        2,
        "/admin/identity-providers/directory",
        &disabled,
    )
    .await;
    assert_eq!(saved["enabled"], false);
    let took = wait_on_every_node(&nodes, &flow, "/login/sso?return_to=").await;
    eprintln!("straight to sso on every node after {took:?}");
    let list = admin_list(&cluster, 3).await;
    assert_eq!(list["local_login"], false, "{list}");
    assert_eq!(
        listed(&list, "directory").expect("directory")["enabled"],
        false
    );
    // ...and on to the provider itself.
    let browser = Browser::new();
    let authorize = on_node(&flow.authorize, &issuer, &nodes[2]);
    let next = authorize_goes_to(&browser, &authorize).await;
    let response = browser.get(&nodes[2].url(&next)).await;
    assert_eq!(response.status(), 303);
    assert!(
        location(&response).starts_with(&upstream.url("/auth")),
        "{}",
        location(&response)
    );
    // The disabled directory's form is not served.
    let return_to = query_of(&nodes[2].url(&next))["return_to"].clone();
    let href = url::form_urlencoded::Serializer::for_suffix(String::from("/login/directory?"), 17)
        .append_pair("return_to", &return_to)
        .finish();
    let (status, html) = page(&browser, &n1.url(&href)).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("switched off"), "{html}");

    // The directory enabled again and "sso" deleted (through node 3): on another node,
    // /authorize now goes straight to the directory, and the login page lists only it.
    admin_put(
        &cluster,
        3,
        "/admin/identity-providers/directory",
        &directory,
    )
    .await;
    let (status, answer) = cluster
        .admin(
            3,
            reqwest::Method::DELETE,
            "/admin/identity-providers/sso",
            None,
        )
        .await;
    assert_eq!(status, 204, "{answer}");
    let took = wait_on_every_node(&nodes, &flow, "/login/directory?return_to=").await;
    eprintln!("straight to the directory on every node after {took:?}");
    let list = admin_list(&cluster, 1).await;
    assert!(listed(&list, "sso").is_none(), "{list}");
    let browser = Browser::new();
    let authorize = on_node(&flow.authorize, &issuer, n2);
    let next = authorize_goes_to(&browser, &authorize).await;
    let (status, form_page) = page(&browser, &n2.url(&next)).await;
    assert_eq!(status, 200);
    assert!(
        form_page.contains("Sign in with Example Directory"),
        "{form_page}"
    );
    let form = Form::parse(&form_page);
    assert_eq!(form.action, "/login/directory");
    let login_page = next.replacen("/login/directory?", "/login?", 1);
    let (status, html) = page(&browser, &n2.url(&login_page)).await;
    assert_eq!(status, 200);
    assert!(html.contains("Sign in with Example Directory"), "{html}");
    assert!(!html.contains("provider-sso"), "{html}");
    assert!(!has_local_form(&html), "{html}");
    let (status, html) = page(&browser, &n2.url(&next.replacen("/directory?", "/sso?", 1))).await;
    assert_eq!(status, 400, "a deleted provider: {html}");

    // A local login posted anyway (the form of an old page) is refused, and issues nothing.
    let response = browser
        .post_form(
            &n2.url("/login"),
            &form.with_credentials("admin", ADMIN_PASSWORD),
        )
        .await;
    let html = refused(response, 400, "a local login").await;
    assert!(html.contains("Local accounts are switched off"), "{html}");
    assert_signed_out(&browser, &authorize).await;

    // The directory still works through the form it now goes to.
    let code = directory_code(&browser, n2, &form, "bob", "bob-password").await;
    let claims = claims_of(&nodes[2], &flow, &code).await;
    assert_eq!(claims["sub"], "directory:bob");
    assert_eq!(claims["groups"], json!(["engineers"]));

    // Local accounts on again: the login page (local form and the directory) on every node.
    admin_put(
        &cluster,
        1,
        "/admin/login-settings",
        &json!({"local_login": true}),
    )
    .await;
    let took = wait_on_every_node(&nodes, &flow, "/login?").await;
    eprintln!("the login page again on every node after {took:?}");
    let browser = Browser::new();
    let next = authorize_goes_to(&browser, &on_node(&flow.authorize, &issuer, &nodes[2])).await;
    let (_, html) = page(&browser, &nodes[2].url(&next)).await;
    assert!(
        has_local_form(&html) && html.contains("provider-directory"),
        "{html}"
    );
    eprintln!("switching test: {:?}", started.elapsed());
}

// ---------------------------------------------------------------- 4. the config file

fn ldap_toml(slapd: &Idp, display_name: &str) -> String {
    let ca = std::fs::read_to_string(slapd.dir.path().join("ca.pem")).expect("ca.pem");
    format!(
        "[[identity_provider]]\n\
         id = \"directory\"\n\
         kind = \"ldap\"\n\
         display_name = \"{display_name}\"\n\
         url = \"ldap://127.0.0.1:{port}\"\n\
         starttls = true\n\
         ca_pem = '''\n{ca}'''\n\
         bind_dn = \"cn=mcpauth,ou=services,dc=example,dc=test\"\n\
         bind_password = \"service-secret\"\n\
         user_base = \"ou=people,dc=example,dc=test\"\n\
         group_base = \"ou=groups,dc=example,dc=test\"\n",
        port = slapd.port,
    )
}

#[tokio::test]
async fn providers_in_the_config_file_seed_the_first_start_only() {
    let _serial = serial().await;
    let started = Instant::now();
    let (slapd, _) = idp::slapd();
    let mut options = Options::nodes(1);
    options.extra_toml = format!(
        "local_login = false\n\n{}",
        ldap_toml(&slapd, "Seeded Directory")
    );
    let mut cluster = TestCluster::start_with(options).await;
    let n1 = cluster.endpoint(1);

    let list = admin_list(&cluster, 1).await;
    assert_eq!(list["local_login"], false, "{list}");
    let seeded = listed(&list, "directory").expect("the seeded provider");
    assert_eq!(seeded["display_name"], "Seeded Directory");
    assert_eq!(seeded["secret_set"], true);
    assert!(!list.to_string().contains("service-secret"));
    assert!(
        cluster.log(1).contains("loaded from the config file"),
        "{}",
        cluster.log(1)
    );

    // The only way in: /authorize goes straight to the directory's form, and it works (the
    // bind password from the file was sealed into the state).
    let flow = new_flow(&n1).await;
    let browser = Browser::new();
    let next = authorize_goes_to(&browser, &flow.authorize).await;
    assert!(next.starts_with("/login/directory?return_to="), "{next}");
    let (status, form_page) = page(&browser, &n1.url(&next)).await;
    assert_eq!(status, 200);
    assert!(
        form_page.contains("Sign in with Seeded Directory"),
        "{form_page}"
    );
    let form = Form::parse(&form_page);
    let code = directory_code(&browser, &n1, &form, "carol", "carol-password").await;
    let claims = claims_of(&n1, &flow, &code).await;
    assert_eq!(claims["sub"], "directory:carol");
    assert_eq!(claims["name"], "Carol Danvers");

    // Changed through the admin API, then the node restarts with the same file: the admin
    // change stays (the file seeded the first start only).
    let mut renamed = idp::ldap_provider_config(&slapd, "directory");
    renamed["display_name"] = json!("Renamed Directory");
    admin_put(&cluster, 1, "/admin/identity-providers/directory", &renamed).await;
    admin_put(
        &cluster,
        1,
        "/admin/login-settings",
        &json!({"local_login": true}),
    )
    .await;
    let (exited, _) = cluster.terminate(1, Duration::from_secs(10)).await;
    assert!(exited, "node 1 did not stop on SIGTERM");
    cluster.restart(1).await;
    let list = admin_list(&cluster, 1).await;
    assert_eq!(list["local_login"], true, "{list}");
    assert_eq!(
        listed(&list, "directory").expect("directory")["display_name"],
        "Renamed Directory"
    );
    assert_eq!(list["identity_providers"].as_array().map(Vec::len), Some(1));
    assert!(
        cluster.log(1).contains("not applied"),
        "the restart should say the file's providers were not applied: {}",
        cluster.log(1)
    );
    let browser = Browser::new();
    let next = authorize_goes_to(&browser, &flow.authorize).await;
    assert!(next.starts_with("/login?"), "{next}");
    let (_, html) = page(&browser, &n1.url(&next)).await;
    assert!(html.contains("Sign in with Renamed Directory"), "{html}");
    assert!(!html.contains("Seeded Directory"), "{html}");
    assert!(has_local_form(&html), "{html}");

    // The file is still checked at every start: a mistake in it stops the node with a
    // message, although it would not be applied.
    let good = std::fs::read_to_string(&cluster.config).expect("cluster.toml");
    let bad = good.replacen("kind = \"ldap\"\n", "kind = \"ldap\"\nsurprise = 1\n", 1);
    assert_ne!(good, bad);
    std::fs::write(&cluster.config, &bad).expect("write cluster.toml");
    let (exited, _) = cluster.terminate(1, Duration::from_secs(10)).await;
    assert!(exited);
    cluster.spawn(1);
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.running().contains(&1) {
        assert!(
            Instant::now() < deadline,
            "node 1 runs with an invalid file"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = cluster.log(1);
    let last_start = &log[log.rfind("starting node 1").expect("start marker")..];
    assert!(
        last_start.contains("mcpauth: identity_provider") && last_start.contains("surprise"),
        "{last_start}"
    );
    // Fixed again, it starts with the admin API's configuration.
    std::fs::write(&cluster.config, &good).expect("write cluster.toml");
    cluster.restart(1).await;
    let list = admin_list(&cluster, 1).await;
    assert_eq!(
        listed(&list, "directory").expect("directory")["display_name"],
        "Renamed Directory"
    );
    eprintln!("seeding test: {:?}", started.elapsed());
}

/// Start `mcpauth serve` on a one-node config file with `extra` at the top level; it must
/// exit on its own: (exit code, stderr).
async fn serve_must_exit(dir: &Path, extra: &str) -> (Option<i32>, String) {
    let config = dir.join("cluster.toml");
    std::fs::write(
        &config,
        format!(
            "issuer = \"http://127.0.0.1:{http}\"\n\
             cluster_secret_file = \"cluster.secret\"\n\
             seal_key_file = \"seal.key\"\n\
             resources = [\"{RESOURCE}\"]\n\
             {extra}\n\
             [[node]]\nid = 1\nhttp = \"127.0.0.1:{http}\"\nraft = \"127.0.0.1:{raft}\"\n\
             data_dir = \"node1\"\n",
            http = free_port(),
            raft = free_port(),
        ),
    )
    .expect("write cluster.toml");
    let mut command = tokio::process::Command::new(binary());
    command
        .args(["serve", "--config"])
        .arg(&config)
        .env("MCPAUTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "info,openraft=warn")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("serve did not exit within 30 s with an invalid identity provider")
        .expect("run mcpauth");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_invalid_provider_in_the_config_file_stops_serve_with_a_message() {
    let _serial = serial().await;
    let started = Instant::now();
    for (toml, words) in [
        (
            "[[identity_provider]]\nid = \"directory\"\nkind = \"ldap\"\n\
             url = \"ldap://ldap.example.com\"\nuser_base = \"dc=example,dc=test\"\n",
            "identity_provider directory: url: ldap:// sends passwords in clear",
        ),
        (
            "[[identity_provider]]\nid = \"corp\"\nkind = \"saml\"\n",
            "identity_provider corp: exactly one of idp_metadata_url and idp_metadata_xml",
        ),
        (
            "[[identity_provider]]\nid = \"sso\"\nkind = \"oidc\"\n\
             issuer = \"https://idp.example.com\"\nclient_id = \"x\"\nsurprise = 1\n",
            "surprise",
        ),
        (
            "[[identity_provider]]\nkind = \"oidc\"\n\
             issuer = \"https://idp.example.com\"\nclient_id = \"x\"\n",
            "id is required",
        ),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let (code, stderr) = serve_must_exit(dir.path(), toml).await;
        assert!(
            matches!(code, Some(c) if c != 0),
            "exit code {code:?} for {toml}: {stderr}"
        );
        assert!(stderr.contains("mcpauth: "), "{stderr}");
        assert!(stderr.contains(words), "expected {words:?}: {stderr}");
    }
    eprintln!("invalid config test: {:?}", started.elapsed());
}

// ---------------------------------------------------------------- 5. switching a provider off ends access

/// Bob signs in through the directory in a new browser: (flow, browser, code).
async fn bob_through_the_directory(n1: &Endpoint) -> (Flow, Browser, String) {
    let flow = new_flow(n1).await;
    let browser = Browser::new();
    let (form, _) = directory_form(&browser, n1, &flow, "directory").await;
    let code = directory_code(&browser, n1, &form, "bob", "bob-password").await;
    (flow, browser, code)
}

#[tokio::test]
async fn switching_a_provider_off_ends_its_sessions_and_refresh_tokens() {
    let _serial = serial().await;
    let (slapd, _) = idp::slapd();
    let cluster = TestCluster::start(1).await;
    let n1 = cluster.endpoint(1);
    let directory = idp::ldap_provider_config(&slapd, "directory");
    admin_put(
        &cluster,
        1,
        "/admin/identity-providers/directory",
        &directory,
    )
    .await;

    // Bob signs in through the directory: a session in his browser and a refresh token.
    let (flow, browser, code) = bob_through_the_directory(&n1).await;
    let tokens: Value = mcpauth_tests::redeem(&n1, &flow.client_id, &code, &flow.verifier)
        .await
        .json()
        .await
        .expect("tokens");
    let refresh_token = tokens["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    // While the directory is on, his session skips the login page.
    let again = browser.get(&flow.authorize).await;
    assert!(
        !location(&again).starts_with("/login"),
        "signed in: {}",
        location(&again)
    );

    // The directory is switched off: his session has ended and his refresh token is refused.
    let mut disabled = directory.clone();
    disabled["enabled"] = json!(false);
    admin_put(
        &cluster,
        1,
        "/admin/identity-providers/directory",
        &disabled,
    )
    .await;
    let login = authorize_goes_to(&browser, &flow.authorize).await;
    assert!(
        login.starts_with("/login?"),
        "session should have ended: {login}"
    );
    let response = mcpauth_tests::refresh(&n1, &flow.client_id, &refresh_token).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("switched off"),
        "{body}"
    );

    // Switched on again, bob signs in anew (his old tokens stay dead).
    admin_put(
        &cluster,
        1,
        "/admin/identity-providers/directory",
        &directory,
    )
    .await;
    let (flow, _, code) = bob_through_the_directory(&n1).await;
    let claims = claims_of(&n1, &flow, &code).await;
    assert_eq!(claims["sub"], "directory:bob");
    let response = mcpauth_tests::refresh(&n1, &flow.client_id, &refresh_token).await;
    assert_eq!(response.status(), 400);
}
