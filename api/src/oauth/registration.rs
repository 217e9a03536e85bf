//! RFC 7591 dynamic client registration, as the domain sees it: whether registration is open
//! at all, which metadata is acceptable (redirect URIs per OAuth 2.1 §2.3.1 and RFC 8252, fit
//! for the `application_type`, within the operator's patterns; supported methods and grants),
//! the RFC 7591 defaults, and the new client's identifiers. The clients actor runs it and
//! proposes the result; `/register` only hands over the body and writes the 201.

use mcpauth_state::{Client, ClientMetadata, ClientOrigin, UnixTime};
use serde::{Deserialize, Serialize};

use super::application_type::ApplicationType;
use super::error::Error;
use super::registration_policy::RegistrationPolicy;
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

    /// The request in `body`, if registration is open: a closed endpoint says so whatever the
    /// body (RFC 7591 §3 leaves the policy to the server).
    pub fn parse(body: &[u8], policy: &RegistrationPolicy) -> Result<Self, Error> {
        if !policy.is_open() {
            return Err(Error::RegistrationOff);
        }
        Self::from_json(body)
    }
}

const AUTH_METHODS: &[&str] = &["none", "client_secret_basic", "client_secret_post"];
const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token"];
const MAX_REDIRECT_URIS: usize = 20;
const MAX_CLIENT_NAME_CHARS: usize = 200;

/// Check a request and turn it into metadata, filling the RFC 7591 defaults.
/// `allowed_custom_schemes` are the cluster's private-use schemes, `policy` the operator's.
pub fn validate(
    request: RegistrationRequest,
    allowed_custom_schemes: &[String],
    policy: &RegistrationPolicy,
) -> Result<ClientMetadata, Error> {
    if !policy.is_open() {
        return Err(Error::RegistrationOff);
    }
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
    let application_type = request
        .application_type
        .as_deref()
        .map(ApplicationType::parse)
        .transpose()
        .map_err(Error::ApplicationTypeUnknown)?;
    for uri in &request.redirect_uris {
        let kind = redirect_uri::validate(uri, allowed_custom_schemes).map_err(|error| {
            Error::RedirectUri {
                error,
                uri: uri.clone(),
            }
        })?;
        if let Some(application_type) = application_type.filter(|t| !t.permits(kind)) {
            return Err(Error::RedirectUriNotForApplicationType {
                uri: uri.clone(),
                application_type,
            });
        }
        if !policy.permits_redirect(uri) {
            return Err(Error::RedirectUriNotPermitted(uri.clone()));
        }
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
            disabled: false,
            last_used_at: None,
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

    fn open() -> RegistrationPolicy {
        RegistrationPolicy::default()
    }

    fn check(json: serde_json::Value) -> Result<ClientMetadata, Error> {
        validate(
            request(json),
            &redirect_uri::known_client_schemes(),
            &open(),
        )
    }

    #[test]
    fn defaults_follow_rfc_7591() {
        let metadata = validate(
            request(serde_json::json!({"redirect_uris": ["http://127.0.0.1/cb"]})),
            &[],
            &open(),
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
                validate(request(json.clone()), &[], &open()),
                Err(expected),
                "{json}"
            );
        }
        assert!(validate(
            request(serde_json::json!({"redirect_uris": ["cursor://cb"]})),
            &["cursor".to_owned()],
            &open(),
        )
        .is_ok());
        assert!(matches!(
            RegistrationRequest::from_json(b"[1]"),
            Err(Error::MetadataNotJson(_))
        ));
    }

    /// Cursor's registration: three redirect URIs of three kinds in one request.
    fn cursor(application_type: Option<&str>) -> serde_json::Value {
        let mut body = serde_json::json!({
            "client_name": "Cursor",
            "redirect_uris": [
                "cursor://anysphere.cursor-mcp/oauth/callback",
                "https://www.cursor.com/agents/mcp/oauth/callback",
                "http://localhost:8787/callback",
            ],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        if let Some(t) = application_type {
            body["application_type"] = t.into();
        }
        body
    }

    #[test]
    fn cursor_registers_with_the_default_schemes_as_native_or_untyped() {
        for t in [None, Some("native")] {
            let metadata = check(cursor(t)).unwrap();
            assert_eq!(metadata.redirect_uris.len(), 3);
            assert_eq!(metadata.application_type.as_deref(), t);
        }
        assert_eq!(
            validate(request(cursor(None)), &[], &open()),
            Err(Error::RedirectUri {
                error: redirect_uri::RedirectUriError::SchemeRefused("cursor".into()),
                uri: "cursor://anysphere.cursor-mcp/oauth/callback".into(),
            }),
            "an empty scheme list allows none"
        );
    }

    #[test]
    fn application_type_is_enforced() {
        let claude = serde_json::json!({
            "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
            "application_type": "web",
        });
        assert!(check(claude).is_ok());
        let vscode = serde_json::json!({
            "redirect_uris": [
                "http://127.0.0.1/",
                "http://127.0.0.1:33418/",
                "https://vscode.dev/redirect",
                "https://insiders.vscode.dev/redirect",
            ],
            "application_type": "native",
        });
        assert!(check(vscode).is_ok());
        for (uri, t) in [
            ("http://127.0.0.1:33418/", "web"),
            ("https://localhost/cb", "web"),
            ("cursor://anysphere.cursor-mcp/oauth/callback", "web"),
        ] {
            assert_eq!(
                check(
                    serde_json::json!({"redirect_uris": ["https://ok.example/cb", uri], "application_type": t})
                ),
                Err(Error::RedirectUriNotForApplicationType {
                    uri: uri.into(),
                    application_type: ApplicationType::Web,
                }),
                "{uri}"
            );
        }
        for t in ["desktop", "Native", ""] {
            assert_eq!(
                check(
                    serde_json::json!({"redirect_uris": ["http://127.0.0.1/cb"], "application_type": t})
                ),
                Err(Error::ApplicationTypeUnknown(t.into()))
            );
        }
        assert_eq!(
            Error::ApplicationTypeUnknown("x".into()).code(),
            crate::error::ErrorCode::InvalidClientMetadata
        );
        // The general rules hold for native too.
        assert!(matches!(
            check(
                serde_json::json!({"redirect_uris": ["http://example.com/cb"], "application_type": "native"})
            ),
            Err(Error::RedirectUri { .. })
        ));
    }

    #[test]
    fn the_operator_policy_applies_to_every_uri() {
        let policy = RegistrationPolicy::new(
            super::super::registration_policy::RegistrationMode::Open,
            &[
                r"https://[a-z]+\.example\.com/cb".into(),
                r"http://127\.0\.0\.1(:\d+)?/cb".into(),
            ],
        )
        .unwrap();
        let schemes = redirect_uri::known_client_schemes();
        let ok = serde_json::json!({"redirect_uris": ["https://app.example.com/cb", "http://127.0.0.1:99/cb"]});
        assert!(validate(request(ok), &schemes, &policy).is_ok());
        let one_off = serde_json::json!({"redirect_uris": ["https://app.example.com/cb", "https://app.example.org/cb"]});
        assert_eq!(
            validate(request(one_off), &schemes, &policy),
            Err(Error::RedirectUriNotPermitted(
                "https://app.example.org/cb".into()
            ))
        );
        // A pattern never lets a refused URI through.
        let permissive = RegistrationPolicy::new(
            super::super::registration_policy::RegistrationMode::Open,
            &[".*".into()],
        )
        .unwrap();
        assert!(matches!(
            validate(
                request(serde_json::json!({"redirect_uris": ["javascript:alert(1)"]})),
                &schemes,
                &permissive
            ),
            Err(Error::RedirectUri { .. })
        ));
    }

    #[test]
    fn closed_registration_refuses_before_reading_the_body() {
        let off = RegistrationPolicy::new(
            super::super::registration_policy::RegistrationMode::Off,
            &[],
        )
        .unwrap();
        assert!(matches!(
            RegistrationRequest::parse(b"not json", &off),
            Err(Error::RegistrationOff)
        ));
        assert!(matches!(
            RegistrationRequest::parse(b"not json", &open()),
            Err(Error::MetadataNotJson(_))
        ));
        assert_eq!(
            validate(
                request(cursor(None)),
                &redirect_uri::known_client_schemes(),
                &off
            ),
            Err(Error::RegistrationOff)
        );
    }
}
