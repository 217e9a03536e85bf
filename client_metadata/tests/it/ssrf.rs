//! SSRF: URLs naming or resolving to refused addresses are refused, and nothing connects to
//! the refused address.
//!
//! 127.0.0.1 and [::1] are bound by a listener that counts accepted connections, on the port
//! the URL names. 10.0.0.1 and 169.254.169.254 cannot be bound without changing the machine's
//! network configuration (shared with other work), so for them the tests assert that the
//! refusal is `AddressRefused`, which only the check made before any connection produces, and
//! that the name-lookup path never handed such an address to the connector.

use mcpauth_client_metadata::{ClientIdUrl, ClientMetadataError, ClientMetadataResolver, Source};

use crate::support::{
    config, document, test_pki, CountingListener, HttpsServer, Reply, StaticLookup, NOW,
};

fn url(raw: &str) -> ClientIdUrl {
    ClientIdUrl::parse(raw).unwrap_or_else(|| panic!("{raw} is not a client_id URL"))
}

/// A resolver that allows nothing, with the system's DNS.
fn strict_resolver() -> ClientMetadataResolver {
    let pki = test_pki(&["localhost"]);
    ClientMetadataResolver::new(config(&pki, &[])).expect("resolver")
}

fn assert_refused(
    result: Result<mcpauth_client_metadata::ResolvedClient, ClientMetadataError>,
    reason_part: &str,
) {
    match result {
        Err(ClientMetadataError::AddressRefused { reason, .. }) => {
            assert!(reason.contains(reason_part), "reason {reason:?}")
        }
        other => panic!("expected an address refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn ipv4_loopback_literal_is_refused_without_a_connection() {
    let listener = CountingListener::bind("127.0.0.1", 0)
        .await
        .expect("bind 127.0.0.1");
    let target = url(&format!("https://127.0.0.1:{}/client.json", listener.port));
    assert_refused(strict_resolver().resolve(&target, NOW).await, "loopback");
    assert_eq!(listener.accepted_after_a_moment().await, 0);
}

#[tokio::test]
async fn ipv6_loopback_literal_is_refused_without_a_connection() {
    let resolver = strict_resolver();
    match CountingListener::bind("::1", 0).await {
        Some(listener) => {
            let target = url(&format!("https://[::1]:{}/client.json", listener.port));
            assert_refused(resolver.resolve(&target, NOW).await, "loopback");
            assert_eq!(listener.accepted_after_a_moment().await, 0);
        }
        None => {
            // no IPv6 on this machine: the refusal is still decided before connecting
            assert_refused(
                resolver
                    .resolve(&url("https://[::1]:8443/client.json"), NOW)
                    .await,
                "loopback",
            );
        }
    }
}

#[tokio::test]
async fn private_and_metadata_literals_are_refused_before_connecting() {
    let resolver = strict_resolver();
    assert_refused(
        resolver
            .resolve(&url("https://10.0.0.1/client.json"), NOW)
            .await,
        "private",
    );
    assert_refused(
        resolver
            .resolve(&url("https://169.254.169.254/latest/meta-data"), NOW)
            .await,
        "metadata",
    );
    assert_refused(
        resolver
            .resolve(&url("https://[::ffff:a9fe:a9fe]/x"), NOW)
            .await,
        "metadata",
    );
    assert_refused(
        resolver
            .resolve(&url("https://[fd00:ec2::254]/x"), NOW)
            .await,
        "metadata",
    );
    assert_refused(
        resolver.resolve(&url("https://100.64.0.1/x"), NOW).await,
        "CGNAT",
    );
}

#[tokio::test]
async fn localhost_by_name_is_refused_without_a_connection() {
    let v4 = CountingListener::bind("127.0.0.1", 0)
        .await
        .expect("bind 127.0.0.1");
    // the same port on ::1 too, when this machine has IPv6 (localhost may resolve to either)
    let v6 = CountingListener::bind("::1", v4.port).await;
    let target = url(&format!("https://localhost:{}/client.json", v4.port));
    assert_refused(strict_resolver().resolve(&target, NOW).await, "loopback");
    assert_eq!(v4.accepted_after_a_moment().await, 0);
    if let Some(v6) = v6 {
        assert_eq!(v6.accepted_after_a_moment().await, 0);
    }
}

#[tokio::test]
async fn names_resolving_to_private_or_metadata_addresses_are_refused() {
    let lookup = StaticLookup::new(&[
        ("private.test", "10.0.0.1"),
        ("metadata.test", "169.254.169.254"),
        ("mixed.test", "10.1.2.3"),
        ("mixed.test", "fe80::1"),
    ]);
    let pki = test_pki(&["localhost"]);
    let resolver = ClientMetadataResolver::with_host_lookup(config(&pki, &[]), lookup.clone())
        .expect("resolver");
    assert_refused(
        resolver
            .resolve(&url("https://private.test/c.json"), NOW)
            .await,
        "private",
    );
    assert_refused(
        resolver
            .resolve(&url("https://metadata.test/c.json"), NOW)
            .await,
        "metadata",
    );
    assert_refused(
        resolver
            .resolve(&url("https://mixed.test/c.json"), NOW)
            .await,
        "private",
    );
    assert_eq!(lookup.calls(), 3, "one lookup per fetch");
    assert_eq!(
        resolver
            .resolve(&url("https://nowhere.test/c.json"), NOW)
            .await,
        Err(ClientMetadataError::Unresolvable {
            host: "nowhere.test".into()
        })
    );
}

/// The connection goes to the address our lookup returned: `cimd.test` exists only in the
/// test's table (the system cannot resolve `.test`), and only an allowed host may use
/// loopback; the fetch succeeds with exactly one lookup, and refuses without the allowance.
#[tokio::test]
async fn the_connection_goes_to_the_checked_address() {
    let pki = test_pki(&["cimd.test"]);
    let server = HttpsServer::start(&pki).await;
    let raw = format!("https://cimd.test:{}/client.json", server.port);
    server.set("/client.json", Reply::json(&document(&raw), None));

    let lookup = StaticLookup::new(&[("cimd.test", "127.0.0.1")]);
    let allowed =
        ClientMetadataResolver::with_host_lookup(config(&pki, &["cimd.test"]), lookup.clone())
            .expect("resolver");
    let client = allowed.resolve(&url(&raw), NOW).await.expect("resolved");
    assert_eq!(client.source, Source::Fetched);
    assert_eq!(lookup.calls(), 1);

    let refusing = ClientMetadataResolver::with_host_lookup(config(&pki, &[]), lookup.clone())
        .expect("resolver");
    assert_refused(refusing.resolve(&url(&raw), NOW).await, "loopback");
    assert_eq!(
        server.requests("/client.json"),
        1,
        "only the allowed fetch arrived"
    );
}
