//! Client ID Metadata Documents through the real binary: a registration-free sign-in with a
//! document served over https by a local server with its own CA; each known client's built-in
//! document (fetching its real host is impossible here, so the shipped copy serves); and the
//! SSRF defences, answered `invalid_client` with no connection made to a refused address.
//!
//! Every refusal is also checked to have written nothing: the token endpoint then answers
//! `invalid_client` (unknown client) for that client_id, where a recorded client would get
//! `invalid_grant` for a made-up code.

use mcpauth_tests::https::{
    test_pki, CountingListener, HttpsServer, LoopbackAlias, Reply, TestPki,
};
use mcpauth_tests::{free_port, http, location, pkce, query_of, Browser, Form, Node, Target};
use mcpauth_tests::{ADMIN_PASSWORD, REDIRECT_URI, RESOURCE};
use serde_json::{json, Value};

/// A node with a `[client_metadata]` table: trusts `pki`'s CA, exempts `allow_hosts` from the
/// private-address refusal, and gives up a fetch after 1.5 s.
async fn node_with(pki: &TestPki, allow_hosts: &[&str]) -> (Node, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("config dir");
    std::fs::write(dir.path().join("ca.pem"), &pki.ca_pem).expect("CA file");
    let hosts: Vec<String> = allow_hosts.iter().map(|h| format!("{h:?}")).collect();
    let config = format!(
        "[client_metadata]\nallow_hosts = [{}]\nextra_ca_file = \"ca.pem\"\nfetch_timeout_ms = 1500\n",
        hosts.join(", ")
    );
    let path = dir.path().join("mcpauth.toml");
    std::fs::write(&path, config).expect("config file");
    let path = path.display().to_string();
    let node = Node::start_with(&["--config", &path, "--resource", RESOURCE]).await;
    wait_until_clients_can_be_recorded(&node).await;
    (node, dir)
}

/// A fresh cluster starts below storage format 4, where PutClient cannot be written yet, and
/// reaches it within seconds; until then /authorize answers a client_id URL with a 503 page
/// that says so. Waits for the end of that window (with ChatGPT's built-in copy: no fetch).
async fn wait_until_clients_can_be_recorded(node: &Node) {
    let (_, challenge) = pkce();
    let query = authorize_query(
        "https://chatgpt.com/oauth/client.json",
        "https://chatgpt.com/connector_platform_oauth_redirect",
        &challenge,
    );
    let url = mcpauth_tests::authorize_url(node, &query);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let response = http().get(&url).send().await.expect("authorize");
        if response.status() != 503 {
            assert_eq!(
                response.status(),
                302,
                "the built-in ChatGPT client signs in"
            );
            return;
        }
        let page = response.text().await.unwrap_or_default();
        assert!(
            page.contains("temporarily_unavailable") && page.contains("cluster version"),
            "a clear answer below version 4: {page}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "cluster version 4 not reached"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// A document for `client_id` listing `redirects`.
fn document(client_id: &str, name: &str, redirects: &[&str]) -> Value {
    json!({
        "client_id": client_id,
        "client_name": name,
        "redirect_uris": redirects,
        "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
}

fn authorize_query<'a>(
    client_id: &'a str,
    redirect_uri: &'a str,
    challenge: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", "st"),
        ("resource", RESOURCE),
    ]
}

/// /authorize through login (if needed) up to the consent page; answers its HTML.
async fn consent_page(browser: &Browser, node: &Node, query: &[(&str, &str)]) -> String {
    let mut response = browser
        .get(&mcpauth_tests::authorize_url(node, query))
        .await;
    for _ in 0..4 {
        match response.status().as_u16() {
            200 => return response.text().await.expect("html"),
            302 | 303 => {
                let to = location(&response);
                response = if to.starts_with("/login") {
                    browser
                        .login(node, &node.url(&to), "admin", ADMIN_PASSWORD)
                        .await
                } else if to.starts_with("/authorize") {
                    browser.get(&node.url(&to)).await
                } else {
                    panic!("redirected away before consent: {to}")
                };
            }
            status => panic!(
                "unexpected {status}: {}",
                response.text().await.unwrap_or_default()
            ),
        }
    }
    panic!("no consent page")
}

/// Allow on the consent page; answers the redirect Location (not followed).
async fn allow(browser: &Browser, node: &Node, html: &str) -> String {
    let form = Form::parse(html);
    let response = browser
        .post_form(&node.url("/consent"), &form.with(&[("decision", "allow")]))
        .await;
    assert!(
        matches!(response.status().as_u16(), 302 | 303),
        "consent answered {}",
        response.status()
    );
    location(&response)
}

async fn token(node: &Node, form: &[(&str, &str)]) -> (u16, Value) {
    let response = http()
        .post(node.url("/token"))
        .form(form)
        .send()
        .await
        .expect("token");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

async fn redeem(
    node: &Node,
    client_id: &str,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
) -> (u16, Value) {
    token(
        node,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// The token endpoint does not know `client_id`: nothing was recorded for it.
async fn assert_not_recorded(node: &Node, client_id: &str) {
    let (verifier, _) = pkce();
    let (status, body) = redeem(node, client_id, REDIRECT_URI, "made-up", &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{client_id} must not be recorded: {body}"
    );
}

/// /authorize for `client_id` is refused with a page naming invalid_client, and nothing is
/// written.
async fn assert_refused(node: &Node, client_id: &str, reason_part: &str) {
    let (_, challenge) = pkce();
    let response = http()
        .get(mcpauth_tests::authorize_url(
            node,
            &authorize_query(client_id, REDIRECT_URI, &challenge),
        ))
        .send()
        .await
        .expect("authorize");
    let status = response.status().as_u16();
    let html = response.text().await.expect("page");
    assert_eq!(status, 400, "{client_id}: {html}");
    assert!(html.contains("invalid_client"), "{client_id}: {html}");
    assert!(
        html.contains(reason_part),
        "{client_id}: expected {reason_part:?} in {html}"
    );
    assert_not_recorded(node, client_id).await;
}

#[tokio::test]
async fn a_client_signs_in_with_its_document_alone() {
    let pki = test_pki(&["localhost"]);
    let server = HttpsServer::start(&pki).await;
    let (node, _config) = node_with(&pki, &["localhost"]).await;
    let metadata: Value = http()
        .get(node.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("json");
    assert_eq!(metadata["client_id_metadata_document_supported"], true);
    assert!(metadata["token_endpoint_auth_methods_supported"]
        .as_array()
        .expect("methods")
        .contains(&json!("none")));

    let client_id = server.url("/oauth/client.json");
    server.set(
        "/oauth/client.json",
        Reply::json(
            &document(
                &client_id,
                "Local <Tool> & Co",
                &["http://127.0.0.1/callback"],
            ),
            Some("max-age=600"),
        ),
    );
    let (verifier, challenge) = pkce();
    let browser = Browser::new();
    let query = authorize_query(&client_id, REDIRECT_URI, &challenge);
    let html = consent_page(&browser, &node, &query).await;
    assert!(
        html.contains("Local &lt;Tool&gt; &amp; Co")
            || html.contains("Local &lt;Tool&gt; &#38; Co"),
        "the document's name, escaped: {html}"
    );
    assert!(!html.contains("<Tool>"));
    assert!(html.contains("<strong>127.0.0.1</strong>"), "redirect host");
    assert!(html.contains("published at <strong>localhost</strong>"));
    assert!(html.contains("Warning:"), "a localhost-only document warns");

    let to = allow(&browser, &node, &html).await;
    assert!(to.starts_with("http://127.0.0.1:7777/callback?"), "{to}");
    let answer = query_of(&to);
    assert_eq!(answer["state"], "st");
    assert_eq!(answer["iss"], node.issuer());
    let (status, tokens) =
        redeem(&node, &client_id, REDIRECT_URI, &answer["code"], &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = mcpauth_tests::verify_access_token(
        &node,
        tokens["access_token"].as_str().expect("access token"),
        RESOURCE,
    )
    .await
    .expect("a valid access token");
    assert_eq!(claims["client_id"], client_id);
    let refresh_token = tokens["refresh_token"].as_str().expect("a refresh token");
    let (status, refreshed) = token(
        &node,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert!(refreshed["refresh_token"].is_string());

    // A second sign-in: consent is remembered, the cached document serves, nothing is rewritten.
    let (_, challenge) = pkce();
    let again = browser
        .get(&mcpauth_tests::authorize_url(
            &node,
            &authorize_query(&client_id, "http://127.0.0.1:40123/callback", &challenge),
        ))
        .await;
    assert_eq!(again.status(), 302);
    assert!(location(&again).starts_with("http://127.0.0.1:40123/callback?code="));
    assert_eq!(
        server.requests("/oauth/client.json"),
        1,
        "fetched once, then cached"
    );
    let recorded = node
        .log()
        .lines()
        .filter(|l| l.contains("metadata document client recorded") && l.contains(&client_id))
        .count();
    assert_eq!(recorded, 1, "recorded once, not on every request");
}

#[tokio::test]
async fn documents_that_do_not_fit_are_refused_and_nothing_is_written() {
    let pki = test_pki(&["localhost"]);
    let server = HttpsServer::start(&pki).await;
    let (node, _config) = node_with(&pki, &["localhost"]).await;

    let mismatch = server.url("/mismatch.json");
    let other = server.url("/someone-else.json");
    server.set(
        "/mismatch.json",
        Reply::json(&document(&other, "Impostor", &[REDIRECT_URI]), None),
    );
    assert_refused(&node, &mismatch, "client_id does not equal").await;

    // redirect_uri not in the document: a page (the URI is not trusted), nothing recorded
    let listed = server.url("/listed.json");
    server.set(
        "/listed.json",
        Reply::json(
            &document(&listed, "Listed", &["https://app.example/callback"]),
            None,
        ),
    );
    let (_, challenge) = pkce();
    for redirect in [
        "https://evil.example/callback",
        "https://app.example/callback/x",
        REDIRECT_URI,
    ] {
        let response = http()
            .get(mcpauth_tests::authorize_url(
                &node,
                &authorize_query(&listed, redirect, &challenge),
            ))
            .send()
            .await
            .expect("authorize");
        assert_eq!(response.status(), 400, "{redirect}");
        let html = response.text().await.expect("page");
        assert!(html.contains("Invalid redirect URI"), "{html}");
    }
    assert_not_recorded(&node, &listed).await;

    // our redirect rules apply to the document: plain http off loopback is never accepted
    let http_only = server.url("/http-only.json");
    server.set(
        "/http-only.json",
        Reply::json(
            &document(&http_only, "Plain", &["http://app.example/callback"]),
            None,
        ),
    );
    assert_refused(&node, &http_only, "redirect_uris").await;

    // a document asking for a shared secret, and one that is not there
    let secret = server.url("/secret.json");
    let mut with_secret = document(&secret, "Secret", &[REDIRECT_URI]);
    with_secret["token_endpoint_auth_method"] = json!("client_secret_basic");
    server.set("/secret.json", Reply::json(&with_secret, None));
    assert_refused(&node, &secret, "shared-secret").await;
    assert_refused(&node, &server.url("/missing.json"), "HTTP 404").await;

    // the token endpoint knows only recorded clients
    assert_not_recorded(&node, "https://never-seen.example/client.json").await;
}

/// A known client: its real client_id, one of its real redirect URIs (`{port}`: an ephemeral
/// loopback port) and the name its document gives.
struct Known {
    client_id: &'static str,
    redirect_uri: &'static str,
    name: &'static str,
    /// Every redirect URI of its document is loopback: the consent page warns.
    localhost_only: bool,
}

const KNOWN: &[Known] = &[
    Known {
        client_id: "https://claude.ai/oauth/mcp-oauth-client-metadata",
        redirect_uri: "https://claude.ai/api/mcp/auth_callback",
        name: "Claude",
        localhost_only: false,
    },
    Known {
        client_id: "https://claude.ai/oauth/claude-code-client-metadata",
        redirect_uri: "http://localhost:{port}/callback",
        name: "Claude Code",
        localhost_only: true,
    },
    Known {
        client_id: "https://vscode.dev/oauth/client-metadata.json",
        redirect_uri: "http://127.0.0.1:{port}/",
        name: "Visual Studio Code",
        localhost_only: false,
    },
    Known {
        client_id: "https://insiders.vscode.dev/oauth/client-metadata.json",
        redirect_uri: "https://insiders.vscode.dev/redirect",
        name: "Visual Studio Code - Insiders",
        localhost_only: false,
    },
    Known {
        client_id: "https://goose-docs.ai/oauth/client-metadata.json",
        redirect_uri: "http://127.0.0.1:{port}/oauth_callback",
        name: "goose",
        localhost_only: true,
    },
    Known {
        client_id: "https://zed.dev/oauth/client-metadata.json",
        redirect_uri: "http://127.0.0.1:{port}/callback",
        name: "Zed",
        localhost_only: true,
    },
    Known {
        client_id: "https://opencode.ai/oauth/opencode/client.json",
        redirect_uri: "http://localhost:{port}/callback",
        name: "opencode",
        localhost_only: true,
    },
    Known {
        client_id: "https://chatgpt.com/oauth/client.json",
        redirect_uri: "https://chatgpt.com/connector_platform_oauth_redirect",
        name: "ChatGPT",
        localhost_only: false,
    },
    Known {
        client_id: "https://chatgpt.com/oauth/conn_7f3a/client.json",
        redirect_uri: "https://chatgpt.com/connector/oauth/conn_7f3a",
        name: "ChatGPT",
        localhost_only: false,
    },
    Known {
        client_id: "https://chatgpt.com/oauth/codex/client.json",
        redirect_uri: "http://127.0.0.1:{port}/callback",
        name: "Codex",
        localhost_only: true,
    },
];

#[tokio::test]
async fn every_known_client_signs_in_from_the_built_in_table() {
    // No network here: the real hosts cannot be fetched, so the shipped copies serve.
    let pki = test_pki(&["localhost"]);
    let (node, _config) = node_with(&pki, &[]).await;
    let browser = Browser::new();
    for known in KNOWN {
        let redirect_uri = known
            .redirect_uri
            .replace("{port}", &free_port().to_string());
        let (verifier, challenge) = pkce();
        let query = authorize_query(known.client_id, &redirect_uri, &challenge);
        let html = consent_page(&browser, &node, &query).await;
        assert!(
            html.contains(&format!("Allow {} access?", known.name)),
            "{}: {html}",
            known.client_id
        );
        assert_eq!(
            html.contains("Warning:"),
            known.localhost_only,
            "{}",
            known.client_id
        );
        let to = allow(&browser, &node, &html).await;
        assert!(
            to.starts_with(&format!("{redirect_uri}?")),
            "{}: the code goes to {to}",
            known.client_id
        );
        let answer = query_of(&to);
        let (status, tokens) = redeem(
            &node,
            known.client_id,
            &redirect_uri,
            &answer["code"],
            &verifier,
        )
        .await;
        assert_eq!(status, 200, "{}: {tokens}", known.client_id);
        assert!(tokens["refresh_token"].is_string(), "{}", known.client_id);

        // Consented: the next /authorize answers 302 straight to the real redirect URI.
        let (verifier, challenge) = pkce();
        let query = authorize_query(known.client_id, &redirect_uri, &challenge);
        let again = browser
            .get(&mcpauth_tests::authorize_url(&node, &query))
            .await;
        assert_eq!(again.status(), 302, "{}", known.client_id);
        let to = location(&again);
        assert!(to.starts_with(&format!("{redirect_uri}?")), "{to}");
        let (status, _) = redeem(
            &node,
            known.client_id,
            &redirect_uri,
            &query_of(&to)["code"],
            &verifier,
        )
        .await;
        assert_eq!(status, 200, "{}", known.client_id);
    }
    assert!(
        node.log().contains("built-in copy"),
        "the fetches failed and the shipped copies served"
    );
    // A chatgpt.com URL outside the patterns is refused without a fetch; a redirect URI the
    // built-in copy does not list is refused as for any client.
    assert_refused(
        &node,
        "https://chatgpt.com/oauth/x/y/z/client.json",
        "built-in table",
    )
    .await;
    let (_, challenge) = pkce();
    let response = http()
        .get(mcpauth_tests::authorize_url(
            &node,
            &authorize_query(
                "https://claude.ai/oauth/mcp-oauth-client-metadata",
                "https://evil.example/api/mcp/auth_callback",
                &challenge,
            ),
        ))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn client_id_urls_naming_refused_addresses_never_get_a_connection() {
    let pki = test_pki(&["localhost", "127.0.0.1", "::1"]);
    // no allow_hosts: loopback is refused like any private address
    let (node, _config) = node_with(&pki, &[]).await;

    let v4 = CountingListener::bind("127.0.0.1", 0)
        .await
        .expect("bind 127.0.0.1");
    assert_refused(
        &node,
        &format!("https://127.0.0.1:{}/client.json", v4.port),
        "loopback",
    )
    .await;
    // by name: localhost resolves to 127.0.0.1 (and maybe ::1), both refused
    assert_refused(
        &node,
        &format!("https://localhost:{}/client.json", v4.port),
        "does not fetch from",
    )
    .await;
    assert_eq!(
        v4.accepted_after_a_moment().await,
        0,
        "no connection to 127.0.0.1"
    );

    match CountingListener::bind("::1", 0).await {
        Some(v6) => {
            assert_refused(
                &node,
                &format!("https://[::1]:{}/client.json", v6.port),
                "loopback",
            )
            .await;
            assert_eq!(
                v6.accepted_after_a_moment().await,
                0,
                "no connection to ::1"
            );
        }
        // no IPv6 here: the refusal is still decided before any connection
        None => assert_refused(&node, "https://[::1]:8443/client.json", "loopback").await,
    }
    // A private address and the cloud metadata service: put on the loopback interface for the
    // test (root only), so a connection to them would reach a counting listener.
    for (ip, path, reason) in [
        ("10.0.0.1", "client.json", "private"),
        (
            "169.254.169.254",
            "latest/meta-data/client.json",
            "metadata",
        ),
    ] {
        let Some(_alias) = LoopbackAlias::add(ip) else {
            eprintln!("cannot add {ip} to lo (not root, or no iproute2): refusal checked without a listener");
            assert_refused(&node, &format!("https://{ip}/{path}"), reason).await;
            continue;
        };
        let listener = CountingListener::bind(ip, 0).await.expect("bind the alias");
        let url = format!("https://{ip}:{}/{path}", listener.port);
        assert_refused(&node, &url, reason).await;
        assert_eq!(
            listener.accepted_after_a_moment().await,
            0,
            "a connection reached {ip}"
        );
        // The listener would have seen one: a node that exempts the host connects (and then
        // fails, since the listener speaks no TLS).
        let (exempt, _exempt_config) = node_with(&pki, &[ip]).await;
        assert_refused(&exempt, &url, "").await;
        assert!(
            listener.accepted.load(std::sync::atomic::Ordering::SeqCst) >= 1,
            "the exempt node's fetch of {ip} was not counted: the listener proves nothing"
        );
    }
}

#[tokio::test]
async fn redirects_slow_answers_and_oversized_documents_are_refused() {
    let pki = test_pki(&["localhost"]);
    let server = HttpsServer::start(&pki).await;
    let (node, _config) = node_with(&pki, &["localhost"]).await;

    let target = server.url("/target.json");
    server.set(
        "/target.json",
        Reply::json(&document(&target, "Target", &[REDIRECT_URI]), None),
    );
    let redirecting = server.url("/redirecting.json");
    server.set(
        "/redirecting.json",
        Reply::Full {
            status: 302,
            headers: vec![("Location".into(), target.clone())],
            body: Vec::new(),
        },
    );
    assert_refused(&node, &redirecting, "redirect").await;
    assert_eq!(
        server.requests("/target.json"),
        0,
        "the redirect was not followed"
    );

    let slow = server.url("/slow.json");
    server.set("/slow.json", Reply::Stall);
    assert_refused(&node, &slow, "timed out").await;

    let big = server.url("/big.json");
    let mut oversized = document(&big, "Big", &[REDIRECT_URI]);
    oversized["padding"] = json!("x".repeat(100 * 1024));
    server.set("/big.json", Reply::json(&oversized, None));
    assert_refused(&node, &big, "larger than").await;
}

#[tokio::test]
async fn a_bad_client_metadata_table_stops_the_start_with_its_reason() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("not-a-ca.pem"), "no certificates here\n").expect("file");
    let cases = [
        (
            "[client_metadata]\nextra_ca_file = \"missing.pem\"\n",
            "client_metadata.extra_ca_file",
        ),
        (
            "[client_metadata]\nextra_ca_file = \"not-a-ca.pem\"\n",
            "client_metadata.extra_ca_file",
        ),
        (
            "[client_metadata]\nfetch_timeout_ms = 0\n",
            "fetch_timeout_ms",
        ),
        (
            "[client_metadata]\nenabeld = false\n",
            "invalid config file",
        ),
    ];
    for (i, (table, expected)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("config-{i}.toml"));
        std::fs::write(&path, table).expect("config");
        let output = std::process::Command::new(mcpauth_tests::binary())
            .args(["serve", "--config"])
            .arg(&path)
            .arg("--data-dir")
            .arg(dir.path().join(format!("data-{i}")))
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .args(["--raft-listen", &format!("127.0.0.1:{}", free_port())])
            .env("MCPAUTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .output()
            .expect("run mcpauth");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{table}: {stderr}");
        assert!(stderr.contains(expected), "{table}: {stderr}");
    }
}
