//! Plain OAuth 2.0 providers without OpenID Connect (GitHub, or any provider with a user API).

use serde::{Deserialize, Serialize};

use super::shared::{check_endpoint, required, scopes_or, ClaimMap};
use super::{invalid, ConfigError};

/// A plain OAuth 2.0 provider without OpenID Connect: identity from a user API (GitHub).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OAuth2ConfigSpec {
    /// github; omitted for a generic provider (then the three endpoints are required).
    pub preset: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    /// GitHub: the endpoint listing the user's emails, for a private primary email.
    pub emails_endpoint: Option<String>,
    pub client_id: String,
    #[serde(skip_serializing)]
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub claims: Option<ClaimMap>,
}

/// A resolved plain OAuth 2.0 provider.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct OAuth2Config {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub emails_endpoint: Option<String>,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub claims: ClaimMap,
}

pub(super) fn resolve_oauth2(spec: &OAuth2ConfigSpec) -> Result<OAuth2Config, ConfigError> {
    let (authorization, token, userinfo, emails, scopes, claims) = match spec.preset.as_deref() {
        Some("github") => (
            "https://github.com/login/oauth/authorize".to_owned(),
            "https://github.com/login/oauth/access_token".to_owned(),
            "https://api.github.com/user".to_owned(),
            Some("https://api.github.com/user/emails".to_owned()),
            scopes_or(&spec.scopes, &["read:user", "user:email"]),
            spec.claims.clone().unwrap_or(ClaimMap {
                // GitHub's numeric id is stable; the login can be renamed.
                subject: "id".into(),
                email: "email".into(),
                name: "name".into(),
                groups: "groups".into(),
                require_verified_email: false,
            }),
        ),
        None => (
            required("authorization_endpoint", &spec.authorization_endpoint)?.to_owned(),
            required("token_endpoint", &spec.token_endpoint)?.to_owned(),
            required("userinfo_endpoint", &spec.userinfo_endpoint)?.to_owned(),
            spec.emails_endpoint.clone(),
            scopes_or(&spec.scopes, &[]),
            spec.claims.clone().unwrap_or_default(),
        ),
        Some(other) => {
            return Err(invalid(format!(
                "preset: unknown OAuth 2.0 preset {other:?} (github)"
            )))
        }
    };
    check_endpoint("authorization_endpoint", &authorization)?;
    check_endpoint("token_endpoint", &token)?;
    check_endpoint("userinfo_endpoint", &userinfo)?;
    if let Some(e) = &emails {
        check_endpoint("emails_endpoint", e)?;
    }
    if spec.client_id.trim().is_empty() {
        return Err(invalid("client_id is required"));
    }
    if spec.client_secret.as_deref().unwrap_or("").is_empty() {
        return Err(invalid("client_secret is required"));
    }
    Ok(OAuth2Config {
        authorization_endpoint: authorization,
        token_endpoint: token,
        userinfo_endpoint: userinfo,
        emails_endpoint: emails,
        client_id: spec.client_id.trim().to_owned(),
        scopes,
        claims,
    })
}
