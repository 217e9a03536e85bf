//! OpenID Connect providers: what the operator writes (a generic issuer, or a preset for Google,
//! Entra ID, Okta, Auth0, Cognito or Keycloak), and the resolved form that is stored.

use serde::{Deserialize, Serialize};

use super::shared::{check_endpoint, required, scopes_or, ClaimMap};
use super::{invalid, ConfigError};

/// Generic OpenID Connect, or one of the presets that fill it in.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OidcConfigSpec {
    /// google, entra, okta, auth0, cognito, keycloak; omitted for a generic provider.
    pub preset: Option<String>,
    /// The issuer (discovery is at `{issuer}/.well-known/openid-configuration`). Presets build
    /// it from `tenant`, `domain`, `region` + `user_pool_id`, or `base_url` + `realm`.
    pub issuer: Option<String>,
    pub tenant: Option<String>,
    pub domain: Option<String>,
    pub region: Option<String>,
    pub user_pool_id: Option<String>,
    pub base_url: Option<String>,
    pub realm: Option<String>,
    pub client_id: String,
    /// Omitted for a public client (PKCE only).
    #[serde(skip_serializing)]
    pub client_secret: Option<String>,
    /// client_secret_basic (default) or client_secret_post.
    pub token_auth: Option<String>,
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub claims: Option<ClaimMap>,
    /// Extra query parameters for the upstream authorization request (e.g. `hd` for Google).
    #[serde(default)]
    pub extra_params: Vec<(String, String)>,
}

/// A resolved OpenID Connect provider: presets applied, every field filled.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub token_auth: TokenAuth,
    pub scopes: Vec<String>,
    pub claims: ClaimMap,
    pub extra_params: Vec<(String, String)>,
    /// Entra ID's multi-tenant issuers carry the tenant id in place of `{tenantid}`.
    pub issuer_is_template: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TokenAuth {
    ClientSecretBasic,
    ClientSecretPost,
    None,
}

/// Entra's tenant-independent endpoints: their ID tokens name the user's own tenant.
pub fn is_multi_tenant(tenant: &str) -> bool {
    matches!(tenant, "organizations" | "common" | "consumers")
}

/// Apply an OpenID Connect preset: the issuer, scopes and claim names that provider needs.
pub(super) fn resolve_oidc(spec: &OidcConfigSpec) -> Result<OidcConfig, ConfigError> {
    let mut claims = spec.claims.clone().unwrap_or_default();
    let mut scopes: &[&str] = &["openid", "email", "profile"];
    let mut issuer_is_template = false;
    let issuer = match spec.preset.as_deref() {
        None => required("issuer", &spec.issuer)?.to_owned(),
        Some("google") => {
            // Google puts no groups in ID tokens; hosted-domain restriction goes in extra_params.
            "https://accounts.google.com".to_owned()
        }
        Some("entra") => {
            // Required: "organizations" (any work account of any tenant) must be a choice,
            // never a default.
            let tenant = required("tenant", &spec.tenant)?;
            if spec.claims.is_none() {
                // Entra: `oid` is the stable user id across apps; `sub` is pairwise per app.
                // Email may be absent; `preferred_username` is the UPN.
                claims.subject = "oid".into();
                claims.email = "email".into();
            }
            // Multi-tenant endpoints publish an issuer with a `{tenantid}` placeholder.
            issuer_is_template = is_multi_tenant(tenant);
            format!("https://login.microsoftonline.com/{tenant}/v2.0")
        }
        Some("okta") => {
            let domain = required("domain", &spec.domain)?;
            scopes = &["openid", "email", "profile", "groups"];
            match spec.issuer.as_deref() {
                // An Okta custom authorization server (e.g. .../oauth2/default).
                Some(i) if !i.is_empty() => i.to_owned(),
                _ => format!("https://{domain}"),
            }
        }
        Some("auth0") => {
            let domain = required("domain", &spec.domain)?;
            format!("https://{domain}/")
        }
        Some("cognito") => {
            let region = required("region", &spec.region)?;
            let pool = required("user_pool_id", &spec.user_pool_id)?;
            if spec.claims.is_none() {
                claims.groups = "cognito:groups".into();
            }
            format!("https://cognito-idp.{region}.amazonaws.com/{pool}")
        }
        Some("keycloak") => {
            let base = required("base_url", &spec.base_url)?;
            let realm = required("realm", &spec.realm)?;
            format!("{}/realms/{realm}", base.trim_end_matches('/'))
        }
        Some(other) => {
            return Err(invalid(format!(
                "preset: unknown OpenID Connect preset {other:?} (google, entra, okta, auth0, cognito, keycloak)"
            )))
        }
    };
    check_endpoint("issuer", &issuer)?;
    if spec.client_id.trim().is_empty() {
        return Err(invalid("client_id is required"));
    }
    let token_auth = match (spec.token_auth.as_deref(), spec.client_secret.is_some()) {
        (None | Some("client_secret_basic"), true) => TokenAuth::ClientSecretBasic,
        (Some("client_secret_post"), true) => TokenAuth::ClientSecretPost,
        (None | Some("none"), false) => TokenAuth::None,
        (Some("none"), true) => {
            return Err(invalid("token_auth none takes no client_secret"));
        }
        (Some(m @ ("client_secret_basic" | "client_secret_post")), false) => {
            return Err(invalid(format!("token_auth {m} needs a client_secret")));
        }
        (Some(other), _) => {
            return Err(invalid(format!(
                "token_auth: {other:?} is not client_secret_basic, client_secret_post or none"
            )))
        }
    };
    let scopes = scopes_or(&spec.scopes, scopes);
    if !scopes.iter().any(|s| s == "openid") {
        return Err(invalid("scopes must include openid"));
    }
    Ok(OidcConfig {
        issuer,
        client_id: spec.client_id.trim().to_owned(),
        token_auth,
        scopes,
        claims,
        extra_params: spec.extra_params.clone(),
        issuer_is_template,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{KindSpec, ProviderSpec};
    use super::*;

    fn oidc(json: serde_json::Value) -> Result<OidcConfig, ConfigError> {
        match ProviderSpec::from_json(json)?.kind {
            KindSpec::Oidc(spec) => resolve_oidc(&spec),
            other => panic!("not oidc: {other:?}"),
        }
    }

    #[test]
    fn entra_needs_a_tenant_and_marks_multi_tenant_issuers() {
        let base =
            serde_json::json!({"id": "e", "kind": "oidc", "preset": "entra", "client_id": "c"});
        let refused = oidc(base.clone()).expect_err("tenant required");
        assert!(refused.0.contains("tenant is required"), "{refused}");
        for (tenant, template) in [
            ("organizations", true),
            ("common", true),
            ("consumers", true),
            ("4a5b6c7d-0000-0000-0000-000000000000", false),
        ] {
            let mut spec = base.clone();
            spec["tenant"] = serde_json::json!(tenant);
            let config = oidc(spec).expect("valid");
            assert_eq!(config.issuer_is_template, template, "{tenant}");
            assert_eq!(
                config.issuer,
                format!("https://login.microsoftonline.com/{tenant}/v2.0")
            );
            assert_eq!(config.claims.subject, "oid");
        }
    }
}
