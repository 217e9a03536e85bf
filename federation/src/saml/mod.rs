//! SAML 2.0 service provider: SP-initiated Web Browser SSO, AuthnRequest over HTTP-Redirect
//! (unsigned), Response over HTTP-POST. Protocol and XML-DSig work is done by `saml-rs`
//! (pure Rust, signatures through bergshamra); this module picks its policy, feeds it the IdP
//! metadata, maps its errors to [`UpstreamError`] and reads the identity.
//!
//! What a posted `SAMLResponse` must satisfy, and where it is checked:
//! - signed with a certificate from the IdP **metadata** (never one taken from `KeyInfo`; an
//!   embedded certificate that is not in the metadata is refused), RSA-SHA256/384/512 with
//!   exclusive c14n, the signature covering the Assertion or the whole Response, no signature
//!   wrapping shape, no duplicate IDs, no unsigned sibling assertion (saml-rs);
//! - Status Success, else [`UpstreamError::Denied`] (saml-rs reports it, we word it);
//! - Assertion Issuer = the IdP's entity ID (saml-rs), and the Response Issuer too when present
//!   (here);
//! - AudienceRestriction present and naming our entity ID; Destination, when present, = our ACS
//!   URL; a bearer SubjectConfirmation whose Recipient = our ACS URL (always required) and whose
//!   InResponseTo = the AuthnRequest ID, as is the Response's InResponseTo; Conditions
//!   NotBefore/NotOnOrAfter, bearer NotOnOrAfter and SessionNotOnOrAfter at the caller's `now`
//!   within `clock_skew_secs`; unknown Conditions refused (saml-rs);
//! - a transient NameID is refused as a subject (it changes at every login) unless the subject
//!   comes from an attribute (here).
//!
//! Not checked here: replay. The caller stores [`VerifiedAssertion::assertion_id`] until
//! [`VerifiedAssertion::expires_at`] in the replicated replay cache, so one response verifies
//! as often as it is presented to this module.
//!
//! IdP metadata (URL or inline XML) is trusted as configured (fetched over https, or loopback
//! http, through [`Outbound`]; its own signature is not checked). It is cached per provider,
//! keyed by the provider's `updated_at` and metadata source, refetched after an hour, kept for
//! up to a day when a refetch finds the IdP unreachable, and refetched at once (at most once a
//! minute) when a signature fails, so that a rotated IdP certificate is picked up.
//!
//! - [`service_provider`]: [`SamlSp`], the metadata cache, and the AuthnRequest and response
//!   checks through saml-rs;
//! - [`metadata`]: our SP metadata, and the IdP metadata read and normalized;
//! - [`assertion`]: reading the accepted assertion (subject, attributes, expiry);
//! - [`rejection`]: a refused response in words an administrator can act on.

pub mod assertion;
pub mod metadata;
pub mod rejection;
pub mod service_provider;

use mcpauth_state::UnixTime;

pub use metadata::sp_metadata;
pub use service_provider::{MetadataTiming, SamlSp};

pub use crate::config::NameIdChoice;
use crate::Identity;

/// Our side of one IdP: the entity ID we use, where assertions are posted, and the NameID
/// format we ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpInfo {
    pub entity_id: String,
    pub acs_url: String,
    pub name_id_format: NameIdChoice,
}

/// An assertion that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub identity: Identity,
    /// The assertion's ID, for the replay cache.
    pub assertion_id: String,
    /// Until when the assertion could be presented: its latest NotOnOrAfter (Conditions or
    /// bearer SubjectConfirmationData) plus the clock skew allowed.
    pub expires_at: UnixTime,
}
