//! The authorization request (OAuth 2.1 §4.1.1, RFC 7636, RFC 8707, OpenID Connect `prompt`):
//! its parameters, the checks against the registered client and the cluster's settings, and
//! what to do next for a person who is or is not signed in and has or has not consented.
//!
//! Until the redirect URI is matched against the registration, nothing may be sent there
//! ([`AuthorizeError::Untrusted`], shown as a page); after, refusals go back to the client
//! ([`AuthorizeError::Redirect`]). The request is carried through login and consent as its own
//! parameters and validated again at every step, so no half-finished flow is stored.

use mcpauth_state::{AuthCode, Client, Grant, Session, State, UnixTime};
use serde::Deserialize;

use super::error::Error;
use crate::server_config::ServerConfig;
use crate::{redirect_uri, resource, secrets};

/// The parameters of an authorization request, as sent. A parameter sent twice makes the
/// request malformed (OAuth 2.1 §3.1).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
    pub prompt: Option<String>,
}

impl AuthorizeParams {
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("resource", &self.resource),
            ("prompt", &self.prompt),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }

    /// `/authorize?…` with these parameters: where login sends the browser back to.
    pub fn authorize_path(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.pairs() {
            query.append_pair(k, v);
        }
        format!("/authorize?{}", query.finish())
    }

    /// These parameters without `prompt=login`: after the login, do not ask for it again.
    pub fn after_login(mut self) -> Self {
        self.prompt = self
            .prompt
            .map(|p| {
                p.split_whitespace()
                    .filter(|x| *x != "login")
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|p| !p.is_empty());
        self
    }
}

/// Why a request cannot even be answered at its redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untrusted {
    Malformed,
    NoClientId,
    UnknownClient,
    RedirectNotRegistered,
    RedirectRequired,
}

/// Why a request cannot proceed, and where the answer may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    Untrusted(Untrusted),
    /// Sent back to the client's (verified) redirect URI with `state`.
    Redirect {
        target: String,
        state: Option<String>,
        error: Error,
    },
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    pub client: Client,
    /// The redirect URI to send the browser to.
    pub redirect_target: String,
    /// The redirect_uri parameter as sent ("" when omitted): the token request must repeat it.
    pub redirect_uri_param: String,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub audience: String,
    pub code_challenge: String,
    pub prompt: Vec<String>,
}

/// What to do with a valid request for this browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Sign the person in first, then come back to these parameters.
    SignIn,
    /// Ask for consent (the form carries the request).
    AskConsent,
    /// Everything is granted: issue a code.
    IssueCode,
}

impl ValidRequest {
    pub fn wants(&self, prompt: &str) -> bool {
        self.prompt.iter().any(|p| p == prompt)
    }

    /// A refusal sent back to the client.
    pub fn refuse(&self, error: Error) -> AuthorizeError {
        AuthorizeError::Redirect {
            target: self.redirect_target.clone(),
            state: self.state.clone(),
            error,
        }
    }

    /// Where the flow goes for a browser that is `signed_in` or not (asked to sign in again
    /// counts as not), whose user has `consented` to these scopes or not.
    pub fn next(&self, signed_in: bool, consented: bool) -> Result<Next, AuthorizeError> {
        if !signed_in {
            return if self.wants("none") {
                Err(self.refuse(Error::LoginRequired))
            } else {
                Ok(Next::SignIn)
            };
        }
        if consented && !self.wants("consent") {
            return Ok(Next::IssueCode);
        }
        if self.wants("none") {
            return Err(self.refuse(Error::ConsentRequired));
        }
        Ok(Next::AskConsent)
    }

    /// Whether `state` holds a consent of this session's subject covering every scope asked.
    pub fn consented(&self, state: &State, session: &Session) -> bool {
        state
            .consent(&session.subject, &self.client.client_id)
            .is_some_and(|c| self.scopes.iter().all(|scope| c.scopes.contains(scope)))
    }

    /// The code record for this request and session (its digest only; `code` is handed to the
    /// client alone).
    pub fn code_record(&self, code: &str, session: &Session, now: UnixTime, ttl: u64) -> AuthCode {
        AuthCode {
            digest: secrets::digest(code),
            grant: Grant {
                client_id: self.client.client_id.clone(),
                subject: session.subject.clone(),
                scope: self.scopes.join(" "),
                resource: self.audience.clone(),
                auth_time: session.created_at,
            },
            redirect_uri: self.redirect_uri_param.clone(),
            code_challenge: self.code_challenge.clone(),
            expires_at: now.saturating_add(ttl),
            redeemed_into: None,
        }
    }
}

/// Parse a query string into the parameters.
pub fn parse(query: &str) -> Result<AuthorizeParams, AuthorizeError> {
    serde_urlencoded::from_str(query).map_err(|_| AuthorizeError::Untrusted(Untrusted::Malformed))
}

/// Check an authorization request against the registered client, the cluster settings and
/// this node's configuration (scopes, issuer).
pub fn validate(
    params: &AuthorizeParams,
    state: &State,
    config: &ServerConfig,
) -> Result<ValidRequest, AuthorizeError> {
    let untrusted = AuthorizeError::Untrusted;
    let client_id = params
        .client_id
        .as_deref()
        .ok_or(untrusted(Untrusted::NoClientId))?;
    let client = state
        .client(client_id)
        .cloned()
        .ok_or(untrusted(Untrusted::UnknownClient))?;
    let registered = &client.metadata.redirect_uris;
    let redirect_target = match params.redirect_uri.as_deref() {
        Some(requested) => {
            if !registered
                .iter()
                .any(|r| redirect_uri::matches(r, requested))
            {
                return Err(untrusted(Untrusted::RedirectNotRegistered));
            }
            requested.to_owned()
        }
        None if registered.len() == 1 => registered[0].clone(),
        None => return Err(untrusted(Untrusted::RedirectRequired)),
    };
    let redirect = |error: Error| AuthorizeError::Redirect {
        target: redirect_target.clone(),
        state: params.state.clone(),
        error,
    };
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return Err(redirect(Error::ResponseTypeMissing)),
        Some(_) => return Err(redirect(Error::ResponseTypeUnsupported)),
    }
    if !client.metadata.response_types.iter().any(|r| r == "code") {
        return Err(redirect(Error::ResponseTypeNotRegistered));
    }
    let code_challenge = match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (None, _) => return Err(redirect(Error::ChallengeMissing)),
        (Some(challenge), Some("S256")) => challenge.to_owned(),
        (Some(_), None | Some("plain")) => return Err(redirect(Error::ChallengeMethodNotS256)),
        (Some(_), Some(_)) => return Err(redirect(Error::ChallengeMethodUnknown)),
    };
    if !secrets::is_valid_s256_challenge(&code_challenge) {
        return Err(redirect(Error::ChallengeInvalid));
    }
    let audience = resource::resolve(
        params.resource.as_deref(),
        &state.settings().resources,
        &config.issuer,
    )
    .map_err(|e| redirect(Error::Target(e)))?;
    let scopes = scopes(params, &client, config).map_err(redirect)?;
    let prompt: Vec<String> = params
        .prompt
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(redirect(Error::PromptNoneCombined));
    }
    Ok(ValidRequest {
        client,
        redirect_target,
        redirect_uri_param: params.redirect_uri.clone().unwrap_or_default(),
        state: params.state.clone(),
        scopes,
        audience,
        code_challenge,
        prompt,
    })
}

/// The scopes of the request, each once, in order.
///
/// Named: each must be one of `scopes_supported` (else `invalid_scope`). A client's registered
/// `scope` is not a limit: RFC 7591 §2 calls it the scopes the client "can use", registration
/// is open to anyone (so a limit there protects nothing the consent page does not), and
/// clients that registered without `scope` or with fewer (Claude Code, ChatGPT; step-up after
/// `insufficient_scope`) ask for more later with the same registration.
///
/// Not named, or blank (RFC 6749 §3.3 lets the server choose a default, per client): the client's
/// registered `scope` when it registered one, since that is what it said it would use; else,
/// or when none of its registered scopes is served here, the configured `default_scopes`.
/// Unknown registered scopes are left out of a default rather than refused: the client did not
/// ask for them in this request, and the token response says which scopes were granted.
fn scopes(
    params: &AuthorizeParams,
    client: &Client,
    config: &ServerConfig,
) -> Result<Vec<String>, Error> {
    let supported = &config.scopes_supported;
    let mut scopes: Vec<String> = Vec::new();
    // A blank `scope` names nothing: it gets the default, as an absent one.
    if let Some(requested) = params.scope.as_deref().filter(|s| !s.trim().is_empty()) {
        for scope in requested.split_whitespace() {
            if !supported.iter().any(|s| s == scope) {
                return Err(Error::UnknownScope(scope.to_owned()));
            }
            push_once(&mut scopes, scope);
        }
        return Ok(scopes);
    }
    let registered = client.metadata.scope.as_deref().unwrap_or_default();
    for scope in registered.split_whitespace() {
        if supported.iter().any(|s| s == scope) {
            push_once(&mut scopes, scope);
        }
    }
    if scopes.is_empty() {
        for scope in &config.default_scopes {
            push_once(&mut scopes, scope);
        }
    }
    Ok(scopes)
}

fn push_once(scopes: &mut Vec<String>, scope: &str) {
    if !scopes.iter().any(|s| s == scope) {
        scopes.push(scope.to_owned());
    }
}
