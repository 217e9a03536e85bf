//! Proxies from the environment are not used by client metadata fetches: a proxy would receive
//! the connection instead of the checked address. Its own test binary, because it sets
//! environment variables, which must not race with other tests' threads.

#[allow(dead_code)]
#[path = "it/support.rs"]
mod support;

use mcpauth_client_metadata::{ClientIdUrl, ClientMetadataResolver};

use support::{config, document, test_pki, CountingListener, HttpsServer, Reply, NOW};

#[tokio::test]
async fn environment_proxies_are_not_used() {
    let pki = test_pki(&["localhost"]);
    let server = HttpsServer::start(&pki).await;
    let trap = CountingListener::bind("127.0.0.1", 0).await.expect("bind");
    let raw = server.url("/client.json");
    server.set("/client.json", Reply::json(&document(&raw), None));
    // this binary's only test: nothing else reads the environment meanwhile
    std::env::set_var("HTTPS_PROXY", format!("http://127.0.0.1:{}", trap.port));
    std::env::set_var("ALL_PROXY", format!("http://127.0.0.1:{}", trap.port));
    let resolver = ClientMetadataResolver::new(config(&pki, &["localhost"])).expect("resolver");
    let url = ClientIdUrl::parse(&raw).expect("a client_id URL");
    let result = resolver.resolve(&url, NOW).await;
    std::env::remove_var("HTTPS_PROXY");
    std::env::remove_var("ALL_PROXY");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(trap.accepted_after_a_moment().await, 0);
}
