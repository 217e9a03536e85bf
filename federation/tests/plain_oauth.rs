//! Plain OAuth 2.0 providers (user API) against a loopback token endpoint and user API.

use std::time::Duration;

use mcpauth_federation::config::{ClaimMap, OAuth2Config};
use mcpauth_federation::http::Outbound;
use mcpauth_federation::oidc::Callback;
use mcpauth_federation::{plain_oauth, OutboundLimits, UpstreamError};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// POST /token answers a bearer token; GET /user answers `user`; GET /emails answers `emails`.
async fn provider(user: Value, emails: Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (user, emails) = (user.clone(), emails.clone());
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let n = socket.read(&mut request).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&request[..n]).to_string();
                let body = if head.starts_with("POST /token") {
                    json!({"access_token": "at", "token_type": "bearer"})
                } else if head.starts_with("GET /user") {
                    user
                } else {
                    emails
                };
                let body = body.to_string();
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

fn config(base: &str, emails: bool, require_verified_email: bool) -> OAuth2Config {
    OAuth2Config {
        authorization_endpoint: format!("{base}/authorize"),
        token_endpoint: format!("{base}/token"),
        userinfo_endpoint: format!("{base}/user"),
        emails_endpoint: emails.then(|| format!("{base}/emails")),
        client_id: "mcpauth".into(),
        scopes: Vec::new(),
        claims: ClaimMap {
            require_verified_email,
            ..ClaimMap::default()
        },
    }
}

async fn finish(config: &OAuth2Config) -> Result<mcpauth_federation::Identity, UpstreamError> {
    let outbound = Outbound::new(OutboundLimits {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        max_response_bytes: 64 * 1024,
    })
    .expect("client");
    plain_oauth::finish(
        &outbound,
        config,
        Some("secret"),
        Callback {
            code: "code",
            redirect_uri: "http://127.0.0.1:1/login/gh/callback",
            pkce_verifier: "verifier-verifier-verifier-verifier-0123456789",
            nonce: "unused",
        },
    )
    .await
}

#[tokio::test]
async fn require_verified_email_refuses_an_email_the_user_api_does_not_vouch_for() {
    let base = provider(json!({"sub": "42", "email": "ceo@example.test"}), json!([])).await;
    let refused = finish(&config(&base, false, true)).await;
    assert!(
        matches!(refused, Err(UpstreamError::Denied(_))),
        "{refused:?}"
    );
    let base = provider(
        json!({"sub": "42", "email": "ceo@example.test", "email_verified": false}),
        json!([]),
    )
    .await;
    let refused = finish(&config(&base, false, true)).await;
    assert!(
        matches!(refused, Err(UpstreamError::Denied(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn require_verified_email_takes_a_verified_one_from_the_user_api_or_the_emails_api() {
    let base = provider(
        json!({"sub": "42", "email": "me@example.test", "email_verified": true}),
        json!([]),
    )
    .await;
    let identity = finish(&config(&base, false, true)).await.expect("login");
    assert_eq!(identity.email.as_deref(), Some("me@example.test"));
    // GitHub: the profile's public email has no verdict; the emails API's verified primary does.
    let base = provider(
        json!({"sub": "42", "email": "claimed@example.test"}),
        json!([{"email": "me@example.test", "primary": true, "verified": true}]),
    )
    .await;
    let identity = finish(&config(&base, true, true)).await.expect("login");
    assert_eq!(identity.email.as_deref(), Some("me@example.test"));
}

#[tokio::test]
async fn an_email_the_user_api_says_is_unverified_is_not_carried() {
    let base = provider(
        json!({"sub": "42", "email": "ceo@example.test", "email_verified": false}),
        json!([]),
    )
    .await;
    let identity = finish(&config(&base, false, false)).await.expect("login");
    assert_eq!(identity.subject, "42");
    assert_eq!(identity.email, None);
}
