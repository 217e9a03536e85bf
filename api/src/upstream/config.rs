//! What an operator writes to configure an identity provider (admin API body, or a
//! `[[identity_provider]]` table of the config file), its validation, and the presets that fill
//! in the generic OpenID Connect kind for well-known providers.
//!
//! A [`ProviderSpec`] carries the provider's one secret (client secret, LDAP bind password) in
//! clear; [`ProviderSpec::into_stored`] seals it and keeps the rest as JSON in the replicated
//! state. Validation is static (no network): a provider that is down today may be up tomorrow,
//! but a malformed one never works, so it is refused and nothing changes.

use mcpauth_state::{IdentityProvider, UnixTime};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::sealer::Sealer;

/// The purpose a provider secret is sealed under (bound as associated data).
pub const SECRET_PURPOSE: &str = "upstream-secret";

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// An identity provider as the operator describes it.
#[derive(Debug, Clone)]
pub struct ProviderSpec {
    pub id: String,
    pub display_name: Option<String>,
    pub enabled: bool,
    pub kind: KindSpec,
}

impl ProviderSpec {
    /// Read a JSON object: `id`, `display_name`, `enabled`, then `kind` and its fields. (Not
    /// a serde flatten: that cannot refuse unknown fields, and a misspelt key must not pass.)
    pub fn from_json(value: serde_json::Value) -> Result<Self, ConfigError> {
        let serde_json::Value::Object(mut map) = value else {
            return Err(invalid("a provider is a JSON object"));
        };
        let id = match map.remove("id") {
            Some(serde_json::Value::String(id)) => id,
            Some(_) => return Err(invalid("id must be a string")),
            None => return Err(invalid("id is required")),
        };
        let display_name = match map.remove("display_name") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(n)) => Some(n),
            Some(_) => return Err(invalid("display_name must be a string")),
        };
        let enabled = match map.remove("enabled") {
            None => true,
            Some(serde_json::Value::Bool(b)) => b,
            Some(_) => return Err(invalid("enabled must be true or false")),
        };
        let kind: KindSpec = serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            id,
            display_name,
            enabled,
            kind,
        })
    }
}

/// The kind-specific part, tagged by `kind`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum KindSpec {
    Oidc(OidcConfigSpec),
    Oauth2(OAuth2ConfigSpec),
    Ldap(LdapConfigSpec),
    Saml(SamlConfig),
}

/// Where a claim or attribute is read from.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClaimMap {
    #[serde(default = "claim_sub")]
    pub subject: String,
    #[serde(default = "claim_email")]
    pub email: String,
    #[serde(default = "claim_name")]
    pub name: String,
    #[serde(default = "claim_groups")]
    pub groups: String,
    /// Refuse a login whose email the provider has not verified (`email_verified` false).
    #[serde(default)]
    pub require_verified_email: bool,
}

fn claim_sub() -> String {
    "sub".into()
}
fn claim_email() -> String {
    "email".into()
}
fn claim_name() -> String {
    "name".into()
}
fn claim_groups() -> String {
    "groups".into()
}

impl Default for ClaimMap {
    fn default() -> Self {
        Self {
            subject: claim_sub(),
            email: claim_email(),
            name: claim_name(),
            groups: claim_groups(),
            require_verified_email: false,
        }
    }
}

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

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LdapConfigSpec {
    /// `ldaps://host:636` or `ldap://host:389` (then `starttls` should be true).
    pub url: String,
    #[serde(default)]
    pub starttls: bool,
    /// PEM of the CA that signed the directory's certificate (else the system roots).
    pub ca_pem: Option<String>,
    /// Service account that searches for the user; omitted for an anonymous search.
    pub bind_dn: Option<String>,
    #[serde(skip_serializing)]
    pub bind_password: Option<String>,
    pub user_base: String,
    /// `{username}` is replaced by the escaped username.
    #[serde(default = "ldap_user_filter")]
    pub user_filter: String,
    pub group_base: Option<String>,
    /// `{dn}` is replaced by the user's escaped DN, `{username}` by the escaped username.
    #[serde(default = "ldap_group_filter")]
    pub group_filter: String,
    /// Attribute of a group entry that names it.
    #[serde(default = "ldap_group_name")]
    pub group_name_attribute: String,
    /// Attribute holding the stable subject (e.g. `uid`, `entryUUID`, `objectGUID`).
    #[serde(default = "ldap_subject")]
    pub subject_attribute: String,
    #[serde(default = "ldap_email")]
    pub email_attribute: String,
    #[serde(default = "ldap_name")]
    pub name_attribute: String,
    /// Read group names from this attribute of the user entry (e.g. `memberOf`) instead of
    /// searching `group_base`.
    pub member_of_attribute: Option<String>,
}

fn ldap_user_filter() -> String {
    "(uid={username})".into()
}
fn ldap_group_filter() -> String {
    "(member={dn})".into()
}
fn ldap_group_name() -> String {
    "cn".into()
}
fn ldap_subject() -> String {
    "uid".into()
}
fn ldap_email() -> String {
    "mail".into()
}
fn ldap_name() -> String {
    "cn".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SamlConfig {
    /// Where the IdP's metadata is fetched (signing certificate, SSO endpoint)...
    pub idp_metadata_url: Option<String>,
    /// ...or the metadata itself.
    pub idp_metadata_xml: Option<String>,
    /// Our entity ID at this IdP; default `{issuer}/saml/{id}/metadata`.
    pub sp_entity_id: Option<String>,
    /// Attribute names; the subject is the NameID unless `subject` names an attribute.
    #[serde(default)]
    pub attributes: SamlAttributes,
    /// Seconds of clock difference tolerated on validity windows.
    #[serde(default = "saml_skew")]
    pub clock_skew_secs: u64,
}

fn saml_skew() -> u64 {
    60
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SamlAttributes {
    pub subject: Option<String>,
    #[serde(default = "saml_email")]
    pub email: String,
    #[serde(default = "saml_name")]
    pub name: String,
    #[serde(default = "saml_groups")]
    pub groups: String,
}

fn saml_email() -> String {
    "email".into()
}
fn saml_name() -> String {
    "displayName".into()
}
fn saml_groups() -> String {
    "groups".into()
}

impl Default for SamlAttributes {
    fn default() -> Self {
        Self {
            subject: None,
            email: saml_email(),
            name: saml_name(),
            groups: saml_groups(),
        }
    }
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

/// What is stored (as JSON) for each kind, secrets removed.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProviderConfig {
    Oidc(OidcConfig),
    Oauth2(OAuth2Config),
    Ldap(LdapConfigSpec),
    Saml(SamlConfig),
}

impl ProviderConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderConfig::Oidc(_) => "oidc",
            ProviderConfig::Oauth2(_) => "oauth2",
            ProviderConfig::Ldap(_) => "ldap",
            ProviderConfig::Saml(_) => "saml",
        }
    }

    /// The configuration of a stored provider.
    pub fn of(provider: &IdentityProvider) -> Result<Self, ConfigError> {
        serde_json::from_str(&provider.config_json)
            .map_err(|e| invalid(format!("stored configuration unreadable: {e}")))
    }
}

/// Whether `url` names this host (where plain http or ldap cannot be overheard).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        // http(s) hosts are lowercased by the parser; an ldap:// host in capitals is just not
        // taken for loopback (the safe side).
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// An endpoint of a provider must be https, except on loopback (test setups, a provider on
/// the same host).
pub fn check_endpoint(what: &str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| invalid(format!("{what}: not a URL ({e})")))?;
    let loopback = is_loopback(&url);
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(invalid(format!(
                "{what}: must be an https URL (plain http only on loopback), got {value}"
            )))
        }
    }
    if url.host().is_none() || url.fragment().is_some() {
        return Err(invalid(format!("{what}: needs a host and no fragment")));
    }
    Ok(url)
}

fn check_ldap_url(value: &str) -> Result<(), ConfigError> {
    let url = Url::parse(value).map_err(|e| invalid(format!("url: not a URL ({e})")))?;
    if !matches!(url.scheme(), "ldap" | "ldaps") || url.host().is_none() {
        return Err(invalid(
            "url: must be ldaps://host[:port] or ldap://host[:port]",
        ));
    }
    Ok(())
}

fn required<'a>(what: &str, value: &'a Option<String>) -> Result<&'a str, ConfigError> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(invalid(format!("{what} is required"))),
    }
}

fn check_id(id: &str) -> Result<(), ConfigError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "id: 1 to 64 characters of a-z, 0-9, '-' and '_' (it appears in URLs)",
        ))
    }
}

fn scopes_or(given: &Option<Vec<String>>, default: &[&str]) -> Vec<String> {
    match given {
        Some(s) if !s.is_empty() => s.clone(),
        _ => default.iter().map(|s| s.to_string()).collect(),
    }
}

/// Entra's tenant-independent endpoints: their ID tokens name the user's own tenant.
pub fn is_multi_tenant(tenant: &str) -> bool {
    matches!(tenant, "organizations" | "common" | "consumers")
}

/// Apply an OpenID Connect preset: the issuer, scopes and claim names that provider needs.
fn resolve_oidc(spec: &OidcConfigSpec) -> Result<OidcConfig, ConfigError> {
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

fn resolve_oauth2(spec: &OAuth2ConfigSpec) -> Result<OAuth2Config, ConfigError> {
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

fn check_ldap(spec: &LdapConfigSpec) -> Result<(), ConfigError> {
    check_ldap_url(&spec.url)?;
    let url = Url::parse(&spec.url).map_err(|e| invalid(format!("url: {e}")))?;
    if url.scheme() == "ldap" && !spec.starttls && !is_loopback(&url) {
        return Err(invalid(
            "url: ldap:// sends passwords in clear; use ldaps:// or starttls = true",
        ));
    }
    if spec.user_base.trim().is_empty() {
        return Err(invalid("user_base is required"));
    }
    if !spec.user_filter.contains("{username}") {
        return Err(invalid("user_filter must contain {username}"));
    }
    if spec.bind_dn.is_some() != spec.bind_password.is_some() {
        return Err(invalid("bind_dn and bind_password go together"));
    }
    if let Some(pem) = &spec.ca_pem {
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(invalid("ca_pem: not a PEM certificate"));
        }
    }
    Ok(())
}

fn check_saml(spec: &SamlConfig) -> Result<(), ConfigError> {
    match (&spec.idp_metadata_url, &spec.idp_metadata_xml) {
        (Some(url), None) => {
            check_endpoint("idp_metadata_url", url)?;
        }
        (None, Some(xml)) => {
            if !xml.contains("EntityDescriptor") {
                return Err(invalid("idp_metadata_xml: not SAML metadata"));
            }
        }
        _ => {
            return Err(invalid(
                "exactly one of idp_metadata_url and idp_metadata_xml is required",
            ))
        }
    }
    if let Some(e) = &spec.sp_entity_id {
        if e.trim().is_empty() {
            return Err(invalid("sp_entity_id must not be empty"));
        }
    }
    Ok(())
}

impl ProviderSpec {
    /// Validate, resolve presets, seal the secret: what the state stores.
    pub fn into_stored(
        self,
        sealer: &Sealer,
        now: UnixTime,
    ) -> Result<IdentityProvider, ConfigError> {
        check_id(&self.id)?;
        let (config, secret) = match self.kind {
            KindSpec::Oidc(spec) => {
                let secret = spec.client_secret.clone().filter(|s| !s.is_empty());
                (ProviderConfig::Oidc(resolve_oidc(&spec)?), secret)
            }
            KindSpec::Oauth2(spec) => {
                let secret = spec.client_secret.clone();
                (ProviderConfig::Oauth2(resolve_oauth2(&spec)?), secret)
            }
            KindSpec::Ldap(spec) => {
                check_ldap(&spec)?;
                let secret = spec.bind_password.clone();
                (ProviderConfig::Ldap(spec), secret)
            }
            KindSpec::Saml(spec) => {
                check_saml(&spec)?;
                (ProviderConfig::Saml(spec), None)
            }
        };
        let display_name = match self.display_name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() && n.len() <= 100 => n.to_owned(),
            Some(_) => return Err(invalid("display_name: 1 to 100 characters")),
            None => self.id.clone(),
        };
        let config_json = serde_json::to_string(&config)
            .map_err(|e| invalid(format!("cannot encode the configuration: {e}")))?;
        let sealed_secret = match secret {
            Some(s) => Some(
                sealer
                    .seal(SECRET_PURPOSE, s.as_bytes())
                    .map_err(|e| invalid(e.to_string()))?,
            ),
            None => None,
        };
        Ok(IdentityProvider {
            id: self.id,
            kind: config.kind().to_owned(),
            display_name,
            enabled: self.enabled,
            config_json,
            sealed_secret,
            updated_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn plain_ldap_is_refused_off_loopback_whatever_the_scheme_case() {
        for url in ["ldap://ldap.example.com", "LDAP://ldap.example.com"] {
            let spec = LdapConfigSpec {
                url: url.into(),
                starttls: false,
                ca_pem: None,
                bind_dn: None,
                bind_password: None,
                user_base: "dc=x".into(),
                user_filter: ldap_user_filter(),
                group_base: None,
                group_filter: ldap_group_filter(),
                group_name_attribute: ldap_group_name(),
                subject_attribute: ldap_subject(),
                email_attribute: ldap_email(),
                name_attribute: ldap_name(),
                member_of_attribute: None,
            };
            assert!(check_ldap(&spec).is_err(), "{url}");
            let loopback = LdapConfigSpec {
                url: "ldap://[::1]:389".into(),
                ..spec
            };
            assert!(check_ldap(&loopback).is_ok());
        }
    }
}
