//! Real identity providers for the federated-login tests, started from `tests/idp/*/run`
//! (installed by their `install.sh`, which the test command runs): oidc-provider (OpenID
//! Certified) on Node.js, OpenLDAP slapd, and a pysaml2 SAML IdP. Each runs in the foreground,
//! prints `READY` once it serves, and is killed when dropped.
//!
//! [`fixture`], [`install`], [`temp_dir`], [`Process`] and [`oidc_sign_in`] also serve the
//! federation crate's own tests (`federation/tests/`), which start the same fixtures.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::{free_port, location, Browser, Form};

/// The folder of a fixture, `tests/idp/{kind}` (`oidc`, `ldap`, `saml`).
pub fn fixture(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("idp").join(kind)
}

/// Run `tests/idp/{kind}/install.sh` once per test process (a no-op when the fixture is
/// installed); tests that ask at the same time wait, so that it never runs twice at once.
pub fn install(kind: &str) {
    static INSTALLED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if installed.iter().any(|k| k == kind) {
        return;
    }
    let output = Command::new("bash")
        .arg(fixture(kind).join("install.sh"))
        .output()
        .unwrap_or_else(|e| panic!("run tests/idp/{kind}/install.sh: {e}"));
    assert!(
        output.status.success(),
        "tests/idp/{kind}/install.sh failed (it may need root or sudo to apt-get install): {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    installed.push(kind.to_owned());
}

/// A new, empty folder `mcpauth-{what}-{pid}-{n}` in the system's temp dir (not removed by
/// itself: for fixtures that want a short, plain path).
pub fn temp_dir(what: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mcpauth-{what}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A fixture process that printed `READY`: killed (and waited for) when dropped.
pub struct Process {
    child: Child,
}

impl Process {
    /// Spawn `command` with its stdout piped and wait up to `timeout` for it to print a line
    /// `READY` (its stdout is read to the end in the background, so it never blocks on it).
    /// If it cannot start, exits first or runs out of time: killed, and why.
    pub fn start(command: &mut Command, timeout: Duration) -> Result<Process, String> {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {command:?}: {e}"))?;
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
        let mut process = Process { child };
        match rx.recv_timeout(timeout) {
            Ok(()) => Ok(process),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                process.stop();
                Err(format!("no READY within {timeout:?}"))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                process.stop();
                Err("it exited without printing READY".into())
            }
        }
    }

    /// Stop the process (SIGKILL) and wait for it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One provider process.
pub struct Idp {
    // First, so that it is killed before `dir` goes.
    process: Process,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Idp {
    /// `tests/idp/{kind}/run --dir DIR --port PORT ARGS...`, DIR a new temp dir.
    fn spawn(kind: &str, port: u16, args: &[&str]) -> Idp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(fixture(kind).join("run"));
        command
            .arg("--dir")
            .arg(dir.path())
            .args(["--port", &port.to_string()])
            .args(args)
            .stderr(Stdio::inherit());
        let process = Process::start(&mut command, Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("the {kind} provider did not become ready: {e}"));
        Idp { process, port, dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stop the provider (it is down from now on).
    pub fn stop(&mut self) {
        self.process.stop();
    }
}

/// oidc-provider with the fixture's clients, answering to `redirect_uris`.
pub fn oidc_provider(redirect_uris: &[String]) -> Idp {
    oidc_provider_with(redirect_uris, &[])
}

/// oidc-provider with the fixture's clients, answering to `redirect_uris`, started with more
/// arguments (`--id-token-claims conform`, ...).
pub fn oidc_provider_with(redirect_uris: &[String], extra: &[&str]) -> Idp {
    let mut args = Vec::new();
    for uri in redirect_uris {
        args.extend(["--redirect-uri", uri.as_str()]);
    }
    args.extend_from_slice(extra);
    Idp::spawn("oidc", free_port(), &args)
}

/// Sign in at the OpenID provider's own pages (login form, then consent "allow"), starting
/// from its authorization URL; answers the redirect back to us (the callback URL).
pub async fn oidc_sign_in(
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
        let fields = if !logged_in {
            logged_in = true;
            form.with_credentials(user, password)
        } else {
            form.with(&[("decision", "allow")])
        };
        response = browser.post_form(&form.action, &fields).await;
    }
    panic!("the upstream login did not come back");
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
    (
        Idp::spawn("ldap", port, &["--tls-port", &tls_port.to_string()]),
        tls_port,
    )
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
    Idp::spawn("saml", free_port(), &["--sp-metadata", sp_metadata_url])
}
