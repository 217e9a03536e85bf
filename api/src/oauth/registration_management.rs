//! RFC 7592 client registration management: the registration access token a dynamically
//! registered client gets in its 201 answer, and the client configuration endpoint
//! (`{issuer}/register/{client_id}`) where that token reads (GET), replaces (PUT) or deletes
//! (DELETE) the registration.
//!
//! - The token is a 256-bit secret shown once; only its SHA-256 is stored
//!   (`Client.registration_token_digest`), compared in constant time. It is issued only once
//!   the cluster version is 4: below that the field cannot be replicated (apply() strips it),
//!   and a token that could never be checked is worse than none.
//! - A wrong or missing token, an unknown client and a client that has no token (registered
//!   before format 4, configured in the file, or known by a metadata document) all get the same
//!   401 `invalid_token` (RFC 6750 §3.1), so the endpoint tells a caller without the token
//!   nothing about which clients exist.
//! - GET and PUT answer the registration as the 201 did, without the client secret (only its
//!   digest is kept, so it cannot be shown again; RFC 7592 §3 makes it optional) and with the
//!   presented registration access token echoed (it is not rotated).
//! - PUT validates the new metadata exactly as a registration (`registration::validate`, with
//!   the operator's policy: redirect patterns, and no updates while registration is off); the
//!   body's `client_id` must be the client's own and a `client_secret`, if sent, must be its
//!   current one (§2.2); the fields §2.2 forbids the client to send are ignored rather than
//!   refused (clients echo a whole GET answer). The authentication method may move between
//!   `client_secret_basic` and `client_secret_post` but not between `none` and a secret: that
//!   would need a secret issued or dropped, which is a new registration.
//! - DELETE removes the client with its codes, consents and refresh families (apply() does
//!   it in one step), answers 204, and the token dies with the client.

use mcpauth_state::{Client, Command, Outcome, Refusal};
use serde::Deserialize;

use super::error::Error;
use super::presented_token::require_cluster_version;
use super::registration::{self, Registered, RegistrationRequest};
use super::registration_policy::RegistrationPolicy;
use crate::cluster::Cluster;
use crate::secrets;

/// The storage format that holds registration tokens and the update and delete commands.
pub const MANAGEMENT_FORMAT: u32 = 4;

/// The path of a client's configuration endpoint under the issuer.
pub fn registration_client_uri(issuer: &str, client_id: &str) -> String {
    let segment: String = url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    format!("{}/register/{segment}", issuer.trim_end_matches('/'))
}

/// The registration access token of a request (`Authorization: Bearer`, RFC 6750 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationToken {
    Missing,
    Presented(String),
}

impl RegistrationToken {
    /// Read an `Authorization` header value; any other scheme counts as no token.
    pub fn parse(header: Option<&str>) -> Self {
        let token = header.and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        match token {
            Some(token) if !token.is_empty() => RegistrationToken::Presented(token.to_owned()),
            _ => RegistrationToken::Missing,
        }
    }
}

impl Registered {
    /// Give the registration about to be proposed its registration access token.
    pub fn with_registration_token(mut self) -> Self {
        let token = secrets::new_secret();
        self.client.registration_token_digest = Some(secrets::digest(&token));
        self.registration_token = Some(token);
        self
    }
}

/// The answer of `/register` (201) and of the configuration endpoint (200): the registration
/// echoed, plus `registration_client_uri` and `registration_access_token` when the client has
/// a token.
pub fn answer(registered: &Registered, issuer: &str) -> Result<serde_json::Value, Error> {
    let mut body = registered.response()?;
    if let (Some(token), Some(fields)) = (&registered.registration_token, body.as_object_mut()) {
        fields.insert(
            "registration_client_uri".into(),
            registration_client_uri(issuer, &registered.client.client_id).into(),
        );
        fields.insert("registration_access_token".into(), token.clone().into());
    }
    Ok(body)
}

/// The members of an update request that are not metadata.
#[derive(Deserialize)]
struct UpdateIdentity {
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The client configuration endpoint against one node's handle on the cluster.
pub struct ClientConfiguration<'a> {
    pub cluster: &'a Cluster,
    pub issuer: &'a str,
    /// The operator's registration policy: an update is judged as a registration (closed
    /// registration refuses updates too; GET and DELETE still work).
    pub policy: &'a RegistrationPolicy,
}

impl ClientConfiguration<'_> {
    /// GET: the current registration.
    pub async fn read(
        &self,
        client_id: &str,
        token: &RegistrationToken,
    ) -> Result<serde_json::Value, Error> {
        let (client, token) = self.authorize(client_id, token).await?;
        self.answer(client, token)
    }

    /// PUT: replace the registration's metadata with the body's.
    pub async fn update(
        &self,
        client_id: &str,
        token: &RegistrationToken,
        body: &[u8],
    ) -> Result<serde_json::Value, Error> {
        let (mut client, token) = self.authorize(client_id, token).await?;
        let identity: UpdateIdentity =
            serde_json::from_slice(body).map_err(|e| Error::MetadataNotJson(e.to_string()))?;
        match identity.client_id {
            None => return Err(Error::Missing("client_id")),
            Some(id) if id != client.client_id => return Err(Error::ClientIdMismatch),
            Some(_) => {}
        }
        if let Some(secret) = identity.client_secret {
            let matches = client
                .secret_digest
                .is_some_and(|d| secrets::secrets_equal(&d, &secrets::digest(&secret)));
            if !matches {
                return Err(Error::ClientSecretMismatch);
            }
        }
        let request = RegistrationRequest::from_json(body)?;
        let allowed = self
            .cluster
            .read(|s| s.settings().allowed_redirect_schemes.clone());
        let metadata = registration::validate(request, &allowed, self.policy)?;
        let was_public = client.metadata.token_endpoint_auth_method == "none";
        if was_public != (metadata.token_endpoint_auth_method == "none") {
            return Err(Error::AuthMethodChange);
        }
        require_cluster_version(self.cluster, MANAGEMENT_FORMAT, "registration management")?;
        let command = Command::UpdateClient {
            client_id: client.client_id.clone(),
            metadata: metadata.clone(),
        };
        self.propose(command, &client.client_id).await?;
        tracing::info!(client_id = %client.client_id, "registration updated");
        client.metadata = metadata;
        self.answer(client, token)
    }

    /// DELETE: forget the client, its codes, consents and refresh families.
    pub async fn delete(&self, client_id: &str, token: &RegistrationToken) -> Result<(), Error> {
        let (client, _) = self.authorize(client_id, token).await?;
        require_cluster_version(self.cluster, MANAGEMENT_FORMAT, "registration management")?;
        let command = Command::DeleteClient {
            client_id: client.client_id.clone(),
        };
        self.propose(command, &client.client_id).await?;
        tracing::info!(client_id = %client.client_id, "registration deleted");
        Ok(())
    }

    /// The client `token` manages, or `invalid_token`.
    async fn authorize<'t>(
        &self,
        client_id: &str,
        token: &'t RegistrationToken,
    ) -> Result<(Client, &'t str), Error> {
        let RegistrationToken::Presented(token) = token else {
            return Err(Error::RegistrationTokenMissing);
        };
        self.cluster
            .sync_if_missing(|s| s.client(client_id).is_some())
            .await?;
        let client = self.cluster.read(|s| s.client(client_id).cloned());
        let presented = secrets::digest(token);
        match client {
            Some(client)
                if client
                    .registration_token_digest
                    .is_some_and(|d| secrets::secrets_equal(&d, &presented)) =>
            {
                Ok((client, token))
            }
            _ => {
                tracing::info!(%client_id, "registration management refused: invalid token");
                Err(Error::RegistrationTokenInvalid)
            }
        }
    }

    async fn propose(&self, command: Command, client_id: &str) -> Result<(), Error> {
        match self.cluster.propose(command).await? {
            Outcome::Done => Ok(()),
            // Deleted by a concurrent request: its token went with it.
            Outcome::Refused(Refusal::UnknownClient) => Err(Error::RegistrationTokenInvalid),
            other => {
                tracing::error!(?other, %client_id, "unexpected outcome for registration management");
                Err(Error::Internal)
            }
        }
    }

    fn answer(&self, client: Client, token: &str) -> Result<serde_json::Value, Error> {
        let registered = Registered {
            client,
            secret: None,
            registration_token: Some(token.to_owned()),
        };
        answer(&registered, self.issuer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(
            RegistrationToken::parse(Some("Bearer abc")),
            RegistrationToken::Presented("abc".into())
        );
        assert_eq!(
            RegistrationToken::parse(Some("bearer abc")),
            RegistrationToken::Presented("abc".into())
        );
        for absent in [None, Some("Basic abc"), Some("Bearer "), Some("Bearer")] {
            assert_eq!(
                RegistrationToken::parse(absent),
                RegistrationToken::Missing,
                "{absent:?}"
            );
        }
    }

    #[test]
    fn the_uri_is_under_the_issuer() {
        assert_eq!(
            registration_client_uri("https://auth.example", "abc_-1"),
            "https://auth.example/register/abc_-1"
        );
    }

    #[test]
    fn a_token_is_issued_as_a_digest() {
        let metadata = registration::validate(
            RegistrationRequest::from_json(br#"{"redirect_uris": ["http://127.0.0.1/cb"]}"#)
                .unwrap(),
            &[],
            &RegistrationPolicy::default(),
        )
        .unwrap();
        let registered = Registered::new(metadata, 7).with_registration_token();
        let token = registered.registration_token.clone().unwrap();
        assert_eq!(
            registered.client.registration_token_digest,
            Some(secrets::digest(&token))
        );
        let body = answer(&registered, "http://127.0.0.1:8080").unwrap();
        assert_eq!(body["registration_access_token"], token.as_str());
        assert_eq!(
            body["registration_client_uri"],
            format!(
                "http://127.0.0.1:8080/register/{}",
                registered.client.client_id
            )
        );
        let plain = answer(&Registered::new(registered.client.metadata.clone(), 7), "x").unwrap();
        assert!(plain.get("registration_access_token").is_none());
        assert!(plain.get("registration_client_uri").is_none());
    }
}
