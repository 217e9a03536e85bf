//! Start-up: settings from flags and from a config file, the first admin, and secrets kept out
//! of logs and storage.

use std::process::{Command, Stdio};

use mcpauth_tests::{
    binary, free_port, http, login_and_redeem, register, Browser, Node, REDIRECT_URI, RESOURCE,
};
use serde_json::{json, Value};

#[tokio::test]
async fn a_config_file_is_read_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("mcpauth.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:1\"\nissuer = \"http://127.0.0.1:{port}\"\ndata_dir = \"{}\"\nresources = [\"https://from-file.example/mcp\"]\naccess_token_ttl = 120\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let args = [
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--raft-listen",
        &format!("127.0.0.1:{}", free_port()),
    ];
    let node = Node::launch(port, dir, args.iter().map(|s| s.to_string()).collect()).await;
    // The issuer came from the file, the listen address from the flag (the file's is unusable).
    let metadata: Value =
        mcpauth_tests::get_json(&node.url("/.well-known/oauth-authorization-server")).await;
    assert_eq!(metadata["issuer"], format!("http://127.0.0.1:{port}"));
    // The resource and the token lifetime came from the file too.
    let client = mcpauth_tests::register_public(&node).await;
    let client_id = client["client_id"].as_str().unwrap();
    let (verifier, challenge) = mcpauth_tests::pkce();
    let location = Browser::new()
        .authorize(
            &node,
            &[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", REDIRECT_URI),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let code = mcpauth_tests::query_of(&location)["code"].clone();
    let body: Value = mcpauth_tests::redeem(&node, client_id, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["expires_in"], 120);
    let claims = mcpauth_tests::verify_access_token(
        &node,
        body["access_token"].as_str().unwrap(),
        "https://from-file.example/mcp",
    )
    .await
    .unwrap();
    assert_eq!(claims["aud"], "https://from-file.example/mcp");
    assert!(dir_has_data(&node), "data_dir from the file was used");
}

fn dir_has_data(node: &Node) -> bool {
    node.data.path().join("data").join("sled").exists()
}

#[tokio::test]
async fn the_documented_cluster_toml_runs_a_three_node_cluster() {
    // Paths in the file are relative to it: a copy in a temporary directory is self-contained.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cluster.toml");
    std::fs::copy(root.join("cluster.toml"), &config).unwrap();
    let mut children = Vec::new();
    for node in ["3", "1", "2"] {
        children.push(
            Command::new(binary())
                .args(["serve", "--config"])
                .arg(&config)
                .args(["--node", node])
                .env("MCPAUTH_ADMIN_PASSWORD", "x")
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    let mut ready = 0;
    for _ in 0..300 {
        ready = 0;
        for port in [8081, 8082, 8083] {
            if let Ok(r) = http()
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
            {
                ready += usize::from(r.status().is_success());
            }
        }
        if ready == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let status = Command::new(binary())
        .args(["cluster", "status", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    // A write through each node.
    let mut registered = 0;
    for port in [8081, 8082, 8083] {
        let response = http()
            .post(format!("http://127.0.0.1:{port}/register"))
            .json(&json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"}))
            .send()
            .await
            .unwrap();
        registered += usize::from(response.status() == 201);
    }
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(ready, 3, "all three nodes of cluster.toml became ready");
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{out}");
    assert!(out.contains("voters: [1, 2, 3]"), "{out}");
    assert!(out.contains("Leader"), "{out}");
    assert_eq!(registered, 3);
}

#[tokio::test]
async fn bad_settings_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--issuer".into(), "http://public.example".into()],
            "https",
        ),
        (
            vec!["--issuer".into(), "https://a.example/".into()],
            "must not end with '/'",
        ),
        (vec!["--resource".into(), "not a uri".into()], "resource"),
        (
            vec!["--config".into(), "/nonexistent/file.toml".into()],
            "cannot read config file",
        ),
    ];
    for (args, expected) in cases {
        let output = Command::new(binary())
            .arg("serve")
            .args(&args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = 5\nunknown_key = true\n").unwrap();
    let output = Command::new(binary())
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid config file"));
}

#[tokio::test]
async fn without_a_password_the_admin_gets_a_random_one_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("stderr.log");
    let raft_port = free_port();
    let start = || {
        Command::new(binary())
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--resource",
                RESOURCE,
                "--raft-listen",
                &format!("127.0.0.1:{raft_port}"),
            ])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env_remove("MCPAUTH_ADMIN_PASSWORD")
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            )
            .spawn()
            .unwrap()
    };
    let wait_ready = || async {
        for _ in 0..200 {
            if let Ok(r) = http()
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
            {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("not ready");
    };
    let mut child = start();
    wait_ready().await;
    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("created user 'admin' with password:"))
        .expect("password printed");
    let password = line.rsplit(' ').next().unwrap().to_owned();
    assert!(password.len() >= 32);
    // Restart: the same admin, nothing printed again.
    let _ = child.kill();
    let _ = child.wait();
    let mut child = start();
    wait_ready().await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("created user 'admin'").count(), 1);

    // The printed password signs in.
    let issuer = format!("http://127.0.0.1:{port}");
    let client: Value = http()
        .post(format!("{issuer}/register"))
        .json(&json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, challenge) = mcpauth_tests::pkce();
    let browser = Browser::new();
    let mut url = url::Url::parse(&format!("{issuer}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client["client_id"].as_str().unwrap())
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let response = browser.get(url.as_str()).await;
    let login = mcpauth_tests::location(&response);
    let page = browser
        .get(&format!("{issuer}{login}"))
        .await
        .text()
        .await
        .unwrap();
    let form = mcpauth_tests::Form::parse(&page);
    let mut fields = form.hidden.clone();
    fields.push(("username".into(), "admin".into()));
    fields.push(("password".into(), password.clone()));
    let response = browser.post_form(&format!("{issuer}/login"), &fields).await;
    assert!(
        mcpauth_tests::location(&response).starts_with("/authorize"),
        "the printed password works"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// Every byte under `dir`, for a plain-text search.
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.extend(bytes);
        }
    }
    out
}

#[tokio::test]
async fn no_secret_in_clear_in_the_store_or_the_log() {
    let node = Node::start().await;
    let confidential = register(&node, json!({"redirect_uris": [REDIRECT_URI]})).await;
    let client_secret = confidential["client_secret"].as_str().unwrap().to_owned();
    let (client_id, tokens) = login_and_redeem(&node).await;
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refreshed: Value = mcpauth_tests::refresh(&node, &client_id, &first_refresh)
        .await
        .json()
        .await
        .unwrap();
    let second_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();
    let stored = all_bytes(&node.data.path().join("node"));
    let log = node.log();
    let contains = |haystack: &[u8], needle: &str| {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };
    for (what, secret) in [
        ("client secret", client_secret.as_str()),
        ("refresh token", first_refresh.as_str()),
        ("rotated refresh token", second_refresh.as_str()),
        ("admin password", mcpauth_tests::ADMIN_PASSWORD),
    ] {
        assert!(
            !contains(&stored, secret),
            "{what} found in clear in the data directory"
        );
        assert!(!log.contains(secret), "{what} found in the log");
    }
    // The signing key's private part is sealed: the store has no PKCS#8 P-256 key header.
    let pkcs8_ec_prefix: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    assert!(!stored
        .windows(pkcs8_ec_prefix.len())
        .any(|w| w == pkcs8_ec_prefix));
    assert!(!stored.is_empty());
}
