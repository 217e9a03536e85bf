//! RFC 7591 dynamic client registration, as the domain sees it: which metadata is acceptable
//! (redirect URIs per OAuth 2.1 §2.3.1 and RFC 8252, supported methods and grants), the RFC 7591
//! defaults, and the new client's identifiers. The clients actor runs it and proposes the
//! result; `/register` only parses JSON and writes the 201.

use mcpauth_state::{Client, ClientMetadata, ClientOrigin, UnixTime};
use serde::{Deserialize, Serialize};

use super::error::Error;
use crate::{redirect_uri, secrets};

/// The registration request. Unknown members are ignored (RFC 7591 §2).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistrationRequest {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub scope: Option<String>,
    #[serde(default)]
    pub contacts: Vec<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    pub application_type: Option<String>,
}

impl RegistrationRequest {
    pub fn from_json(body: &[u8]) -> Result<Self, Error> {
        serde_json::from_slice(body).map_err(|e| Error::MetadataNotJson(e.to_string()))
    }
}

const AUTH_METHODS: &[&str] = &["none", "client_secret_basic", "client_secret_post"];
const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token"];
const MAX_REDIRECT_URIS: usize = 20;
const MAX_CLIENT_NAME_CHARS: usize = 200;

/// Check a request and turn it into metadata, filling the RFC 7591 defaults.
pub fn validate(
    request: RegistrationRequest,
    allowed_custom_schemes: &[String],
) -> Result<ClientMetadata, Error> {
    // RFC 7591 §2: the default is client_secret_basic, and the 201 says so.
    let method = request
        .token_endpoint_auth_method
        .unwrap_or_else(|| "client_secret_basic".to_owned());
    if !AUTH_METHODS.contains(&method.as_str()) {
        return Err(Error::AuthMethodUnsupported(method));
    }
    let grant_types = request
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".to_owned()]);
    if let Some(bad) = grant_types
        .iter()
        .find(|g| !GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(Error::RegisteredGrantUnsupported(bad.clone()));
    }
    let response_types = request
        .response_types
        .unwrap_or_else(|| vec!["code".to_owned()]);
    if let Some(bad) = response_types.iter().find(|r| r.as_str() != "code") {
        return Err(Error::RegisteredResponseTypeUnsupported(bad.clone()));
    }
    let has_code_grant = grant_types.iter().any(|g| g == "authorization_code");
    if has_code_grant != response_types.iter().any(|r| r == "code") {
        return Err(Error::GrantAndResponseTypeApart);
    }
    if has_code_grant && request.redirect_uris.is_empty() {
        return Err(Error::RedirectUrisMissing);
    }
    for uri in &request.redirect_uris {
        redirect_uri::validate(uri, allowed_custom_schemes).map_err(|error| {
            Error::RedirectUri {
                error,
                uri: uri.clone(),
            }
        })?;
    }
    if let Some(name) = &request.client_name {
        if name.chars().count() > MAX_CLIENT_NAME_CHARS {
            return Err(Error::ClientNameTooLong);
        }
    }
    if request.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(Error::TooManyRedirectUris);
    }
    Ok(ClientMetadata {
        redirect_uris: request.redirect_uris,
        token_endpoint_auth_method: method,
        grant_types,
        response_types,
        client_name: request.client_name,
        client_uri: request.client_uri,
        logo_uri: request.logo_uri,
        scope: request.scope,
        contacts: request.contacts,
        tos_uri: request.tos_uri,
        policy_uri: request.policy_uri,
        software_id: request.software_id,
        software_version: request.software_version,
        application_type: request.application_type,
    })
}

/// A registration about to be proposed, and the secret only the 201 will ever show.
#[derive(Debug, Clone)]
pub struct Registered {
    pub client: Client,
    pub secret: Option<String>,
    /// The RFC 7592 registration access token, once issued (`registration_management`).
    pub registration_token: Option<String>,
}

impl Registered {
    /// A new client with fresh identifiers; a secret unless it authenticates with `none`.
    pub fn new(metadata: ClientMetadata, now: UnixTime) -> Self {
        let secret = (metadata.token_endpoint_auth_method != "none").then(secrets::new_secret);
        let client = Client {
            client_id: secrets::new_id(),
            secret_digest: secret.as_deref().map(secrets::digest),
            metadata,
            issued_at: now,
            first_login_at: None,
            registration_token_digest: None,
            origin: ClientOrigin::Registered,
        };
        Self {
            client,
            secret,
            registration_token: None,
        }
    }

    /// The 201 body: every registered field echoed (RFC 7591 §3.2.1), absent ones omitted,
    /// never `null` (strict client schemas refuse null strings).
    pub fn response(&self) -> Result<serde_json::Value, Error> {
        #[derive(Serialize)]
        struct Body<'a> {
            client_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            client_secret: Option<&'a str>,
            client_id_issued_at: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            client_secret_expires_at: Option<u64>,
            #[serde(flatten)]
            metadata: &'a ClientMetadata,
        }
        let mut body = serde_json::to_value(Body {
            client_id: &self.client.client_id,
            client_secret: self.secret.as_deref(),
            client_id_issued_at: self.client.issued_at,
            client_secret_expires_at: self.secret.as_ref().map(|_| 0),
            metadata: &self.client.metadata,
        })
        .map_err(|_| Error::Internal)?;
        if let Some(fields) = body.as_object_mut() {
            fields.retain(|_, v| !v.is_null());
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> RegistrationRequest {
        RegistrationRequest::from_json(json.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn defaults_follow_rfc_7591() {
        let metadata = validate(
            request(serde_json::json!({"redirect_uris": ["http://127.0.0.1/cb"]})),
            &[],
        )
        .unwrap();
        assert_eq!(metadata.token_endpoint_auth_method, "client_secret_basic");
        assert_eq!(metadata.grant_types, ["authorization_code"]);
        assert_eq!(metadata.response_types, ["code"]);
        let registered = Registered::new(metadata, 7);
        assert!(registered.secret.is_some());
        let body = registered.response().unwrap();
        assert_eq!(body["client_id_issued_at"], 7);
        assert!(body.get("client_name").is_none(), "absent, not null");
    }

    #[test]
    fn refusals() {
        let cases = [
            (
                serde_json::json!({"redirect_uris": []}),
                Error::RedirectUrisMissing,
            ),
            (
                serde_json::json!({"redirect_uris": ["http://127.0.0.1/"], "token_endpoint_auth_method": "private_key_jwt"}),
                Error::AuthMethodUnsupported("private_key_jwt".into()),
            ),
            (
                serde_json::json!({"redirect_uris": ["http://127.0.0.1/"], "grant_types": ["implicit"]}),
                Error::RegisteredGrantUnsupported("implicit".into()),
            ),
            (
                serde_json::json!({"redirect_uris": ["http://127.0.0.1/"], "grant_types": ["refresh_token"]}),
                Error::GrantAndResponseTypeApart,
            ),
            (
                serde_json::json!({"redirect_uris": ["cursor://cb"]}),
                Error::RedirectUri {
                    error: redirect_uri::RedirectUriError::SchemeRefused("cursor".into()),
                    uri: "cursor://cb".into(),
                },
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(
                validate(request(json.clone()), &[]),
                Err(expected),
                "{json}"
            );
        }
        assert!(validate(
            request(serde_json::json!({"redirect_uris": ["cursor://cb"]})),
            &["cursor".to_owned()]
        )
        .is_ok());
        assert!(matches!(
            RegistrationRequest::from_json(b"[1]"),
            Err(Error::MetadataNotJson(_))
        ));
    }
}
