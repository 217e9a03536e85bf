//! Network partitions, made with the fault-injecting proxy between nodes: the minority side
//! refuses writes with 503 in bounded time and issues nothing; the majority side serves; after
//! healing the nodes agree and everything issued on the majority side works everywhere.

use std::time::{Duration, Instant};

use mcpauth_tests::cluster::{serial, Endpoint, TestCluster};
use mcpauth_tests::workload::{sign_in_flow, Chain, SignedIn, Stats};
use mcpauth_tests::{
    http, location, pkce, refresh, Form, Target, ADMIN_PASSWORD, REDIRECT_URI, RESOURCE,
};
use serde_json::{json, Value};

/// How long a node cut off from the leader may take to say 503.
const BOUND: Duration = Duration::from_secs(15);

async fn sign_in(cluster: &TestCluster, stats: &Stats, endpoint: &Endpoint) -> Chain {
    match sign_in_flow(stats, endpoint, false, &mut Vec::new()).await {
        Ok(SignedIn::Tokens(chain)) => chain,
        Ok(SignedIn::Code(_)) => unreachable!(),
        Err(e) => panic!("sign-in on node {}: {e:?}\n{}", endpoint.id, cluster.logs()),
    }
}

/// Refresh through `endpoint`, retrying 503s for a while (a node rejoining, an election).
async fn refresh_ok(cluster: &TestCluster, endpoint: &Endpoint, chain: &Chain) -> Chain {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = refresh(endpoint, &chain.client_id, &chain.refresh_token).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == 200 {
            return Chain {
                client_id: chain.client_id.clone(),
                refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
                access_token: body["access_token"].as_str().unwrap().to_owned(),
                rotations: chain.rotations + 1,
            };
        }
        assert!(
            status == 503 && Instant::now() < deadline,
            "refresh of {} through node {}: {status} {body}\n{}",
            chain.client_id,
            endpoint.id,
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What a request sent to the minority got: after how long, and the answer (status, body), or
/// none before the client gave up.
#[derive(Debug)]
struct MinorityAnswer {
    what: &'static str,
    /// A browser route: the 503 is an HTML page, not an OAuth JSON error.
    html: bool,
    took: Duration,
    answer: Option<(u16, String, Value)>,
}

/// Send a write to a node cut off from the majority, in the background; the client waits up to
/// 90 s, so that what the node answers in the end (after the heal, if it hangs) is known too.
fn send_to_minority(
    what: &'static str,
    html: bool,
    request: reqwest::RequestBuilder,
) -> (&'static str, tokio::task::JoinHandle<MinorityAnswer>) {
    let handle = tokio::spawn(async move {
        let started = Instant::now();
        let answer = match tokio::time::timeout(Duration::from_secs(90), request.send()).await {
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap_or("").to_owned())
                    .unwrap_or_default();
                let text = response.text().await.unwrap_or_default();
                let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
                Some((status, content_type, body))
            }
            Ok(Err(e)) => Some((
                0,
                if e.is_timeout() {
                    "timeout"
                } else {
                    "connection error"
                }
                .into(),
                Value::String(e.to_string()),
            )),
            Err(_) => None,
        };
        MinorityAnswer {
            what,
            html,
            took: started.elapsed(),
            answer,
        }
    });
    (what, handle)
}

/// Wait for a minority answer until `BOUND` after `sent`: a 503 (`temporarily_unavailable` in
/// JSON, or an HTML page on browser routes) is right. Anything else, or nothing yet, is a finding. A handle still running is returned,
/// to learn its final answer after the heal.
async fn judge_minority(
    node: u64,
    sent: Instant,
    (what, mut handle): (&'static str, tokio::task::JoinHandle<MinorityAnswer>),
    findings: &mut Vec<String>,
    report: &mut Vec<String>,
) -> Option<tokio::task::JoinHandle<MinorityAnswer>> {
    let remaining = (sent + BOUND).saturating_duration_since(Instant::now());
    match tokio::time::timeout(remaining, &mut handle).await {
        Ok(Ok(answer)) => {
            judge_answer(node, &answer, findings);
            report.push(format!("{} in {:?}", answer.what, answer.took));
            None
        }
        Ok(Err(e)) => panic!("{e}"),
        Err(_) => {
            findings.push(format!(
                "{what} on node {node} (cut off): no answer in {BOUND:?}"
            ));
            Some(handle)
        }
    }
}

/// An answer in a few words: status, content type, and the start of the body.
fn short(answer: &Option<(u16, String, Value)>) -> String {
    match answer {
        Some((status, content_type, body)) => {
            let body: String = body.to_string().chars().take(120).collect();
            format!("{status} ({content_type}) {body}")
        }
        None => "nothing".into(),
    }
}

fn judge_answer(node: u64, answer: &MinorityAnswer, findings: &mut Vec<String>) {
    match &answer.answer {
        Some((503, content_type, _)) if answer.html && content_type.starts_with("text/html") => {}
        Some((503, content_type, body))
            if !answer.html
                && content_type.starts_with("application/json")
                && body["error"] == "temporarily_unavailable" => {}
        Some(_) => findings.push(format!(
            "{} on node {node} (cut off) answered {} after {:?}",
            answer.what,
            short(&answer.answer),
            answer.took
        )),
        None => findings.push(format!(
            "{} on node {node} (cut off) never answered (90 s)",
            answer.what
        )),
    }
}

/// A browser at the login page of `endpoint` for `client_id`: answers the POST of the filled
/// login form, not sent (the page itself is fetched now).
async fn prepare_login(endpoint: &Endpoint, client_id: &str) -> reqwest::RequestBuilder {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    let response = browser
        .get(authorize_request_url(endpoint, client_id))
        .send()
        .await
        .unwrap();
    let login = location(&response);
    assert!(login.starts_with("/login"), "{login}");
    let page = browser.get(endpoint.url(&login)).send().await.unwrap();
    let form = Form::parse(&page.text().await.unwrap());
    let mut fields = form.hidden.clone();
    fields.push(("username".into(), "admin".into()));
    fields.push(("password".into(), ADMIN_PASSWORD.into()));
    browser.post(endpoint.url(&form.action)).form(&fields)
}

fn authorize_request_url(endpoint: &Endpoint, client_id: &str) -> String {
    let (_, challenge) = pkce();
    let mut url = url::Url::parse(&endpoint.url("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", RESOURCE),
    ]);
    url.to_string()
}

fn refresh_request(endpoint: &Endpoint, chain: &Chain) -> reqwest::RequestBuilder {
    http().post(endpoint.url("/token")).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", chain.refresh_token.as_str()),
        ("client_id", chain.client_id.as_str()),
    ])
}

fn register_request(endpoint: &Endpoint) -> reqwest::RequestBuilder {
    http().post(endpoint.url("/register")).json(&json!({
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
    }))
}

async fn readyz(endpoint: &Endpoint) -> u16 {
    match http().get(endpoint.url("/readyz")).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// Cut `isolated` off from the two others (refusing or blackholing), check both sides, heal,
/// check convergence. Answers the findings (what the spec forbids) and a report.
async fn isolate(
    cluster: &mut TestCluster,
    isolated: u64,
    blackhole: bool,
) -> (Vec<String>, String) {
    let stats = Stats::default();
    let mut findings = Vec::new();
    let mut minority_report = Vec::new();
    let ids = cluster.ids();
    let majority: Vec<u64> = ids.iter().copied().filter(|&i| i != isolated).collect();
    let [m1, m2] = [majority[0], majority[1]].map(|i| cluster.endpoint(i));
    let lonely = cluster.endpoint(isolated);
    let leader_before = cluster.leader().await;

    // Before: chains from every node. `probe` is presented at the minority during the
    // partition, `kept` rotated on the majority side.
    let probe = sign_in(cluster, &stats, &lonely).await;
    let kept = sign_in(cluster, &stats, &m1).await;
    let login_post = prepare_login(&lonely, &probe.client_id).await;

    let proxy = cluster.proxy.as_ref().expect("a cluster with proxies");
    if blackhole {
        proxy.partition_blackhole(&[&[isolated], &majority]);
    } else {
        proxy.partition(&[&[isolated], &majority]);
    }
    let cut_at = Instant::now();

    // Writes sent to the minority right away (answers judged below).
    let refresh_probe = send_to_minority("refresh", false, refresh_request(&lonely, &probe));
    let register_probe = send_to_minority("register", false, register_request(&lonely));
    let login_probe = send_to_minority("login (browser)", true, login_post);

    // The majority has (or elects) a leader of its own and serves sign-ins and refreshes.
    let leader = cluster.wait_for_leader(&[isolated]).await;
    let majority_leader_after = cut_at.elapsed();
    let during = sign_in(cluster, &stats, &m2).await;
    let during = refresh_ok(cluster, &m1, &during).await;
    let kept = refresh_ok(cluster, &m2, &kept).await;
    let majority_served_after = cut_at.elapsed();

    // The minority refuses writes, in bounded time, and issues nothing.
    let mut pending = Vec::new();
    for probe_handle in [refresh_probe, register_probe, login_probe] {
        if let Some(h) = judge_minority(
            isolated,
            cut_at,
            probe_handle,
            &mut findings,
            &mut minority_report,
        )
        .await
        {
            pending.push(h);
        }
    }
    // Still refused, now that the majority has moved on (a new registration: the probe token
    // may still be in flight above). And a client registered on the majority during the
    // partition is not known to the minority: /authorize there must not call it unknown (a
    // wrong answer from stale state), but say 503.
    let later_sent = Instant::now();
    let later = [
        send_to_minority("register (later)", false, register_request(&lonely)),
        send_to_minority(
            "authorize for a client registered on the majority",
            true,
            http().get(authorize_request_url(&lonely, &during.client_id)),
        ),
    ];
    for handle in later {
        if let Some(h) = judge_minority(
            isolated,
            later_sent,
            handle,
            &mut findings,
            &mut minority_report,
        )
        .await
        {
            pending.push(h);
        }
    }
    let lonely_status = cluster.status(isolated).await.unwrap_or(Value::Null);
    let lonely_ready = readyz(&lonely).await;
    let proxy_stats = cluster.proxy.as_ref().unwrap().stats();
    // The proxy tells nodes apart by source IP: if nodes did not bind their outgoing internal
    // connections to their own IP, nothing would have been cut.
    assert!(
        proxy_stats.refused + proxy_stats.blackholed > 0,
        "the partition cut no connection ({proxy_stats:?}): do nodes bind their source IP?"
    );

    cluster.proxy.as_ref().unwrap().heal();
    let healed_at = Instant::now();
    let (digest, index) = cluster.wait_converged().await;
    let converged_after = healed_at.elapsed();
    let leader_after = cluster.leader().await;

    // Requests the minority had not answered: what did they get in the end?
    let mut probe_rotated = false;
    for handle in pending {
        let answer = handle.await.expect("probe task");
        minority_report.push(format!(
            "{} finally answered after {:?}: {}",
            answer.what,
            answer.took,
            short(&answer.answer)
        ));
        if answer.what == "refresh" && matches!(answer.answer, Some((200, _, _))) {
            probe_rotated = true;
        }
        // Already a finding (no answer in time); a late answer is reported, not judged again:
        // the write may well have been carried out after the heal.
    }

    // Everything issued on the majority side works through the formerly isolated node...
    refresh_ok(cluster, &lonely, &during).await;
    refresh_ok(cluster, &lonely, &kept).await;
    // ... and the token presented at the minority was never rotated: it still refreshes once.
    if !probe_rotated {
        refresh_ok(cluster, &lonely, &probe).await;
    }
    assert_eq!(
        stats.retries_503.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "the majority answered 503: {}\n{}",
        stats.summary(),
        cluster.logs()
    );
    let report = format!(
        "isolated node {isolated} ({}; leader before {leader_before}): majority leader {leader} \
         agreed {majority_leader_after:?} after the cut, served a sign-in and refreshes by \
         {majority_served_after:?}; minority: [{}]; its status during the partition: state {} \
         leader {} term {}, readyz {lonely_ready}; proxy {proxy_stats:?}; after the heal \
         converged in {converged_after:?} at index {index} ({digest}), leader {leader_after}",
        if blackhole { "blackhole" } else { "refused" },
        minority_report.join("; "),
        lonely_status["state"],
        lonely_status["leader"],
        lonely_status["term"],
    );
    (findings, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_leader_refuses_writes_and_the_majority_serves() {
    let _serial = serial().await;
    let t0 = Instant::now();
    let mut cluster = TestCluster::start_with_proxy(3).await;
    let leader = cluster.leader().await;
    let (findings, report) = isolate(&mut cluster, leader, false).await;
    eprintln!("partition: {report}; total {:?}", t0.elapsed());
    assert!(
        findings.is_empty(),
        "isolated leader:\n  {}\n{report}\n{}",
        findings.join("\n  "),
        cluster.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_cut_off_by_lost_packets_refuses_writes_and_rejoins() {
    let _serial = serial().await;
    let t0 = Instant::now();
    let mut cluster = TestCluster::start_with_proxy(3).await;
    let leader = cluster.leader().await;
    let follower = cluster.ids().into_iter().find(|&i| i != leader).unwrap();
    let (findings, report) = isolate(&mut cluster, follower, true).await;
    eprintln!("partition: {report}; total {:?}", t0.elapsed());
    assert!(
        findings.is_empty(),
        "isolated follower:\n  {}\n{report}\n{}",
        findings.join("\n  "),
        cluster.logs()
    );
}

/// A node that can reach the leader but receives no log (the leader's connections to it are cut,
/// and it cannot win an election): what it does not have yet, it must not deny. A client
/// registered after the cut gets 503 through it, never "unknown client" (which makes real
/// clients throw their registration and tokens away).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_cannot_catch_up_says_503_rather_than_unknown_client() {
    let _serial = serial().await;
    let t0 = Instant::now();
    let mut cluster = TestCluster::start_with_proxy(3).await;
    let leader = cluster.leader().await;
    let ids = cluster.ids();
    let lagging = ids.iter().copied().find(|&i| i != leader).unwrap();
    let other = ids
        .iter()
        .copied()
        .find(|&i| i != leader && i != lagging)
        .unwrap();
    let stats = Stats::default();
    let behind = cluster.endpoint(lagging);
    let elsewhere = cluster.endpoint(other);
    // A client every node knows.
    let known = sign_in(&cluster, &stats, &elsewhere).await;
    cluster.wait_converged().await;

    {
        let proxy = cluster.proxy.as_ref().unwrap();
        proxy.cut_one_way(leader, lagging);
        proxy.cut_one_way(lagging, other);
    }
    // Written through the majority after the cut: the lagging node can ask the leader how far
    // the log goes, but never receives it.
    let fresh = sign_in(&cluster, &stats, &elsewhere).await;
    // And a browser session: signed in through the other node after the cut.
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    mcpauth_tests::workload::authorize_flow(&stats, &browser, &elsewhere, &known.client_id)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let session = {
        use reqwest::cookie::CookieStore;
        let url = url::Url::parse(&elsewhere.base).unwrap();
        jar.cookies(&url).expect("session cookie")
    };
    let lagging_status = cluster.status(lagging).await.unwrap_or(Value::Null);
    let lagging_ready = readyz(&behind).await;

    let mut findings = Vec::new();
    let mut report = Vec::new();
    let sent = Instant::now();
    let probes = [
        send_to_minority("refresh", false, refresh_request(&behind, &fresh)),
        send_to_minority(
            "authorize",
            true,
            http().get(authorize_request_url(&behind, &fresh.client_id)),
        ),
        // The same browser session, as a load balancer would send it to the lagging node.
        send_to_minority(
            "authorize with a session from after the cut",
            true,
            http()
                .get(authorize_request_url(&behind, &known.client_id))
                .header("cookie", session),
        ),
    ];
    let mut pending = Vec::new();
    for probe in probes {
        if let Some(h) = judge_minority(lagging, sent, probe, &mut findings, &mut report).await {
            pending.push(h);
        }
    }
    cluster.proxy.as_ref().unwrap().heal();
    for handle in pending {
        let answer = handle.await.unwrap();
        report.push(format!(
            "{} finally answered after {:?}: {}",
            answer.what,
            answer.took,
            short(&answer.answer)
        ));
    }
    let (digest, index) = cluster.wait_converged().await;
    // Caught up, it knows the client, and the token was never rotated.
    refresh_ok(&cluster, &behind, &fresh).await;
    eprintln!(
        "lagging node {lagging} (leader {leader}): status while cut {lagging_status}, readyz \
         {lagging_ready}; answers: [{}]; converged at {index} ({digest}); total {:?}",
        report.join("; "),
        t0.elapsed()
    );
    assert!(
        findings.is_empty(),
        "a node that cannot catch up:\n  {}\n{}",
        findings.join("\n  "),
        cluster.logs()
    );
}

/// A follower forwards a write to the leader, the leader carries it out, and the answer is lost
/// on the way back. Whatever the follower then tells the client must be true: the new tokens,
/// or a 503 after which the client's retry with the same token or code still works. A 503 for
/// a rotation or redemption that did happen makes the retry look like reuse (family revoked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_answer_is_lost_is_not_reported_as_not_done() {
    let _serial = serial().await;
    let t0 = Instant::now();
    let mut cluster = TestCluster::start_with_proxy(3).await;
    let leader = cluster.leader().await;
    let ids = cluster.ids();
    let follower = ids.iter().copied().find(|&i| i != leader).unwrap();
    let other = ids
        .iter()
        .copied()
        .find(|&i| i != leader && i != follower)
        .unwrap();
    let stats = Stats::default();
    let (via, elsewhere) = (cluster.endpoint(follower), cluster.endpoint(other));
    let chain = sign_in(&cluster, &stats, &elsewhere).await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (code, verifier) =
        mcpauth_tests::workload::authorize_flow(&stats, &browser, &elsewhere, &chain.client_id)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));

    cluster
        .proxy
        .as_ref()
        .unwrap()
        .mute_replies(follower, leader);
    let started = Instant::now();
    let rotated = refresh(&via, &chain.client_id, &chain.refresh_token).await;
    let rotated = (
        rotated.status().as_u16(),
        rotated.text().await.unwrap_or_default(),
    );
    let rotate_took = started.elapsed();
    let started = Instant::now();
    let redeemed = mcpauth_tests::redeem(&via, &chain.client_id, &code, &verifier).await;
    let redeemed = (
        redeemed.status().as_u16(),
        redeemed.text().await.unwrap_or_default(),
    );
    let redeem_took = started.elapsed();
    let proxy_stats = cluster.proxy.as_ref().unwrap().stats();
    cluster.proxy.as_ref().unwrap().heal();
    cluster.wait_converged().await;

    let mut findings = Vec::new();
    // The client's retry, through another node, of whatever got a 503.
    let retry_refresh = if rotated.0 == 503 {
        let r = refresh(&elsewhere, &chain.client_id, &chain.refresh_token).await;
        Some((r.status().as_u16(), r.text().await.unwrap_or_default()))
    } else {
        None
    };
    let retry_redeem = if redeemed.0 == 503 {
        let r = mcpauth_tests::redeem(&elsewhere, &chain.client_id, &code, &verifier).await;
        Some((r.status().as_u16(), r.text().await.unwrap_or_default()))
    } else {
        None
    };
    for (what, first, took, retry) in [
        ("refresh", &rotated, rotate_took, &retry_refresh),
        ("code redemption", &redeemed, redeem_took, &retry_redeem),
    ] {
        match (first.0, retry) {
            (200, _) => {}
            (503, Some((200, _))) => {}
            (503, Some((status, body))) => findings.push(format!(
                "{what} through node {follower}: 503 after {took:?}, yet it had been carried out: \
                 the client's retry got {status} {body}"
            )),
            (status, _) => findings.push(format!(
                "{what} through node {follower}: {status} after {took:?}: {}",
                first.1
            )),
        }
    }
    eprintln!(
        "lost answers (node {follower} -> leader {leader}): refresh {} after {rotate_took:?}, \
         retry {retry_refresh:?}; redemption {} after {redeem_took:?}, retry {retry_redeem:?}; \
         proxy {proxy_stats:?}; total {:?}",
        rotated.0,
        redeemed.0,
        t0.elapsed()
    );
    assert!(
        findings.is_empty(),
        "{}\n{}",
        findings.join("\n"),
        cluster.logs()
    );
}
