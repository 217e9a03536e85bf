//! The admin API for identity providers and login settings (on the internal address, behind
//! the cluster secret like the rest of the admin API).
//!
//! A change is one Raft command: it applies on every node at once, without restart. An invalid
//! configuration is refused with 400 and a message saying what is wrong, and nothing changes.
//! Secrets (client secrets, bind passwords) are sealed before they are proposed and are never
//! returned: a provider shows `secret_set: true` instead.

use actix_web::{web, HttpResponse};
use mcpauth_state::{Command, IdentityProvider, LoginSettings, Outcome, Refusal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{AdminError, InternalState};
use crate::upstream::config::ProviderSpec;

/// A provider as the admin API shows it: the configuration without its secret.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProviderView {
    pub id: String,
    pub kind: String,
    pub display_name: String,
    pub enabled: bool,
    pub config: Value,
    pub secret_set: bool,
    pub updated_at: u64,
}

impl From<&IdentityProvider> for ProviderView {
    fn from(p: &IdentityProvider) -> Self {
        let mut config: Value = serde_json::from_str(&p.config_json).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut config {
            map.remove("kind");
        }
        Self {
            id: p.id.clone(),
            kind: p.kind.clone(),
            display_name: p.display_name.clone(),
            enabled: p.enabled,
            config,
            secret_set: p.sealed_secret.is_some(),
            updated_at: p.updated_at,
        }
    }
}

fn unexpected(outcome: Outcome) -> AdminError {
    AdminError::Unexpected(format!("{outcome:?}"))
}

/// GET /admin/identity-providers
pub async fn list(state: web::Data<InternalState>) -> Result<HttpResponse, AdminError> {
    // A linearizable read: an operator listing right after a change made through another node
    // sees it (503 when no leader can be asked).
    state.cluster.sync_if_missing(|_| false).await?;
    let (providers, login) = state.cluster.read(|s| {
        let f = s.federation();
        (
            f.providers().map(ProviderView::from).collect::<Vec<_>>(),
            f.login_settings(),
        )
    });
    Ok(HttpResponse::Ok().json(json!({
        "identity_providers": providers,
        "local_login": login.local_login,
    })))
}

/// Validate a provider description into what the state stores.
pub fn stored_provider(
    state: &InternalState,
    id: &str,
    body: &[u8],
) -> Result<IdentityProvider, String> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Value::Object(map) = &mut value else {
        return Err("the body must be a JSON object".into());
    };
    match map.get("id") {
        None => {
            map.insert("id".into(), Value::String(id.to_owned()));
        }
        Some(Value::String(given)) if given == id => {}
        Some(_) => return Err("the id in the body differs from the id in the path".into()),
    }
    let spec = ProviderSpec::from_json(value).map_err(|e| format!("invalid provider: {e}"))?;
    spec.into_stored(&state.sealer, state.clock.now())
        .map_err(|e| format!("invalid provider: {e}"))
}

/// PUT /admin/identity-providers/{id}: create or replace.
pub async fn put(
    state: web::Data<InternalState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let provider = stored_provider(&state, &path, &body).map_err(|message| {
        tracing::info!(provider = %path, %message, "identity provider refused");
        AdminError::BadRequest(message)
    })?;
    let view = ProviderView::from(&provider);
    match state
        .cluster
        .propose(Command::PutIdentityProvider { provider })
        .await?
    {
        Outcome::Done => {
            tracing::info!(provider = %view.id, kind = %view.kind, "identity provider saved");
            Ok(HttpResponse::Ok().json(view))
        }
        other => Err(unexpected(other)),
    }
}

/// DELETE /admin/identity-providers/{id}
pub async fn delete(
    state: web::Data<InternalState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let command = Command::DeleteIdentityProvider {
        id: path.into_inner(),
    };
    match state.cluster.propose(command).await? {
        Outcome::Done => Ok(HttpResponse::NoContent().finish()),
        Outcome::Refused(Refusal::UnknownIdentityProvider) => Err(AdminError::NotFound(
            "no identity provider with this id".into(),
        )),
        other => Err(unexpected(other)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSettingsBody {
    pub local_login: bool,
}

/// PUT /admin/login-settings: `{"local_login": false}` switches local accounts off.
pub async fn put_login_settings(
    state: web::Data<InternalState>,
    body: web::Bytes,
) -> Result<HttpResponse, AdminError> {
    let body: LoginSettingsBody = serde_json::from_slice(&body).map_err(|e| {
        AdminError::BadRequest(format!("expected {{\"local_login\": true|false}}: {e}"))
    })?;
    let login = LoginSettings {
        local_login: body.local_login,
    };
    match state
        .cluster
        .propose(Command::SetLoginSettings { login })
        .await?
    {
        Outcome::Done => Ok(HttpResponse::Ok().json(json!({ "local_login": login.local_login }))),
        other => Err(unexpected(other)),
    }
}
