//! SAML 2.0 service provider: SP-initiated login over HTTP-Redirect, signed assertions over
//! HTTP-POST checked against the IdP metadata certificate. (Being written.)

use mcpauth_state::{IdentityProvider, UnixTime};

use super::config::SamlConfig;
use super::http::Outbound;
use super::{Identity, UpstreamError};

/// Our side of one IdP: the entity ID we use and where assertions are posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpInfo {
    pub entity_id: String,
    pub acs_url: String,
}

/// An assertion that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub identity: Identity,
    /// The assertion's ID, for the replay cache.
    pub assertion_id: String,
    /// Until when the assertion could be presented (its latest NotOnOrAfter).
    pub expires_at: UnixTime,
}

/// Metadata of the IdPs, fetched and cached per provider.
#[derive(Clone, Debug)]
pub struct SamlSp {
    outbound: Outbound,
}

impl SamlSp {
    pub fn new(outbound: Outbound) -> Self {
        Self { outbound }
    }

    /// Where to send the browser (HTTP-Redirect binding), and the AuthnRequest ID it carries.
    pub async fn login_redirect(
        &self,
        provider: &IdentityProvider,
        config: &SamlConfig,
        sp: &SpInfo,
        relay_state: &str,
    ) -> Result<(String, String), UpstreamError> {
        let _ = (&self.outbound, provider, config, sp, relay_state);
        Err(UpstreamError::Misconfigured("SAML is not built yet".into()))
    }

    /// Check a posted `SAMLResponse` (base64) against the IdP's metadata certificate.
    pub async fn verify(
        &self,
        provider: &IdentityProvider,
        config: &SamlConfig,
        sp: &SpInfo,
        saml_response: &str,
        expected_request_id: &str,
        now: UnixTime,
    ) -> Result<VerifiedAssertion, UpstreamError> {
        let _ = (
            provider,
            config,
            sp,
            saml_response,
            expected_request_id,
            now,
        );
        Err(UpstreamError::Misconfigured("SAML is not built yet".into()))
    }
}

/// Our SP metadata for the IdP to import.
pub fn sp_metadata(sp: &SpInfo) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{}"><md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{}" index="0" isDefault="true"/></md:SPSSODescriptor></md:EntityDescriptor>"#,
        sp.entity_id, sp.acs_url
    )
}
