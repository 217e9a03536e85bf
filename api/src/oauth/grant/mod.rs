//! The grant types of the token endpoint, one file each. A grant reads its parameters from the
//! token request's form ([`TokenForm`]) and turns a request into the [`Command`] that attempts
//! it; apply() judges the attempt (who wins a redemption or a rotation) and the token flow
//! (`super::token`) signs what it granted. A grant does no IO.
//!
//! Adding a grant type: a file here with its request type, `from_form` and `command`, and one
//! arm in [`super::TokenRequest`].

use mcpauth_state::{Client, Digest, RefreshReuse, UnixTime};
use serde::Deserialize;

use super::error::Error;
use crate::resource;

pub mod authorization_code;
pub mod refresh_token;

/// Every member a token request's form may carry, as sent. A member sent twice makes the form
/// malformed (serde_urlencoded refuses a repeated field).
#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
}

/// What every grant's attempt is made of besides its own parameters: chosen by the node before
/// proposing (DESIGN.md, invariant 1).
#[derive(Debug)]
pub struct Attempt<'a> {
    /// The authenticated client.
    pub client: &'a Client,
    /// The resources the cluster serves (settings).
    pub resources: &'a [String],
    /// Digest of the refresh token the grant will hand out if it wins.
    pub refresh_digest: Digest,
    pub now: UnixTime,
    /// The idle lifetime of a refresh token.
    pub refresh_idle_ttl: u64,
    /// What a rotated refresh token presented again gets.
    pub refresh_reuse: RefreshReuse,
}

impl Attempt<'_> {
    pub fn refresh_idle_expires_at(&self) -> UnixTime {
        self.now.saturating_add(self.refresh_idle_ttl)
    }

    /// The audience a request named (RFC 8707), as configured; `None` when it named none, so
    /// the grant keeps the audience it was issued for.
    pub fn audience(&self, requested: Option<&str>) -> Result<Option<String>, Error> {
        requested
            .map(|r| resource::named(r, self.resources).map_err(Error::Target))
            .transpose()
    }
}
