//! Clients from the config file (`[[client]]`): a confidential one (secret from a file) and a
//! public one sign in without registering; the secret is checked; a bad entry stops the start
//! with a message naming it; and a second start with other `[[client]]` entries keeps the
//! clients the first start recorded.

use std::process::Command;

use mcpauth_tests::{
    binary, free_port, http, pkce, query_of, Browser, Node, REDIRECT_URI, RESOURCE,
};
use serde_json::Value;

const SECRET: &str = "configured-secret-0123456789-abcdefghij";

/// The `[[client]]` tables of the test's config file.
fn clients_toml(secret_file: &std::path::Path) -> String {
    format!(
        r#"
[[client]]
id = "reporting-server"
name = "Reporting (confidential)"
redirect_uris = ["{REDIRECT_URI}"]
secret_file = "{}"

[[client]]
id = "desktop-app"
name = "Desktop app"
redirect_uris = ["http://127.0.0.1/callback", "cursor://example/callback"]
"#,
        secret_file.display()
    )
}

/// A node started with `config` (written into its own temp dir) and `--resource`.
async fn node_with_config(config: &str) -> (Node, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcpauth.toml");
    std::fs::write(&path, config).unwrap();
    let node =
        Node::start_with(&["--resource", RESOURCE, "--config", path.to_str().unwrap()]).await;
    (node, dir)
}

/// Wait until the node has recorded its configured clients (once it writes format 4).
async fn wait_seeded(node: &Node, client_id: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let page = Browser::new()
            .get(&authorize_url(node, client_id, "x"))
            .await;
        if page.status() != 400 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{client_id} was never recorded\n{}",
            node.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

fn authorize_url(node: &Node, client_id: &str, challenge: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("resource", RESOURCE),
        ])
        .finish();
    node.url(&format!("/authorize?{query}"))
}

/// A code for the confidential client, and its verifier.
async fn code(node: &Node) -> (String, String) {
    let (verifier, challenge) = pkce();
    let location = Browser::new()
        .authorize(
            node,
            &[
                ("response_type", "code"),
                ("client_id", "reporting-server"),
                ("redirect_uri", REDIRECT_URI),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("resource", RESOURCE),
            ],
        )
        .await;
    (query_of(&location)["code"].clone(), verifier)
}

async fn token(node: &Node, code: &str, verifier: &str, secret: &str) -> (u16, Value) {
    let response = http()
        .post(node.url("/token"))
        .basic_auth("reporting-server", Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_configured_confidential_client_signs_in_without_registering() {
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("reporting.secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let (node, _dir) = node_with_config(&clients_toml(&secret_file)).await;
    wait_seeded(&node, "reporting-server").await;

    // The wrong secret: invalid_client, and the code is still good for the right one.
    let (code, verifier) = code(&node).await;
    let (status, body) = token(&node, &code, &verifier, "not-the-secret-at-all-000000").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let (status, body) = token(&node, &code, &verifier, SECRET).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
    assert!(
        !node.log().contains(SECRET),
        "the configured secret appeared in the log"
    );

    // The public one is there too (its loopback redirect, any port).
    let (_, challenge) = pkce();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("response_type", "code"),
            ("client_id", "desktop-app"),
            ("redirect_uri", "http://127.0.0.1:45678/callback"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("resource", RESOURCE),
        ])
        .finish();
    let page = Browser::new()
        .get(&node.url(&format!("/authorize?{query}")))
        .await;
    // Known: the person is sent to sign in (an unknown client gets a 400 page).
    assert_eq!(
        page.status(),
        302,
        "the public configured client is unknown"
    );
    let location = page.headers()["location"].to_str().unwrap();
    assert!(location.contains("/login"), "{location}");
}

#[tokio::test]
async fn a_second_start_keeps_the_first_starts_clients() {
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("reporting.secret");
    std::fs::write(&secret_file, SECRET).unwrap();
    let (mut node, dir) = node_with_config(&clients_toml(&secret_file)).await;
    wait_seeded(&node, "reporting-server").await;
    // The same data directory, a config file naming another client.
    std::fs::write(
        dir.path().join("mcpauth.toml"),
        format!("[[client]]\nid = \"late-app\"\nredirect_uris = [\"{REDIRECT_URI}\"]\n"),
    )
    .unwrap();
    node.kill();
    node.spawn().await;
    let (code, verifier) = code(&node).await;
    assert_eq!(token(&node, &code, &verifier, SECRET).await.0, 200);
    // Give the late client the time a seeding takes: it must stay unknown.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let page = Browser::new()
        .get(&authorize_url(&node, "late-app", "x"))
        .await;
    assert_eq!(
        page.status(),
        400,
        "a later config file's client was applied"
    );
    assert!(node
        .log()
        .contains("clients in the config file are not applied"));
}

#[tokio::test]
async fn a_bad_client_entry_stops_the_start_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.secret");
    std::fs::write(&short, "short").unwrap();
    let cases = [
        (
            format!("[[client]]\nid = \"a b\"\nredirect_uris = [\"{REDIRECT_URI}\"]\n"),
            "unreserved",
        ),
        (
            format!(
                "[[client]]\nid = \"app\"\nredirect_uris = [\"{REDIRECT_URI}\"]\nsecret_file = \"{}\"\n",
                short.display()
            ),
            "at least",
        ),
        (
            "[[client]]\nid = \"app\"\nredirect_uris = [\"javascript:alert(1)\"]\n".to_owned(),
            "javascript",
        ),
        (
            format!(
                "[[client]]\nid = \"app\"\nredirect_uris = [\"{REDIRECT_URI}\"]\nsecret_env = \"MCPAUTH_TEST_UNSET_SECRET\"\n"
            ),
            "MCPAUTH_TEST_UNSET_SECRET",
        ),
        (
            format!(
                "[[client]]\nid = \"app\"\nredirect_uris = [\"{REDIRECT_URI}\"]\n[[client]]\nid = \"app\"\nredirect_uris = [\"{REDIRECT_URI}\"]\n"
            ),
            "configured twice",
        ),
    ];
    for (config, expected) in cases {
        let path = dir.path().join("mcpauth.toml");
        std::fs::write(&path, &config).unwrap();
        let output = Command::new(binary())
            .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
            .args(["--raft-listen", &format!("127.0.0.1:{}", free_port())])
            .arg("--config")
            .arg(&path)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("MCPAUTH_ADMIN_PASSWORD", "pw")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{config}: started\n{stderr}");
        assert!(
            stderr.contains(expected) && stderr.contains("client"),
            "{config}: {stderr}"
        );
    }
}
