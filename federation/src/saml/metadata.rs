//! SAML metadata both ways: ours for the IdP to import, and the IdP's, read and normalized
//! into exactly what we trust (its entity ID, its HTTP-Redirect SSO endpoint, its signing
//! certificates).

use saml_rs::constants::{Binding, CertUse};
use saml_rs::metadata::{generate_idp_metadata, Endpoint, IdpMetadataConfig as RawIdpMetadata};
use saml_rs::xml::dom::{self, Node};
use saml_rs::xml::XmlLimits;
use saml_rs::{AssertionSignaturePolicy, IdpDescriptor, MetadataTrustPolicy, SamlError};

use super::assertion::children;
use super::service_provider::{name_id_format, service_provider};
use super::SpInfo;
use crate::UpstreamError;

/// Our SP metadata for the IdP to import, written by saml-rs (which escapes every value). It
/// advertises the one NameID format we ask for, and asks for signed assertions (`WantAssertionsSigned="true"`); a signed Response covering the
/// assertion is accepted too. Should saml-rs refuse `sp` (an entity ID or ACS URL that is not
/// an absolute http(s) URL), the same document is written here, escaped, rather than failing.
pub fn sp_metadata(sp: &SpInfo) -> String {
    match service_provider(sp, AssertionSignaturePolicy::RequireSigned) {
        Ok(ours) => ours.metadata_xml().to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "SP metadata written without saml-rs");
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{}"><md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:NameIDFormat>{}</md:NameIDFormat><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{}" index="0" isDefault="true"/></md:SPSSODescriptor></md:EntityDescriptor>"#,
                xml_escape(&sp.entity_id),
                name_id_format(sp.name_id_format).as_uri(),
                xml_escape(&sp.acs_url)
            )
        }
    }
}

fn xml_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push_str(&format!("&#x{:x};", u32::from(c))),
            // Not representable in XML 1.0.
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Parse IdP metadata (one EntityDescriptor), refuse what can never work, and return saml-rs a
/// normalized copy: the entity ID, the HTTP-Redirect SSO endpoint and exactly the signing
/// certificates we choose. (saml-rs alone treats a lone `use="encryption"` certificate as a
/// signing one, finds none when two KeyDescriptors have no `use`, and reads SPSSODescriptor
/// keys too.)
pub(super) fn parse_idp_metadata(xml: &str) -> Result<IdpDescriptor, UpstreamError> {
    let unusable =
        |e: SamlError| UpstreamError::Misconfigured(format!("the IdP metadata is not usable: {e}"));
    let parsed =
        IdpDescriptor::from_metadata_xml(xml, MetadataTrustPolicy::UnsignedForCompatibility)
            .map_err(unusable)?;
    let entity_id = parsed.entity_id().as_str().to_owned();
    let metadata = parsed.metadata();
    let Some(sso) = metadata.get_single_sign_on_service(Binding::Redirect) else {
        return Err(UpstreamError::Misconfigured(
            "the IdP metadata has no HTTP-Redirect SingleSignOnService".into(),
        ));
    };
    if metadata.is_want_authn_requests_signed() {
        return Err(UpstreamError::Misconfigured(
            "the IdP requires signed AuthnRequests (WantAuthnRequestsSigned=\"true\"); mcpauth \
             sends them unsigned"
                .into(),
        ));
    }
    let doc = dom::parse_with_limits(xml, XmlLimits::default()).map_err(unusable)?;
    let certs = idp_signing_certificates(&doc.root, &entity_id);
    if certs.is_empty() {
        return Err(UpstreamError::Misconfigured(
            "the IdP metadata has no signing certificate (an IDPSSODescriptor KeyDescriptor \
             with use=\"signing\" or no use), so no response could be verified"
                .into(),
        ));
    }
    let normalized = generate_idp_metadata(&RawIdpMetadata {
        entity_id,
        signing_certs: certs,
        single_sign_on_service: vec![Endpoint::new(Binding::Redirect, sso)],
        ..RawIdpMetadata::default()
    });
    IdpDescriptor::from_metadata_xml(&normalized, MetadataTrustPolicy::UnsignedForCompatibility)
        .map_err(unusable)
}

/// The certificates of the KeyDescriptors for signing (`use="signing"` or no `use`) of the
/// IDPSSODescriptor of the EntityDescriptor `entity_id`, whitespace removed, without repeats.
fn idp_signing_certificates(root: &Node, entity_id: &str) -> Vec<String> {
    fn entity<'a>(node: &'a Node, entity_id: &str) -> Option<&'a Node> {
        if node.local_name == "EntityDescriptor" {
            return (node.attr("entityID") == Some(entity_id)).then_some(node);
        }
        node.children.iter().find_map(|c| entity(c, entity_id))
    }
    fn certificates<'a>(node: &'a Node, out: &mut Vec<&'a str>) {
        if node.local_name == "X509Certificate" {
            out.push(&node.text);
        }
        for c in &node.children {
            certificates(c, out);
        }
    }
    let mut found = Vec::new();
    if let Some(entity) = entity(root, entity_id) {
        for key in children(entity, "IDPSSODescriptor")
            .flat_map(|d| children(d, "KeyDescriptor"))
            .filter(|k| matches!(k.attr("use"), None | Some("signing")))
        {
            for info in children(key, "KeyInfo") {
                certificates(info, &mut found);
            }
        }
    }
    let mut certs: Vec<String> = Vec::new();
    for cert in found {
        let cert: String = cert.split_whitespace().collect();
        if !cert.is_empty() && !certs.contains(&cert) {
            certs.push(cert);
        }
    }
    certs
}

pub(super) fn signing_certificates(idp: &IdpDescriptor) -> Vec<String> {
    let mut certs: Vec<String> = idp
        .metadata()
        .x509_certificates(CertUse::Signing)
        .iter()
        .map(|c| c.split_whitespace().collect())
        .collect();
    certs.sort();
    certs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(key_descriptors: &str) -> String {
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.test"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{}<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.test/acs" index="0"/></md:SPSSODescriptor><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{key_descriptors}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/sso?a=1&amp;b=2"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
            key(Some("signing"), "SPKEY")
        )
    }

    fn key(usage: Option<&str>, cert: &str) -> String {
        let usage = usage.map(|u| format!(r#" use="{u}""#)).unwrap_or_default();
        format!(
            r#"<md:KeyDescriptor{usage}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
            {cert}
            </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
        )
    }

    #[test]
    fn signing_certificates_from_metadata() {
        let certs = |kds: String| -> Result<Vec<String>, UpstreamError> {
            let idp = parse_idp_metadata(&metadata(&kds))?;
            assert_eq!(idp.entity_id().as_str(), "https://idp.example.test");
            assert_eq!(
                idp.metadata()
                    .get_single_sign_on_service(Binding::Redirect)
                    .as_deref(),
                Some("https://idp.example.test/sso?a=1&b=2")
            );
            Ok(idp.metadata().x509_certificates(CertUse::Signing))
        };
        let two = key(Some("signing"), "AAAA") + &key(Some("signing"), "BB BB");
        assert_eq!(certs(two), Ok(vec!["AAAA".to_owned(), "BBBB".to_owned()]));
        let unqualified = key(None, "AAAA") + &key(None, "BBBB") + &key(Some("encryption"), "CCCC");
        assert_eq!(
            certs(unqualified),
            Ok(vec!["AAAA".to_owned(), "BBBB".to_owned()])
        );
        let repeated = key(Some("signing"), "AAAA") + &key(None, "AAAA");
        assert_eq!(certs(repeated), Ok(vec!["AAAA".to_owned()]));
        for none in [String::new(), key(Some("encryption"), "CCCC")] {
            assert!(matches!(certs(none), Err(UpstreamError::Misconfigured(_))));
        }
    }
}
