//! The facade the HTTP layer calls: [`Upstreams::begin_login`], [`Upstreams::finish_login`]
//! and [`Upstreams::password_login`]. Every decision about the upstream protocol is made here
//! (which kind does what, the `state` and what is derived from it, the checks of the answer);
//! the caller keeps HTTP, cookies and the replicated single-use steps (it stores the digest of
//! [`Begin::Redirect::state`] before redirecting, consumes it when the person comes back, and
//! records [`Finished::assertion`] in the replay cache before the login counts).

use mcpauth_crypto::{secrets, Sealer};
use mcpauth_state::{IdentityProvider, UnixTime};

use crate::config::{ConfigError, ProviderConfig, SamlConfig, SECRET_PURPOSE};
use crate::http::{Outbound, OutboundLimits};
use crate::oidc::{Callback, OidcRp};
use crate::saml::{sp_metadata, SamlSp, SpInfo};
use crate::{ldap, plain_oauth, Identity, UpstreamError};

/// The purposes the per-login PKCE verifier and nonce are derived under (from the `state`).
const PKCE_PURPOSE: &str = "upstream-pkce";
const NONCE_PURPOSE: &str = "upstream-nonce";

/// A provider of the replicated state, its stored configuration read.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub record: IdentityProvider,
    pub config: ProviderConfig,
}

impl Upstream {
    /// Read a stored provider; an unreadable configuration is a bug or a damaged record.
    pub fn of(record: IdentityProvider) -> Result<Self, ConfigError> {
        let config = ProviderConfig::of(&record)?;
        Ok(Self { record, config })
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }

    pub fn display_name(&self) -> &str {
        &self.record.display_name
    }

    /// Whether the person signs in with a username and password on our own form (LDAP)
    /// rather than at the provider.
    pub fn takes_password(&self) -> bool {
        matches!(self.config, ProviderConfig::Ldap(_))
    }
}

/// How a login starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// Send the browser to `location`. The caller stores the digest of `state` (random, single
    /// use) with the pending login, and `request_id` (the SAML AuthnRequest ID) with it.
    Redirect {
        location: String,
        state: String,
        request_id: Option<String>,
    },
    /// The provider is a directory: show our password form, then [`Upstreams::password_login`].
    PasswordForm,
}

/// What the provider sent back with the person.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// OpenID Connect or OAuth 2.0: the query of the redirect to our callback.
    Redirect {
        state: &'a str,
        code: Option<&'a str>,
        error: Option<&'a str>,
        error_description: Option<&'a str>,
        /// RFC 9207: the issuer the authorization response names, if any.
        iss: Option<&'a str>,
    },
    /// SAML: the posted `SAMLResponse`, the AuthnRequest ID stored at the start, and the time.
    SamlPost {
        response: Option<&'a str>,
        expected_request_id: &'a str,
        now: UnixTime,
    },
}

/// A SAML assertion that must be recorded as used (until `expires_at`) before the login counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionUse {
    pub id: String,
    pub expires_at: UnixTime,
}

/// A finished login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub identity: Identity,
    /// SAML only: the replay cache entry.
    pub assertion: Option<AssertionUse>,
}

/// The upstream side of one node: the HTTP client and the providers' metadata caches, the seal
/// key (provider secrets, derived PKCE verifiers and nonces) and our issuer (our callback, ACS
/// and metadata URLs). Cheap to clone; shared by all workers of a node.
#[derive(Clone, Debug)]
pub struct Upstreams {
    pub outbound: Outbound,
    pub oidc: OidcRp,
    pub saml: SamlSp,
    sealer: Sealer,
    issuer: String,
}

impl Upstreams {
    /// `issuer` is our own base URL: the routes are `/login/{id}/callback` (OpenID Connect and
    /// OAuth 2.0), `/saml/{id}/acs` and `/saml/{id}/metadata` under it.
    pub fn new(
        limits: OutboundLimits,
        sealer: Sealer,
        issuer: impl Into<String>,
    ) -> Result<Self, reqwest::Error> {
        let outbound = Outbound::new(limits)?;
        Ok(Self {
            oidc: OidcRp::new(outbound.clone()),
            saml: SamlSp::new(outbound.clone()),
            outbound,
            sealer,
            issuer: issuer.into().trim_end_matches('/').to_owned(),
        })
    }

    /// Where the OpenID Connect or OAuth 2.0 provider sends the person back.
    pub fn callback_uri(&self, provider_id: &str) -> String {
        format!("{}/login/{provider_id}/callback", self.issuer)
    }

    /// Our side of a SAML IdP: entity ID, ACS URL and the NameID format we ask for.
    pub fn sp_info(&self, provider_id: &str, config: &SamlConfig) -> SpInfo {
        SpInfo {
            entity_id: config
                .sp_entity_id
                .clone()
                .unwrap_or_else(|| format!("{}/saml/{provider_id}/metadata", self.issuer)),
            acs_url: format!("{}/saml/{provider_id}/acs", self.issuer),
            name_id_format: config.name_id(),
        }
    }

    /// Start a login: where to send the browser, or our password form.
    pub async fn begin_login(&self, upstream: &Upstream) -> Result<Begin, UpstreamError> {
        let state = secrets::new_secret();
        let provider = &upstream.record;
        let (location, request_id) = match &upstream.config {
            ProviderConfig::Ldap(_) => return Ok(Begin::PasswordForm),
            ProviderConfig::Oidc(oidc) => {
                let url = self
                    .oidc
                    .authorization_url(
                        provider,
                        oidc,
                        &self.callback_uri(&provider.id),
                        &state,
                        &self.sealer.derive(PKCE_PURPOSE, &state),
                        &self.sealer.derive(NONCE_PURPOSE, &state),
                    )
                    .await?;
                (url, None)
            }
            ProviderConfig::Oauth2(oauth) => {
                let url = plain_oauth::authorization_url(
                    oauth,
                    &self.callback_uri(&provider.id),
                    &state,
                    &self.sealer.derive(PKCE_PURPOSE, &state),
                )?;
                (url, None)
            }
            ProviderConfig::Saml(saml) => {
                let sp = self.sp_info(&provider.id, saml);
                let (url, id) = self
                    .saml
                    .login_redirect(provider, saml, &sp, &state)
                    .await?;
                (url, Some(id))
            }
        };
        Ok(Begin::Redirect {
            location,
            state,
            request_id,
        })
    }

    /// Check what the provider sent back and read who signed in. The caller has consumed the
    /// login's `state` (single use) before calling this.
    pub async fn finish_login(
        &self,
        upstream: &Upstream,
        answer: Answer<'_>,
    ) -> Result<Finished, UpstreamError> {
        let provider = &upstream.record;
        match (answer, &upstream.config) {
            (
                Answer::Redirect {
                    state,
                    code,
                    error,
                    error_description,
                    iss,
                },
                config @ (ProviderConfig::Oidc(_) | ProviderConfig::Oauth2(_)),
            ) => {
                if let Some(error) = error {
                    return Err(denied(error, error_description));
                }
                let code = code
                    .filter(|c| !c.is_empty() && c.len() <= 2048)
                    .ok_or_else(|| {
                        UpstreamError::Invalid("the provider sent you back without a code".into())
                    })?;
                let secret = self.secret(provider)?;
                let redirect_uri = self.callback_uri(&provider.id);
                let verifier = self.sealer.derive(PKCE_PURPOSE, state);
                let nonce = self.sealer.derive(NONCE_PURPOSE, state);
                let callback = Callback {
                    code,
                    redirect_uri: &redirect_uri,
                    pkce_verifier: &verifier,
                    nonce: &nonce,
                };
                let identity = match config {
                    ProviderConfig::Oidc(oidc) => {
                        // RFC 9207: a provider that names itself must be the one we sent the
                        // person to.
                        if let Some(iss) = iss {
                            if iss.trim_end_matches('/') != oidc.issuer.trim_end_matches('/')
                                && !oidc.issuer_is_template
                            {
                                return Err(UpstreamError::Invalid(
                                    "the answer names another issuer (iss)".into(),
                                ));
                            }
                        }
                        self.oidc
                            .finish(provider, oidc, secret.as_deref(), callback)
                            .await?
                    }
                    ProviderConfig::Oauth2(oauth) => {
                        plain_oauth::finish(&self.outbound, oauth, secret.as_deref(), callback)
                            .await?
                    }
                    _ => return Err(wrong_answer()),
                };
                Ok(Finished {
                    identity,
                    assertion: None,
                })
            }
            (
                Answer::SamlPost {
                    response,
                    expected_request_id,
                    now,
                },
                ProviderConfig::Saml(saml),
            ) => {
                let response = response.filter(|r| !r.is_empty()).ok_or_else(|| {
                    UpstreamError::Invalid("the identity provider posted no SAML response".into())
                })?;
                let sp = self.sp_info(&provider.id, saml);
                let verified = self
                    .saml
                    .verify(provider, saml, &sp, response, expected_request_id, now)
                    .await?;
                Ok(Finished {
                    identity: verified.identity,
                    assertion: Some(AssertionUse {
                        id: verified.assertion_id,
                        expires_at: verified.expires_at,
                    }),
                })
            }
            _ => Err(wrong_answer()),
        }
    }

    /// A directory login (LDAP): check the username and password and read who they are.
    pub async fn password_login(
        &self,
        upstream: &Upstream,
        username: &str,
        password: &str,
    ) -> Result<Identity, UpstreamError> {
        let ProviderConfig::Ldap(config) = &upstream.config else {
            return Err(UpstreamError::Misconfigured(
                "this sign-in method has no password form".into(),
            ));
        };
        let secret = self.secret(&upstream.record)?;
        ldap::authenticate(
            config,
            secret.as_deref(),
            username,
            password,
            self.outbound.limits(),
        )
        .await
    }

    /// Our SP metadata for a SAML provider, for its administrator to import.
    pub fn sp_metadata(&self, upstream: &Upstream) -> Option<String> {
        match &upstream.config {
            ProviderConfig::Saml(saml) => Some(sp_metadata(&self.sp_info(upstream.id(), saml))),
            _ => None,
        }
    }

    /// The provider's secret (client secret, bind password), unsealed.
    fn secret(&self, provider: &IdentityProvider) -> Result<Option<String>, UpstreamError> {
        let Some(sealed) = &provider.sealed_secret else {
            return Ok(None);
        };
        let cannot = || {
            UpstreamError::Misconfigured(
                "the provider's secret cannot be opened with this node's seal key".into(),
            )
        };
        let bytes = self.sealer.unseal(SECRET_PURPOSE, sealed).map_err(|e| {
            tracing::error!(provider = %provider.id, error = %e, "provider secret cannot be unsealed");
            cannot()
        })?;
        String::from_utf8(bytes).map(Some).map_err(|_| cannot())
    }
}

/// An error the provider sent back instead of a code (RFC 6749 §4.1.2.1).
fn denied(error: &str, description: Option<&str>) -> UpstreamError {
    match error {
        "access_denied" => UpstreamError::Denied("you or the provider declined".into()),
        other => UpstreamError::Denied(format!(
            "{}{}",
            other.chars().take(64).collect::<String>(),
            description
                .map(|d| format!(" ({})", d.chars().take(200).collect::<String>()))
                .unwrap_or_default()
        )),
    }
}

fn wrong_answer() -> UpstreamError {
    UpstreamError::Invalid("this sign-in method does not answer this way".into())
}
