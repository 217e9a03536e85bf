//! Every HTTP call to an identity provider goes through [`Outbound`]: connect and read timeouts,
//! no redirects followed, https only (plain http on loopback), and a cap on the body read.

use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT, USER_AGENT};
use serde::de::DeserializeOwned;

use crate::config::check_endpoint;
use crate::UpstreamError;

/// Limits on every call to a provider (node configuration, `[upstream]` in the config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundLimits {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// Largest response body read from a provider; more is an error.
    pub max_response_bytes: usize,
}

impl Default for OutboundLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            read_timeout: Duration::from_secs(10),
            max_response_bytes: 1024 * 1024,
        }
    }
}

/// Cheap to clone (one connection pool per node).
#[derive(Clone, Debug)]
pub struct Outbound {
    client: reqwest::Client,
    limits: OutboundLimits,
}

impl Outbound {
    pub fn new(limits: OutboundLimits) -> Result<Self, reqwest::Error> {
        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            reqwest::header::HeaderValue::from_static(concat!(
                "mcpauth/",
                env!("CARGO_PKG_VERSION")
            )),
        );
        let client = reqwest::Client::builder()
            .connect_timeout(limits.connect_timeout)
            .read_timeout(limits.read_timeout)
            .timeout(limits.connect_timeout + limits.read_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()?;
        Ok(Self { client, limits })
    }

    pub fn limits(&self) -> OutboundLimits {
        self.limits
    }

    /// Refuse an endpoint that is not https (or loopback http) before any byte is sent.
    pub fn checked_url(&self, what: &str, url: &str) -> Result<url::Url, UpstreamError> {
        check_endpoint(what, url).map_err(|e| UpstreamError::Misconfigured(e.0))
    }

    /// Send `request` (built on [`Outbound::client`]) and read at most the body cap.
    pub async fn send(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), UpstreamError> {
        let mut response = request.send().await.map_err(|e| {
            let reason = if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "connection refused or failed".to_owned()
            } else {
                "request failed".to_owned()
            };
            tracing::warn!(what, error = %e, "upstream call failed");
            UpstreamError::Unavailable(format!("{what}: {reason}"))
        })?;
        let status = response.status();
        if let Some(len) = response.content_length() {
            if len as usize > self.limits.max_response_bytes {
                return Err(UpstreamError::Unavailable(format!(
                    "{what}: response of {len} bytes is over the {} byte limit",
                    self.limits.max_response_bytes
                )));
            }
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.limits.max_response_bytes {
                        return Err(UpstreamError::Unavailable(format!(
                            "{what}: response over the {} byte limit",
                            self.limits.max_response_bytes
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(what, error = %e, "upstream response unreadable");
                    return Err(UpstreamError::Unavailable(format!(
                        "{what}: the response could not be read"
                    )));
                }
            }
        }
        Ok((status, body))
    }

    /// GET a JSON document that must answer 200.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        what: &str,
        url: &str,
    ) -> Result<T, UpstreamError> {
        let url = self.checked_url(what, url)?;
        let request = self.client.get(url).header(ACCEPT, "application/json");
        let (status, body) = self.send(what, request).await?;
        if !status.is_success() {
            return Err(UpstreamError::Unavailable(format!(
                "{what}: answered HTTP {}",
                status.as_u16()
            )));
        }
        serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::Invalid(format!("{what}: not the JSON expected ({e})")))
    }

    /// GET a text document (SAML metadata) that must answer 200.
    pub async fn get_text(&self, what: &str, url: &str) -> Result<String, UpstreamError> {
        let url = self.checked_url(what, url)?;
        let (status, body) = self.send(what, self.client.get(url)).await?;
        if !status.is_success() {
            return Err(UpstreamError::Unavailable(format!(
                "{what}: answered HTTP {}",
                status.as_u16()
            )));
        }
        String::from_utf8(body)
            .map_err(|_| UpstreamError::Invalid(format!("{what}: not UTF-8 text")))
    }

    /// The underlying client, to build requests that [`Outbound::send`] then sends.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The HTTP client the `openidconnect` and `oauth2` crates call for token requests, with
    /// our limits and policy.
    pub async fn token_call(
        &self,
        request: oauth2::HttpRequest,
    ) -> Result<oauth2::HttpResponse, oauth2::HttpClientError<reqwest::Error>> {
        let url = request.uri().to_string();
        self.checked_url("token endpoint", &url)
            .map_err(|e| oauth2::HttpClientError::Other(e.to_string()))?;
        let request: reqwest::Request = request.try_into().map_err(Box::new)?;
        let (status, body) = self
            .send(
                "token endpoint",
                reqwest::RequestBuilder::from_parts(self.client.clone(), request),
            )
            .await
            .map_err(|e| oauth2::HttpClientError::Other(e.to_string()))?;
        oauth2::http::Response::builder()
            .status(status.as_u16())
            .header("content-type", "application/json")
            .body(body)
            .map_err(oauth2::HttpClientError::Http)
    }
}
