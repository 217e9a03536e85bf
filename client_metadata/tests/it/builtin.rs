//! The built-in table through the resolver: with fetching refused, each known client's URL is
//! served from its shipped copy; chatgpt.com pattern ids are served without any fetch.

use mcpauth_client_metadata::{
    ClientIdUrl, ClientMetadataConfig, ClientMetadataError, ClientMetadataResolver, Source,
    FALLBACK_DOCUMENTS,
};

use crate::support::{config, document, test_pki, HttpsServer, Reply, StaticLookup, NOW};

fn url(raw: &str) -> ClientIdUrl {
    ClientIdUrl::parse(raw).unwrap_or_else(|| panic!("{raw} is not a client_id URL"))
}

/// Every known host resolves to loopback, which is refused: the fetch is attempted (one
/// lookup) and fails before connecting, as when claude.ai answers our address with 403.
fn offline_resolver(lookup: std::sync::Arc<StaticLookup>) -> ClientMetadataResolver {
    ClientMetadataResolver::with_host_lookup(ClientMetadataConfig::default(), lookup)
        .expect("resolver")
}

fn known_hosts_on_loopback() -> std::sync::Arc<StaticLookup> {
    StaticLookup::new(&[
        ("claude.ai", "127.0.0.1"),
        ("vscode.dev", "127.0.0.1"),
        ("insiders.vscode.dev", "127.0.0.1"),
        ("goose-docs.ai", "127.0.0.1"),
        ("zed.dev", "127.0.0.1"),
        ("opencode.ai", "127.0.0.1"),
        ("chatgpt.com", "127.0.0.1"),
    ])
}

#[tokio::test]
async fn each_known_client_is_served_from_the_built_in_copy_when_fetching_fails() {
    let lookup = known_hosts_on_loopback();
    let resolver = offline_resolver(lookup.clone());
    for (i, known) in FALLBACK_DOCUMENTS.iter().enumerate() {
        let client = resolver
            .resolve(&url(known.url), NOW)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", known.client));
        assert_eq!(client.source, Source::BuiltIn, "{}", known.client);
        assert_eq!(client.client_id, known.url);
        assert_eq!(client.token_endpoint_auth_method, "none");
        assert!(!client.redirect_uris.is_empty());
        assert_eq!(
            lookup.calls(),
            i + 1,
            "{}: a fetch was attempted first",
            known.client
        );
    }
    // within the failure throttle the built-in copy serves without another attempt
    let claude = url("https://claude.ai/oauth/mcp-oauth-client-metadata");
    let again = resolver.resolve(&claude, NOW + 1).await.expect("served");
    assert_eq!(again.source, Source::BuiltIn);
    assert_eq!(lookup.calls(), FALLBACK_DOCUMENTS.len());
}

#[tokio::test]
async fn the_built_in_documents_say_what_the_clients_need() {
    let resolver = offline_resolver(known_hosts_on_loopback());
    let claude = resolver
        .resolve(
            &url("https://claude.ai/oauth/mcp-oauth-client-metadata"),
            NOW,
        )
        .await
        .expect("Claude");
    assert_eq!(claude.client_name.as_deref(), Some("Claude"));
    assert_eq!(
        claude.grant_types,
        ["authorization_code", "refresh_token"],
        "jwt-bearer ignored"
    );
    assert!(!claude.localhost_only);

    let claude_code = resolver
        .resolve(
            &url("https://claude.ai/oauth/claude-code-client-metadata"),
            NOW,
        )
        .await
        .expect("Claude Code");
    assert!(claude_code.localhost_only);
    assert!(claude_code
        .redirect_uris
        .contains(&"http://127.0.0.1/callback".to_owned()));

    let goose = resolver
        .resolve(
            &url("https://goose-docs.ai/oauth/client-metadata.json"),
            NOW,
        )
        .await
        .expect("Goose");
    assert!(goose.localhost_only);
    assert!(goose
        .redirect_uris
        .contains(&"http://127.0.0.1/oauth_callback".to_owned()));
}

#[tokio::test]
async fn chatgpt_and_codex_pattern_ids_are_served_without_a_fetch() {
    let lookup = known_hosts_on_loopback();
    let resolver = offline_resolver(lookup.clone());
    let cases = [
        (
            "https://chatgpt.com/oauth/client.json",
            "https://chatgpt.com/connector_platform_oauth_redirect",
            false,
        ),
        (
            "https://chatgpt.com/oauth/Ab3_x-Yz/client.json",
            "https://chatgpt.com/connector/oauth/Ab3_x-Yz",
            false,
        ),
        (
            "https://chatgpt.com/oauth/codex/client.json",
            "http://127.0.0.1/callback",
            true,
        ),
        (
            "https://chatgpt.com/oauth/codex/AbCdEfGhIjKl/client.json",
            "http://127.0.0.1/callback/AbCdEfGhIjKl",
            true,
        ),
    ];
    for (raw, redirect, local) in cases {
        let client = resolver
            .resolve(&url(raw), NOW)
            .await
            .unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(client.source, Source::BuiltIn);
        assert_eq!(client.client_id, raw);
        assert!(
            client.redirect_uris.contains(&redirect.to_owned()),
            "{raw}: {:?}",
            client.redirect_uris
        );
        assert_eq!(client.localhost_only, local, "{raw}");
        assert_eq!(
            client.token_endpoint_auth_method, "none",
            "private_key_jwt preferred, none allowed"
        );
    }
    let refused = resolver
        .resolve(&url("https://chatgpt.com/oauth/a/b/client.json"), NOW)
        .await;
    assert_eq!(
        refused,
        Err(ClientMetadataError::NotInBuiltInTable {
            host: "chatgpt.com".into()
        })
    );
    assert_eq!(lookup.calls(), 0, "chatgpt.com is never fetched");
}

#[tokio::test]
async fn disabled_refuses_known_clients_too() {
    let lookup = known_hosts_on_loopback();
    let config = ClientMetadataConfig {
        enabled: false,
        ..ClientMetadataConfig::default()
    };
    let resolver =
        ClientMetadataResolver::with_host_lookup(config, lookup.clone()).expect("resolver");
    for raw in [
        "https://claude.ai/oauth/mcp-oauth-client-metadata",
        "https://chatgpt.com/oauth/client.json",
    ] {
        assert_eq!(
            resolver.resolve(&url(raw), NOW).await,
            Err(ClientMetadataError::Disabled)
        );
    }
    assert_eq!(lookup.calls(), 0);
}

/// The fetched copy of a known client wins; once it has been expired past the grace and the
/// host answers 403 (as claude.ai does to some data centres), the shipped copy serves. Needs
/// 127.0.0.1:443 (the known URLs have no port): skipped where it cannot be bound.
#[tokio::test]
async fn a_fetched_copy_of_a_known_client_wins_over_the_built_in_one() {
    let pki = test_pki(&["claude.ai"]);
    let Some(server) = HttpsServer::start_on(&pki, 443).await else {
        eprintln!("skipped: 127.0.0.1:443 cannot be bound here");
        return;
    };
    let raw = "https://claude.ai/oauth/mcp-oauth-client-metadata";
    let path = "/oauth/mcp-oauth-client-metadata";
    let mut doc = document(raw);
    doc["client_name"] = "Claude (fetched)".into();
    server.set(path, Reply::json(&doc, Some("max-age=300")));
    let lookup = StaticLookup::new(&[("claude.ai", "127.0.0.1")]);
    let resolver = ClientMetadataResolver::with_host_lookup(config(&pki, &["claude.ai"]), lookup)
        .expect("resolver");

    let fetched = resolver.resolve(&url(raw), NOW).await.expect("fetched");
    assert_eq!(fetched.source, Source::Fetched);
    assert_eq!(fetched.client_name.as_deref(), Some("Claude (fetched)"));

    server.set(path, Reply::raw(403, "text/html", "challenge"));
    let within_grace = resolver.resolve(&url(raw), NOW + 400).await.expect("stale");
    assert_eq!(
        within_grace.client_name.as_deref(),
        Some("Claude (fetched)")
    );
    let much_later = resolver
        .resolve(&url(raw), NOW + 86_400)
        .await
        .expect("built-in");
    assert_eq!(much_later.source, Source::BuiltIn);
    assert_eq!(much_later.client_name.as_deref(), Some("Claude"));
    assert_eq!(server.requests(path), 3);
}
