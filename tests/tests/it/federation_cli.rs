//! `mcpauth idp …`: an operator configures identity providers on a running cluster from the
//! command line (the same admin API the tests call directly elsewhere).

use mcpauth_tests::cluster::TestCluster;
use mcpauth_tests::federation::admin_list;
use serde_json::Value;

/// `mcpauth idp put ID --file FILE --config CONFIG`: (exit code, stdout, stderr).
async fn idp_put(
    cluster: &TestCluster,
    config: &str,
    id: &str,
    file: &std::path::Path,
) -> (i32, String, String) {
    let file = file.display().to_string();
    cluster
        .cli(&["idp", "put", id, "--file", &file, "--config", config])
        .await
}

#[tokio::test]
async fn an_operator_manages_identity_providers_with_the_cli() {
    let cluster = TestCluster::start(3).await;
    let config = cluster.dir().join("cluster.toml").display().to_string();
    let json_file = cluster.dir().join("sso.json");
    std::fs::write(
        &json_file,
        r#"{"kind": "oidc", "display_name": "Company SSO", "issuer": "https://idp.example.com",
            "client_id": "mcpauth", "client_secret": "cli-secret-value"}"#,
    )
    .expect("write");
    let (code, out, err) = idp_put(&cluster, &config, "sso", &json_file).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let saved: Value = serde_json::from_str(&out).expect("json answer");
    assert_eq!(saved["id"], "sso");
    assert_eq!(saved["secret_set"], true);
    assert!(!out.contains("cli-secret-value"));

    // A TOML description, as in the README's examples.
    let toml_file = cluster.dir().join("dir.toml");
    std::fs::write(
        &toml_file,
        "kind = \"ldap\"\nurl = \"ldaps://ldap.example.com\"\nuser_base = \"ou=people,dc=example,dc=com\"\n",
    )
    .expect("write");
    let (code, out, err) = idp_put(&cluster, &config, "dir", &toml_file).await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");

    // Applied on every node, listed without secrets.
    for node in [1, 2, 3] {
        let list = admin_list(&cluster, node).await;
        let ids: Vec<&str> = list["identity_providers"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|p| p["id"].as_str())
            .collect();
        assert_eq!(ids, ["dir", "sso"], "node {node}: {list}");
    }
    let (code, out, _) = cluster.cli(&["idp", "list", "--config", &config]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("Company SSO") && !out.contains("cli-secret-value"),
        "{out}"
    );

    // An invalid description is refused with the reason, and changes nothing.
    std::fs::write(
        &json_file,
        r#"{"kind": "oidc", "issuer": "http://idp.example.com", "client_id": "x"}"#,
    )
    .expect("write");
    let (code, out, err) = idp_put(&cluster, &config, "sso", &json_file).await;
    assert_ne!(code, 0, "stdout: {out}");
    assert!(err.contains("https"), "{err}");
    let list = admin_list(&cluster, 2).await;
    assert!(
        list.to_string().contains("https://idp.example.com"),
        "{list}"
    );

    // Local accounts off, then a provider removed; removing it again is refused.
    let (code, out, err) = cluster
        .cli(&["idp", "local-login", "off", "--config", &config])
        .await;
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert_eq!(admin_list(&cluster, 3).await["local_login"], false);
    let (code, _, err) = cluster
        .cli(&["idp", "delete", "dir", "--config", &config])
        .await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cluster
        .cli(&["idp", "delete", "dir", "--config", &config])
        .await;
    assert_ne!(code, 0);
    assert!(err.contains("no identity provider"), "{err}");
}
