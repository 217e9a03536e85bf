//! SAML 2.0 identity providers: their metadata (URL or inline), our entity ID, the NameID
//! format we ask for, and the attributes that carry the person's details.

use serde::{Deserialize, Serialize};

use super::shared::check_endpoint;
use super::{invalid, ConfigError};

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
    /// The NameID format our metadata advertises and our AuthnRequest asks for. A new
    /// provider gets `persistent` when none is given ([`super::ProviderSpec::into_stored`]);
    /// a provider stored before this setting existed has none and keeps asking for
    /// `unspecified`, as it did then, so the subjects its people already have do not change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_id_format: Option<NameIdChoice>,
}

fn saml_skew() -> u64 {
    60
}

/// The NameID formats we may ask a SAML IdP for.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NameIdChoice {
    /// A stable, opaque identifier per person and SP: the right subject (the default).
    Persistent,
    /// The email address (`emailAddress`): readable, but it changes when the address does.
    Email,
    /// Whatever the IdP picks (a transient one is then refused as a subject).
    Unspecified,
}

impl SamlConfig {
    /// The format to ask for (see [`SamlConfig::name_id_format`]).
    pub fn name_id(&self) -> NameIdChoice {
        self.name_id_format.unwrap_or(NameIdChoice::Unspecified)
    }
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

pub(super) fn check_saml(spec: &SamlConfig) -> Result<(), ConfigError> {
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
