//! The cache against a real server, time pinned: lifetimes from headers and clamped, refetch
//! after expiry, the stale copy while refetches fail (within the grace only), the fetch
//! throttle after a failure, bounded entries.

use mcpauth_client_metadata::{
    ClientIdUrl, ClientMetadataConfig, ClientMetadataError, ClientMetadataResolver, Source,
};

use crate::support::{config, document, test_pki, HttpsServer, Reply, NOW};

const PATH: &str = "/client.json";

async fn setup(
    tweak: impl FnOnce(ClientMetadataConfig) -> ClientMetadataConfig,
) -> (HttpsServer, ClientMetadataResolver, ClientIdUrl) {
    let pki = test_pki(&["localhost"]);
    let server = HttpsServer::start(&pki).await;
    let resolver =
        ClientMetadataResolver::new(tweak(config(&pki, &["localhost"]))).expect("resolver");
    let url = ClientIdUrl::parse(&server.url(PATH)).expect("a client_id URL");
    (server, resolver, url)
}

/// Resolves at each offset from NOW and returns the request count after each.
async fn fetch_counts(
    resolver: &ClientMetadataResolver,
    server: &HttpsServer,
    url: &ClientIdUrl,
    offsets: &[u64],
) -> Vec<usize> {
    let mut counts = Vec::new();
    for offset in offsets {
        resolver.resolve(url, NOW + offset).await.expect("resolved");
        counts.push(server.requests(PATH));
    }
    counts
}

#[tokio::test]
async fn max_age_is_honoured_then_the_document_is_refetched() {
    let (server, resolver, url) = setup(|c| c).await;
    server.set(
        PATH,
        Reply::json(&document(url.as_str()), Some("public, max-age=600")),
    );
    let counts = fetch_counts(&resolver, &server, &url, &[0, 1, 599, 600, 1199, 1200]).await;
    assert_eq!(counts, [1, 1, 1, 2, 2, 3]);
}

#[tokio::test]
async fn a_short_max_age_is_raised_to_the_minimum() {
    let (server, resolver, url) = setup(|c| ClientMetadataConfig {
        min_cache_secs: 300,
        ..c
    })
    .await;
    server.set(
        PATH,
        Reply::json(&document(url.as_str()), Some("max-age=10")),
    );
    let counts = fetch_counts(&resolver, &server, &url, &[0, 10, 299, 300]).await;
    assert_eq!(counts, [1, 1, 1, 2]);
}

#[tokio::test]
async fn no_store_is_cached_for_the_minimum_only() {
    let (server, resolver, url) = setup(|c| ClientMetadataConfig {
        min_cache_secs: 60,
        ..c
    })
    .await;
    server.set(PATH, Reply::json(&document(url.as_str()), Some("no-store")));
    let counts = fetch_counts(&resolver, &server, &url, &[0, 59, 60]).await;
    assert_eq!(counts, [1, 1, 2]);
}

#[tokio::test]
async fn a_long_max_age_is_cut_to_the_maximum() {
    let (server, resolver, url) = setup(|c| ClientMetadataConfig {
        max_cache_secs: 1000,
        ..c
    })
    .await;
    server.set(
        PATH,
        Reply::json(&document(url.as_str()), Some("max-age=99999999")),
    );
    let counts = fetch_counts(&resolver, &server, &url, &[0, 999, 1000]).await;
    assert_eq!(counts, [1, 1, 2]);
}

#[tokio::test]
async fn the_stale_copy_serves_while_refetches_fail_within_the_grace_only() {
    let (server, resolver, url) = setup(|c| ClientMetadataConfig {
        stale_grace_secs: 600,
        ..c
    })
    .await;
    server.set(
        PATH,
        Reply::json(&document(url.as_str()), Some("max-age=300")),
    );
    resolver.resolve(&url, NOW).await.expect("fetched");
    server.set(PATH, Reply::raw(503, "text/plain", "down"));

    let stale = resolver.resolve(&url, NOW + 300).await.expect("stale copy");
    assert_eq!(stale.source, Source::Fetched);
    assert_eq!(server.requests(PATH), 2, "a refetch was tried");
    resolver
        .resolve(&url, NOW + 899)
        .await
        .expect("still within the grace");
    assert_eq!(server.requests(PATH), 3);
    assert_eq!(
        resolver.resolve(&url, NOW + 900).await,
        Err(ClientMetadataError::HttpStatus { status: 503 }),
        "expired for the whole grace: refused"
    );

    // the server recovers: a new good copy
    server.set(
        PATH,
        Reply::json(&document(url.as_str()), Some("max-age=300")),
    );
    resolver
        .resolve(&url, NOW + 901)
        .await
        .expect("fetched again");
}

#[tokio::test]
async fn an_invalid_refetched_document_does_not_replace_the_good_copy() {
    let (server, resolver, url) = setup(|c| c).await;
    server.set(
        PATH,
        Reply::json(&document(url.as_str()), Some("max-age=300")),
    );
    resolver.resolve(&url, NOW).await.expect("fetched");
    server.set(
        PATH,
        Reply::json(&document("https://someone.else/client.json"), None),
    );
    let served = resolver.resolve(&url, NOW + 300).await.expect("stale copy");
    assert_eq!(served.client_id, url.as_str());
}

#[tokio::test]
async fn a_failure_stops_fetches_for_the_throttle_time() {
    let (server, resolver, url) = setup(|c| ClientMetadataConfig {
        failure_cache_secs: 60,
        ..c
    })
    .await;
    server.set(PATH, Reply::raw(500, "text/plain", "boom"));
    let refused = Err(ClientMetadataError::HttpStatus { status: 500 });
    assert_eq!(resolver.resolve(&url, NOW).await, refused);
    assert_eq!(resolver.resolve(&url, NOW + 59).await, refused);
    assert_eq!(server.requests(PATH), 1, "no fetch within the throttle");
    assert_eq!(resolver.resolve(&url, NOW + 60).await, refused);
    assert_eq!(server.requests(PATH), 2);
}

#[tokio::test]
async fn the_number_of_cached_documents_is_bounded() {
    let (server, resolver, _) = setup(|c| ClientMetadataConfig {
        max_entries: 2,
        ..c
    })
    .await;
    let urls: Vec<ClientIdUrl> = ["/a.json", "/b.json", "/c.json"]
        .iter()
        .map(|path| {
            let url = ClientIdUrl::parse(&server.url(path)).expect("a client_id URL");
            server.set(
                path,
                Reply::json(&document(url.as_str()), Some("max-age=3600")),
            );
            url
        })
        .collect();
    for (i, url) in urls.iter().enumerate() {
        resolver
            .resolve(url, NOW + i as u64)
            .await
            .expect("resolved");
    }
    assert_eq!(resolver.cache_sizes().0, 2);
    // /a.json was stored first, so it went: asking again fetches it again
    resolver
        .resolve(&urls[0], NOW + 10)
        .await
        .expect("resolved");
    assert_eq!(server.requests("/a.json"), 2);
    resolver
        .resolve(&urls[2], NOW + 11)
        .await
        .expect("resolved");
    assert_eq!(server.requests("/c.json"), 1, "still cached");
}
