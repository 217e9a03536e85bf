//! RFC 7591 dynamic client registration.

use actix_web::{web, HttpResponse};
use mcpauth_state::{Client, ClientMetadata, Outcome};
use serde::{Deserialize, Serialize};

use crate::actors::Register;
use crate::app::AppState;
use crate::error::{ErrorCode, OAuthError};
use crate::{clock, redirect_uri, secrets};

/// The registration request. Unknown members are ignored (RFC 7591 §2).
#[derive(Debug, Deserialize)]
pub struct RegistrationRequest {
    #[serde(default)]
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    scope: Option<String>,
    #[serde(default)]
    contacts: Vec<String>,
    tos_uri: Option<String>,
    policy_uri: Option<String>,
    software_id: Option<String>,
    software_version: Option<String>,
    application_type: Option<String>,
}

/// The 201 answer: every registered field, echoed (RFC 7591 §3.2.1).
#[derive(Debug, Serialize)]
struct RegistrationResponse<'a> {
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<&'a str>,
    client_id_issued_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret_expires_at: Option<u64>,
    #[serde(flatten)]
    metadata: &'a ClientMetadata,
}

const AUTH_METHODS: &[&str] = &["none", "client_secret_basic", "client_secret_post"];
const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token"];

fn metadata_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

/// Check a request and turn it into metadata, filling the RFC 7591 defaults.
pub fn validate(
    request: RegistrationRequest,
    allowed_custom_schemes: &[String],
) -> Result<ClientMetadata, OAuthError> {
    let method = request
        .token_endpoint_auth_method
        .unwrap_or_else(|| "client_secret_basic".to_owned());
    if !AUTH_METHODS.contains(&method.as_str()) {
        return Err(metadata_error(format!(
            "token_endpoint_auth_method '{method}' is not supported; use one of none, client_secret_basic, client_secret_post"
        )));
    }
    let grant_types = request
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".to_owned()]);
    if let Some(bad) = grant_types
        .iter()
        .find(|g| !GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(metadata_error(format!(
            "grant type '{bad}' is not supported"
        )));
    }
    let response_types = request
        .response_types
        .unwrap_or_else(|| vec!["code".to_owned()]);
    if let Some(bad) = response_types.iter().find(|r| r.as_str() != "code") {
        return Err(metadata_error(format!(
            "response type '{bad}' is not supported; only 'code'"
        )));
    }
    if grant_types.iter().any(|g| g == "authorization_code")
        != response_types.iter().any(|r| r == "code")
    {
        return Err(metadata_error(
            "grant_types authorization_code and response_types code go together",
        ));
    }
    if grant_types.iter().any(|g| g == "authorization_code") && request.redirect_uris.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            "redirect_uris is required",
        ));
    }
    for uri in &request.redirect_uris {
        redirect_uri::validate(uri, allowed_custom_schemes)
            .map_err(|e| OAuthError::new(ErrorCode::InvalidRedirectUri, format!("{e}: {uri}")))?;
    }
    if let Some(name) = &request.client_name {
        if name.chars().count() > 200 {
            return Err(metadata_error("client_name is longer than 200 characters"));
        }
    }
    if request.redirect_uris.len() > 20 {
        return Err(OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            "at most 20 redirect_uris",
        ));
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

pub async fn register(
    app: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let request: RegistrationRequest = serde_json::from_slice(&body).map_err(|e| {
        metadata_error(format!(
            "the registration request is not valid JSON metadata: {e}"
        ))
    })?;
    let allowed = app
        .cluster
        .read(|s| s.settings().allowed_redirect_schemes.clone());
    let metadata = validate(request, &allowed)?;
    let client_id = secrets::new_id();
    let secret = (metadata.token_endpoint_auth_method != "none").then(secrets::new_secret);
    let now = clock::now();
    let client = Client {
        client_id: client_id.clone(),
        secret_digest: secret.as_deref().map(secrets::digest),
        metadata,
        issued_at: now,
        first_login_at: None,
    };
    let outcome = app
        .clients
        .send(Register(client.clone()))
        .await
        .map_err(|_| OAuthError::server_error())?
        .map_err(|e| OAuthError::new(ErrorCode::TemporarilyUnavailable, e.to_string()))?;
    if outcome != Outcome::Done {
        tracing::error!(?outcome, "registration refused by the state machine");
        return Err(OAuthError::server_error());
    }
    tracing::info!(client_id = %client.client_id, method = %client.metadata.token_endpoint_auth_method, "client registered");
    let mut body = serde_json::to_value(RegistrationResponse {
        client_id: &client.client_id,
        client_secret: secret.as_deref(),
        client_id_issued_at: now,
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        metadata: &client.metadata,
    })
    .map_err(|_| OAuthError::server_error())?;
    // Absent optional members are omitted, not null: strict client schemas refuse null strings.
    if let Some(fields) = body.as_object_mut() {
        fields.retain(|_, v| !v.is_null());
    }
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(body))
}
