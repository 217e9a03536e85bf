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

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use base64::Engine;
use mcpauth_state::{IdentityProvider, UnixTime};
use saml_rs::constants::{Binding, CertUse};
use saml_rs::error::{SubjectConfirmationReason, TimeWindowField};
use saml_rs::metadata::{generate_idp_metadata, Endpoint, IdpMetadataConfig as RawIdpMetadata};
use saml_rs::xml::dom::{self, Node};
use saml_rs::xml::XmlLimits;
use saml_rs::{
    AcsEndpoint, AssertionSignaturePolicy, AudienceValidationPolicy, AuthnRequestSigningPolicy,
    BrowserInput, ClockSkew, EntityId, FormField, IdpDescriptor, LogoutPolicy, MessageId,
    MetadataTrustPolicy, NameIdCreationPolicy, NameIdFormat, PendingAuthnRequest, RelayStateParam,
    ReplayPolicy, ResponseSignaturePolicy, Saml, SamlError, SamlValidationContext, Sp, SpConfig,
    SpValidationPolicy, SsoResponse, SsoResponseBinding, SsoSession, StartSso, XmlSignatureProfile,
    MAX_RELAY_STATE_BYTES,
};
use sha2::{Digest, Sha256};

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
    /// Until when the assertion could be presented: its latest NotOnOrAfter (Conditions or
    /// bearer SubjectConfirmationData) plus the clock skew allowed.
    pub expires_at: UnixTime,
}

/// How long fetched IdP metadata is used (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataTiming {
    /// Refetch metadata older than this.
    pub max_age: Duration,
    /// After a signature failure, refetch metadata at once if it is older than this, and not
    /// more often than this per provider.
    pub refetch_min_interval: Duration,
    /// When a refetch finds the metadata URL unreachable, keep using metadata younger than
    /// this (fetched from the same URL for the same provider configuration).
    pub stale_grace: Duration,
}

impl Default for MetadataTiming {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(3600),
            refetch_min_interval: Duration::from_secs(60),
            stale_grace: Duration::from_secs(24 * 3600),
        }
    }
}

/// After a refetch failed and stale metadata is served, when to try again.
const RETRY_AFTER_FAILED_REFRESH: Duration = Duration::from_secs(300);

/// Where a provider's metadata comes from, and which configuration of it: a change of either
/// makes the cached copy useless.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceKey {
    updated_at: UnixTime,
    source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Url(String),
    /// SHA-256 of the inline XML.
    Inline([u8; 32]),
}

impl SourceKey {
    fn of(provider: &IdentityProvider, config: &SamlConfig) -> Result<Self, UpstreamError> {
        let source = match (&config.idp_metadata_url, &config.idp_metadata_xml) {
            (Some(url), None) => Source::Url(url.clone()),
            (None, Some(xml)) => Source::Inline(Sha256::digest(xml.as_bytes()).into()),
            _ => {
                return Err(UpstreamError::Misconfigured(
                    "exactly one of idp_metadata_url and idp_metadata_xml is required".into(),
                ))
            }
        };
        Ok(Self {
            updated_at: provider.updated_at,
            source,
        })
    }
}

#[derive(Debug, Clone)]
struct CachedIdp {
    key: SourceKey,
    idp: Arc<IdpDescriptor>,
    /// When this copy was fetched (or parsed, for inline XML).
    fetched_at: Instant,
    /// When to fetch again; `None` for inline XML (its key changes with it).
    refresh_after: Option<Instant>,
    /// Last refetch caused by a signature failure.
    forced_at: Option<Instant>,
}

/// The SAML service provider of this node: IdP metadata, fetched and cached per provider.
#[derive(Clone, Debug)]
pub struct SamlSp {
    outbound: Outbound,
    timing: MetadataTiming,
    cache: Arc<RwLock<HashMap<String, CachedIdp>>>,
}

impl SamlSp {
    pub fn new(outbound: Outbound) -> Self {
        Self {
            outbound,
            timing: MetadataTiming::default(),
            cache: Arc::default(),
        }
    }

    /// Other metadata cache timings (tests).
    pub fn with_metadata_timing(mut self, timing: MetadataTiming) -> Self {
        self.timing = timing;
        self
    }

    /// Where to send the browser (HTTP-Redirect binding), and the AuthnRequest ID it carries.
    /// `relay_state` is sent as RelayState (at most 80 bytes, SAML Bindings §3.4.3).
    pub async fn login_redirect(
        &self,
        provider: &IdentityProvider,
        config: &SamlConfig,
        sp: &SpInfo,
        relay_state: &str,
    ) -> Result<(String, String), UpstreamError> {
        if relay_state.is_empty() || relay_state.len() > MAX_RELAY_STATE_BYTES {
            return Err(UpstreamError::Misconfigured(format!(
                "the SAML RelayState must be 1 to {MAX_RELAY_STATE_BYTES} bytes, not {}",
                relay_state.len()
            )));
        }
        let idp = self.descriptor(provider, config).await?;
        let ours = service_provider(sp, AssertionSignaturePolicy::AllowUnsignedForCompatibility)?;
        let relay = RelayStateParam::try_from_option(Some(relay_state))
            .map_err(|e| UpstreamError::Misconfigured(format!("SAML RelayState: {e}")))?;
        let options = StartSso::redirect()
            .relay_state(relay)
            // NameIDPolicy Format unspecified; AllowCreate="true" lets the IdP create a
            // persistent identifier at the first login.
            .apply_web_browser_sso_generation_rules();
        let started = ours.start_sso(&idp, options).map_err(|e| {
            UpstreamError::Misconfigured(format!("cannot build the SAML AuthnRequest: {e}"))
        })?;
        let url = started
            .outbound
            .redirect_url()
            .map_err(|e| {
                UpstreamError::Misconfigured(format!("cannot build the SAML redirect: {e}"))
            })?
            .to_owned();
        Ok((url, started.pending.request_id().as_str().to_owned()))
    }

    /// Check a posted `SAMLResponse` (base64) answering the AuthnRequest `expected_request_id`,
    /// at `now` (Unix seconds, from the caller), against the IdP's metadata certificate.
    pub async fn verify(
        &self,
        provider: &IdentityProvider,
        config: &SamlConfig,
        sp: &SpInfo,
        saml_response: &str,
        expected_request_id: &str,
        now: UnixTime,
    ) -> Result<VerifiedAssertion, UpstreamError> {
        let idp = self.descriptor(provider, config).await?;
        let ours = service_provider(sp, AssertionSignaturePolicy::AllowUnsignedForCompatibility)?;
        let check = |idp: &IdpDescriptor| {
            finish(
                &ours,
                idp,
                sp,
                saml_response,
                expected_request_id,
                now,
                config.clock_skew_secs,
            )
        };
        let mut used = idp.clone();
        let session = match check(&idp) {
            Ok(session) => session,
            Err(Rejected::Saml(e)) if is_signature_failure(&e) => {
                match self
                    .refetch_after_signature_failure(provider, config, &idp)
                    .await
                {
                    Some(fresh) => {
                        tracing::info!(
                            provider = %provider.id,
                            "the IdP's signing certificates changed in its metadata; checking the response again"
                        );
                        let session = check(&fresh)
                            .map_err(|r| r.into_upstream(sp, saml_response, now, config))?;
                        used = fresh;
                        session
                    }
                    None => {
                        return Err(Rejected::Saml(e).into_upstream(sp, saml_response, now, config))
                    }
                }
            }
            Err(r) => return Err(r.into_upstream(sp, saml_response, now, config)),
        };
        let verified = read_assertion(&session, &used, config)?;
        tracing::debug!(provider = %provider.id, "SAML assertion verified");
        Ok(verified)
    }

    /// The provider's metadata, from the cache when it is current.
    async fn descriptor(
        &self,
        provider: &IdentityProvider,
        config: &SamlConfig,
    ) -> Result<Arc<IdpDescriptor>, UpstreamError> {
        let key = SourceKey::of(provider, config)?;
        let cached = self
            .read_cache()
            .get(&provider.id)
            .filter(|c| c.key == key)
            .cloned();
        let now = Instant::now();
        if let Some(c) = &cached {
            if c.refresh_after.is_none_or(|t| now < t) {
                return Ok(c.idp.clone());
            }
        }
        let url = match (&key.source, &config.idp_metadata_xml) {
            (Source::Inline(_), Some(xml)) => {
                let idp = Arc::new(parse_idp_metadata(xml)?);
                self.store(&provider.id, key, idp.clone(), now, None, None);
                return Ok(idp);
            }
            (Source::Url(url), _) => url.clone(),
            (Source::Inline(_), None) => {
                return Err(UpstreamError::Misconfigured(
                    "no IdP metadata configured".into(),
                ))
            }
        };
        match self.fetch(&url).await {
            Ok(idp) => {
                let idp = Arc::new(idp);
                let refresh = now.checked_add(self.timing.max_age);
                self.store(&provider.id, key, idp.clone(), now, refresh, None);
                Ok(idp)
            }
            Err(UpstreamError::Unavailable(reason)) => match cached {
                Some(c) if now.duration_since(c.fetched_at) < self.timing.stale_grace => {
                    tracing::warn!(
                        provider = %provider.id,
                        %reason,
                        "IdP metadata could not be refreshed; using the copy fetched earlier"
                    );
                    let retry = now.checked_add(RETRY_AFTER_FAILED_REFRESH);
                    self.store(
                        &provider.id,
                        key,
                        c.idp.clone(),
                        c.fetched_at,
                        retry,
                        c.forced_at,
                    );
                    Ok(c.idp)
                }
                _ => Err(UpstreamError::Unavailable(reason)),
            },
            Err(e) => Err(e),
        }
    }

    /// After a signature failure: fetch the metadata again (rate limited), and return it if
    /// its signing certificates differ from those that failed.
    async fn refetch_after_signature_failure(
        &self,
        provider: &IdentityProvider,
        config: &SamlConfig,
        used: &IdpDescriptor,
    ) -> Option<Arc<IdpDescriptor>> {
        let key = SourceKey::of(provider, config).ok()?;
        let Source::Url(url) = &key.source else {
            return None;
        };
        let now = Instant::now();
        {
            let mut cache = self.write_cache();
            let entry = cache.get_mut(&provider.id).filter(|c| c.key == key)?;
            let interval = self.timing.refetch_min_interval;
            let recent = |t: Instant| now.duration_since(t) < interval;
            if recent(entry.fetched_at) || entry.forced_at.is_some_and(recent) {
                return None;
            }
            entry.forced_at = Some(now);
        }
        let fresh = match self.fetch(url).await {
            Ok(idp) => Arc::new(idp),
            Err(e) => {
                tracing::warn!(provider = %provider.id, error = %e, "IdP metadata refetch failed");
                return None;
            }
        };
        let refresh = now.checked_add(self.timing.max_age);
        self.store(&provider.id, key, fresh.clone(), now, refresh, Some(now));
        (signing_certificates(&fresh) != signing_certificates(used)).then_some(fresh)
    }

    async fn fetch(&self, url: &str) -> Result<IdpDescriptor, UpstreamError> {
        let xml = self
            .outbound
            .get_text("SAML IdP metadata", url)
            .await
            .map_err(|e| match e {
                UpstreamError::Invalid(m) => UpstreamError::Misconfigured(m),
                other => other,
            })?;
        parse_idp_metadata(&xml)
    }

    fn store(
        &self,
        provider_id: &str,
        key: SourceKey,
        idp: Arc<IdpDescriptor>,
        fetched_at: Instant,
        refresh_after: Option<Instant>,
        forced_at: Option<Instant>,
    ) {
        self.write_cache().insert(
            provider_id.to_owned(),
            CachedIdp {
                key,
                idp,
                fetched_at,
                refresh_after,
                forced_at,
            },
        );
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, CachedIdp>> {
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, CachedIdp>> {
        self.cache.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Our SP metadata for the IdP to import, written by saml-rs (which escapes every value). It
/// asks for signed assertions (`WantAssertionsSigned="true"`); a signed Response covering the
/// assertion is accepted too. Should saml-rs refuse `sp` (an entity ID or ACS URL that is not
/// an absolute http(s) URL), the same document is written here, escaped, rather than failing.
pub fn sp_metadata(sp: &SpInfo) -> String {
    match service_provider(sp, AssertionSignaturePolicy::RequireSigned) {
        Ok(ours) => ours.metadata_xml().to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "SP metadata written without saml-rs");
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{}"><md:SPSSODescriptor AuthnRequestsSigned="false" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{}" index="0" isDefault="true"/></md:SPSSODescriptor></md:EntityDescriptor>"#,
                xml_escape(&sp.entity_id),
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

/// saml-rs's view of us. `assertions` only decides `WantAssertionsSigned` in our metadata and
/// whether a Response signature alone is enough: we accept it (the verify path passes
/// `AllowUnsignedForCompatibility`, which still requires the Response or every Assertion to
/// be signed).
fn service_provider(
    sp: &SpInfo,
    assertions: AssertionSignaturePolicy,
) -> Result<Saml<Sp>, UpstreamError> {
    let bad = |e: SamlError| UpstreamError::Misconfigured(format!("our SAML SP settings: {e}"));
    let policy = SpValidationPolicy {
        assertions,
        responses: ResponseSignaturePolicy::RequireForEncryptedCbc,
        xml_signatures: XmlSignatureProfile::StrictRsaSha2,
        authn_requests: AuthnRequestSigningPolicy::DoNotSignForCompatibility,
        audience: AudienceValidationPolicy::Validate,
        name_id_creation: NameIdCreationPolicy::AllowCreate,
        logout: LogoutPolicy::recommended(),
    };
    let entity_id = EntityId::try_new(sp.entity_id.clone()).map_err(bad)?;
    let acs = AcsEndpoint::post(sp.acs_url.clone())
        .map_err(bad)?
        .with_index(0)
        .mark_default();
    let config = SpConfig::builder(entity_id)
        .acs_endpoint(acs)
        // Let the IdP choose (saml-rs would ask for emailAddress, which some IdPs refuse).
        .name_id_format(NameIdFormat::Unspecified)
        .validation(policy)
        .build()
        .map_err(bad)?;
    Saml::sp(config).map_err(bad)
}

/// Parse IdP metadata (one EntityDescriptor), refuse what can never work, and return saml-rs a
/// normalized copy: the entity ID, the HTTP-Redirect SSO endpoint and exactly the signing
/// certificates we choose. (saml-rs alone treats a lone `use="encryption"` certificate as a
/// signing one, finds none when two KeyDescriptors have no `use`, and reads SPSSODescriptor
/// keys too.)
fn parse_idp_metadata(xml: &str) -> Result<IdpDescriptor, UpstreamError> {
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

fn signing_certificates(idp: &IdpDescriptor) -> Vec<String> {
    let mut certs: Vec<String> = idp
        .metadata()
        .x509_certificates(CertUse::Signing)
        .iter()
        .map(|c| c.split_whitespace().collect())
        .collect();
    certs.sort();
    certs
}

/// Why saml-rs or our own reading refused a response.
enum Rejected {
    Saml(SamlError),
    Ours(UpstreamError),
}

/// saml-rs's part of the checks (see the module documentation).
fn finish(
    ours: &Saml<Sp>,
    idp: &IdpDescriptor,
    sp: &SpInfo,
    saml_response: &str,
    expected_request_id: &str,
    now: UnixTime,
    skew_secs: u64,
) -> Result<SsoSession, Rejected> {
    let request_id = MessageId::try_new(expected_request_id).map_err(|_| {
        Rejected::Ours(UpstreamError::Invalid(
            "no AuthnRequest ID to match the response against".into(),
        ))
    })?;
    let acs = AcsEndpoint::post(sp.acs_url.clone())
        .map_err(|e| Rejected::Ours(UpstreamError::Misconfigured(format!("our ACS URL: {e}"))))?;
    // RelayState is the caller's business (it finds the pending login with it): none here.
    let pending = PendingAuthnRequest::try_new(
        request_id,
        RelayStateParam::absent(),
        acs,
        SsoResponseBinding::Post,
        idp.entity_id().clone(),
    )
    .map_err(|e| {
        Rejected::Ours(UpstreamError::Misconfigured(format!(
            "SAML pending login: {e}"
        )))
    })?;
    let at = UNIX_EPOCH
        .checked_add(Duration::from_secs(now))
        .ok_or_else(|| Rejected::Ours(UpstreamError::Invalid("the time is out of range".into())))?;
    let skew_ms = i64::try_from(skew_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    let validation = SamlValidationContext::new(at, ReplayPolicy::DisabledForCompatibility)
        .with_clock_skew(ClockSkew::from_millis(-skew_ms, skew_ms));
    let input =
        BrowserInput::<SsoResponse>::post(vec![FormField::new("SAMLResponse", saml_response)]);
    ours.finish_sso(idp, &pending, input, validation)
        .map_err(Rejected::Saml)
}

/// A failure that a newer IdP certificate could cure.
fn is_signature_failure(e: &SamlError) -> bool {
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
    fn into_upstream(
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

/// Our reading of an accepted response: the Response Issuer, the identity and the expiry.
fn read_assertion(
    session: &SsoSession,
    idp: &IdpDescriptor,
    config: &SamlConfig,
) -> Result<VerifiedAssertion, UpstreamError> {
    let xml = &session.raw_flow().saml_content;
    let doc = dom::parse_with_limits(xml, XmlLimits::default()).map_err(|_| {
        UpstreamError::Invalid("the SAML response is malformed (not well-formed XML)".into())
    })?;
    let root = &doc.root;
    if root.local_name == "Response" {
        if let Some(issuer) = child(root, "Issuer") {
            if issuer.text.trim() != idp.entity_id().as_str() {
                return Err(UpstreamError::Invalid(format!(
                    "the response's issuer is not the identity provider (expected {})",
                    idp.entity_id().as_str()
                )));
            }
        }
    }
    // The assertion saml-rs verified and read: IDs are unique (saml-rs refuses duplicates).
    let id = session.assertion_id().as_str();
    let assertion = if root.local_name == "Assertion" && root.attr("ID") == Some(id) {
        Some(root)
    } else {
        children(root, "Assertion").find(|a| a.attr("ID") == Some(id))
    }
    .ok_or_else(|| UpstreamError::Invalid("the verified assertion cannot be found".into()))?;

    let attributes = Attributes::of(assertion);
    let name_id = session.name_id();
    let name_id_value = name_id.value().trim();
    let subject = match &config.attributes.subject {
        Some(attribute) => attributes.first(attribute).ok_or_else(|| {
            UpstreamError::Invalid(format!(
                "the assertion has no {attribute:?} attribute, which is configured as the subject"
            ))
        })?,
        None => {
            if matches!(name_id.format(), Some(NameIdFormat::Transient)) {
                return Err(UpstreamError::Misconfigured(
                    "the IdP sent a transient NameID, which changes at every login: have it send a \
                     persistent one, or name a stable attribute in attributes.subject"
                        .into(),
                ));
            }
            if name_id_value.is_empty() {
                return Err(UpstreamError::Invalid(
                    "the assertion's NameID is empty".into(),
                ));
            }
            name_id_value.to_owned()
        }
    };
    let email = attributes.first(&config.attributes.email);
    let username = email
        .clone()
        .or_else(|| (!name_id_value.is_empty()).then(|| name_id_value.to_owned()));
    let identity = Identity {
        subject,
        username,
        email,
        name: attributes.first(&config.attributes.name),
        groups: attributes.all(&config.attributes.groups),
    };
    Ok(VerifiedAssertion {
        identity,
        assertion_id: id.to_owned(),
        expires_at: expires_at(assertion, config.clock_skew_secs)?,
    })
}

/// The latest NotOnOrAfter of the assertion (Conditions and bearer SubjectConfirmationData),
/// plus the skew: until then a replay could be accepted.
fn expires_at(assertion: &Node, skew: u64) -> Result<UnixTime, UpstreamError> {
    const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
    let conditions = children(assertion, "Conditions").filter_map(|c| c.attr("NotOnOrAfter"));
    let bearer = children(assertion, "Subject")
        .flat_map(|s| children(s, "SubjectConfirmation"))
        .filter(|c| c.attr("Method") == Some(BEARER))
        .flat_map(|c| children(c, "SubjectConfirmationData"))
        .filter_map(|d| d.attr("NotOnOrAfter"));
    let latest = conditions
        .chain(bearer)
        .map(parse_instant)
        .collect::<Option<Vec<i64>>>()
        .and_then(|all| all.into_iter().max())
        .ok_or_else(|| {
            UpstreamError::Invalid("the assertion's NotOnOrAfter cannot be read".into())
        })?;
    let skew = i64::try_from(skew).unwrap_or(i64::MAX);
    Ok(UnixTime::try_from(latest.saturating_add(skew)).unwrap_or(0))
}

/// The assertion's attributes, matched by Name, else by FriendlyName.
struct Attributes<'a> {
    /// (Name, FriendlyName, values)
    all: Vec<(&'a str, Option<&'a str>, Vec<&'a str>)>,
}

impl<'a> Attributes<'a> {
    fn of(assertion: &'a Node) -> Self {
        let all = children(assertion, "AttributeStatement")
            .flat_map(|s| children(s, "Attribute"))
            .map(|a| {
                let values = children(a, "AttributeValue")
                    .map(|v| v.text.trim())
                    .filter(|v| !v.is_empty())
                    .collect();
                (a.attr("Name").unwrap_or(""), a.attr("FriendlyName"), values)
            })
            .collect();
        Self { all }
    }

    fn all(&self, name: &str) -> Vec<String> {
        let by_name: Vec<String> = self
            .all
            .iter()
            .filter(|(n, _, _)| *n == name)
            .flat_map(|(_, _, v)| v.iter().map(|s| (*s).to_owned()))
            .collect();
        if !by_name.is_empty() {
            return by_name;
        }
        self.all
            .iter()
            .filter(|(_, friendly, _)| *friendly == Some(name))
            .flat_map(|(_, _, v)| v.iter().map(|s| (*s).to_owned()))
            .collect()
    }

    fn first(&self, name: &str) -> Option<String> {
        self.all(name).into_iter().next()
    }
}

fn children<'a>(node: &'a Node, name: &'static str) -> impl Iterator<Item = &'a Node> + 'a {
    node.children.iter().filter(move |c| c.local_name == name)
}

fn child<'a>(node: &'a Node, name: &'static str) -> Option<&'a Node> {
    children(node, name).next()
}

/// Unix seconds of an xs:dateTime (`2026-11-23T16:11:14Z`, fractions ignored, `Z` or `±hh:mm`).
fn parse_instant(value: &str) -> Option<i64> {
    let s = value.trim();
    let digits = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let sep = |at: usize, c: &[u8]| s.as_bytes().get(at).is_some_and(|b| c.contains(b));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 7)?, digits(8, 10)?);
    let (hour, minute, second) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return None;
        }
        rest = &fraction[end..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes().get(3) != Some(&b':') {
                return None;
            }
            let (h, m) = (rest.get(1..3)?, rest.get(4..6)?);
            if !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
                return None;
            }
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            sign * (h * 3600 + m * 60)
        }
    };
    // Days from 1970-01-01 (H. Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        assert_eq!(parse_instant("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_instant("2026-11-23T16:11:14Z"), Some(1_795_450_274));
        assert_eq!(
            parse_instant("2026-11-23T16:11:14.123456Z"),
            Some(1_795_450_274)
        );
        assert_eq!(
            parse_instant("2026-11-23T17:11:14+01:00"),
            Some(1_795_450_274)
        );
        assert_eq!(parse_instant("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_instant("2026-11-23 16:11:14Z"), None);
        assert_eq!(parse_instant("2026-11-23T16:11:14"), None);
        assert_eq!(parse_instant("2026-13-23T16:11:14Z"), None);
        assert_eq!(parse_instant("2026-11-23T16:11:14.Z"), None);
    }

    #[test]
    fn attributes_by_name_then_friendly_name() {
        let xml = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a"><saml:AttributeStatement>
            <saml:Attribute Name="urn:oid:0.9.2342.19200300.100.1.3" FriendlyName="mail"><saml:AttributeValue> ann@<!-- c -->example.test </saml:AttributeValue></saml:Attribute>
            <saml:Attribute Name="mail"><saml:AttributeValue>by-name@example.test</saml:AttributeValue></saml:Attribute>
            <saml:Attribute Name="urn:oid:1.3.6.1.4.1.5923.1.5.1.1" FriendlyName="isMemberOf"><saml:AttributeValue>a</saml:AttributeValue><saml:AttributeValue/><saml:AttributeValue>b</saml:AttributeValue></saml:Attribute>
            </saml:AttributeStatement></saml:Assertion>"#;
        let doc = dom::parse_with_limits(xml, XmlLimits::default()).expect("xml");
        let attributes = Attributes::of(&doc.root);
        assert_eq!(
            attributes.first("mail").as_deref(),
            Some("by-name@example.test")
        );
        assert_eq!(
            attributes
                .first("urn:oid:0.9.2342.19200300.100.1.3")
                .as_deref(),
            Some("ann@example.test")
        );
        assert_eq!(attributes.all("isMemberOf"), vec!["a", "b"]);
        assert_eq!(attributes.first("absent"), None);
    }

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
