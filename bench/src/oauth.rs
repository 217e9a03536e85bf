//! The OAuth calls that are not a person's browsing: dynamic client registration (RFC 7591)
//! and the token endpoint (authorization_code and refresh_token grants).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::error::OpError;
use crate::http;

/// What the benchmark asks to be registered as.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationRequest {
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub client_name: String,
    pub scope: String,
}

impl RegistrationRequest {
    pub fn new(redirect_uri: &str, scope: &str) -> Self {
        RegistrationRequest {
            redirect_uris: vec![redirect_uri.to_string()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            token_endpoint_auth_method: "none".into(),
            client_name: "mcpauth-bench".into(),
            scope: scope.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct RegistrationResponse {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

/// A registered client as the server answered: how it must authenticate at the token endpoint.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub auth_method: String,
}

/// POST the registration; the client authenticates as the server echoed (RFC 7591 §3.2.1).
pub async fn register(
    http: &reqwest::Client,
    endpoint: &str,
    request: &RegistrationRequest,
) -> Result<RegisteredClient, OpError> {
    let response = http.post(endpoint).json(request).send().await?;
    let parsed: RegistrationResponse = http::json(response).await?;
    let auth_method = parsed.token_endpoint_auth_method.unwrap_or_else(|| {
        // RFC 7591 §2: the default is client_secret_basic; with no secret it can only be none.
        if parsed.client_secret.is_some() {
            "client_secret_basic".into()
        } else {
            "none".into()
        }
    });
    Ok(RegisteredClient {
        client_id: parsed.client_id,
        client_secret: parsed.client_secret,
        auth_method,
    })
}

/// The part of a token response the benchmark uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl Tokens {
    /// What was issued, for the log: which tokens, the access token's format and claims.
    pub fn describe(&self) -> String {
        let access = match jwt_parts(&self.access_token) {
            Some((header, claims)) => format!(
                "JWT (alg {}, typ {}, aud {}, scope {})",
                header["alg"], header["typ"], claims["aud"], claims["scope"]
            ),
            None => format!("opaque ({} characters)", self.access_token.len()),
        };
        format!(
            "access token {access}; refresh token {}; id token {}; scope {:?}",
            if self.refresh_token.is_some() {
                "yes"
            } else {
                "no"
            },
            if self.id_token.is_some() { "yes" } else { "no" },
            self.scope.as_deref().unwrap_or("")
        )
    }
}

/// The header and claims of a JWT, unverified (for describing it only).
fn jwt_parts(token: &str) -> Option<(serde_json::Value, serde_json::Value)> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let mut decode = || -> Option<serde_json::Value> {
        let bytes = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let header = decode()?;
    let claims = decode()?;
    Some((header, claims))
}

/// `application/x-www-form-urlencoded` encoding of one value, as RFC 6749 §2.3.1 asks for the
/// Basic credentials.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// POST a token request, authenticating the client as it registered.
pub async fn token_request(
    http: &reqwest::Client,
    endpoint: &str,
    client: &RegisteredClient,
    mut form: Vec<(&str, String)>,
) -> Result<Tokens, OpError> {
    let mut request = http.post(endpoint);
    match (client.auth_method.as_str(), &client.client_secret) {
        ("client_secret_basic", Some(secret)) => {
            let credentials = format!("{}:{}", form_encode(&client.client_id), form_encode(secret));
            request = request.header(
                reqwest::header::AUTHORIZATION,
                format!("Basic {}", STANDARD.encode(credentials)),
            );
        }
        ("client_secret_post", Some(secret)) => {
            form.push(("client_id", client.client_id.clone()));
            form.push(("client_secret", secret.clone()));
        }
        _ => form.push(("client_id", client.client_id.clone())),
    }
    let response = request.form(&form).send().await?;
    http::json(response).await
}

/// Redeem an authorization code (with its PKCE verifier).
pub async fn exchange_code(
    http: &reqwest::Client,
    endpoint: &str,
    client: &RegisteredClient,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
    resource: Option<&str>,
) -> Result<Tokens, OpError> {
    let mut form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code.to_string()),
        ("redirect_uri", redirect_uri.to_string()),
        ("code_verifier", verifier.to_string()),
    ];
    if let Some(resource) = resource {
        form.push(("resource", resource.to_string()));
    }
    token_request(http, endpoint, client, form).await
}

/// Use a refresh token; with rotation the answer carries its successor.
pub async fn refresh(
    http: &reqwest::Client,
    endpoint: &str,
    client: &RegisteredClient,
    refresh_token: &str,
    resource: Option<&str>,
) -> Result<Tokens, OpError> {
    let mut form = vec![
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", refresh_token.to_string()),
    ];
    if let Some(resource) = resource {
        form.push(("resource", resource.to_string()));
    }
    token_request(http, endpoint, client, form).await
}
