//! The refresh_token grant (OAuth 2.1 §4.3): the presented token is rotated by apply(), which
//! also narrows the scope (RFC 6749 §6) and checks the resource against the family's; a
//! rotated token presented again revokes its family (RFC 9700 §4.14.2).

use mcpauth_state::Command;

use super::{Attempt, TokenForm};
use crate::oauth::error::Error;
use crate::secrets;

pub const GRANT_TYPE: &str = "refresh_token";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub refresh_token: String,
    /// Scopes asked for, if any (an empty or blank `scope` asks for none).
    pub scope: Option<String>,
    pub resource: Option<String>,
}

impl RefreshToken {
    pub fn from_form(form: &TokenForm) -> Result<Self, Error> {
        Ok(Self {
            refresh_token: form
                .refresh_token
                .clone()
                .ok_or(Error::Missing("refresh_token"))?,
            scope: form.scope.clone().filter(|s| !s.trim().is_empty()),
            resource: form.resource.clone(),
        })
    }

    /// The rotation attempt: the presented token's digest and the next one's.
    pub fn command(&self, at: &Attempt<'_>) -> Result<Command, Error> {
        Ok(Command::RotateRefresh {
            presented: secrets::digest(&self.refresh_token),
            client_id: at.client.client_id.clone(),
            resource: at.audience(self.resource.as_deref())?,
            scope: self.scope.clone(),
            next: at.refresh_digest,
            now: at.now,
            idle_expires_at: at.refresh_idle_expires_at(),
            reuse: at.refresh_reuse,
        })
    }
}
