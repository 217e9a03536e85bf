//! RFC 7662 token introspection, for resource servers (an MCP server registered as a
//! confidential client). Public clients are refused (`invalid_client`): their "authentication"
//! is a client_id anyone can send.
//!
//! - An access token is active iff its signature verifies against a published key, it has not
//!   expired, its `jti` is not on the revocation deny-list, and its client still exists (a
//!   deleted registration's tokens die with it, RFC 7592 §2.3).
//! - A refresh token is active iff it is its family's *current* token and the family has not
//!   idled out. A rotated-out token that the refresh policy would still accept once (the grace
//!   rule for racing clients) is reported inactive: that tolerance is for a client's retry at
//!   the token endpoint, not a sign the token is good; a resource server has no business
//!   holding refresh tokens anyway.
//! - Anything else is `{"active": false}` and nothing more (§2.2: no hint why).
//!
//! Freshness matters here (a token revoked through another node a moment ago must read
//! inactive), so the answer is a linearizable read: this node first catches up with the
//! leader's commit index, and answers 503 if it cannot.

use mcpauth_state::UnixTime;
use serde::Serialize;

use super::client_auth::ClientCredentials;
use super::error::ClientAuthFailure;
use super::error::Error;
use super::presented_token::{self, Found, PresentedToken};
use crate::cluster::Cluster;

/// The introspection response (RFC 7662 §2.2). Inactive: only `active`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl Introspection {
    pub fn inactive() -> Self {
        Self::default()
    }
}

/// Introspection against one node's handle on the cluster.
pub struct Introspector<'a> {
    pub cluster: &'a Cluster,
    /// Our issuer, as in the tokens.
    pub issuer: &'a str,
}

impl Introspector<'_> {
    /// Introspect `presented` for the confidential client `credentials` name, at `now`.
    pub async fn introspect(
        &self,
        credentials: &ClientCredentials,
        presented: &PresentedToken,
        now: UnixTime,
    ) -> Result<Introspection, Error> {
        let client = presented_token::authenticate(self.cluster, credentials).await?;
        if client.secret_digest.is_none() {
            return Err(Error::Client {
                failure: ClientAuthFailure::PublicClient,
                via_basic: matches!(credentials, ClientCredentials::SecretBasic { .. }),
            });
        }
        presented.token()?;
        // A linearizable read: whatever committed before this request is applied here.
        self.cluster.sync_if_missing(|_| false).await?;
        let answer = match presented.find(self.cluster)? {
            Found::Access(token) => {
                let (revoked, client_exists) = self.cluster.read(|s| {
                    (
                        s.access_token_revoked(&token.jti),
                        s.client(&token.client_id).is_some(),
                    )
                });
                if token.exp <= now || revoked || !client_exists || token.iss != self.issuer {
                    Introspection::inactive()
                } else {
                    Introspection {
                        active: true,
                        scope: Some(token.scope),
                        client_id: Some(token.client_id),
                        sub: Some(token.sub),
                        aud: Some(token.aud),
                        iss: Some(token.iss),
                        exp: Some(token.exp),
                        iat: Some(token.iat),
                        token_type: Some("Bearer"),
                        jti: Some(token.jti),
                    }
                }
            }
            Found::Refresh {
                grant,
                idle_expires_at,
                retired: false,
                ..
            } if idle_expires_at > now => Introspection {
                active: true,
                scope: Some(grant.scope),
                client_id: Some(grant.client_id),
                sub: Some(grant.subject),
                aud: Some(grant.resource),
                iss: Some(self.issuer.to_owned()),
                exp: Some(idle_expires_at),
                ..Introspection::default()
            },
            Found::Refresh { .. } | Found::Nothing => Introspection::inactive(),
        };
        tracing::debug!(client_id = %client.client_id, active = answer.active, "token introspected");
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inactive_answer_says_nothing_else() {
        assert_eq!(
            serde_json::to_value(Introspection::inactive()).unwrap(),
            serde_json::json!({"active": false})
        );
    }
}
