//! A good document resolves; every kind of bad answer is refused with its own error.

use std::sync::atomic::Ordering;
use std::time::Duration;

use mcpauth_client_metadata::{
    ClientIdUrl, ClientMetadataConfig, ClientMetadataError, ClientMetadataResolver, Source,
};
use serde_json::json;

use crate::support::{config, document, test_pki, HttpsServer, Reply, NOW};

const PATH: &str = "/oauth/client.json";

async fn setup() -> (HttpsServer, ClientMetadataResolver, ClientIdUrl) {
    setup_with(|c| c).await
}

async fn setup_with(
    tweak: impl FnOnce(ClientMetadataConfig) -> ClientMetadataConfig,
) -> (HttpsServer, ClientMetadataResolver, ClientIdUrl) {
    let pki = test_pki(&["localhost", "127.0.0.1"]);
    let server = HttpsServer::start(&pki).await;
    let resolver =
        ClientMetadataResolver::new(tweak(config(&pki, &["localhost"]))).expect("resolver");
    let url = ClientIdUrl::parse(&server.url(PATH)).expect("a client_id URL");
    (server, resolver, url)
}

#[tokio::test]
async fn a_good_document_over_https_with_the_test_ca_resolves() {
    let (server, resolver, url) = setup().await;
    server.set(PATH, Reply::json(&document(url.as_str()), None));
    let client = resolver.resolve(&url, NOW).await.expect("resolved");
    assert_eq!(client.client_id, url.as_str());
    assert_eq!(client.client_name.as_deref(), Some("Test Client (local)"));
    assert_eq!(client.client_uri.as_deref(), Some("https://client.example"));
    assert_eq!(
        client.redirect_uris,
        ["http://127.0.0.1/callback", "https://client.example/cb"]
    );
    assert_eq!(client.grant_types, ["authorization_code", "refresh_token"]);
    assert_eq!(client.token_endpoint_auth_method, "none");
    assert_eq!(client.source, Source::Fetched);
    assert!(!client.localhost_only);
    assert_eq!(server.requests(PATH), 1);
}

async fn refusal(reply: Reply) -> ClientMetadataError {
    let (server, resolver, url) = setup().await;
    server.set(PATH, reply);
    let error = resolver.resolve(&url, NOW).await.expect_err("refused");
    assert_eq!(server.requests(PATH), 1, "the URL was fetched");
    error
}

#[tokio::test]
async fn a_client_id_that_differs_from_the_url_is_refused() {
    let (server, resolver, url) = setup().await;
    let other = format!("{}x", url.as_str());
    server.set(PATH, Reply::json(&document(&other), None));
    assert_eq!(
        resolver.resolve(&url, NOW).await,
        Err(ClientMetadataError::ClientIdMismatch)
    );
}

#[tokio::test]
async fn a_document_without_redirect_uris_is_refused() {
    let (server, resolver, url) = setup().await;
    let mut doc = document(url.as_str());
    if let Some(o) = doc.as_object_mut() {
        o.remove("redirect_uris");
    }
    server.set(PATH, Reply::json(&doc, None));
    assert_eq!(
        resolver.resolve(&url, NOW).await,
        Err(ClientMetadataError::MissingRedirectUris)
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_without_echoing_it() {
    let error = refusal(Reply::raw(
        200,
        "application/json",
        "<html>SECRET-BODY</html>",
    ))
    .await;
    assert_eq!(error, ClientMetadataError::NotJson);
    assert!(!error.to_string().contains("SECRET-BODY"));
}

#[tokio::test]
async fn a_wrong_content_type_is_refused() {
    let (server, resolver, url) = setup().await;
    server.set(
        PATH,
        Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: document(url.as_str()).to_string().into_bytes(),
        },
    );
    let error = resolver.resolve(&url, NOW).await.expect_err("refused");
    assert!(
        matches!(&error, ClientMetadataError::WrongContentType { content_type } if content_type.starts_with("text/html")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_redirect_is_refused_and_not_followed() {
    let (server, resolver, url) = setup().await;
    let target = "/elsewhere.json";
    server.set(
        PATH,
        Reply::Full {
            status: 302,
            headers: vec![("Location".into(), server.url(target))],
            body: Vec::new(),
        },
    );
    server.set(target, Reply::json(&document(url.as_str()), None));
    assert_eq!(
        resolver.resolve(&url, NOW).await,
        Err(ClientMetadataError::Redirected { status: 302 })
    );
    assert_eq!(server.requests(target), 0, "the redirect was not followed");
}

#[tokio::test]
async fn other_statuses_are_refused() {
    assert_eq!(
        refusal(Reply::raw(403, "text/html", "challenge")).await,
        ClientMetadataError::HttpStatus { status: 403 }
    );
    assert_eq!(
        refusal(Reply::raw(204, "application/json", "")).await,
        ClientMetadataError::HttpStatus { status: 204 }
    );
}

#[tokio::test]
async fn a_slow_url_times_out() {
    let (server, resolver, url) = setup_with(|c| ClientMetadataConfig {
        fetch_timeout_ms: 400,
        ..c
    })
    .await;
    server.set(PATH, Reply::Stall);
    assert_eq!(
        resolver.resolve(&url, NOW).await,
        Err(ClientMetadataError::TimedOut { after_ms: 400 })
    );
}

#[tokio::test]
async fn an_oversized_document_is_refused_while_streaming() {
    let (server, resolver, url) = setup().await;
    let (chunk_len, count) = (16 * 1024, 64); // 1 MiB offered, 64 KiB cap
    server.set(
        PATH,
        Reply::Trickle {
            chunk_len,
            count,
            delay: Duration::from_millis(20),
        },
    );
    assert_eq!(
        resolver.resolve(&url, NOW).await,
        Err(ClientMetadataError::TooLarge { limit: 64 * 1024 })
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = server.body_bytes_sent.load(Ordering::SeqCst);
    assert!(
        sent < chunk_len * count / 2,
        "the reader stopped early, not after the whole body: {sent} bytes sent"
    );
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused() {
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(100 * 1024));
    assert_eq!(
        refusal(Reply::raw(200, "application/json", &big)).await,
        ClientMetadataError::TooLarge { limit: 64 * 1024 }
    );
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_ca_is_refused() {
    let (server, _, url) = setup().await;
    server.set(PATH, Reply::json(&document(url.as_str()), None));
    let other_pki = test_pki(&["localhost"]);
    let resolver =
        ClientMetadataResolver::new(config(&other_pki, &["localhost"])).expect("resolver");
    assert_eq!(
        resolver.resolve(&url, NOW).await,
        Err(ClientMetadataError::TlsFailed {
            host: "localhost".into()
        })
    );
}

#[tokio::test]
async fn an_http_url_is_not_a_client_id_url() {
    let (server, _, _) = setup().await;
    let http = format!("http://localhost:{}{PATH}", server.port);
    assert!(ClientIdUrl::parse(&http).is_none());
    assert_eq!(server.accepted.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn disabled_refuses_everything() {
    let (server, resolver, url) = setup_with(|c| ClientMetadataConfig {
        enabled: false,
        ..c
    })
    .await;
    server.set(PATH, Reply::json(&json!({}), None));
    assert!(!resolver.enabled());
    assert_eq!(
        resolver.resolve(&url, NOW).await,
        Err(ClientMetadataError::Disabled)
    );
    assert_eq!(server.accepted.load(Ordering::SeqCst), 0);
}

#[test]
fn the_resolver_can_be_shared_across_threads_and_tasks() {
    fn shared<T: Send + Sync>(_: &T) {}
    fn spawnable<F: std::future::Future + Send>(_: F) {}
    let resolver = ClientMetadataResolver::new(ClientMetadataConfig::default()).expect("resolver");
    shared(&resolver);
    let url = ClientIdUrl::parse("https://client.example/c.json").expect("a client_id URL");
    spawnable(resolver.resolve(&url, NOW));
}

#[tokio::test]
async fn fetches_in_flight_are_bounded() {
    let (server, resolver, url) = setup_with(|c| ClientMetadataConfig {
        max_concurrent_fetches: 1,
        fetch_timeout_ms: 800,
        ..c
    })
    .await;
    server.set(PATH, Reply::Stall);
    let other = ClientIdUrl::parse(&server.url("/other.json")).expect("a client_id URL");
    server.set("/other.json", Reply::json(&document(other.as_str()), None));
    let resolver = std::sync::Arc::new(resolver);
    let stalled = tokio::spawn({
        let (resolver, url) = (resolver.clone(), url.clone());
        async move { resolver.resolve(&url, NOW).await }
    });
    for _ in 0..500 {
        if server.requests(PATH) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.requests(PATH), 1, "the first fetch is in flight");
    assert_eq!(
        resolver.resolve(&other, NOW).await,
        Err(ClientMetadataError::Busy)
    );
    assert_eq!(server.requests("/other.json"), 0);
    assert_eq!(
        stalled.await.expect("task"),
        Err(ClientMetadataError::TimedOut { after_ms: 800 })
    );
    let client = resolver
        .resolve(&other, NOW)
        .await
        .expect("the slot was released");
    assert_eq!(client.source, Source::Fetched);
}
