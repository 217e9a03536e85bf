//! Signing-key rotation on a three-node cluster while a resource server that caches JWKS keeps
//! validating tokens issued before the rotation, during the publish window (still signed by
//! the old key) and after activation (the new key, already in its cache), on different nodes;
//! the old key is dropped only after every token it can have signed has expired, and a token
//! it signed is then refused. Also the leader's schedule on its own, and the CLI's refusals.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mcpauth_tests::cluster::{Options, TestCluster};
use mcpauth_tests::{http, login_and_redeem, Target, RESOURCE};
use serde_json::Value;

const TTL: u64 = 15;
const PUBLISH_BEFORE: u64 = 10;
/// `key_rotation::policy::CLOCK_SKEW_ALLOWANCE_SECS`.
const SKEW_ALLOWANCE: u64 = 15;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A resource server as real ones are: it fetches JWKS at start, and again only for a token
/// with a kid it does not know, at most once per `min_refetch`; or when its periodic refresh
/// (what `Cache-Control: max-age` asks of it) comes round, which the test calls.
struct ResourceServer {
    jwks_url: String,
    issuer: String,
    keys: HashMap<String, DecodingKey>,
    fetched_at: Instant,
    min_refetch: Duration,
    fetches: u32,
}

impl ResourceServer {
    async fn start(node: &impl Target) -> ResourceServer {
        let mut rs = ResourceServer {
            jwks_url: node.url("/jwks.json"),
            issuer: node.issuer().to_owned(),
            keys: HashMap::new(),
            fetched_at: Instant::now(),
            min_refetch: Duration::from_secs(300),
            fetches: 0,
        };
        rs.refresh().await;
        rs
    }

    async fn refresh(&mut self) {
        let set: JwkSet = http()
            .get(&self.jwks_url)
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("jwks json");
        self.keys = set
            .keys
            .iter()
            .filter_map(|k| {
                let kid = k.common.key_id.clone()?;
                Some((kid, DecodingKey::from_jwk(k).expect("usable jwk")))
            })
            .collect();
        self.fetched_at = Instant::now();
        self.fetches += 1;
    }

    fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self.keys.keys().cloned().collect();
        kids.sort();
        kids
    }

    /// The token's claims, or why it is refused.
    async fn validate(&mut self, token: &str) -> Result<Value, String> {
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|e| e.to_string())?
            .kid
            .ok_or("no kid")?;
        if !self.keys.contains_key(&kid) && self.fetched_at.elapsed() >= self.min_refetch {
            self.refresh().await;
        }
        let key = self
            .keys
            .get(&kid)
            .ok_or_else(|| format!("unknown kid {kid}"))?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&[RESOURCE]);
        validation.set_issuer(&[&self.issuer]);
        validation.leeway = 0;
        jsonwebtoken::decode::<Value>(token, key, &validation)
            .map(|d| d.claims)
            .map_err(|e| e.to_string())
    }
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}

/// A login on `node`: (access token, its claims as the token says, unverified).
async fn token_on(cluster: &TestCluster, node: u64) -> (String, Value) {
    let (_, body) = login_and_redeem(&cluster.endpoint(node)).await;
    let token = body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let payload = token.split('.').nth(1).expect("payload");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64"),
    )
    .expect("claims");
    (token, claims)
}

async fn keys_json(cluster: &TestCluster, config: &str) -> Value {
    let (code, out, err) = cluster
        .cli(&["keys", "list", "--json", "--config", config])
        .await;
    assert_eq!(code, 0, "keys list: {out}\n{err}");
    serde_json::from_str(&out).expect("keys list --json")
}

/// (kid, phase) of each key, in the order they were added.
fn phases(list: &Value) -> Vec<(String, String)> {
    list["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().expect("kid").to_owned(),
                k["phase"].as_str().expect("phase").to_owned(),
            )
        })
        .collect()
}

async fn jwks_kids(cluster: &TestCluster, node: u64) -> Vec<String> {
    let set: JwkSet = http()
        .get(cluster.endpoint(node).url("/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    let mut kids: Vec<String> = set
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect();
    kids.sort();
    kids
}

/// Key rotation is written from cluster version 4 on (a new cluster goes on to the newest).
async fn wait_cluster_version_4(cluster: &TestCluster) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.status_of(1).await["cluster_version"]
        .as_u64()
        .is_none_or(|v| v < 4)
    {
        assert!(
            Instant::now() < deadline,
            "cluster version below 4\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sleep_until(unix: u64) {
    while now() < unix {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_caching_resource_server_keeps_validating_across_a_rotation() {
    let mut options = Options::nodes(3).access_token_ttl(TTL);
    options.extra_toml.push_str(&format!(
        "[signing_keys]\nrotate_every_secs = 86400\npublish_before_secs = {PUBLISH_BEFORE}\n"
    ));
    let cluster = TestCluster::start_with(options).await;
    let config = cluster.config.display().to_string();
    wait_cluster_version_4(&cluster).await;

    let before = keys_json(&cluster, &config).await;
    let first = phases(&before);
    assert_eq!(first.len(), 1, "{before}");
    assert_eq!(first[0].1, "active");
    let old_kid = first[0].0.clone();

    // The resource server starts, fetching JWKS once; a token issued before the rotation.
    let mut rs = ResourceServer::start(&cluster.endpoint(1)).await;
    assert_eq!(rs.kids(), std::slice::from_ref(&old_kid));
    let (before_token, before_claims) = token_on(&cluster, 1).await;
    assert_eq!(kid_of(&before_token), old_kid);
    rs.validate(&before_token).await.expect("token from before");

    // A wrong cluster secret is refused, and nothing changes.
    let bad_secret = cluster.dir().join("wrong.secret");
    std::fs::write(&bad_secret, "not-the-cluster-secret-0123456789abcdef").expect("write");
    let bad_config = cluster.dir().join("bad.toml");
    let text = std::fs::read_to_string(&cluster.config).expect("config");
    std::fs::write(
        &bad_config,
        text.replace(
            "cluster_secret_file = \"cluster.secret\"",
            "cluster_secret_file = \"wrong.secret\"",
        ),
    )
    .expect("write");
    let (code, out, err) = cluster
        .cli(&[
            "keys",
            "rotate",
            "--config",
            &bad_config.display().to_string(),
        ])
        .await;
    assert_ne!(code, 0, "rotate with a wrong secret: {out}");
    assert!(err.contains("cluster secret required"), "{err}");
    assert_eq!(phases(&keys_json(&cluster, &config).await).len(), 1);

    // The rotation by hand: published now, signs PUBLISH_BEFORE later.
    let (code, out, err) = cluster.cli(&["keys", "rotate", "--config", &config]).await;
    assert_eq!(code, 0, "keys rotate: {out}\n{err}");
    assert!(
        out.contains("added key") && out.contains("pending"),
        "{out}"
    );
    let during = keys_json(&cluster, &config).await;
    let listed = phases(&during);
    assert_eq!(listed.len(), 2, "{during}");
    assert_eq!(listed[0], (old_kid.clone(), "active".to_owned()));
    assert_eq!(listed[1].1, "pending");
    let new_kid = listed[1].0.clone();
    let activates_at = during["keys"][1]["activates_at"]
        .as_u64()
        .expect("activates_at");
    let retires_at = during["keys"][0]["retires_at"]
        .as_u64()
        .expect("old key retires");
    assert_eq!(retires_at, activates_at + TTL + SKEW_ALLOWANCE);
    let (table_code, table, _) = cluster.cli(&["keys", "list", "--config", &config]).await;
    assert_eq!(table_code, 0);
    assert!(
        table.contains(&new_kid) && table.contains("pending") && table.contains("active"),
        "{table}"
    );

    // A second rotation while a key is pending is refused (on any node: relayed to the leader).
    let (code, _, err) = cluster.cli(&["keys", "rotate", "--config", &config]).await;
    assert_ne!(code, 0);
    assert!(err.contains("already published"), "{err}");
    assert_eq!(phases(&keys_json(&cluster, &config).await).len(), 2);

    // During the window: every node publishes both keys, with a cache lifetime shorter than
    // the window, and still signs with the old key.
    for node in [1, 2, 3] {
        assert_eq!(jwks_kids(&cluster, node).await, {
            let mut both = vec![old_kid.clone(), new_kid.clone()];
            both.sort();
            both
        });
    }
    let jwks = http()
        .get(cluster.endpoint(2).url("/jwks.json"))
        .send()
        .await
        .expect("jwks");
    let cache = jwks.headers()["cache-control"]
        .to_str()
        .expect("header")
        .to_owned();
    assert_eq!(cache, format!("public, max-age={}", PUBLISH_BEFORE / 2));
    let (window_token, window_claims) = token_on(&cluster, 2).await;
    let issued = window_claims["iat"].as_u64().expect("iat");
    assert!(
        issued < activates_at,
        "this machine took the whole {PUBLISH_BEFORE} s window to issue one token"
    );
    assert_eq!(kid_of(&window_token), old_kid);
    let fetches = rs.fetches;
    rs.validate(&window_token)
        .await
        .expect("token from the window");
    assert_eq!(rs.fetches, fetches, "a known kid needs no fetch");
    // Its periodic refresh comes round in the window: it now holds the next key too.
    rs.refresh().await;
    assert!(rs.kids().contains(&new_kid));

    // After activation: the earlier tokens still validate (old key, still cached and
    // published); tokens from nodes 3 and 1 carry the new kid, which the resource server
    // already has (no fetch).
    sleep_until(activates_at).await;
    let fetches = rs.fetches;
    for (token, claims) in [
        (&before_token, &before_claims),
        (&window_token, &window_claims),
    ] {
        assert!(
            now() < claims["exp"].as_u64().expect("exp"),
            "this machine is too slow for a {TTL} s token lifetime"
        );
        rs.validate(token)
            .await
            .expect("an old-key token before its expiry");
    }
    for node in [3, 1] {
        let (token, claims) = token_on(&cluster, node).await;
        assert!(claims["iat"].as_u64().expect("iat") >= activates_at);
        assert_eq!(
            kid_of(&token),
            new_kid,
            "node {node} signs with the new key"
        );
        rs.validate(&token).await.expect("token from after");
    }
    assert_eq!(
        rs.fetches, fetches,
        "the new key was in the cache before it signed"
    );
    let after = phases(&keys_json(&cluster, &config).await);
    assert_eq!(
        after,
        [
            (old_kid.clone(), "retiring".to_owned()),
            (new_kid.clone(), "active".to_owned())
        ]
    );

    // The old key stays published while a token it signed can be valid, then goes.
    let last_old_exp = activates_at + TTL;
    assert!(window_claims["exp"].as_u64().expect("exp") <= last_old_exp);
    assert!(before_claims["exp"].as_u64().expect("exp") <= last_old_exp);
    let deadline = Instant::now() + Duration::from_secs(TTL + SKEW_ALLOWANCE + 60);
    loop {
        let seen = now();
        let mut published = false;
        for node in [1, 2, 3] {
            published |= jwks_kids(&cluster, node).await.contains(&old_kid);
        }
        if !published {
            assert!(
                seen >= retires_at,
                "old key dropped at {seen}, before {retires_at}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "old key never dropped\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        phases(&keys_json(&cluster, &config).await),
        [(new_kid.clone(), "active".to_owned())]
    );

    // A resource server meeting a token of the dropped key refetches (unknown kid) and refuses.
    let mut rs = ResourceServer::start(&cluster.endpoint(3)).await;
    assert_eq!(rs.kids(), std::slice::from_ref(&new_kid));
    rs.min_refetch = Duration::ZERO;
    let refused = rs.validate(&window_token).await.expect_err("dropped key");
    assert!(refused.contains("unknown kid"), "{refused}");
    assert_eq!(rs.fetches, 2, "it looked again before refusing");
}

#[tokio::test]
async fn the_leader_rotates_on_schedule_one_key_at_a_time() {
    const EVERY: u64 = 8;
    const PUBLISH: u64 = 3;
    let mut options = Options::nodes(3).access_token_ttl(TTL);
    options.extra_toml.push_str(&format!(
        "[signing_keys]\nrotate_every_secs = {EVERY}\npublish_before_secs = {PUBLISH}\n"
    ));
    let mut cluster = TestCluster::start_with(options).await;
    let config = cluster.config.display().to_string();
    wait_cluster_version_4(&cluster).await;
    let first = keys_json(&cluster, &config).await;
    let first_created = first["keys"][0]["created_at"].as_u64().expect("created_at");

    // Watch the keys through two scheduled rotations, with a leader change in between.
    let mut killed = false;
    let deadline = Instant::now() + Duration::from_secs(4 * EVERY + 30);
    let keys = loop {
        let list = keys_json(&cluster, &config).await;
        let keys = list["keys"].as_array().expect("keys").clone();
        let pending = keys.iter().filter(|k| k["phase"] == "pending").count();
        assert!(pending <= 1, "two keys pending at once: {list}");
        let created: Vec<u64> = keys
            .iter()
            .map(|k| k["created_at"].as_u64().expect("created_at"))
            .collect();
        if created.iter().filter(|c| **c > first_created).count() >= 2 {
            break keys;
        }
        if created.len() >= 2 && !killed {
            let leader = cluster.leader().await;
            cluster.kill(leader);
            cluster.wait_for_leader(&[leader]).await;
            killed = true;
        }
        assert!(
            Instant::now() < deadline,
            "no two scheduled rotations: {list}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(killed);
    // Each scheduled key came once the newest was EVERY old, and was published ahead.
    let mut previous = first_created;
    for key in keys
        .iter()
        .filter(|k| k["created_at"].as_u64() > Some(first_created))
    {
        let created = key["created_at"].as_u64().expect("created_at");
        assert!(
            created >= previous + EVERY,
            "a key {created} too soon after {previous}"
        );
        assert_eq!(key["activates_at"].as_u64(), Some(created + PUBLISH));
        previous = created;
    }
}
