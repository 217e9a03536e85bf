//! RFC 8414 authorization server metadata, also served as the OpenID configuration document
//! (the TypeScript SDK reads either, and demands the OIDC fields of the latter).
//!
//! `registration_endpoint` is advertised only while registration is open (RFC 8414 §2: it is
//! the endpoint clients may register at); a client that needs it then stops at discovery with
//! its own clear message instead of failing at a closed /register.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::app::AppState;

pub async fn authorization_server(app: web::Data<AppState>) -> HttpResponse {
    let c = &app.config;
    let mut metadata = json!({
            "issuer": c.issuer,
            "authorization_endpoint": c.endpoint("/authorize"),
            "token_endpoint": c.endpoint("/token"),
            "registration_endpoint": c.endpoint("/register"),
            "revocation_endpoint": c.endpoint("/revoke"),
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "introspection_endpoint": c.endpoint("/introspect"),
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "jwks_uri": c.endpoint("/jwks.json"),
            "scopes_supported": c.scopes_supported,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "prompt_values_supported": ["none", "login", "consent"],
            // Claude uses CIMD only when this is true and `none` is an auth method above.
            "client_id_metadata_document_supported": app.client_metadata.enabled(),
    });
    if !c.registration.is_open() {
        if let Some(fields) = metadata.as_object_mut() {
            fields.remove("registration_endpoint");
        }
    }
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(metadata)
}
