//! RFC 7009 token revocation: an authenticated client revokes a token it was issued.
//!
//! - A refresh token revokes its whole family (`Command::RevokeRefreshToken`): the current
//!   token and every remembered rotated-out one stop working on every node.
//! - An access token (our ES256 JWT, signature verified against the published keys) has its
//!   `jti` put on the replicated deny-list until its `exp` (`Command::RevokeAccessToken`);
//!   introspection reads that list. The JWT itself stays valid for resource servers that only
//!   check signatures: short access-token lifetimes are what bounds that.
//! - A token we do not know, that is invalid or already expired gets the same 200 as a revoked
//!   one (§2.2): the client's goal, the token being unusable, holds. Nothing is written for it.
//! - A token of another client is refused (`unauthorized_client`, §2.1: "verifies whether the
//!   token was issued to the client making the revocation request"), and changes nothing.
//! - `token_type_hint` never stops the search (see `presented_token`); a hint naming a type we
//!   do not issue, for a token we did not find, is `unsupported_token_type` (§2.2.1).

use mcpauth_state::{Command, Outcome, Refusal, UnixTime};

use super::client_auth::ClientCredentials;
use super::error::Error;
use super::presented_token::{self, Found, PresentedToken};
use crate::cluster::Cluster;

/// The storage format whose commands revoke tokens.
const REVOCATION_FORMAT: u32 = 4;

/// Revocation against one node's handle on the cluster.
pub struct Revocation<'a> {
    pub cluster: &'a Cluster,
}

impl Revocation<'_> {
    /// Revoke `presented` on behalf of the client `credentials` name, at `now`.
    pub async fn revoke(
        &self,
        credentials: &ClientCredentials,
        presented: &PresentedToken,
        now: UnixTime,
    ) -> Result<(), Error> {
        let client = presented_token::authenticate(self.cluster, credentials).await?;
        let digest = presented.digest()?;
        let mut found = presented.find(self.cluster)?;
        if found == Found::Nothing {
            // A refresh token issued through another node a moment ago is waited for.
            self.cluster
                .sync_if_missing(|s| s.refresh_token_family(&digest).is_some())
                .await?;
            found = presented.find(self.cluster)?;
        }
        let command = match found {
            Found::Access(token) => {
                if token.client_id != client.client_id {
                    return Err(self.refused(&client.client_id, "access"));
                }
                let denied = self.cluster.read(|s| s.access_token_revoked(&token.jti));
                if token.exp <= now || denied {
                    return Ok(());
                }
                Command::RevokeAccessToken {
                    jti: token.jti,
                    expires_at: token.exp,
                }
            }
            Found::Refresh { digest, grant, .. } => {
                if grant.client_id != client.client_id {
                    return Err(self.refused(&client.client_id, "refresh"));
                }
                Command::RevokeRefreshToken {
                    digest,
                    client_id: client.client_id.clone(),
                }
            }
            Found::Nothing => {
                return match presented.unsupported_hint() {
                    Some(hint) => Err(Error::UnsupportedTokenType(hint.to_owned())),
                    None => Ok(()),
                }
            }
        };
        presented_token::require_cluster_version(self.cluster, REVOCATION_FORMAT, "revocation")?;
        let kind = command.kind();
        match self.cluster.propose(command).await? {
            Outcome::Done => {
                tracing::info!(client_id = %client.client_id, kind, "token revoked");
                Ok(())
            }
            Outcome::Refused(Refusal::RefreshClientMismatch) => {
                Err(self.refused(&client.client_id, "refresh"))
            }
            other => {
                tracing::error!(?other, kind, "unexpected outcome for a revocation");
                Err(Error::Internal)
            }
        }
    }

    fn refused(&self, client_id: &str, kind: &'static str) -> Error {
        tracing::info!(%client_id, kind, "revocation refused: the token is another client's");
        Error::TokenOfAnotherClient
    }
}
