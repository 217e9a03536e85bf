//! The /authorize side of client ID metadata documents: a client_id that is an https URL is
//! resolved (fetched, cached or built-in), its redirect URIs judged by our rules, and its record
//! written when new or changed, before the request is validated like any other. A refusal is a
//! page naming `invalid_client`, and nothing is written.

use actix_web::{HttpResponse, ResponseError};
use mcpauth_client_metadata::ClientIdUrl;
use mcpauth_state::ClientOrigin;

use super::authorize::untrusted_page;
use crate::actors::AdmitMetadataClient;
use crate::app::AppState;
use crate::error::{ErrorCode, PageError};
use crate::oauth::authorize::{AuthorizeParams, Untrusted};
use crate::oauth::metadata_client::{client_record, redirect_allowed, MetadataClientError};

/// Make sure a client_id URL of `params` is recorded, or answer why it cannot sign in. Any
/// other client_id is left to the usual validation.
pub async fn admit(app: &AppState, params: &AuthorizeParams) -> Result<(), HttpResponse> {
    let Some(url) = params.client_id.as_deref().and_then(ClientIdUrl::parse) else {
        return Ok(());
    };
    // A pre-registered client with this id is served as configured, never from a document.
    let preregistered = app.cluster.read(|s| {
        s.client(url.as_str())
            .is_some_and(|c| c.origin != ClientOrigin::MetadataDocument)
    });
    if preregistered || !app.client_metadata.enabled() {
        return Ok(());
    }
    let now = app.clock.now();
    let resolved = app
        .client_metadata
        .resolve(&url, now)
        .await
        .map_err(|e| refused(e.into()))?;
    let allowed = app
        .cluster
        .read(|s| s.settings().allowed_redirect_schemes.clone());
    let candidate = client_record(&resolved, &allowed, now).map_err(refused)?;
    if !redirect_allowed(&candidate, params.redirect_uri.as_deref()) {
        let reason = match params.redirect_uri {
            Some(_) => Untrusted::RedirectNotRegistered,
            None => Untrusted::RedirectRequired,
        };
        return Err(untrusted_page(reason).error_response());
    }
    match app.clients.send(AdmitMetadataClient { candidate }).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(refused(e)),
        Err(_) => Err(PageError::internal().error_response()),
    }
}

/// The page for a refused client_id URL: its OAuth code and the reason, never the document.
fn refused(error: MetadataClientError) -> HttpResponse {
    tracing::info!(%error, "client_id URL refused at /authorize");
    let page = match error.code() {
        ErrorCode::InvalidClient => PageError::bad_request(
            "Application not accepted",
            format!("invalid_client: {error}"),
        ),
        ErrorCode::TemporarilyUnavailable => {
            PageError::unavailable(format!("temporarily_unavailable: {error}"))
        }
        _ => PageError::internal(),
    };
    page.error_response()
}
