//! The SAML service provider of one node: IdP metadata fetched and cached per provider, the
//! AuthnRequest (HTTP-Redirect), and the checks of a posted response through saml-rs.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use mcpauth_state::{IdentityProvider, UnixTime};
use saml_rs::{
    AcsEndpoint, AssertionSignaturePolicy, AudienceValidationPolicy, AuthnRequestSigningPolicy,
    BrowserInput, ClockSkew, EntityId, FormField, IdpDescriptor, LogoutPolicy, MessageId,
    NameIdCreationPolicy, NameIdFormat, PendingAuthnRequest, RelayStateParam, ReplayPolicy,
    ResponseSignaturePolicy, Saml, SamlError, SamlValidationContext, Sp, SpConfig,
    SpValidationPolicy, SsoResponse, SsoResponseBinding, SsoSession, StartSso, XmlSignatureProfile,
    MAX_RELAY_STATE_BYTES,
};
use sha2::{Digest, Sha256};

use super::assertion::read_assertion;
use super::metadata::{parse_idp_metadata, signing_certificates};
use super::rejection::{is_signature_failure, signed_with_sha1, Rejected};
use super::{NameIdChoice, SpInfo, VerifiedAssertion};
use crate::config::SamlConfig;
use crate::http::Outbound;
use crate::UpstreamError;

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
            // NameIDPolicy Format as configured (persistent unless chosen otherwise);
            // AllowCreate="true" lets the IdP create a persistent identifier at the first login.
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
            Err(Rejected::Saml(e))
                if is_signature_failure(&e) && !signed_with_sha1(saml_response) =>
            {
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

/// The saml-rs format of our choice. `unspecified` lets the IdP choose (saml-rs alone would
/// ask for emailAddress, which some IdPs refuse).
pub(super) fn name_id_format(choice: NameIdChoice) -> NameIdFormat {
    match choice {
        NameIdChoice::Persistent => NameIdFormat::Persistent,
        NameIdChoice::Email => NameIdFormat::EmailAddress,
        NameIdChoice::Unspecified => NameIdFormat::Unspecified,
    }
}

/// saml-rs's view of us. `assertions` only decides `WantAssertionsSigned` in our metadata and
/// whether a Response signature alone is enough: we accept it (the verify path passes
/// `AllowUnsignedForCompatibility`, which still requires the Response or every Assertion to
/// be signed).
pub(super) fn service_provider(
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
        // Advertised in our metadata, and the AuthnRequest's NameIDPolicy asks for the first
        // (only) format advertised.
        .name_id_format(name_id_format(sp.name_id_format))
        .validation(policy)
        .build()
        .map_err(bad)?;
    Saml::sp(config).map_err(bad)
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
