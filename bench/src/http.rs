//! HTTP plumbing: a client that behaves like a browser without JavaScript (its own cookie
//! jar, redirects followed by hand), and turning error answers into [`OpError`]s.

use std::time::Duration;

use reqwest::redirect::Policy;
use serde::Deserialize;

use crate::error::{BenchError, OpError};

/// One person's (or one client application's) HTTP client: its own cookie jar and connection
/// pool, no automatic redirects.
pub fn client(timeout: Duration) -> Result<reqwest::Client, BenchError> {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .timeout(timeout)
        .user_agent(concat!("mcpauth-bench/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(BenchError::HttpClient)
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// The error an unsuccessful answer stands for: its OAuth `error` code when the body has one.
pub async fn error_from(response: reqwest::Response) -> OpError {
    let status = response.status().as_u16();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(e) => return OpError::from(e),
    };
    match serde_json::from_slice::<OAuthErrorBody>(&body) {
        Ok(parsed) => OpError::OAuth {
            status,
            error: parsed.error,
            description: parsed.error_description.unwrap_or_default(),
        },
        Err(_) => OpError::Http {
            status,
            snippet: snippet(&body),
        },
    }
}

/// The start of a body, on one line, for error messages.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    flat.chars().take(200).collect()
}

/// Read a successful JSON answer, or the error it stands for.
pub async fn json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, OpError> {
    if !response.status().is_success() {
        return Err(error_from(response).await);
    }
    let body = response.bytes().await?;
    serde_json::from_slice(&body).map_err(|e| {
        OpError::protocol(
            "unexpected JSON",
            format!("{e}; body starts {}", snippet(&body)),
        )
    })
}
