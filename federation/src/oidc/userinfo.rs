//! The UserInfo endpoint (OpenID Connect Core §5.3), read with the access token when the ID
//! token lacks a claim we map. Only a JSON answer is read: a signed or encrypted one (JWT) is
//! refused with a message saying so.

use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde_json::{Map, Value};

use crate::http::Outbound;
use crate::UpstreamError;

const WHAT: &str = "UserInfo endpoint";

/// GET the UserInfo endpoint with `access_token`: its claims.
pub(super) async fn fetch(
    outbound: &Outbound,
    url: &str,
    access_token: &str,
) -> Result<Map<String, Value>, UpstreamError> {
    let url = outbound.checked_url(WHAT, url)?;
    let request = outbound
        .client()
        .get(url)
        .header(AUTHORIZATION, format!("Bearer {access_token}"))
        .header(ACCEPT, "application/json");
    let (status, body) = outbound.send(WHAT, request).await?;
    if !status.is_success() {
        return Err(UpstreamError::Unavailable(format!(
            "{WHAT}: answered HTTP {}",
            status.as_u16()
        )));
    }
    match serde_json::from_slice(&body) {
        Ok(Value::Object(claims)) => Ok(claims),
        _ if body.starts_with(b"ey") => Err(UpstreamError::Misconfigured(format!(
            "{WHAT}: the answer is a signed or encrypted JWT, which mcpauth does not read; \
             configure the provider to answer plain JSON"
        ))),
        _ => Err(UpstreamError::Invalid(format!(
            "{WHAT}: the answer is not a JSON object"
        ))),
    }
}
