//! A stream of clients against a cluster, as a load balancer would spread them: people signing
//! in (register, authorize, login, consent, code exchange) and clients rotating refresh tokens.
//!
//! The rules a well-behaved client follows, and that the checks rely on:
//! - a 503 is retried on the same node with backoff (counted); nothing else is retried blindly;
//! - a connection error (a node killed under the request) makes the outcome unknown: a sign-in
//!   is abandoned (counted, with the node); a refresh is presented again on another node, and
//!   if that says `invalid_grant` the first attempt had won and the reuse revoked the family
//!   (counted as lost in doubt, which RFC 9700 rotation makes unavoidable);
//! - every other answer must be the right one: anything else is a failure, with details.
//!
//! What was acknowledged (a 200 token response, a 201 registration, a code in a redirect) is
//! kept, and [`verify`] checks afterwards that all of it still works.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::seq::IteratorRandom;
use rand::Rng;
use serde_json::{json, Value};

use crate::cluster::{Endpoint, Pool};
use crate::{pkce, query_of, Form, Target, ADMIN_PASSWORD, REDIRECT_URI, RESOURCE};

/// How many times a 503 is retried before the client gives up (about 30 s with the backoff).
const MAX_503_RETRIES: u32 = 40;
/// A request that takes longer than this is a failure: a node must answer 503 in bounded time.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A refresh token chain a client holds.
#[derive(Debug, Clone)]
pub struct Chain {
    pub client_id: String,
    pub refresh_token: String,
    pub access_token: String,
    pub rotations: u32,
}

/// A code handed to the client and not redeemed yet.
#[derive(Debug, Clone)]
pub struct PendingCode {
    pub client_id: String,
    pub code: String,
    pub verifier: String,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub logins_ok: AtomicU64,
    pub refreshes_ok: AtomicU64,
    pub registrations_ok: AtomicU64,
    pub codes_kept: AtomicU64,
    /// 503 answers that were retried.
    pub retries_503: AtomicU64,
    /// Longest time one request kept getting 503 before it succeeded (ms).
    pub longest_503_ms: AtomicU64,
    /// Sign-ins abandoned because a node went away under them.
    pub aborted: AtomicU64,
    /// Refreshes whose connection broke; presented again elsewhere.
    pub refresh_in_doubt: AtomicU64,
    /// Of those, how many had in fact won (the retry got invalid_grant).
    pub lost_in_doubt: AtomicU64,
    pub failures: Mutex<Vec<String>>,
    /// Per node: how many requests broke with a connection error.
    pub connection_errors: Mutex<BTreeMap<u64, u64>>,
    /// Answers that were not wrong, but not what the spec says either (e.g. a 503 body).
    pub deviations: Mutex<Vec<String>>,
}

/// The wall-clock time (UTC, HH:MM:SS.mmm), to match failures with the nodes' logs.
pub fn utc_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        now.subsec_millis()
    )
}

impl Stats {
    fn fail(&self, message: String) {
        let message = format!("[{}] {message}", utc_now());
        eprintln!("workload failure: {message}");
        self.failures.lock().unwrap().push(message);
    }

    fn deviate(&self, message: String) {
        let mut d = self.deviations.lock().unwrap();
        if d.len() < 50 {
            d.push(message);
        }
    }

    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().unwrap().clone()
    }

    pub fn deviations(&self) -> Vec<String> {
        self.deviations.lock().unwrap().clone()
    }

    pub fn summary(&self) -> String {
        format!(
            "logins {}, refreshes {}, registrations {}, codes kept {}, 503 retries {} (longest \
             run {} ms), sign-ins aborted by a lost connection {}, refreshes in doubt {} (of \
             which had won {}), connection errors by node {:?}, failures {}, deviations {}",
            self.logins_ok.load(Ordering::Relaxed),
            self.refreshes_ok.load(Ordering::Relaxed),
            self.registrations_ok.load(Ordering::Relaxed),
            self.codes_kept.load(Ordering::Relaxed),
            self.retries_503.load(Ordering::Relaxed),
            self.longest_503_ms.load(Ordering::Relaxed),
            self.aborted.load(Ordering::Relaxed),
            self.refresh_in_doubt.load(Ordering::Relaxed),
            self.lost_in_doubt.load(Ordering::Relaxed),
            self.connection_errors.lock().unwrap(),
            self.failures.lock().unwrap().len(),
            self.deviations.lock().unwrap().len(),
        )
    }
}

/// Why a step did not give an answer.
#[derive(Debug)]
pub enum StepError {
    /// The connection broke (node killed, restarting): the outcome is unknown.
    Connection { node: u64, message: String },
    /// A wrong answer, or no answer in time: a failure.
    Failed(String),
}

/// What the clients hold when the workload stops: everything acknowledged.
#[derive(Debug, Default)]
pub struct Acknowledged {
    pub chains: Vec<Chain>,
    pub codes: Vec<PendingCode>,
    /// Every client whose registration was acknowledged (201).
    pub clients: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct WorkloadOptions {
    pub workers: usize,
    /// Rotate refresh tokens, not only sign in.
    pub refresh: bool,
    /// Keep some codes unredeemed, for [`verify`] to redeem.
    pub keep_codes: bool,
    /// The workload stops by itself after this long (a bound, in case a test forgets).
    pub max_duration: Duration,
}

impl Default for WorkloadOptions {
    fn default() -> Self {
        WorkloadOptions {
            workers: 3,
            refresh: true,
            keep_codes: true,
            max_duration: Duration::from_secs(120),
        }
    }
}

pub struct Workload {
    stop: Arc<AtomicBool>,
    pub stats: Arc<Stats>,
    workers: Vec<tokio::task::JoinHandle<Acknowledged>>,
    started: Instant,
}

impl Workload {
    pub fn start(pool: Pool, options: WorkloadOptions) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Stats::default());
        let deadline = Instant::now() + options.max_duration;
        let workers = (0..options.workers)
            .map(|_| {
                let (pool, stop, stats, options) =
                    (pool.clone(), stop.clone(), stats.clone(), options.clone());
                tokio::spawn(worker(pool, stop, stats, options, deadline))
            })
            .collect();
        Workload {
            stop,
            stats,
            workers,
            started: Instant::now(),
        }
    }

    /// Wait until `n` more sign-ins have succeeded (at most `timeout`); answers whether they did.
    pub async fn wait_logins(&self, n: u64, timeout: Duration) -> bool {
        let target = self.stats.logins_ok.load(Ordering::Relaxed) + n;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.stats.logins_ok.load(Ordering::Relaxed) >= target {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Wait until `n` more refreshes have succeeded (at most `timeout`).
    pub async fn wait_refreshes(&self, n: u64, timeout: Duration) -> bool {
        let target = self.stats.refreshes_ok.load(Ordering::Relaxed) + n;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.stats.refreshes_ok.load(Ordering::Relaxed) >= target {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stop, let every worker finish its current flow, and gather what was acknowledged.
    pub async fn stop(self) -> Acknowledged {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Acknowledged::default();
        for worker in self.workers {
            // A flow is bounded by the request timeout and the 503 retries.
            match tokio::time::timeout(Duration::from_secs(90), worker).await {
                Ok(Ok(ack)) => {
                    all.chains.extend(ack.chains);
                    all.codes.extend(ack.codes);
                    all.clients.extend(ack.clients);
                }
                Ok(Err(e)) => self.stats.fail(format!("a worker panicked: {e}")),
                Err(_) => self.stats.fail("a worker did not finish in 90 s".into()),
            }
        }
        all
    }
}

fn pick(pool: &Pool) -> Option<Endpoint> {
    pool.lock()
        .unwrap()
        .values()
        .choose(&mut rand::thread_rng())
        .cloned()
}

/// Like [`pick`], but another node than `not` when there is one.
fn pick_other(pool: &Pool, not: u64) -> Option<Endpoint> {
    let pool = pool.lock().unwrap();
    let mut rng = rand::thread_rng();
    pool.values()
        .filter(|e| e.id != not)
        .choose(&mut rng)
        .or_else(|| pool.values().choose(&mut rng))
        .cloned()
}

async fn worker(
    pool: Pool,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
    options: WorkloadOptions,
    deadline: Instant,
) -> Acknowledged {
    let mut ack = Acknowledged::default();
    let mut chains: Vec<Chain> = Vec::new();
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let Some(endpoint) = pick(&pool) else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let sign_in = !options.refresh || chains.len() < 2 || rand::thread_rng().gen_bool(0.35);
        if sign_in {
            let keep_code = options.keep_codes && rand::thread_rng().gen_bool(0.1);
            match sign_in_flow(&stats, &endpoint, keep_code, &mut ack.clients).await {
                Ok(SignedIn::Tokens(chain)) => {
                    stats.logins_ok.fetch_add(1, Ordering::Relaxed);
                    chains.push(chain);
                }
                Ok(SignedIn::Code(code)) => {
                    stats.codes_kept.fetch_add(1, Ordering::Relaxed);
                    ack.codes.push(code);
                }
                Err(StepError::Connection { .. }) => {
                    stats.aborted.fetch_add(1, Ordering::Relaxed);
                }
                Err(StepError::Failed(message)) => stats.fail(message),
            }
        } else {
            let i = rand::thread_rng().gen_range(0..chains.len());
            match refresh_chain(&stats, &pool, endpoint, &chains[i]).await {
                Refreshed::Rotated(next) => {
                    stats.refreshes_ok.fetch_add(1, Ordering::Relaxed);
                    chains[i] = next;
                }
                Refreshed::LostInDoubt => {
                    chains.swap_remove(i);
                }
                Refreshed::Failed(message) => {
                    stats.fail(message);
                    chains.swap_remove(i);
                }
            }
        }
    }
    ack.chains = chains;
    ack
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client")
}

/// Send a request built by `make`, retrying a 503 with backoff. `what` names the step.
pub async fn send(
    stats: &Stats,
    endpoint: &Endpoint,
    what: &str,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, StepError> {
    send_counting(stats, endpoint, what, make)
        .await
        .map(|(response, _)| response)
}

/// [`send`], also answering how many 503s came before the answer.
pub async fn send_counting(
    stats: &Stats,
    endpoint: &Endpoint,
    what: &str,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Result<(reqwest::Response, u32), StepError> {
    let mut first_503: Option<Instant> = None;
    for attempt in 0..=MAX_503_RETRIES {
        let response = match make().send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Err(StepError::Failed(format!(
                    "{what} on node {}: no answer in {REQUEST_TIMEOUT:?}",
                    endpoint.id
                )))
            }
            Err(e) => {
                *stats
                    .connection_errors
                    .lock()
                    .unwrap()
                    .entry(endpoint.id)
                    .or_default() += 1;
                return Err(StepError::Connection {
                    node: endpoint.id,
                    message: format!("{what} on node {}: {e:?}", endpoint.id),
                });
            }
        };
        if response.status() != 503 {
            if let Some(first) = first_503 {
                stats
                    .longest_503_ms
                    .fetch_max(first.elapsed().as_millis() as u64, Ordering::Relaxed);
            }
            return Ok((response, attempt));
        }
        first_503.get_or_insert_with(Instant::now);
        stats.retries_503.fetch_add(1, Ordering::Relaxed);
        check_503(stats, endpoint, what, response).await;
        if attempt < MAX_503_RETRIES {
            let backoff = Duration::from_millis((50u64 << attempt.min(5)).min(1000));
            tokio::time::sleep(backoff).await;
        }
    }
    Err(StepError::Failed(format!(
        "{what} on node {}: still 503 after {MAX_503_RETRIES} retries",
        endpoint.id
    )))
}

/// A 503 must say why: the OAuth error `temporarily_unavailable` on /token and /register, a
/// readable page on the browser routes.
async fn check_503(stats: &Stats, endpoint: &Endpoint, what: &str, response: reqwest::Response) {
    let path = response.url().path().to_owned();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.text().await.unwrap_or_default();
    let oauth = path == "/token" || path == "/register";
    let ok = if oauth {
        content_type.starts_with("application/json")
            && serde_json::from_str::<Value>(&body)
                .is_ok_and(|v| v["error"] == "temporarily_unavailable")
    } else {
        content_type.starts_with("text/html")
    };
    if !ok {
        stats.deviate(format!(
            "{what} on node {}: 503 on {path} with content-type {content_type:?}: {}",
            endpoint.id,
            snippet(&body)
        ));
    }
}

fn snippet(s: &str) -> String {
    let s: String = s.chars().take(300).collect();
    s.replace('\n', " ")
}

async fn failed(what: &str, endpoint: &Endpoint, response: reqwest::Response) -> StepError {
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let url = response.url().clone();
    let body = response.text().await.unwrap_or_default();
    StepError::Failed(format!(
        "{what} on node {} ({url}): unexpected {status} (location {location:?}): {}",
        endpoint.id,
        snippet(&body)
    ))
}

fn location_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

pub enum SignedIn {
    Tokens(Chain),
    Code(PendingCode),
}

/// Register a public client on `endpoint`, sign in as admin, consent, and redeem the code (or
/// keep it). Pushes the client id to `clients` once its registration is acknowledged.
pub async fn sign_in_flow(
    stats: &Stats,
    endpoint: &Endpoint,
    keep_code: bool,
    clients: &mut Vec<String>,
) -> Result<SignedIn, StepError> {
    let http = client();
    let metadata = json!({
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": "Cluster Test Client",
    });
    let response = send(stats, endpoint, "register", || {
        http.post(endpoint.url("/register")).json(&metadata)
    })
    .await?;
    if response.status() != 201 {
        return Err(failed("register", endpoint, response).await);
    }
    let body: Value = response
        .json()
        .await
        .map_err(|e| StepError::Failed(format!("register on node {}: body: {e}", endpoint.id)))?;
    let client_id = body["client_id"].as_str().unwrap_or_default().to_owned();
    stats.registrations_ok.fetch_add(1, Ordering::Relaxed);
    clients.push(client_id.clone());
    let (code, verifier) = authorize_flow(stats, &http, endpoint, &client_id).await?;
    if keep_code {
        return Ok(SignedIn::Code(PendingCode {
            client_id,
            code,
            verifier,
        }));
    }
    let tokens = redeem_code(stats, endpoint, &client_id, &code, &verifier).await?;
    Ok(SignedIn::Tokens(Chain {
        client_id,
        refresh_token: tokens["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        access_token: tokens["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        rotations: 0,
    }))
}

/// /authorize through login (when the browser has no session) and consent, with the browser
/// `http` (a cookie jar). Answers (code, verifier).
pub async fn authorize_flow(
    stats: &Stats,
    http: &reqwest::Client,
    endpoint: &Endpoint,
    client_id: &str,
) -> Result<(String, String), StepError> {
    let (verifier, challenge) = pkce();
    let state = format!("st{}", rand::thread_rng().gen::<u32>());
    let mut url = url::Url::parse(&endpoint.url("/authorize")).expect("url");
    url.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", state.as_str()),
        ("resource", RESOURCE),
    ]);
    let url = url.to_string();
    let mut response = send(stats, endpoint, "authorize", || http.get(&url)).await?;
    for _ in 0..6 {
        let status = response.status().as_u16();
        if status == 200 {
            let html = response.text().await.unwrap_or_default();
            let form = parse_form(&html, endpoint, "consent page")?;
            if form.action != "/consent" {
                return Err(StepError::Failed(format!(
                    "authorize on node {}: a page that is not consent: {}",
                    endpoint.id,
                    snippet(&html)
                )));
            }
            let mut fields = form.hidden.clone();
            fields.push(("decision".into(), "allow".into()));
            response = send(stats, endpoint, "consent", || {
                http.post(endpoint.url("/consent")).form(&fields)
            })
            .await?;
            continue;
        }
        if status != 302 && status != 303 {
            return Err(failed("authorize", endpoint, response).await);
        }
        let location = location_of(&response);
        if location.starts_with("/login") {
            let page_url = endpoint.url(&location);
            let page = send(stats, endpoint, "login page", || http.get(&page_url)).await?;
            if page.status() != 200 {
                return Err(failed("login page", endpoint, page).await);
            }
            let html = page.text().await.unwrap_or_default();
            let form = parse_form(&html, endpoint, "login page")?;
            let mut fields = form.hidden.clone();
            fields.push(("username".into(), "admin".into()));
            fields.push(("password".into(), ADMIN_PASSWORD.into()));
            let action = endpoint.url(&form.action);
            response = send(stats, endpoint, "login", || {
                http.post(&action).form(&fields)
            })
            .await?;
        } else if location.starts_with("/authorize") {
            let next = endpoint.url(&location);
            response = send(stats, endpoint, "authorize (after login)", || {
                http.get(&next)
            })
            .await?;
        } else if location.starts_with(REDIRECT_URI) {
            let query = query_of(&location);
            if query.get("state") != Some(&state) {
                return Err(StepError::Failed(format!(
                    "authorize on node {}: state not echoed: {location}",
                    endpoint.id
                )));
            }
            return match query.get("code") {
                Some(code) => Ok((code.clone(), verifier)),
                None => Err(StepError::Failed(format!(
                    "authorize on node {}: an error redirect: {location}",
                    endpoint.id
                ))),
            };
        } else {
            return Err(StepError::Failed(format!(
                "authorize on node {}: unexpected redirect to {location}",
                endpoint.id
            )));
        }
    }
    Err(StepError::Failed(format!(
        "authorize on node {}: did not finish in 6 hops",
        endpoint.id
    )))
}

fn parse_form(html: &str, endpoint: &Endpoint, what: &str) -> Result<Form, StepError> {
    if !html.contains("<form") {
        return Err(StepError::Failed(format!(
            "{what} on node {}: no form in {}",
            endpoint.id,
            snippet(html)
        )));
    }
    Ok(Form::parse(html))
}

/// Redeem a code at /token. A 503 is retried; if the retry says `invalid_grant`, the 503'd
/// attempt had in fact redeemed the code: that is reported as a failure (a 503 must mean the
/// write did not happen, or a retry must get the same answer).
pub async fn redeem_code(
    stats: &Stats,
    endpoint: &Endpoint,
    client_id: &str,
    code: &str,
    verifier: &str,
) -> Result<Value, StepError> {
    let http = client();
    let (response, retries) = send_counting(stats, endpoint, "redeem", || {
        http.post(endpoint.url("/token")).form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", client_id),
            ("code_verifier", verifier),
        ])
    })
    .await?;
    if response.status() != 200 {
        let retried = retries > 0;
        let error = failed(&format!("redeem for {client_id}"), endpoint, response).await;
        return Err(match (retried, error) {
            (true, StepError::Failed(m)) => StepError::Failed(format!(
                "{m} -- after 503 answers: a 503'd redemption had been carried out"
            )),
            (_, e) => e,
        });
    }
    response
        .json()
        .await
        .map_err(|e| StepError::Failed(format!("redeem on node {}: body: {e}", endpoint.id)))
}

pub enum Refreshed {
    Rotated(Chain),
    /// The connection broke, and the retry showed the first attempt had won: the family is
    /// revoked by the reuse, as designed.
    LostInDoubt,
    Failed(String),
}

/// Rotate `chain` on `endpoint`; on a broken connection, present the same token on another node.
pub async fn refresh_chain(
    stats: &Stats,
    pool: &Pool,
    endpoint: Endpoint,
    chain: &Chain,
) -> Refreshed {
    let http = client();
    let mut endpoint = endpoint;
    let mut in_doubt = false;
    for _ in 0..4 {
        let result = send_counting(stats, &endpoint, "refresh", || {
            http.post(endpoint.url("/token")).form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", chain.refresh_token.as_str()),
                ("client_id", chain.client_id.as_str()),
            ])
        })
        .await;
        let retried_503 = matches!(result, Ok((_, n)) if n > 0);
        match result.map(|(response, _)| response) {
            Ok(response) if response.status() == 200 => {
                let body: Value = match response.json().await {
                    Ok(b) => b,
                    Err(e) => return Refreshed::Failed(format!("refresh body: {e}")),
                };
                return Refreshed::Rotated(Chain {
                    client_id: chain.client_id.clone(),
                    refresh_token: body["refresh_token"].as_str().unwrap_or_default().into(),
                    access_token: body["access_token"].as_str().unwrap_or_default().into(),
                    rotations: chain.rotations + 1,
                });
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let invalid_grant = status == 400
                    && serde_json::from_str::<Value>(&text)
                        .is_ok_and(|v| v["error"] == "invalid_grant");
                if invalid_grant && in_doubt {
                    stats.lost_in_doubt.fetch_add(1, Ordering::Relaxed);
                    return Refreshed::LostInDoubt;
                }
                let why = if invalid_grant && retried_503 {
                    " -- after 503 answers: a 503'd rotation had been carried out"
                } else {
                    ""
                };
                return Refreshed::Failed(format!(
                    "refresh (rotation {}) of client {} on node {}: {status}: {}{why}",
                    chain.rotations,
                    chain.client_id,
                    endpoint.id,
                    snippet(&text)
                ));
            }
            Err(StepError::Failed(m)) => return Refreshed::Failed(m),
            Err(StepError::Connection { node, .. }) => {
                if !in_doubt {
                    stats.refresh_in_doubt.fetch_add(1, Ordering::Relaxed);
                }
                in_doubt = true;
                // Give the load balancer a moment to notice, then go elsewhere.
                tokio::time::sleep(Duration::from_millis(200)).await;
                match pick_other(pool, node) {
                    Some(e) => endpoint = e,
                    None => return Refreshed::Failed("no node left in the pool".into()),
                }
            }
        }
    }
    Refreshed::Failed(format!(
        "refresh of a chain of {}: connections kept breaking",
        chain.client_id
    ))
}

/// Check that everything acknowledged still works, through the nodes of `pool`: every chain's
/// latest refresh token rotates and its access token verifies with a node's JWKS, every kept code
/// redeems, every client can still authorize (and redeem). Answers the problems found.
///
/// `ack` is updated as a client would: chains hold their rotated tokens, redeemed codes become
/// chains, so it can be verified again later.
pub async fn verify(ack: &mut Acknowledged, pool: &Pool) -> Vec<String> {
    let stats = Stats::default();
    let mut problems = Vec::new();
    let endpoints: Vec<Endpoint> = pool.lock().unwrap().values().cloned().collect();
    assert!(!endpoints.is_empty(), "no node to verify through");
    let pick_endpoint = |i: usize| endpoints[i % endpoints.len()].clone();
    let mut kept = Vec::new();
    for (i, chain) in ack.chains.iter().enumerate() {
        let endpoint = pick_endpoint(i);
        if let Err(e) = crate::verify_access_token(&endpoint, &chain.access_token, RESOURCE).await {
            problems.push(format!(
                "access token of {} does not verify with node {}'s JWKS: {e}",
                chain.client_id, endpoint.id
            ));
        }
        match refresh_chain(&stats, pool, endpoint.clone(), chain).await {
            Refreshed::Rotated(next) => kept.push(next),
            Refreshed::LostInDoubt => problems.push(format!(
                "chain of {} lost (connection broke during verification)",
                chain.client_id
            )),
            Refreshed::Failed(m) => problems.push(format!(
                "acknowledged refresh token (after {} rotations) of {} no longer refreshes: {m}",
                chain.rotations, chain.client_id
            )),
        }
    }
    for (i, code) in ack.codes.iter().enumerate() {
        let endpoint = pick_endpoint(i + 1);
        match redeem_code(
            &stats,
            &endpoint,
            &code.client_id,
            &code.code,
            &code.verifier,
        )
        .await
        {
            Ok(tokens) => kept.push(Chain {
                client_id: code.client_id.clone(),
                refresh_token: tokens["refresh_token"].as_str().unwrap_or_default().into(),
                access_token: tokens["access_token"].as_str().unwrap_or_default().into(),
                rotations: 0,
            }),
            Err(e) => problems.push(format!(
                "acknowledged code of {} does not redeem: {e:?}",
                code.client_id
            )),
        }
    }
    ack.chains = kept;
    ack.codes.clear();
    // One browser per node, signed in once, authorizes every client.
    let browsers: Vec<reqwest::Client> = endpoints.iter().map(|_| client()).collect();
    for (i, client_id) in ack.clients.iter().enumerate() {
        let k = i % endpoints.len();
        let endpoint = &endpoints[k];
        match authorize_flow(&stats, &browsers[k], endpoint, client_id).await {
            Ok((code, verifier)) => {
                if let Err(e) = redeem_code(&stats, endpoint, client_id, &code, &verifier).await {
                    problems.push(format!("client {client_id}: code does not redeem: {e:?}"));
                }
            }
            Err(e) => problems.push(format!(
                "acknowledged client {client_id} cannot authorize on node {}: {e:?}",
                endpoint.id
            )),
        }
    }
    problems.extend(stats.failures());
    problems
}

/// No wrong answer in the stream, and every 503 in the form the spec gives; else a panic with
/// the details and the cluster's logs.
pub fn assert_stream_clean(cluster: &crate::cluster::TestCluster, stats: &Stats, what: &str) {
    let failures = stats.failures();
    assert!(
        failures.is_empty(),
        "{what}: the stream saw wrong answers:\n  {}\n{}\n{}",
        failures.join("\n  "),
        stats.summary(),
        cluster.logs()
    );
    let deviations = stats.deviations();
    assert!(
        deviations.is_empty(),
        "{what}: 503 answers not in the specified form:\n  {}\n{}",
        deviations.join("\n  "),
        stats.summary()
    );
}
