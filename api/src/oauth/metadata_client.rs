//! Clients that sign in by a Client ID Metadata Document (CIMD): from the document the
//! resolver accepted to the client record the rest of the flow uses, and whether that record
//! must be written.
//!
//! A metadata-document client is recorded in the replicated state like a registered one
//! (`Command::PutClient`, origin `MetadataDocument`), so codes, consents and refresh families
//! work unchanged and the token endpoint needs no fetch: it reads the stored record. The record
//! is written when it is new or the document changed, never on every request. Redirect URIs
//! go through our own rules (`crate::redirect_uri`), the same as for registered clients; the
//! document's URIs that fail them are dropped (one odd URI must not lock a client out, as for
//! registration), and a document left with none is refused. No IO here.

use mcpauth_client_metadata::{ClientMetadataError, ResolvedClient, AUTH_METHOD_NONE};
use mcpauth_state::{Client, ClientMetadata, ClientOrigin, UnixTime};

use crate::error::{ErrorCode, OAuthError};
use crate::redirect_uri;

/// The storage format (cluster version) from which `Command::PutClient` can be written.
pub const PUT_CLIENT_FORMAT: u32 = 4;

/// Why a client_id URL cannot sign in (now).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataClientError {
    /// Fetch refused or failed with no copy to fall back on, or the document is not acceptable.
    #[error("client ID metadata document refused: {0}")]
    Document(#[from] ClientMetadataError),
    #[error("client ID metadata document refused: none of its redirect_uris is acceptable here")]
    NoAcceptableRedirect,
    /// The cluster cannot record the client yet (a rolling upgrade is not finished).
    #[error("clients with a metadata document can sign in once every node of this cluster runs a version that records them (cluster version {found}, {PUT_CLIENT_FORMAT} needed); try again later")]
    ClusterTooOld { found: u32 },
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error; nothing was changed")]
    Internal,
}

impl MetadataClientError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Document(_) | Self::NoAcceptableRedirect => ErrorCode::InvalidClient,
            Self::ClusterTooOld { .. } | Self::Unavailable(_) => ErrorCode::TemporarilyUnavailable,
            Self::Internal => ErrorCode::ServerError,
        }
    }
}

impl From<MetadataClientError> for OAuthError {
    fn from(e: MetadataClientError) -> Self {
        match e.code() {
            ErrorCode::ServerError => OAuthError::server_error(),
            code => OAuthError::new(code, e.to_string()),
        }
    }
}

/// The client record a resolved document stands for, at `now`, with the private-use redirect
/// schemes the cluster allows.
pub fn client_record(
    resolved: &ResolvedClient,
    allowed_schemes: &[String],
    now: UnixTime,
) -> Result<Client, MetadataClientError> {
    let redirect_uris: Vec<String> = resolved
        .redirect_uris
        .iter()
        .filter(|uri| match redirect_uri::validate(uri, allowed_schemes) {
            Ok(_) => true,
            Err(error) => {
                tracing::info!(client_id = %resolved.client_id, %error, "metadata document redirect URI dropped");
                false
            }
        })
        .cloned()
        .collect();
    if redirect_uris.is_empty() {
        return Err(MetadataClientError::NoAcceptableRedirect);
    }
    Ok(Client {
        client_id: resolved.client_id.clone(),
        secret_digest: None,
        metadata: ClientMetadata {
            redirect_uris,
            token_endpoint_auth_method: AUTH_METHOD_NONE.to_owned(),
            grant_types: resolved.grant_types.clone(),
            response_types: vec!["code".to_owned()],
            client_name: resolved.client_name.clone(),
            client_uri: resolved.client_uri.clone(),
            logo_uri: resolved.logo_uri.clone(),
            scope: resolved.scope.clone(),
            application_type: resolved.application_type.clone(),
            ..ClientMetadata::default()
        },
        issued_at: now,
        first_login_at: None,
        registration_token_digest: None,
        origin: ClientOrigin::MetadataDocument,
        disabled: false,
        last_used_at: None,
    })
}

/// Whether `requested` (the authorization request's redirect_uri, if any) is one of the
/// client's redirect URIs under our matching rules (loopback on any port).
pub fn redirect_allowed(client: &Client, requested: Option<&str>) -> bool {
    let listed = &client.metadata.redirect_uris;
    match requested {
        Some(requested) => listed
            .iter()
            .any(|uri| redirect_uri::matches(uri, requested)),
        None => listed.len() == 1,
    }
}

/// What to do with the record of a client_id URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The stored record is current (or the id belongs to a configured or registered client,
    /// which a document never replaces): write nothing.
    Current,
    /// Write this record (new, reaped by the purge since, or its document changed).
    Record(Box<Client>),
}

/// Compare the stored record with the document's, under the cluster version.
pub fn admission(
    stored: Option<&Client>,
    candidate: Client,
    cluster_version: u32,
) -> Result<Admission, MetadataClientError> {
    if let Some(stored) = stored {
        let current = stored.metadata == candidate.metadata && stored.secret_digest.is_none();
        if stored.origin != ClientOrigin::MetadataDocument || current {
            return Ok(Admission::Current);
        }
    }
    if cluster_version < PUT_CLIENT_FORMAT {
        return Err(MetadataClientError::ClusterTooOld {
            found: cluster_version,
        });
    }
    Ok(Admission::Record(Box::new(candidate)))
}

/// Whether a stored client came from a metadata document whose every redirect URI is
/// loopback: anyone can publish such a document, so the consent page warns.
pub fn localhost_only(client: &Client) -> bool {
    client.origin == ClientOrigin::MetadataDocument
        && !client.metadata.redirect_uris.is_empty()
        && client
            .metadata
            .redirect_uris
            .iter()
            .all(|uri| redirect_uri::is_loopback_uri(uri))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpauth_client_metadata::Source;

    const ID: &str = "https://client.example/oauth/client.json";

    fn resolved(redirects: &[&str]) -> ResolvedClient {
        ResolvedClient {
            client_id: ID.into(),
            client_name: Some("Example <b>".into()),
            client_uri: None,
            logo_uri: None,
            redirect_uris: redirects.iter().map(|s| s.to_string()).collect(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            token_endpoint_auth_method: AUTH_METHOD_NONE,
            scope: None,
            application_type: Some("native".into()),
            source: Source::Fetched,
            localhost_only: false,
        }
    }

    #[test]
    fn the_record_is_a_public_client_with_our_redirect_rules() {
        let doc = resolved(&[
            "http://127.0.0.1/callback",
            "javascript:alert(1)",
            "http://evil.example/cb",
            "https://client.example/cb",
        ]);
        let client = client_record(&doc, &[], 7).expect("record");
        assert_eq!(
            client.metadata.redirect_uris,
            ["http://127.0.0.1/callback", "https://client.example/cb"]
        );
        assert_eq!(client.secret_digest, None);
        assert_eq!(client.metadata.token_endpoint_auth_method, "none");
        assert_eq!(client.metadata.response_types, ["code"]);
        assert_eq!(client.origin, ClientOrigin::MetadataDocument);
        assert_eq!(client.issued_at, 7);
        assert_eq!(
            client_record(&resolved(&["http://evil.example/cb"]), &[], 7),
            Err(MetadataClientError::NoAcceptableRedirect)
        );
    }

    #[test]
    fn the_presented_redirect_must_be_listed_loopback_on_any_port() {
        let client = client_record(
            &resolved(&["http://127.0.0.1/callback", "https://client.example/cb"]),
            &[],
            0,
        )
        .expect("record");
        assert!(redirect_allowed(
            &client,
            Some("http://127.0.0.1:51234/callback")
        ));
        assert!(redirect_allowed(&client, Some("https://client.example/cb")));
        assert!(!redirect_allowed(
            &client,
            Some("https://client.example:444/cb")
        ));
        assert!(!redirect_allowed(
            &client,
            Some("http://localhost:5/callback")
        ));
        assert!(
            !redirect_allowed(&client, None),
            "two listed: must name one"
        );
    }

    #[test]
    fn written_only_when_new_or_changed_and_the_cluster_can_hold_it() {
        let doc = resolved(&["http://127.0.0.1/callback"]);
        let candidate = client_record(&doc, &[], 10).expect("record");
        assert_eq!(
            admission(None, candidate.clone(), 4),
            Ok(Admission::Record(Box::new(candidate.clone())))
        );
        let mut stored = candidate.clone();
        stored.issued_at = 1;
        stored.first_login_at = Some(2);
        assert_eq!(
            admission(Some(&stored), candidate.clone(), 4),
            Ok(Admission::Current),
            "same document: no write, whatever the times"
        );
        let mut renamed = candidate.clone();
        renamed.metadata.client_name = Some("Renamed".into());
        assert_eq!(
            admission(Some(&stored), renamed.clone(), 4),
            Ok(Admission::Record(Box::new(renamed.clone())))
        );
        assert_eq!(
            admission(Some(&stored), renamed, 3),
            Err(MetadataClientError::ClusterTooOld { found: 3 })
        );
        assert_eq!(
            admission(None, candidate.clone(), 2),
            Err(MetadataClientError::ClusterTooOld { found: 2 })
        );
        let mut configured = stored.clone();
        configured.origin = ClientOrigin::Configured;
        configured.metadata.client_name = Some("Pre-registered".into());
        assert_eq!(
            admission(Some(&configured), candidate, 4),
            Ok(Admission::Current),
            "a configured client with a URL id is never replaced by a document"
        );
    }

    #[test]
    fn refusals_are_invalid_client_and_an_old_cluster_is_temporary() {
        let refused = OAuthError::from(MetadataClientError::Document(
            ClientMetadataError::ClientIdMismatch,
        ));
        assert_eq!(refused.code, ErrorCode::InvalidClient);
        assert!(refused.description.contains("client_id does not equal"));
        let old = OAuthError::from(MetadataClientError::ClusterTooOld { found: 3 });
        assert_eq!(old.code, ErrorCode::TemporarilyUnavailable);
        assert_eq!(
            OAuthError::from(MetadataClientError::Internal).code,
            ErrorCode::ServerError
        );
    }

    #[test]
    fn localhost_only_is_about_metadata_document_clients() {
        let local = client_record(
            &resolved(&[
                "http://127.0.0.1/cb",
                "http://[::1]/cb",
                "http://localhost/x",
            ]),
            &[],
            0,
        )
        .expect("record");
        assert!(localhost_only(&local));
        let mixed = client_record(
            &resolved(&["http://127.0.0.1/cb", "https://a.example/cb"]),
            &[],
            0,
        )
        .expect("record");
        assert!(!localhost_only(&mixed));
        let mut registered = local.clone();
        registered.origin = ClientOrigin::Registered;
        assert!(!localhost_only(&registered));
    }
}
