//! The OpenID Connect relying party's per-provider cache of discovery documents and key sets.

use std::time::Duration;

use mcpauth_federation::config::{ClaimMap, OidcConfig, ProviderConfig, TokenAuth};
use mcpauth_federation::http::Outbound;
use mcpauth_federation::oidc::OidcRp;
use mcpauth_federation::OutboundLimits;
use mcpauth_state::IdentityProvider;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A loopback OpenID provider answering discovery (`/.well-known/openid-configuration`, naming
/// itself as issuer) and an empty key set for any other path.
async fn discovery_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let issuer = base.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let issuer = issuer.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..n]).to_string();
                let body = if head.starts_with("GET /.well-known/openid-configuration") {
                    serde_json::json!({
                        "issuer": issuer,
                        "authorization_endpoint": format!("{issuer}/auth"),
                        "token_endpoint": format!("{issuer}/token"),
                        "jwks_uri": format!("{issuer}/jwks"),
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    })
                    .to_string()
                } else {
                    r#"{"keys":[]}"#.to_owned()
                };
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    base
}

fn provider(issuer: &str, updated_at: u64) -> (IdentityProvider, OidcConfig) {
    let config = OidcConfig {
        issuer: issuer.to_owned(),
        client_id: "mcpauth".into(),
        token_auth: TokenAuth::ClientSecretBasic,
        scopes: vec!["openid".into()],
        claims: ClaimMap::default(),
        extra_params: Vec::new(),
        issuer_is_template: false,
    };
    let provider = IdentityProvider {
        id: "sso".into(),
        kind: "oidc".into(),
        display_name: "SSO".into(),
        enabled: true,
        config_json: serde_json::to_string(&ProviderConfig::Oidc(config.clone())).unwrap(),
        sealed_secret: None,
        updated_at,
    };
    (provider, config)
}

#[tokio::test]
async fn a_provider_changed_twice_in_one_second_uses_its_new_issuer() {
    let old = discovery_server().await;
    let new = discovery_server().await;
    let rp = OidcRp::new(
        Outbound::new(OutboundLimits {
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(2),
            max_response_bytes: 64 * 1024,
        })
        .expect("client"),
    );
    let redirect = "http://127.0.0.1:1/login/sso/callback";
    let (p, c) = provider(&old, 1_000);
    let url = rp
        .authorization_url(
            &p,
            &c,
            redirect,
            "state",
            "verifier-verifier-verifier-verifier-0123456789",
            "n",
        )
        .await
        .expect("old issuer");
    assert!(url.starts_with(&format!("{old}/auth")), "{url}");
    // The admin changes the issuer within the same second: same updated_at.
    let (p, c) = provider(&new, 1_000);
    let url = rp
        .authorization_url(
            &p,
            &c,
            redirect,
            "state",
            "verifier-verifier-verifier-verifier-0123456789",
            "n",
        )
        .await
        .expect("new issuer");
    assert!(
        url.starts_with(&format!("{new}/auth")),
        "the old issuer's endpoints are still used: {url}"
    );
}
