//! Authorization server metadata: RFC 8414, falling back to OpenID Connect Discovery.

use serde::Deserialize;
use url::Url;

use crate::error::{BenchError, OpError};
use crate::http;

/// The part of the metadata the benchmark uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

/// Where the metadata may be, in the order to try: RFC 8414 §3.1 (the well-known segment
/// before the issuer's path), then OpenID Connect Discovery §4 (appended to the issuer).
pub fn candidate_urls(issuer: &str) -> Result<Vec<Url>, BenchError> {
    let parsed = Url::parse(issuer).map_err(|source| BenchError::Url {
        url: issuer.to_string(),
        source,
    })?;
    let path = parsed.path().trim_end_matches('/').to_string();
    let mut rfc8414 = parsed.clone();
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    rfc8414.set_query(None);
    let mut oidc = parsed;
    oidc.set_path(&format!("{path}/.well-known/openid-configuration"));
    oidc.set_query(None);
    Ok(vec![rfc8414, oidc])
}

/// Fetch the issuer's metadata and check it names the same issuer.
pub async fn discover(client: &reqwest::Client, issuer: &str) -> Result<Metadata, BenchError> {
    let mut failures = Vec::new();
    for url in candidate_urls(issuer)? {
        let result: Result<Metadata, OpError> = match client.get(url.clone()).send().await {
            Ok(response) => http::json(response).await,
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(metadata) if metadata.issuer == issuer => return Ok(metadata),
            Ok(metadata) => {
                return Err(BenchError::Discovery {
                    issuer: issuer.to_string(),
                    detail: format!("{url} names another issuer: {}", metadata.issuer),
                })
            }
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    }
    Err(BenchError::Discovery {
        issuer: issuer.to_string(),
        detail: failures.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_for_a_bare_issuer() {
        let urls = candidate_urls("http://127.0.0.1:8080").expect("valid");
        assert_eq!(
            urls[0].as_str(),
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            urls[1].as_str(),
            "http://127.0.0.1:8080/.well-known/openid-configuration"
        );
    }

    #[test]
    fn well_known_urls_for_an_issuer_with_a_path() {
        let urls = candidate_urls("https://idp.example/tenant1").expect("valid");
        assert_eq!(
            urls[0].as_str(),
            "https://idp.example/.well-known/oauth-authorization-server/tenant1"
        );
        assert_eq!(
            urls[1].as_str(),
            "https://idp.example/tenant1/.well-known/openid-configuration"
        );
    }
}
