//! Real identity providers for the federated-login tests, started from `tests/idp/*/run`
//! (installed by their `install.sh`, which the test command runs): oidc-provider (OpenID
//! Certified) on Node.js, OpenLDAP slapd, and a pysaml2 SAML IdP. Each runs in the foreground,
//! prints `READY` once it serves, and is killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::free_port;

fn fixture(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("idp").join(kind)
}

/// One provider process.
pub struct Idp {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Idp {
    fn spawn(kind: &str, args: &[String], dir: tempfile::TempDir, port: u16) -> Idp {
        let mut child = Command::new(fixture(kind).join("run"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start the {kind} provider: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim() == "READY" {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
            panic!("the {kind} provider did not become ready");
        }
        Idp { port, dir, child }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stop the provider (it is down from now on).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// oidc-provider with the fixture's clients, answering to `redirect_uris`.
pub fn oidc_provider(redirect_uris: &[String]) -> Idp {
    let port = free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut args = vec![
        "--port".to_owned(),
        port.to_string(),
        "--dir".to_owned(),
        dir.path().display().to_string(),
    ];
    for uri in redirect_uris {
        args.push("--redirect-uri".into());
        args.push(uri.clone());
    }
    Idp::spawn("oidc", &args, dir, port)
}

/// Switch a test knob of the OIDC provider (`normal`, `bad_signature`, `rotate`, `down`...).
pub async fn set_oidc_mode(idp: &Idp, mode: &str) {
    let response = crate::http()
        .post(idp.url("/_test/mode"))
        .json(&json!({ "mode": mode }))
        .send()
        .await
        .expect("mode");
    assert!(
        response.status().is_success(),
        "mode {mode}: {}",
        response.status()
    );
}

/// The admin API body of an OpenID Connect provider for the fixture's `mcpauth` client.
pub fn oidc_provider_config(idp: &Idp, id: &str) -> Value {
    json!({
        "id": id,
        "kind": "oidc",
        "display_name": "Example SSO",
        "issuer": idp.url(""),
        "client_id": "mcpauth",
        "client_secret": "mcpauth-upstream-secret",
        "scopes": ["openid", "email", "profile", "groups"],
    })
}

/// OpenLDAP slapd with the fixture's directory (dc=example,dc=test); its CA is `ca.pem` in `dir`.
pub fn slapd() -> (Idp, u16) {
    let port = free_port();
    let tls_port = free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let args = vec![
        "--dir".to_owned(),
        dir.path().display().to_string(),
        "--port".to_owned(),
        port.to_string(),
        "--tls-port".to_owned(),
        tls_port.to_string(),
    ];
    (Idp::spawn("ldap", &args, dir, port), tls_port)
}

/// The admin API body of the fixture directory, over StartTLS, groups searched by member.
pub fn ldap_provider_config(idp: &Idp, id: &str) -> Value {
    let ca = std::fs::read_to_string(idp.dir.path().join("ca.pem")).expect("ca.pem");
    json!({
        "id": id,
        "kind": "ldap",
        "display_name": "Example Directory",
        "url": format!("ldap://127.0.0.1:{}", idp.port),
        "starttls": true,
        "ca_pem": ca,
        "bind_dn": "cn=mcpauth,ou=services,dc=example,dc=test",
        "bind_password": "service-secret",
        "user_base": "ou=people,dc=example,dc=test",
        "group_base": "ou=groups,dc=example,dc=test",
    })
}

/// The pysaml2 IdP, trusting the SP whose metadata is at `sp_metadata_url`.
pub fn saml_idp(sp_metadata_url: &str) -> Idp {
    let port = free_port();
    let dir = tempfile::tempdir().expect("temp dir");
    let args = vec![
        "--dir".to_owned(),
        dir.path().display().to_string(),
        "--port".to_owned(),
        port.to_string(),
        "--sp-metadata".to_owned(),
        sp_metadata_url.to_owned(),
    ];
    Idp::spawn("saml", &args, dir, port)
}
