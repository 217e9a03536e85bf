//! What an operator writes to configure an identity provider (admin API body, or a
//! `[[identity_provider]]` table of the config file), its validation, and the presets that fill
//! in the generic OpenID Connect kind for well-known providers.
//!
//! A [`ProviderSpec`] carries the provider's one secret (client secret, LDAP bind password) in
//! clear; [`ProviderSpec::into_stored`] seals it and keeps the rest as JSON in the replicated
//! state. Validation is static (no network): a provider that is down today may be up tomorrow,
//! but a malformed one never works, so it is refused and nothing changes.
//!
//! One file per kind ([`oidc`], [`oauth2`], [`ldap`], [`saml`]) holds what the operator writes,
//! what is stored and its checks; [`shared`] holds what several kinds use (claim names, the
//! https-or-loopback rule).

pub mod ldap;
pub mod oauth2;
pub mod oidc;
pub mod saml;
pub mod shared;

use mcpauth_crypto::Sealer;
use mcpauth_state::{IdentityProvider, UnixTime};
use serde::{Deserialize, Serialize};

pub use ldap::LdapConfigSpec;
pub use oauth2::{OAuth2Config, OAuth2ConfigSpec};
pub use oidc::{is_multi_tenant, OidcConfig, OidcConfigSpec, TokenAuth};
pub use saml::{NameIdChoice, SamlAttributes, SamlConfig};
pub use shared::{check_endpoint, ClaimMap};

/// The purpose a provider secret is sealed under (bound as associated data).
pub const SECRET_PURPOSE: &str = "upstream-secret";

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ConfigError(pub String);

pub(crate) fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// An identity provider as the operator describes it.
#[derive(Debug, Clone)]
pub struct ProviderSpec {
    pub id: String,
    pub display_name: Option<String>,
    pub enabled: bool,
    /// Upstream groups whose members administer mcpauth (`admin_groups`, `auditor_groups`).
    pub roles: RoleGroups,
    pub kind: KindSpec,
}

/// The upstream groups mapped to mcpauth's roles, for people who sign in through a provider.
/// Kept in the provider's stored JSON beside its kind's fields (absent when both are empty,
/// so a provider without them reads as before).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGroups {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admin_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auditor_groups: Vec<String>,
}

impl RoleGroups {
    pub fn is_empty(&self) -> bool {
        self.admin_groups.is_empty() && self.auditor_groups.is_empty()
    }

    /// The role groups of a stored provider (none if its JSON has none or is unreadable).
    pub fn of(provider: &IdentityProvider) -> Self {
        serde_json::from_str::<serde_json::Value>(&provider.config_json)
            .ok()
            .and_then(|mut value| Self::take_from(&mut value).ok())
            .unwrap_or_default()
    }

    /// Remove the role keys from a provider's JSON object and read them.
    fn take_from(value: &mut serde_json::Value) -> Result<Self, ConfigError> {
        let serde_json::Value::Object(map) = value else {
            return Ok(Self::default());
        };
        let mut groups = |key: &str| -> Result<Vec<String>, ConfigError> {
            match map.remove(key) {
                None | Some(serde_json::Value::Null) => Ok(Vec::new()),
                Some(v) => {
                    let list: Vec<String> = serde_json::from_value(v)
                        .map_err(|_| invalid(format!("{key} must be a list of group names")))?;
                    if list.iter().any(|g| g.trim().is_empty() || g.len() > 256) {
                        return Err(invalid(format!(
                            "{key}: group names of 1 to 256 characters"
                        )));
                    }
                    Ok(list)
                }
            }
        };
        Ok(Self {
            admin_groups: groups("admin_groups")?,
            auditor_groups: groups("auditor_groups")?,
        })
    }
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
        let mut rest = serde_json::Value::Object(map);
        let roles = RoleGroups::take_from(&mut rest)?;
        let kind: KindSpec = serde_json::from_value(rest).map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            id,
            display_name,
            enabled,
            roles,
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

    /// The configuration of a stored provider (its role groups are read by [`RoleGroups::of`]).
    pub fn of(provider: &IdentityProvider) -> Result<Self, ConfigError> {
        let mut value: serde_json::Value = serde_json::from_str(&provider.config_json)
            .map_err(|e| invalid(format!("stored configuration unreadable: {e}")))?;
        RoleGroups::take_from(&mut value)?;
        serde_json::from_value(value)
            .map_err(|e| invalid(format!("stored configuration unreadable: {e}")))
    }
}

impl ProviderSpec {
    /// Validate, resolve presets, seal the secret: what the state stores.
    pub fn into_stored(
        self,
        sealer: &Sealer,
        now: UnixTime,
    ) -> Result<IdentityProvider, ConfigError> {
        shared::check_id(&self.id)?;
        let (config, secret) = match self.kind {
            KindSpec::Oidc(spec) => {
                let secret = spec.client_secret.clone().filter(|s| !s.is_empty());
                (ProviderConfig::Oidc(oidc::resolve_oidc(&spec)?), secret)
            }
            KindSpec::Oauth2(spec) => {
                let secret = spec.client_secret.clone();
                (
                    ProviderConfig::Oauth2(oauth2::resolve_oauth2(&spec)?),
                    secret,
                )
            }
            KindSpec::Ldap(spec) => {
                ldap::check_ldap(&spec)?;
                let secret = spec.bind_password.clone();
                (ProviderConfig::Ldap(spec), secret)
            }
            KindSpec::Saml(mut spec) => {
                saml::check_saml(&spec)?;
                spec.name_id_format.get_or_insert(NameIdChoice::Persistent);
                (ProviderConfig::Saml(spec), None)
            }
        };
        let display_name = match self.display_name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() && n.len() <= 100 => n.to_owned(),
            Some(_) => return Err(invalid("display_name: 1 to 100 characters")),
            None => self.id.clone(),
        };
        let encoding =
            |e: serde_json::Error| invalid(format!("cannot encode the configuration: {e}"));
        let config_json = if self.roles.is_empty() {
            serde_json::to_string(&config).map_err(encoding)?
        } else {
            let mut stored = serde_json::to_value(&config).map_err(encoding)?;
            if let (serde_json::Value::Object(map), serde_json::Value::Object(roles)) = (
                &mut stored,
                serde_json::to_value(&self.roles).map_err(encoding)?,
            ) {
                map.extend(roles);
            }
            stored.to_string()
        };
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
