//! A leader cut off long enough that it must catch up from a snapshot, then made leader again
//! (issue 9, "A write outage after a healed partition").
//!
//! What made this an outage: the cut-off leader had proposals in flight whose entries were never
//! replicated. On rejoining it installed a snapshot past them, and openraft 0.9 answers no client
//! write whose entry is purged that way (only entries it truncates get an answer). The proposer
//! waited on that write forever, so when the node led again no write was proposed at all: every
//! write on every node answered 503 while `/readyz` said 200.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcpauth_tests::cluster::{serial, Endpoint, Options, Pool, TestCluster};
use mcpauth_tests::workload::{sign_in_flow, Chain, SignedIn, Stats};
use mcpauth_tests::Target;
use rand::seq::IteratorRandom;
use serde_json::Value;

/// How long the leader stays cut off (the reproduction used about 20 s).
const CUT: Duration = Duration::from_secs(20);
/// How long one write may keep answering 503 after the heal before it counts as an outage. An
/// election and a catch-up take a second or two; the outage lasted until leadership moved.
const WRITE_BOUND: Duration = Duration::from_secs(20);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// One refresh of `chain` through `endpoint`, not retried: the rotated chain, or the status.
async fn refresh_once(endpoint: &Endpoint, chain: &Chain) -> Result<Chain, u16> {
    let response = client()
        .post(endpoint.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", chain.refresh_token.as_str()),
            ("client_id", chain.client_id.as_str()),
        ])
        .send()
        .await
        .map_err(|_| 0u16)?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(status);
    }
    let body: Value = response.json().await.map_err(|_| 0u16)?;
    Ok(Chain {
        client_id: chain.client_id.clone(),
        refresh_token: body["refresh_token"].as_str().unwrap_or_default().into(),
        access_token: body["access_token"].as_str().unwrap_or_default().into(),
        rotations: chain.rotations + 1,
    })
}

fn pick(pool: &Pool) -> Option<Endpoint> {
    pool.lock()
        .unwrap()
        .values()
        .choose(&mut rand::thread_rng())
        .cloned()
}

/// Refresh load: each worker rotates its own chain through a node of the pool, over and over.
/// A refused or unanswered refresh drops the chain (during a cut its outcome may be unknown, so
/// retrying it could count as reuse) and the worker signs in again.
fn refresh_load(
    pool: Pool,
    workers: usize,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..workers)
        .map(|_| {
            let (pool, stop, done) = (pool.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                let stats = Stats::default();
                let mut chain: Option<Chain> = None;
                while !stop.load(Ordering::Relaxed) {
                    let Some(endpoint) = pick(&pool) else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    chain = match chain.take() {
                        Some(c) => match refresh_once(&endpoint, &c).await {
                            Ok(next) => {
                                done.fetch_add(1, Ordering::Relaxed);
                                Some(next)
                            }
                            Err(_) => None,
                        },
                        None => match sign_in_flow(&stats, &endpoint, false, &mut Vec::new()).await
                        {
                            Ok(SignedIn::Tokens(c)) => Some(c),
                            _ => None,
                        },
                    };
                }
            })
        })
        .collect()
}

/// `make` sent until it answers something else than 503, for at most `WRITE_BOUND`: the status
/// (0: no answer).
async fn retry_503(make: impl Fn() -> reqwest::RequestBuilder) -> (u16, Value) {
    let started = Instant::now();
    loop {
        let (status, body) = match make().send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.json().await.unwrap_or(Value::Null))
            }
            Err(e) => (0, Value::String(e.to_string())),
        };
        if (status != 503 && status != 0) || started.elapsed() > WRITE_BOUND {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A registration and a refresh of `chain` through `endpoint` (two writes), each retried on
/// 503 for at most `WRITE_BOUND`: answers what went wrong, if anything.
async fn writes_commit_through(endpoint: &Endpoint, chain: &Chain) -> Result<(), String> {
    let (status, body) = retry_503(|| {
        client()
            .post(endpoint.url("/register"))
            .json(&serde_json::json!({
                "redirect_uris": [mcpauth_tests::REDIRECT_URI],
                "token_endpoint_auth_method": "none",
            }))
    })
    .await;
    if status != 201 {
        return Err(format!(
            "registration through node {}: {status} {body} (retried {WRITE_BOUND:?})",
            endpoint.id
        ));
    }
    // A 503 leaves the token unrotated unless the rotation committed after all; the retry of
    // such a rotation would be refused as reuse, which is a finding too.
    let (status, body) = retry_503(|| {
        client().post(endpoint.url("/token")).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", chain.refresh_token.as_str()),
            ("client_id", chain.client_id.as_str()),
        ])
    })
    .await;
    if status != 200 {
        return Err(format!(
            "refresh through node {}: {status} {body} (retried {WRITE_BOUND:?})",
            endpoint.id
        ));
    }
    Ok(())
}

/// Send `signal` (`-STOP`, `-CONT`) to process `pid`.
fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid}");
}

async fn readyz(endpoint: &Endpoint) -> u16 {
    match client().get(endpoint.url("/readyz")).send().await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_leader_caught_up_from_a_snapshot_commits_writes_when_it_leads_again() {
    let _serial = serial().await;
    let t0 = Instant::now();
    // Snapshots every 50 entries (5 kept behind): 20 s of load move the log far past what the
    // cut-off leader has, so it can only catch up from a snapshot.
    let mut cluster =
        TestCluster::start_with(Options::nodes(3).with_proxy().snapshot_every(50)).await;
    let old = cluster.leader().await;
    let others: Vec<u64> = cluster.ids().into_iter().filter(|&i| i != old).collect();

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let load = refresh_load(cluster.pool(), 6, stop.clone(), done.clone());
    let warmed = Instant::now();
    while done.load(Ordering::Relaxed) < 50 {
        assert!(
            warmed.elapsed() < Duration::from_secs(60),
            "the refresh load does not get going\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Cut the leader off while it has writes in flight, and send it a few more at once: it
    // proposes them before it notices it lost its majority, and none of them can commit.
    cluster
        .proxy
        .as_ref()
        .unwrap()
        .partition(&[&[old], &others]);
    let cut_at = Instant::now();
    let lonely = cluster.endpoint(old);
    for _ in 0..3 {
        let lonely = lonely.clone();
        tokio::spawn(async move {
            let _ = client()
                .post(lonely.url("/register"))
                .json(&serde_json::json!({
                    "redirect_uris": [mcpauth_tests::REDIRECT_URI],
                    "token_endpoint_auth_method": "none",
                }))
                .send()
                .await;
        });
    }
    // The load balancer notices in a moment; the load goes on against the majority.
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.take_out_of_pool(old);
    let new_leader = cluster.wait_for_leader(&[old]).await;
    tokio::time::sleep(CUT.saturating_sub(cut_at.elapsed())).await;

    let lonely_status = cluster.status_of(old).await;
    let leader_status = cluster.status_of(new_leader).await;
    let lonely_last = lonely_status["last_log_index"].as_u64().unwrap_or(0);
    let leader_purged = leader_status["purged_index"].as_u64().unwrap_or(0);
    // The scenario needs it: the entries the old leader lacks are gone from the new leader's
    // log, so it is sent a snapshot, which purges its unreplicated entries without truncating.
    assert!(
        leader_purged > lonely_last,
        "the new leader {new_leader} kept its log from {leader_purged}, the cut-off node has up \
         to {lonely_last}: it would catch up from the log, not a snapshot (more load needed)\n{}",
        cluster.logs()
    );

    cluster.proxy.as_ref().unwrap().heal();
    let healed_at = Instant::now();
    stop.store(true, Ordering::Relaxed);
    for worker in load {
        let _ = tokio::time::timeout(Duration::from_secs(60), worker).await;
    }
    let refreshes_under_load = done.load(Ordering::Relaxed);
    // Caught up (from the snapshot) and equal everywhere: logs equal, so the old leader can win
    // an election below.
    let (_, converged_index) = cluster.wait_converged().await;
    let caught_up = cluster.status_of(old).await;
    let snapshot_at = caught_up["snapshot_index"].as_u64().unwrap_or(0);

    // A chain per node, signed in while the cluster is healthy, to refresh at the end.
    let stats = Stats::default();
    let mut chains = Vec::new();
    for id in cluster.ids() {
        match sign_in_flow(&stats, &cluster.endpoint(id), false, &mut Vec::new()).await {
            Ok(SignedIn::Tokens(chain)) => chains.push((id, chain)),
            other => panic!(
                "sign-in through node {id} before the election: {:?}\n{}",
                other.err(),
                cluster.logs()
            ),
        }
    }

    // Make the old leader lead again. Freeze the third node (SIGSTOP: it cannot campaign, so
    // no term race), and cut the current leader's connections to the old one: the old leader
    // stops hearing heartbeats, campaigns, and once the current leader's lease has run out
    // (it hears from no majority) gets its vote; replies travel on the old leader's own
    // connections, which stay open.
    let third = others
        .iter()
        .copied()
        .find(|&i| i != new_leader)
        .expect("three nodes");
    let third_pid = cluster.pid(third).expect("the third node runs");
    signal(third_pid, "-STOP");
    cluster.proxy.as_ref().unwrap().cut_one_way(new_leader, old);
    let elected = Instant::now();
    let mut leads = false;
    while !leads && elected.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        leads = cluster
            .status(old)
            .await
            .is_ok_and(|s| s["state"] == "Leader");
    }
    signal(third_pid, "-CONT");
    cluster.proxy.as_ref().unwrap().heal();
    assert!(
        leads,
        "node {old} did not win the election it alone could win\n{}",
        cluster.logs()
    );
    let leader = cluster.leader().await;
    assert_eq!(leader, old, "the old leader keeps leading after the heal");
    for id in cluster.ids() {
        cluster.wait_ready(id).await;
    }

    // Writes must commit again, through every node (the old leader itself and both followers).
    let mut findings = Vec::new();
    for (id, chain) in &chains {
        let endpoint = cluster.endpoint(*id);
        if let Err(e) = writes_commit_through(&endpoint, chain).await {
            findings.push(format!("{e} (its /readyz: {})", readyz(&endpoint).await));
        }
    }
    eprintln!(
        "healed partition: leader {old} cut off for {CUT:?} (new leader {new_leader}, purged to \
         {leader_purged}, the cut-off node had up to {lonely_last}); {refreshes_under_load} \
         refreshes under load; after the heal: converged at {converged_index}, the old leader's \
         snapshot at {snapshot_at}, it leads again; writes: {}; {:?} since the heal, total {:?}",
        if findings.is_empty() {
            "commit"
        } else {
            "FAIL"
        },
        healed_at.elapsed(),
        t0.elapsed(),
    );
    assert!(
        findings.is_empty(),
        "writes do not commit once the old leader leads again:\n  {}\nstatuses: {}\n{}",
        findings.join("\n  "),
        cluster.statuses_text().await,
        cluster.logs()
    );
}
