//! Why a response was refused, in words a person and an administrator can act on. None
//! quotes the response itself (it may carry personal data).

use base64::Engine;
use mcpauth_state::UnixTime;
use saml_rs::error::{SubjectConfirmationReason, TimeWindowField};
use saml_rs::xml::dom;
use saml_rs::xml::XmlLimits;
use saml_rs::SamlError;

use super::assertion::{child, parse_instant};
use super::SpInfo;
use crate::config::SamlConfig;
use crate::UpstreamError;

/// Why saml-rs or our own reading refused a response.
pub(super) enum Rejected {
    Saml(SamlError),
    Ours(UpstreamError),
}

/// A failure that a newer IdP certificate could cure.
pub(super) fn is_signature_failure(e: &SamlError) -> bool {
    matches!(
        e,
        SamlError::SignatureVerification { .. }
            | SamlError::CertificateMismatch
            | SamlError::UnmatchCertificate
            | SamlError::FailedToVerifySignature
            | SamlError::NoTrustedCertificate
            | SamlError::Crypto(_)
    )
}

const SIGNATURE_FAILED: &str =
    "the assertion's signature does not verify against the IdP's certificate";

impl Rejected {
    pub(super) fn into_upstream(
        self,
        sp: &SpInfo,
        saml_response: &str,
        now: UnixTime,
        config: &SamlConfig,
    ) -> UpstreamError {
        let e = match self {
            Rejected::Ours(e) => return e,
            Rejected::Saml(e) => e,
        };
        if (is_signature_failure(&e) || matches!(e, SamlError::AlgorithmUnsupported))
            && signed_with_sha1(saml_response)
        {
            tracing::warn!(
                "SAML response refused: signed with SHA-1; the IdP must sign with RSA-SHA256"
            );
            return UpstreamError::Misconfigured(SHA1_REFUSED.into());
        }
        let invalid = |m: &str| UpstreamError::Invalid(m.to_owned());
        match e {
            SamlError::StatusNotSuccess { top, second } => {
                UpstreamError::Denied(status_in_words(&top, second.as_deref()))
            }
            SamlError::FailedStatus { top, second } => {
                let second = Some(second.as_str()).filter(|s| !s.is_empty());
                UpstreamError::Denied(status_in_words(&top, second))
            }
            SamlError::UndefinedStatus => invalid("the response carries no status"),
            SamlError::SignatureMissing => {
                invalid("the response is not signed (neither the assertion nor the response)")
            }
            SamlError::Crypto(detail) => {
                // Only the kind ("digest mismatch for reference", "unsupported algorithm"...):
                // what follows it may quote the response.
                let kind = detail.split(':').next().unwrap_or_default();
                tracing::warn!(kind, "SAML signature check failed in the crypto layer");
                invalid(SIGNATURE_FAILED)
            }
            SamlError::SignatureVerification { .. }
            | SamlError::CertificateMismatch
            | SamlError::UnmatchCertificate
            | SamlError::FailedToVerifySignature
            | SamlError::NoTrustedCertificate => invalid(SIGNATURE_FAILED),
            SamlError::AlgorithmUnsupported => invalid(
                "the signature uses an algorithm other than RSA-SHA256/384/512 with exclusive \
                 canonicalization",
            ),
            SamlError::AssertionSignatureRequired | SamlError::SignedReferenceMismatch => {
                invalid("the signature does not cover the assertion")
            }
            SamlError::ReferenceResolution { .. } => {
                invalid("the signature refers to something that is not in the response")
            }
            SamlError::PotentialWrappingAttack => invalid(
                "the response is shaped like a signature wrapping attack (duplicate IDs, or an \
                 assertion or signature where none belongs)",
            ),
            SamlError::IssuerMismatch { expected, .. } => UpstreamError::Invalid(format!(
                "the assertion's issuer is not the identity provider (expected {expected})"
            )),
            SamlError::UnmatchIssuer => {
                invalid("the assertion's issuer is not the identity provider")
            }
            SamlError::AudienceMismatch { .. } | SamlError::UnmatchAudience => {
                UpstreamError::Invalid(format!(
                    "the assertion is for another audience (expected {})",
                    sp.entity_id
                ))
            }
            SamlError::DestinationMismatch { .. } | SamlError::UnmatchDestination => {
                UpstreamError::Invalid(format!(
                    "the response's Destination is not our ACS URL {}",
                    sp.acs_url
                ))
            }
            SamlError::InResponseToMismatch { .. } | SamlError::InvalidInResponseTo => invalid(
                "the response does not answer our login request (InResponseTo does not match)",
            ),
            SamlError::SubjectConfirmationInvalid { reason } => match reason {
                SubjectConfirmationReason::RecipientMismatch => UpstreamError::Invalid(format!(
                    "the assertion's SubjectConfirmationData Recipient is not our ACS URL {}",
                    sp.acs_url
                )),
                SubjectConfirmationReason::TimeWindowInvalid => {
                    invalid("the assertion has expired")
                }
                SubjectConfirmationReason::InResponseToMismatch => invalid(
                    "the assertion does not answer our login request (SubjectConfirmationData \
                     InResponseTo does not match)",
                ),
                SubjectConfirmationReason::MissingNotOnOrAfter => {
                    invalid("the assertion's bearer confirmation has no NotOnOrAfter")
                }
                _ => invalid("the assertion has no valid bearer subject confirmation"),
            },
            SamlError::SubjectUnconfirmed => {
                invalid("the assertion has no valid bearer subject confirmation")
            }
            SamlError::TimeWindowInvalid {
                field: TimeWindowField::Conditions,
            } => conditions_failure(saml_response, now, config.clock_skew_secs),
            SamlError::TimeWindowInvalid {
                field: TimeWindowField::SessionNotOnOrAfter,
            }
            | SamlError::ExpiredSession => {
                invalid("the assertion has expired (its SessionNotOnOrAfter has passed)")
            }
            SamlError::TimeWindowInvalid { .. } => {
                invalid("the assertion is outside its validity period")
            }
            SamlError::UnrecognizedCondition { element } => UpstreamError::Invalid(format!(
                "the assertion has a condition mcpauth does not understand ({})",
                element.chars().take(64).collect::<String>()
            )),
            SamlError::PrincipalMismatch => {
                invalid("the response's assertions are about different people")
            }
            SamlError::MissingMetadata(what) => {
                UpstreamError::Misconfigured(format!("the IdP metadata lacks {what}"))
            }
            SamlError::Xml(_)
            | SamlError::Base64(_)
            | SamlError::Deflate(_)
            | SamlError::ProtocolProfile(_)
            | SamlError::Invalid(_)
            | SamlError::MissingBindingParameter { .. } => {
                invalid("the SAML response is malformed (not a well-formed SAML 2.0 Response)")
            }
            _ => {
                // Non-exhaustive: a kind added later. Its text may quote the response: not shown.
                tracing::warn!("SAML response refused for a reason this version does not know");
                invalid("the SAML response was refused")
            }
        }
    }
}

const SHA1_REFUSED: &str = "the response is signed with RSA-SHA1 or a SHA-1 digest, which \
     mcpauth refuses (SHA-1 signatures can be forged). The IdP's administrator must configure \
     it to sign with RSA-SHA256 (http://www.w3.org/2001/04/xmldsig-more#rsa-sha256) and the \
     SHA-256 digest";

/// The XML-DSig algorithm identifiers of SHA-1.
const SHA1_ALGORITHMS: [&str; 4] = [
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
    "http://www.w3.org/2000/09/xmldsig#sha1",
];

/// Whether any signature in the response uses SHA-1 (its SignatureMethod or a DigestMethod):
/// then the refusal says which algorithm to configure instead, and no metadata refetch (a
/// new certificate) can help.
pub(super) fn signed_with_sha1(saml_response: &str) -> bool {
    fn any_sha1(node: &dom::Node) -> bool {
        let named = matches!(node.local_name.as_str(), "SignatureMethod" | "DigestMethod");
        (named
            && node
                .attr("Algorithm")
                .is_some_and(|a| SHA1_ALGORITHMS.contains(&a.trim())))
            || node.children.iter().any(any_sha1)
    }
    decode(saml_response)
        .and_then(|xml| dom::parse_with_limits(&xml, XmlLimits::default()).ok())
        .is_some_and(|doc| any_sha1(&doc.root))
}

/// Which side of the Conditions window failed, for the message (the response is refused
/// either way).
fn conditions_failure(saml_response: &str, now: UnixTime, skew: u64) -> UpstreamError {
    let not_before = decode(saml_response).and_then(|xml| {
        let doc = dom::parse_with_limits(&xml, XmlLimits::default()).ok()?;
        let assertion = child(&doc.root, "Assertion")?;
        let nb = child(assertion, "Conditions")?.attr("NotBefore")?;
        parse_instant(nb)
    });
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let skew = i64::try_from(skew).unwrap_or(i64::MAX);
    match not_before {
        Some(nb) if now.saturating_add(skew) < nb => UpstreamError::Invalid(
            "the assertion is not yet valid (its NotBefore is in the future: check the clocks)"
                .into(),
        ),
        _ => UpstreamError::Invalid("the assertion has expired".into()),
    }
}

fn decode(saml_response: &str) -> Option<String> {
    let compact: String = saml_response.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// "Responder / AuthnFailed: the identity provider could not sign you in".
fn status_in_words(top: &str, second: Option<&str>) -> String {
    const PREFIX: &str = "urn:oasis:names:tc:SAML:2.0:status:";
    let short = |code: &str| code.strip_prefix(PREFIX).unwrap_or(code).to_owned();
    let words = match second.map(short).as_deref().unwrap_or("") {
        "AuthnFailed" => "authentication failed or was cancelled",
        "RequestDenied" => "the request was denied",
        "UnknownPrincipal" => "the user is not known to the identity provider",
        "NoPassive" => "the user would have to sign in interactively",
        "NoAuthnContext" => "the requested kind of authentication is not available",
        "InvalidNameIDPolicy" => "the identity provider cannot give the requested name identifier",
        "RequestUnsupported" | "UnsupportedBinding" => {
            "the identity provider does not support this request"
        }
        "NoAvailableIDP" | "NoSupportedIDP" | "ProxyCountExceeded" => {
            "no identity provider could sign the user in"
        }
        "InvalidAttrNameOrValue" => "an attribute name or value was refused",
        _ => match short(top).as_str() {
            "Requester" => "the identity provider refused the request",
            "Responder" => "the identity provider could not complete the sign-in",
            "VersionMismatch" => "the identity provider does not speak this SAML version",
            _ => "the sign-in did not succeed",
        },
    };
    let code = match second {
        Some(s) => format!("{} / {}", short(top), short(s)),
        None => short(top),
    };
    let code: String = code.chars().take(120).collect();
    format!("{words} (SAML status {code})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_signatures_are_recognised() {
        let b64 = |xml: &str| base64::engine::general_purpose::STANDARD.encode(xml);
        let response = |signature: &str, digest: &str| {
            b64(&format!(
                r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:Signature><ds:SignedInfo><ds:SignatureMethod Algorithm="{signature}"/><ds:Reference><ds:DigestMethod Algorithm="{digest}"/></ds:Reference></ds:SignedInfo></ds:Signature></samlp:Response>"#
            ))
        };
        let sha256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
        let digest256 = "http://www.w3.org/2001/04/xmlenc#sha256";
        assert!(!signed_with_sha1(&response(sha256, digest256)));
        assert!(signed_with_sha1(&response(SHA1_ALGORITHMS[0], digest256)));
        assert!(signed_with_sha1(&response(sha256, SHA1_ALGORITHMS[3])));
        assert!(!signed_with_sha1("not base64 at all"));
    }

    #[test]
    fn status_words() {
        assert_eq!(
            status_in_words(
                "urn:oasis:names:tc:SAML:2.0:status:Responder",
                Some("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed")
            ),
            "authentication failed or was cancelled (SAML status Responder / AuthnFailed)"
        );
        assert_eq!(
            status_in_words("urn:oasis:names:tc:SAML:2.0:status:Requester", None),
            "the identity provider refused the request (SAML status Requester)"
        );
    }
}
