//! A token a client hands us to revoke (RFC 7009 §2.1) or introspect (RFC 7662 §2.1): the
//! shared form (`token`, `token_type_hint`, the client's own members) and what the token is.
//!
//! The hint never decides what a token is: a JWT signed by one of our published keys is an
//! access token, anything else is looked up as a refresh token (by digest), whichever hint came
//! with it. Both RFCs require the search to go on when the hint is wrong; since the two kinds
//! cannot be confused (a refresh token is 43 base64url characters, never a JWS), looking at the
//! token itself is that search. The hint only says whether the client named a type we do not
//! issue at all (RFC 7009's `unsupported_token_type`, for a token we did not find).

use mcpauth_crypto::{verify_access_token, VerifiedAccessToken};
use mcpauth_state::{Client, Digest, Grant, UnixTime};
use serde::Deserialize;

use super::client_auth::{ClientCredentials, PostedClient};
use super::error::Error;
use crate::cluster::Cluster;
use crate::secrets;

/// `token_type_hint` as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenTypeHint {
    AccessToken,
    RefreshToken,
    /// A value of the registry we never issue (`id_token`, …) or a made-up one.
    Other(String),
}

impl TokenTypeHint {
    fn parse(value: String) -> Self {
        match value.as_str() {
            "access_token" => TokenTypeHint::AccessToken,
            "refresh_token" => TokenTypeHint::RefreshToken,
            _ => TokenTypeHint::Other(value),
        }
    }
}

/// The form of a revocation or introspection request, minus the client's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedToken {
    /// Required; judged only after the client authenticated (as at the token endpoint, a
    /// caller that is not a client learns nothing but `invalid_client`).
    token: Option<String>,
    pub hint: Option<TokenTypeHint>,
}

#[derive(Deserialize)]
struct Form {
    token: Option<String>,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// What a presented token turned out to be, judged against this node's applied state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// An access token of ours with a valid signature (expired or revoked perhaps).
    Access(VerifiedAccessToken),
    /// A refresh token still indexed: the family's current one (`retired: false`) or a
    /// rotated-out one it still remembers.
    Refresh {
        digest: Digest,
        grant: Grant,
        idle_expires_at: UnixTime,
        retired: bool,
    },
    /// Nothing we issued, or nothing that is still known.
    Nothing,
}

impl PresentedToken {
    /// Parse an `application/x-www-form-urlencoded` body. A repeated or non-text member is
    /// `invalid_request`.
    pub fn parse(body: &[u8]) -> Result<(Self, PostedClient), Error> {
        let form: Form = serde_urlencoded::from_bytes(body).map_err(|_| Error::Malformed)?;
        let posted = PostedClient {
            client_id: form.client_id,
            client_secret: form.client_secret,
        };
        let presented = PresentedToken {
            token: form.token.filter(|t| !t.is_empty()),
            hint: form.token_type_hint.map(TokenTypeHint::parse),
        };
        Ok((presented, posted))
    }

    /// The token, or `invalid_request` if the form had none.
    pub fn token(&self) -> Result<&str, Error> {
        self.token.as_deref().ok_or(Error::Missing("token"))
    }

    /// Whether the hint names a type we never issue.
    pub fn unsupported_hint(&self) -> Option<&str> {
        match &self.hint {
            Some(TokenTypeHint::Other(value)) => Some(value),
            _ => None,
        }
    }

    /// What the token is in `cluster`'s applied state (the caller syncs first where it must
    /// see writes made through other nodes).
    pub fn find(&self, cluster: &Cluster) -> Result<Found, Error> {
        let token = self.token()?;
        let keys = cluster.read(|s| s.signing_keys().to_vec());
        if let Ok(access) = verify_access_token(token, &keys) {
            return Ok(Found::Access(access));
        }
        let digest = secrets::digest(token);
        Ok(cluster.read(|s| match s.refresh_token_family(&digest) {
            Some((family, retired)) => Found::Refresh {
                digest,
                grant: family.grant.clone(),
                idle_expires_at: family.idle_expires_at,
                retired,
            },
            None => Found::Nothing,
        }))
    }

    /// The refresh token's digest, for a sync that waits until it is known here.
    pub fn digest(&self) -> Result<Digest, Error> {
        Ok(secrets::digest(self.token()?))
    }
}

/// The client the credentials name, authenticated; one registered through another node a
/// moment ago is waited for (as at the token endpoint).
pub async fn authenticate(
    cluster: &Cluster,
    credentials: &ClientCredentials,
) -> Result<Client, Error> {
    let id = credentials.client_id();
    cluster.sync_if_missing(|s| s.client(id).is_some()).await?;
    credentials.authenticate(cluster.read(|s| s.client(id).cloned()))
}

/// Refuse, as temporarily unavailable, a write the cluster cannot hold yet: the commands of
/// storage format `version` are written only once every member reads it (during a rolling
/// upgrade they are not; a fresh cluster of this release reaches it seconds after start).
pub fn require_cluster_version(cluster: &Cluster, version: u32, what: &str) -> Result<(), Error> {
    let current = cluster.read(|s| s.cluster_version());
    if current >= version {
        Ok(())
    } else {
        Err(Error::Unavailable(format!(
            "{what} needs cluster version {version}, and the cluster is at {current} \
             (an upgrade is in progress, or the cluster has just started); retry shortly"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_and_its_hint() {
        let (presented, posted) =
            PresentedToken::parse(b"token=abc&token_type_hint=refresh_token&client_id=c1").unwrap();
        assert_eq!(presented.token(), Ok("abc"));
        assert_eq!(presented.hint, Some(TokenTypeHint::RefreshToken));
        assert_eq!(presented.unsupported_hint(), None);
        assert_eq!(posted.client_id.as_deref(), Some("c1"));

        let (presented, _) = PresentedToken::parse(b"token_type_hint=id_token").unwrap();
        assert_eq!(presented.token(), Err(Error::Missing("token")));
        assert_eq!(presented.unsupported_hint(), Some("id_token"));

        let (presented, _) = PresentedToken::parse(b"token=").unwrap();
        assert_eq!(presented.token(), Err(Error::Missing("token")));

        assert_eq!(
            PresentedToken::parse(b"token=a&token=b"),
            Err(Error::Malformed)
        );
    }
}
