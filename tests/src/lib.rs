//! Test harness: start real `mcpauth` processes and drive them over real HTTP, as a client and as
//! a person with a browser that runs no JavaScript.
//!
//! The binary is taken from `MCPAUTH_BIN`, else `target/release/mcpauth` (the test command
//! builds it first).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub mod cluster;
pub mod fault_proxy;
pub mod federation;
pub mod gate;
pub mod https;
pub mod idp;
pub mod workload;

/// Where a test sends its requests: a base URL, and the issuer the answers carry. A [`Node`] is
/// both; a node of a cluster has its own base URL and the cluster's issuer.
pub trait Target {
    /// `path` (starting with `/`) on this target.
    fn url(&self, path: &str) -> String;
    /// The issuer identifier this target's tokens and responses carry.
    fn issuer(&self) -> &str;
}

impl Target for Node {
    fn url(&self, path: &str) -> String {
        Node::url(self, path)
    }

    fn issuer(&self) -> &str {
        &self.issuer
    }
}

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const RESOURCE: &str = "http://127.0.0.1:9/mcp";
pub const REDIRECT_URI: &str = "http://127.0.0.1:7777/callback";

pub fn binary() -> PathBuf {
    if let Ok(bin) = std::env::var("MCPAUTH_BIN") {
        return PathBuf::from(bin);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join("target/release/mcpauth");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release` first (the test command does)",
        bin.display()
    );
    bin
}

/// The previous release's binary (0.1, storage format 2), for the upgrade tests: from
/// `MCPAUTH_PREVIOUS_BIN`, else `target/upgrade/mcpauth-0.1`, which the test command builds
/// from git (`scripts/build-previous-release.sh`).
pub fn previous_release_binary() -> PathBuf {
    if let Ok(bin) = std::env::var("MCPAUTH_PREVIOUS_BIN") {
        return PathBuf::from(bin);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join("target/upgrade/mcpauth-0.1");
    assert!(
        bin.exists(),
        "{} is missing: run `bash scripts/build-previous-release.sh` first (the test command does)",
        bin.display()
    );
    bin
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One mcpauth process with its own data directory. Killed (SIGKILL) when dropped.
pub struct Node {
    pub port: u16,
    pub issuer: String,
    pub data: tempfile::TempDir,
    args: Vec<String>,
    child: Option<Child>,
    /// Shares the test binary with other light tests, never with a cluster test.
    _gate: gate::Gate,
}

impl Node {
    /// A node protecting [`RESOURCE`], with the admin password [`ADMIN_PASSWORD`].
    pub async fn start() -> Node {
        Self::start_with(&["--resource", RESOURCE]).await
    }

    pub async fn start_with(extra: &[&str]) -> Node {
        let port = free_port();
        let data = tempfile::tempdir().expect("temp dir");
        let issuer = format!("http://127.0.0.1:{port}");
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--issuer".into(),
            issuer.clone(),
            "--data-dir".into(),
            data.path().join("node").display().to_string(),
            "--raft-listen".into(),
            format!("127.0.0.1:{}", free_port()),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Self::launch(port, data, args).await
    }

    /// Start the binary with exactly `args`; it must serve on `port` (issuer http://127.0.0.1:port).
    pub async fn launch(port: u16, data: tempfile::TempDir, args: Vec<String>) -> Node {
        let issuer = format!("http://127.0.0.1:{port}");
        let mut node = Node {
            port,
            issuer,
            data,
            args,
            child: None,
            _gate: gate::shared().await,
        };
        node.spawn().await;
        node
    }

    fn log_path(&self) -> PathBuf {
        self.data.path().join("node.log")
    }

    /// Start (or restart) the process and wait until it is ready.
    pub async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let child = Command::new(binary())
            .args(&self.args)
            .env("MCPAUTH_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "info,openraft=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mcpauth");
        self.child = Some(child);
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("mcpauth exited with {status}: {}", self.log());
                }
            }
            if let Ok(r) = client.get(self.url("/readyz")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "mcpauth not ready in 30 s: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A PKCE pair (RFC 7636): (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// An HTTP client that does not follow redirects, so every hop can be checked.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// GET a URL and parse its JSON body (panics on failure: for tests).
pub async fn get_json(url: &str) -> Value {
    http()
        .get(url)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("a JSON body")
}

/// Register a client; returns the 201 body.
pub async fn register(node: &impl Target, metadata: Value) -> Value {
    let response = http()
        .post(node.url("/register"))
        .json(&metadata)
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), 201, "registration of {metadata}");
    response.json().await.expect("json")
}

/// A public client as MCP clients register it.
pub async fn register_public(node: &impl Target) -> Value {
    register(
        node,
        json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "Test Client",
        }),
    )
    .await
}

/// A person in a browser without JavaScript: a cookie jar, no automatic redirects.
pub struct Browser {
    pub client: reqwest::Client,
    jar: std::sync::Arc<reqwest::cookie::Jar>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        Self {
            client: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            jar,
        }
    }

    /// Give `to` the cookies this browser holds for `from`: nodes of a test cluster listen on
    /// different loopback addresses, where a load balancer would put them all behind one host.
    pub fn carry_cookies(&self, from: &str, to: &str) {
        use reqwest::cookie::CookieStore;
        let (from, to) = (
            url::Url::parse(from).expect("from URL"),
            url::Url::parse(to).expect("to URL"),
        );
        if let Some(header) = self.jar.cookies(&from) {
            for cookie in header.to_str().unwrap_or("").split("; ") {
                self.jar.add_cookie_str(&format!("{cookie}; Path=/"), &to);
            }
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.client.get(url).send().await.expect("GET")
    }

    pub async fn post_form(&self, url: &str, form: &[(String, String)]) -> reqwest::Response {
        self.client.post(url).form(form).send().await.expect("POST")
    }

    /// Sign in on a login page reached from `/authorize` and answer the redirect back.
    pub async fn login(
        &self,
        node: &impl Target,
        login_page_url: &str,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        let page = self.get(login_page_url).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.expect("html");
        let form = Form::parse(&html);
        self.post_form(
            &node.url(&form.action),
            &form.with_credentials(username, password),
        )
        .await
    }

    /// Answer our consent page (`page`, a 200 from the node) with "allow".
    pub async fn allow(&self, node: &impl Target, page: reqwest::Response) -> reqwest::Response {
        let html = page.text().await.expect("html");
        let form = Form::parse(&html);
        assert_eq!(form.action, "/consent", "expected the consent page: {html}");
        self.post_form(&node.url("/consent"), &form.with(&[("decision", "allow")]))
            .await
    }

    /// Run /authorize through login and consent ("allow"); answers the final redirect Location.
    pub async fn authorize(&self, node: &impl Target, query: &[(&str, &str)]) -> String {
        let url = authorize_url(node, query);
        let mut response = self.get(&url).await;
        for _ in 0..6 {
            let status = response.status();
            if status == 200 {
                response = self.allow(node, response).await;
                continue;
            }
            assert!(status == 302 || status == 303, "unexpected {status}");
            let location = location(&response);
            if location.starts_with("/login") {
                response = self
                    .login(node, &node.url(&location), "admin", ADMIN_PASSWORD)
                    .await;
            } else if location.starts_with("/authorize") {
                response = self.get(&node.url(&location)).await;
            } else {
                return location;
            }
        }
        panic!("authorization did not finish");
    }
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location header")
        .to_owned()
}

pub fn authorize_url(node: &impl Target, query: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&node.url("/authorize")).expect("url");
    url.query_pairs_mut().extend_pairs(query);
    url.to_string()
}

/// The query parameters of a redirect target.
pub fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(location)
        .expect("absolute location")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first form of a page: its action and hidden inputs.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub hidden: Vec<(String, String)>,
}

impl Form {
    pub fn parse(html: &str) -> Form {
        let start = html.find("<form").expect("a form");
        let form_html = &html[start..];
        let tag_end = form_html.find('>').expect("form tag");
        let action = attr(&form_html[..tag_end], "action").unwrap_or_default();
        let mut hidden = Vec::new();
        let mut rest = form_html;
        while let Some(i) = rest.find("<input") {
            let tag = &rest[i..i + rest[i..].find('>').expect("input tag")];
            if attr(tag, "type").as_deref() == Some("hidden") {
                if let (Some(name), Some(value)) = (attr(tag, "name"), attr(tag, "value")) {
                    hidden.push((name, value));
                }
            }
            rest = &rest[i + 6..];
        }
        Form { action, hidden }
    }

    /// The fields to post: the hidden ones, then `extra`.
    pub fn with(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut fields = self.hidden.clone();
        fields.extend(extra.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())));
        fields
    }

    /// The fields to post to a username/password form.
    pub fn with_credentials(&self, username: &str, password: &str) -> Vec<(String, String)> {
        self.with(&[("username", username), ("password", password)])
    }
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + end]))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// Exchange a code at /token as a public client.
pub async fn redeem(
    node: &impl Target,
    client_id: &str,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    http()
        .post(node.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", client_id),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .expect("token")
}

pub async fn refresh(
    node: &impl Target,
    client_id: &str,
    refresh_token: &str,
) -> reqwest::Response {
    http()
        .post(node.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ])
        .send()
        .await
        .expect("token")
}

/// A full login for a new public client: (client_id, token response body).
pub async fn login_and_redeem(node: &impl Target) -> (String, Value) {
    let client = register_public(node).await;
    let client_id = client["client_id"].as_str().expect("client_id").to_owned();
    let (verifier, challenge) = pkce();
    let browser = Browser::new();
    let location = browser
        .authorize(
            node,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", REDIRECT_URI),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("state", "s1"),
                ("resource", RESOURCE),
            ],
        )
        .await;
    let code = query_of(&location)["code"].clone();
    let response = redeem(node, &client_id, &code, &verifier).await;
    assert_eq!(response.status(), 200);
    (client_id, response.json().await.expect("json"))
}

/// Verify an access token with the node's JWKS, as a resource server would.
pub async fn verify_access_token(
    node: &impl Target,
    token: &str,
    audience: &str,
) -> Result<Value, String> {
    let jwks: jsonwebtoken::jwk::JwkSet = http()
        .get(node.url("/jwks.json"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks.find(&kid).ok_or("unknown kid")?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[node.issuer()]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}
