//! Plain OAuth 2.0 providers without OpenID Connect (GitHub): the authorization code with PKCE
//! through the `oauth2` crate, then the person read from the provider's user API with the
//! access token (and, for GitHub, the primary verified address from its emails API when the
//! profile hides it). The access token is used once and not kept.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde_json::Value;

use super::config::OAuth2Config;
use super::http::Outbound;
use super::oidc::Callback;
use super::{Identity, UpstreamError};

fn misconfigured(what: &str, e: impl std::fmt::Display) -> UpstreamError {
    UpstreamError::Misconfigured(format!("{what}: {e}"))
}

fn endpoints(config: &OAuth2Config) -> Result<(AuthUrl, TokenUrl), UpstreamError> {
    Ok((
        AuthUrl::new(config.authorization_endpoint.clone())
            .map_err(|e| misconfigured("authorization_endpoint", e))?,
        TokenUrl::new(config.token_endpoint.clone())
            .map_err(|e| misconfigured("token_endpoint", e))?,
    ))
}

/// Where to send the browser.
pub fn authorization_url(
    config: &OAuth2Config,
    redirect_uri: &str,
    state: &str,
    pkce_verifier: &str,
) -> Result<String, UpstreamError> {
    let (auth, token) = endpoints(config)?;
    let client = BasicClient::new(ClientId::new(config.client_id.clone()))
        .set_auth_uri(auth)
        .set_token_uri(token)
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| misconfigured("redirect", e))?,
        );
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
        pkce_verifier.to_owned(),
    ));
    let state = state.to_owned();
    let mut request = client
        .authorize_url(move || CsrfToken::new(state))
        .set_pkce_challenge(challenge);
    for scope in &config.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    Ok(request.url().0.to_string())
}

/// Redeem the code, then read the person from the user API.
pub async fn finish(
    outbound: &Outbound,
    config: &OAuth2Config,
    client_secret: Option<&str>,
    callback: Callback<'_>,
) -> Result<Identity, UpstreamError> {
    let (auth, token) = endpoints(config)?;
    let client = BasicClient::new(ClientId::new(config.client_id.clone()))
        .set_client_secret(ClientSecret::new(
            client_secret.unwrap_or_default().to_owned(),
        ))
        .set_auth_uri(auth)
        .set_token_uri(token)
        .set_redirect_uri(
            RedirectUrl::new(callback.redirect_uri.to_owned())
                .map_err(|e| misconfigured("redirect", e))?,
        );
    let http = |request: oauth2::HttpRequest| outbound.token_call(request);
    let tokens = client
        .exchange_code(AuthorizationCode::new(callback.code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(callback.pkce_verifier.to_owned()))
        .request_async(&http)
        .await
        .map_err(|e| match e {
            oauth2::RequestTokenError::ServerResponse(r) => UpstreamError::Invalid(format!(
                "the provider refused the code ({})",
                r.error().as_ref()
            )),
            // GitHub answers errors with HTTP 200 and an `error` field: not a token response.
            oauth2::RequestTokenError::Parse(_, _) => {
                UpstreamError::Invalid("the provider did not issue a token for the code".into())
            }
            other => UpstreamError::Unavailable(format!("token endpoint: {other}")),
        })?;
    let bearer = format!("Bearer {}", tokens.access_token().secret());
    let user: Value =
        get_with_token(outbound, "user API", &config.userinfo_endpoint, &bearer).await?;
    let map = &config.claims;
    let text = |name: &str| match user.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let subject = text(&map.subject).ok_or_else(|| {
        UpstreamError::Invalid(format!("the user API answered no {:?}", map.subject))
    })?;
    let claimed = text(&map.email);
    let verdict = match user.get("email_verified") {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    };
    // Never an email the user API says is unverified; with require_verified_email, only one
    // it vouches for (else the emails API's verified primary).
    let mut email = claimed.clone().filter(|_| match verdict {
        Some(verified) => verified,
        None => !map.require_verified_email,
    });
    if email.is_none() {
        if let Some(url) = &config.emails_endpoint {
            email = primary_email(outbound, url, &bearer).await?;
        }
    }
    if map.require_verified_email && email.is_none() && claimed.is_some() {
        return Err(UpstreamError::Denied(
            "the provider has not verified your email address".into(),
        ));
    }
    Ok(Identity {
        subject,
        username: text("login").or_else(|| email.clone()),
        email,
        name: text(&map.name),
        groups: match user.get(&map.groups) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        },
    })
}

async fn get_with_token(
    outbound: &Outbound,
    what: &str,
    url: &str,
    bearer: &str,
) -> Result<Value, UpstreamError> {
    let url = outbound.checked_url(what, url)?;
    let request = outbound
        .client()
        .get(url)
        .header(AUTHORIZATION, bearer)
        .header(ACCEPT, "application/json");
    let (status, body) = outbound.send(what, request).await?;
    if !status.is_success() {
        return Err(UpstreamError::Unavailable(format!(
            "{what}: answered HTTP {}",
            status.as_u16()
        )));
    }
    serde_json::from_slice(&body).map_err(|_| UpstreamError::Invalid(format!("{what}: not JSON")))
}

/// GitHub's `/user/emails`: the primary address, if verified.
async fn primary_email(
    outbound: &Outbound,
    url: &str,
    bearer: &str,
) -> Result<Option<String>, UpstreamError> {
    let emails = get_with_token(outbound, "emails API", url, bearer).await?;
    Ok(emails.as_array().and_then(|list| {
        list.iter()
            .find(|e| {
                e.get("primary") == Some(&Value::Bool(true))
                    && e.get("verified") == Some(&Value::Bool(true))
            })
            .and_then(|e| e.get("email"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }))
}
