//! OpenID Connect relying party (the `openidconnect` crate): discovery, authorization code with
//! PKCE and nonce, and the ID token checked against the provider's JWKS (signature, issuer,
//! audience, expiry, nonce). Claims are mapped to our subject, email, name and groups; those
//! the ID token lacks are read from the UserInfo endpoint when the provider publishes one
//! ([`claims`], [`userinfo`]).
//!
//! Discovery documents and key sets are fetched through [`Outbound`] (timeouts, https except
//! loopback, size cap) and cached per provider; an ID token signed with a key we do not know
//! refetches the key set once (providers rotate keys), at most every [`JWKS_REFETCH_GAP`].

mod claims;
mod userinfo;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use mcpauth_state::IdentityProvider;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest,
    IdTokenClaims, IdTokenFields, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RevocationErrorResponseType, Scope, StandardErrorResponse,
    StandardTokenIntrospectionResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use claims::{identity_from, ClaimSet};

use super::config::{OidcConfig, TokenAuth};
use super::http::Outbound;
use super::{Identity, UpstreamError};

/// Key sets are refetched for an unknown key at most this often per provider.
pub const JWKS_REFETCH_GAP: Duration = Duration::from_secs(2);
/// Discovery documents are refreshed this often.
const METADATA_TTL: Duration = Duration::from_secs(3600);

/// Every claim beyond the standard ones (groups, oid, tid, cognito:groups...), kept as JSON so
/// any claim name can be mapped.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims(#[serde(default)] pub HashMap<String, Value>);
impl AdditionalClaims for OtherClaims {}

type IdFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<IdFields, CoreTokenType>;
type RpClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    StandardTokenIntrospectionResponse<EmptyExtraTokenFields, CoreTokenType>,
    CoreRevocableToken,
    StandardErrorResponse<RevocationErrorResponseType>,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;
type Claims = IdTokenClaims<OtherClaims, CoreGenderClaim>;

struct Cached {
    /// The provider record it was built for: a changed provider is fetched anew.
    updated_at: u64,
    /// The issuer it was discovered from: `updated_at` has a one-second resolution, so two
    /// changes within a second must not keep the first issuer's endpoints and keys.
    issuer: String,
    metadata: CoreProviderMetadata,
    fetched_at: Instant,
    jwks_fetched_at: Instant,
}

/// The relying party for every OpenID Connect provider of this node. Cheap to clone.
#[derive(Clone)]
pub struct OidcRp {
    outbound: Outbound,
    cache: Arc<RwLock<HashMap<String, Arc<Cached>>>>,
}

impl std::fmt::Debug for OidcRp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OidcRp(..)")
    }
}

/// What the person brings back from the provider, with what we derived when sending them.
pub struct Callback<'a> {
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub pkce_verifier: &'a str,
    pub nonce: &'a str,
}

fn issuer_of(config: &OidcConfig) -> String {
    config.issuer.trim_end_matches('/').to_owned()
}

impl OidcRp {
    pub fn new(outbound: Outbound) -> Self {
        Self {
            outbound,
            cache: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// Where to send the browser: the provider's authorization endpoint with our `state`, the
    /// PKCE challenge of `pkce_verifier`, and `nonce`.
    pub async fn authorization_url(
        &self,
        provider: &IdentityProvider,
        config: &OidcConfig,
        redirect_uri: &str,
        state: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<String, UpstreamError> {
        let cached = self.metadata(provider, config, false).await?;
        let client = self.client(&cached.metadata, config, None, redirect_uri)?;
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pkce_verifier.to_owned(),
        ));
        let (state, nonce) = (state.to_owned(), nonce.to_owned());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(challenge);
        for scope in config.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        for (name, value) in &config.extra_params {
            request = request.add_extra_param(name.clone(), value.clone());
        }
        let (url, _, _) = request.url();
        Ok(url.to_string())
    }

    /// Redeem the code and check the ID token; the person as the provider describes them.
    pub async fn finish(
        &self,
        provider: &IdentityProvider,
        config: &OidcConfig,
        client_secret: Option<&str>,
        callback: Callback<'_>,
    ) -> Result<Identity, UpstreamError> {
        let cached = self.metadata(provider, config, false).await?;
        let client = self.client(
            &cached.metadata,
            config,
            client_secret,
            callback.redirect_uri,
        )?;
        let http = |request: HttpRequest| self.outbound.token_call(request);
        let tokens = client
            .exchange_code(AuthorizationCode::new(callback.code.to_owned()))
            .map_err(|e| UpstreamError::Misconfigured(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(callback.pkce_verifier.to_owned()))
            .request_async(&http)
            .await
            .map_err(token_error)?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| UpstreamError::Invalid("the token response has no ID token".into()))?;
        let nonce = Nonce::new(callback.nonce.to_owned());
        let claims = match self.verify(&client, config, id_token, &nonce) {
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider may have rotated its keys since we fetched them.
                let fresh = self.metadata(provider, config, true).await?;
                let client = self.client(
                    &fresh.metadata,
                    config,
                    client_secret,
                    callback.redirect_uri,
                )?;
                self.verify(&client, config, id_token, &nonce)
                    .map_err(claims_error)?
            }
            other => other.map_err(claims_error)?,
        };
        let mut claims = ClaimSet::of_id_token(&claims);
        if claims.lacks_any(&config.claims) {
            if let Some(endpoint) = cached.metadata.userinfo_endpoint() {
                let info = userinfo::fetch(
                    &self.outbound,
                    endpoint.as_str(),
                    tokens.access_token().secret(),
                )
                .await?;
                claims.fill_from_userinfo(info).inspect_err(|_| {
                    tracing::warn!(
                        provider = %provider.id,
                        "UserInfo answered for another sub than the ID token's: login refused"
                    );
                })?;
            }
        }
        identity_from(&claims, &config.claims)
    }

    fn verify(
        &self,
        client: &RpClient,
        config: &OidcConfig,
        id_token: &openidconnect::IdToken<
            OtherClaims,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        >,
        nonce: &Nonce,
    ) -> Result<Claims, openidconnect::ClaimsVerificationError> {
        let verifier = client
            .id_token_verifier()
            .set_other_audience_verifier_fn(|_| false);
        let verifier = if config.issuer_is_template {
            verifier.require_issuer_match(false)
        } else {
            verifier
        };
        let claims = id_token.claims(&verifier, nonce)?.clone();
        if config.issuer_is_template {
            // Entra multi-tenant: the issuer names the user's tenant in place of {tenantid}.
            let tid = claims
                .additional_claims()
                .0
                .get("tid")
                .and_then(Value::as_str)
                .unwrap_or("");
            // The tenant segment of the configured issuer (organizations, common, consumers)
            // becomes the token's own tenant.
            let configured = issuer_of(config);
            let expected = configured
                .split('/')
                .map(|segment| {
                    if super::config::is_multi_tenant(segment) {
                        tid
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            if tid.is_empty() || claims.issuer().as_str() != expected {
                return Err(openidconnect::ClaimsVerificationError::InvalidIssuer(
                    "the issuer does not match the token's tenant".into(),
                ));
            }
        }
        Ok(claims)
    }

    fn client(
        &self,
        metadata: &CoreProviderMetadata,
        config: &OidcConfig,
        client_secret: Option<&str>,
        redirect_uri: &str,
    ) -> Result<RpClient, UpstreamError> {
        let secret = match config.token_auth {
            TokenAuth::None => None,
            _ => Some(ClientSecret::new(
                client_secret.unwrap_or_default().to_owned(),
            )),
        };
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| UpstreamError::Misconfigured(format!("redirect URI: {e}")))?;
        let client = RpClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(config.client_id.clone()),
            secret,
        )
        .set_redirect_uri(redirect);
        Ok(match config.token_auth {
            TokenAuth::ClientSecretPost => {
                client.set_auth_type(openidconnect::AuthType::RequestBody)
            }
            _ => client.set_auth_type(openidconnect::AuthType::BasicAuth),
        })
    }

    /// The provider's discovery document with its key set, from the cache unless stale, or
    /// `refetch_keys` (then only if the keys were not fetched a moment ago).
    async fn metadata(
        &self,
        provider: &IdentityProvider,
        config: &OidcConfig,
        refetch_keys: bool,
    ) -> Result<Arc<Cached>, UpstreamError> {
        let existing = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.get(&provider.id).cloned())
            .filter(|c| c.updated_at == provider.updated_at && c.issuer == config.issuer);
        if let Some(cached) = &existing {
            let fresh = cached.fetched_at.elapsed() < METADATA_TTL;
            let keys_recent = cached.jwks_fetched_at.elapsed() < JWKS_REFETCH_GAP;
            if fresh && (!refetch_keys || keys_recent) {
                return Ok(cached.clone());
            }
        }
        let issuer = issuer_of(config);
        let metadata: CoreProviderMetadata = match (&existing, refetch_keys) {
            // Only the keys are due: keep the discovery document.
            (Some(cached), true) if cached.fetched_at.elapsed() < METADATA_TTL => {
                cached.metadata.clone()
            }
            _ => {
                let url = format!("{issuer}/.well-known/openid-configuration");
                let metadata: CoreProviderMetadata =
                    self.outbound.get_json("discovery document", &url).await?;
                let published = metadata.issuer().as_str().trim_end_matches('/');
                if !config.issuer_is_template && published != issuer {
                    return Err(UpstreamError::Misconfigured(format!(
                        "the discovery document names issuer {published}, not {issuer}"
                    )));
                }
                self.check_endpoints(&metadata)?;
                metadata
            }
        };
        let jwks: CoreJsonWebKeySet = self
            .outbound
            .get_json("key set (jwks_uri)", metadata.jwks_uri().as_str())
            .await?;
        let now = Instant::now();
        let fetched_at = match &existing {
            Some(c) if refetch_keys && c.fetched_at.elapsed() < METADATA_TTL => c.fetched_at,
            _ => now,
        };
        let cached = Arc::new(Cached {
            updated_at: provider.updated_at,
            issuer: config.issuer.clone(),
            metadata: metadata.set_jwks(jwks),
            fetched_at,
            jwks_fetched_at: now,
        });
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(provider.id.clone(), cached.clone());
        }
        Ok(cached)
    }

    /// Every endpoint the discovery document names must pass our outbound policy too.
    fn check_endpoints(&self, metadata: &CoreProviderMetadata) -> Result<(), UpstreamError> {
        self.outbound.checked_url(
            "authorization_endpoint",
            metadata.authorization_endpoint().as_str(),
        )?;
        self.outbound
            .checked_url("jwks_uri", metadata.jwks_uri().as_str())?;
        match metadata.token_endpoint() {
            Some(t) => self.outbound.checked_url("token_endpoint", t.as_str())?,
            None => {
                return Err(UpstreamError::Misconfigured(
                    "the discovery document has no token_endpoint".into(),
                ))
            }
        };
        Ok(())
    }
}

fn token_error<RE>(
    e: openidconnect::RequestTokenError<RE, StandardErrorResponse<CoreErrorResponseType>>,
) -> UpstreamError
where
    RE: std::error::Error + 'static,
{
    match e {
        openidconnect::RequestTokenError::ServerResponse(r) => {
            let code = r.error().as_ref().to_owned();
            match code.as_str() {
                "invalid_client" | "unauthorized_client" => UpstreamError::Misconfigured(format!(
                    "the provider refused our client credentials ({code})"
                )),
                _ => UpstreamError::Invalid(format!("the provider refused the code ({code})")),
            }
        }
        openidconnect::RequestTokenError::Request(e) => {
            UpstreamError::Unavailable(format!("token endpoint: {e}"))
        }
        openidconnect::RequestTokenError::Parse(_, _) => {
            UpstreamError::Invalid("token endpoint: the response is not a token response".into())
        }
        openidconnect::RequestTokenError::Other(e) => {
            UpstreamError::Unavailable(format!("token endpoint: {e}"))
        }
    }
}

fn claims_error(e: openidconnect::ClaimsVerificationError) -> UpstreamError {
    use openidconnect::ClaimsVerificationError as E;
    let reason = match &e {
        E::Expired(_) => "the ID token has expired".to_owned(),
        E::InvalidAudience(_) => "the ID token is for another client (audience)".to_owned(),
        E::InvalidIssuer(_) => "the ID token comes from another issuer".to_owned(),
        E::InvalidNonce(_) => "the ID token's nonce does not match this sign-in".to_owned(),
        E::SignatureVerification(_) => {
            "the ID token's signature does not verify against the provider's keys".to_owned()
        }
        other => format!("the ID token was refused: {other}"),
    };
    UpstreamError::Invalid(reason)
}
