//! The authorization_code grant (OAuth 2.1 §4.1.3) with PKCE S256 (RFC 7636 §4.6): the code,
//! the redirect URI it was issued for, and the verifier are judged by apply() in one step, so a
//! failed attempt consumes nothing and of concurrent redemptions exactly one wins.

use mcpauth_state::Command;

use super::{Attempt, TokenForm};
use crate::oauth::error::Error;
use crate::secrets;

pub const GRANT_TYPE: &str = "authorization_code";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub code: String,
    /// As sent; the authorization request's `redirect_uri` must be repeated exactly ("" when
    /// neither named one).
    pub redirect_uri: Option<String>,
    /// A well-formed PKCE verifier (43 to 128 unreserved characters).
    pub code_verifier: String,
    pub resource: Option<String>,
}

impl AuthorizationCode {
    pub fn from_form(form: &TokenForm) -> Result<Self, Error> {
        let code = form.code.clone().ok_or(Error::Missing("code"))?;
        let code_verifier = form.code_verifier.clone().ok_or(Error::MissingVerifier)?;
        if !secrets::is_valid_verifier(&code_verifier) {
            return Err(Error::InvalidVerifier);
        }
        Ok(Self {
            code,
            redirect_uri: form.redirect_uri.clone(),
            code_verifier,
            resource: form.resource.clone(),
        })
    }

    /// The redemption attempt. Only digests travel: the code and verifier never enter the log.
    pub fn command(&self, at: &Attempt<'_>) -> Result<Command, Error> {
        Ok(Command::RedeemCode {
            digest: secrets::digest(&self.code),
            client_id: at.client.client_id.clone(),
            redirect_uri: self.redirect_uri.clone().unwrap_or_default(),
            verifier_challenge: secrets::pkce_challenge(&self.code_verifier),
            resource: at.audience(self.resource.as_deref())?,
            now: at.now,
            refresh_digest: at.refresh_digest,
            refresh_idle_expires_at: at.refresh_idle_expires_at(),
        })
    }
}
