//! The one network operation: GET a client_id URL with every SSRF defence on.
//!
//! - https only (the URL was parsed as a Client Identifier URL; reqwest is also https-only);
//! - IP-literal hosts checked here, names checked by the guarded resolver, and the connection
//!   made to the checked address (no proxy, which would connect elsewhere; no second lookup);
//! - no redirects: a 3xx is a refusal;
//! - connect timeout and a total timeout over connect, TLS, headers and body;
//! - only 200 is a document; the content type must be JSON (`application/json` or
//!   `application/*+json`);
//! - the body is read chunk by chunk and refused as soon as it passes `max_bytes` (a declared
//!   Content-Length over the cap is refused before reading).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT, CACHE_CONTROL, CONTENT_TYPE, DATE, EXPIRES, USER_AGENT};

use crate::address_policy::refused_reason;
use crate::cache_lifetime::CacheHeaders;
use crate::guarded_dns::{GuardedResolver, ResolveRefusal};
use crate::tls_roots::tls_config;
use crate::{
    ClientIdHost, ClientIdUrl, ClientMetadataConfig, ClientMetadataConfigError,
    ClientMetadataError, HostLookup,
};

/// A 200 JSON response within the size cap.
#[derive(Debug, Clone)]
pub(crate) struct FetchedDocument {
    pub(crate) body: Vec<u8>,
    pub(crate) cache: CacheHeaders,
}

pub(crate) struct Fetcher {
    client: reqwest::Client,
    config: Arc<ClientMetadataConfig>,
}

impl Fetcher {
    pub(crate) fn new(
        config: Arc<ClientMetadataConfig>,
        lookup: Arc<dyn HostLookup>,
    ) -> Result<Self, ClientMetadataConfigError> {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config(&config)?)
            .dns_resolver(Arc::new(GuardedResolver::new(lookup, config.clone())))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .http1_only()
            .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
            .timeout(Duration::from_millis(config.fetch_timeout_ms))
            .pool_max_idle_per_host(0)
            .default_headers(default_headers())
            .build()
            .map_err(|e| ClientMetadataConfigError::HttpClient(e.to_string()))?;
        Ok(Self { client, config })
    }

    pub(crate) async fn fetch(
        &self,
        url: &ClientIdUrl,
    ) -> Result<FetchedDocument, ClientMetadataError> {
        let host = url.host_str();
        if let ClientIdHost::Ip(ip) = url.host() {
            if !self.config.is_allowed_host(&host) {
                if let Some(reason) = refused_reason(ip) {
                    return Err(ClientMetadataError::AddressRefused { host, reason });
                }
            }
        }
        let after_ms = self.config.fetch_timeout_ms;
        // reqwest's own timeout covers the body too; this one also bounds name resolution
        match tokio::time::timeout(Duration::from_millis(after_ms), self.get(url, &host)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(ClientMetadataError::TimedOut { after_ms }),
        }
    }

    async fn get(
        &self,
        url: &ClientIdUrl,
        host: &str,
    ) -> Result<FetchedDocument, ClientMetadataError> {
        let mut response = self
            .client
            .get(url.url().clone())
            .send()
            .await
            .map_err(|e| self.send_error(&e, host))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(ClientMetadataError::Redirected {
                status: status.as_u16(),
            });
        }
        if status != reqwest::StatusCode::OK {
            return Err(ClientMetadataError::HttpStatus {
                status: status.as_u16(),
            });
        }
        check_content_type(response.headers())?;
        let limit = self.config.max_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(ClientMetadataError::TooLarge { limit });
        }
        let cache = cache_headers(response.headers());
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(ClientMetadataError::TooLarge { limit });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => {
                    return Err(ClientMetadataError::TimedOut {
                        after_ms: self.config.fetch_timeout_ms,
                    })
                }
                Err(e) => {
                    tracing::debug!(%host, error = %e, "client metadata body unreadable");
                    return Err(ClientMetadataError::BodyUnreadable);
                }
            }
        }
        Ok(FetchedDocument { body, cache })
    }

    fn send_error(&self, error: &reqwest::Error, host: &str) -> ClientMetadataError {
        if let Some(refusal) = find_source::<ResolveRefusal>(error) {
            return refusal.0.clone();
        }
        tracing::debug!(%host, error = %error, "client metadata fetch failed");
        if error.is_timeout() {
            ClientMetadataError::TimedOut {
                after_ms: self.config.fetch_timeout_ms,
            }
        } else if find_source::<rustls::Error>(error).is_some() {
            ClientMetadataError::TlsFailed { host: host.into() }
        } else {
            ClientMetadataError::ConnectFailed { host: host.into() }
        }
    }
}

fn default_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        USER_AGENT,
        reqwest::header::HeaderValue::from_static(concat!("mcpauth/", env!("CARGO_PKG_VERSION"))),
    );
    headers.insert(
        ACCEPT,
        reqwest::header::HeaderValue::from_static("application/json"),
    );
    headers
}

/// `application/json` or `application/<anything>+json`, parameters ignored.
fn check_content_type(headers: &HeaderMap) -> Result<(), ClientMetadataError> {
    let raw = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.len() > 5 && subtype.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(ClientMetadataError::WrongContentType {
            content_type: raw.chars().take(80).collect(),
        })
    }
}

fn cache_headers(headers: &HeaderMap) -> CacheHeaders {
    let text = |value: &reqwest::header::HeaderValue| value.to_str().ok().map(str::to_owned);
    CacheHeaders {
        cache_control: headers
            .get_all(CACHE_CONTROL)
            .iter()
            .filter_map(text)
            .collect(),
        expires: headers.get(EXPIRES).and_then(text),
        date: headers.get(DATE).and_then(text),
    }
}

/// The first error of type `T` in `error`'s chain. `std::io::Error` hides the error it wraps
/// from `source()` (TLS failures travel that way), so wrapped errors are looked into too.
fn find_source<'e, T: std::error::Error + 'static>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e T> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        let wrapped = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        if let Some(found) = wrapped.and_then(find_source::<T>) {
            return Some(found);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content_type(value: &str) -> Result<(), ClientMetadataError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, value.parse().expect("a header value"));
        check_content_type(&headers)
    }

    #[test]
    fn json_content_types_are_accepted() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/oauth-client+json",
        ] {
            assert_eq!(content_type(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn other_content_types_are_refused() {
        for bad in [
            "text/html",
            "text/json",
            "application/+json",
            "application/jsonp",
            "",
        ] {
            assert!(content_type(bad).is_err(), "{bad}");
        }
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }
}
