//! The admin API for signing keys (on the internal address, behind the cluster secret):
//! `GET /admin/signing-keys` lists them with their phase and the schedule;
//! `POST /admin/signing-keys/rotate` adds the next key now, published `publish_before` ahead
//! of signing like a scheduled one. Any node answers; a rotation is relayed to the leader,
//! which alone proposes keys (see `key_rotation::rotator`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, ResponseError};
use mcpauth_raft::membership::MembershipError;
use serde_json::json;

use super::InternalState;
use crate::cluster::ProposeError;
use crate::key_rotation::{KeysView, RotateError, Trigger};

/// Why a key call was refused: `{"error": ...}` like the rest of the admin API.
#[derive(Debug, thiserror::Error)]
pub enum KeysAdminError {
    #[error(transparent)]
    Rotate(#[from] RotateError),
    #[error(transparent)]
    Relay(#[from] MembershipError),
    #[error(transparent)]
    Read(#[from] ProposeError),
}

impl ResponseError for KeysAdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            KeysAdminError::Rotate(RotateError::Pending { .. }) => StatusCode::CONFLICT,
            KeysAdminError::Rotate(
                RotateError::ClusterTooOld(_) | RotateError::NoKey | RotateError::Propose(_),
            )
            | KeysAdminError::Read(_) => StatusCode::SERVICE_UNAVAILABLE,
            KeysAdminError::Rotate(RotateError::Key(_) | RotateError::Unexpected(_)) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            // The relay fails only for want of a leader or of its answer (the CLI then tries
            // another node).
            KeysAdminError::Relay(MembershipError::Relay { .. }) => StatusCode::BAD_GATEWAY,
            KeysAdminError::Relay(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(json!({ "error": self.to_string() }))
    }
}

/// GET /admin/signing-keys
pub async fn list(state: web::Data<InternalState>) -> Result<HttpResponse, KeysAdminError> {
    // Current, not this node's possibly lagging copy: a rotation just made elsewhere shows.
    state.cluster.sync_if_missing(|_| false).await?;
    let now = state.clock.now();
    let view = state
        .cluster
        .read(|s| KeysView::of(s, state.keys.policy(), now));
    Ok(HttpResponse::Ok().json(view))
}

/// POST /admin/signing-keys/rotate
pub async fn rotate(state: web::Data<InternalState>) -> Result<HttpResponse, KeysAdminError> {
    let membership = state.cluster.membership();
    if let Some(answer) = membership
        .relay_unless_leader("/admin/signing-keys/rotate", &json!({}))
        .await?
    {
        let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
        return Ok(HttpResponse::build(status).json(answer.body));
    }
    let added = state.keys.rotate(Trigger::Operator).await?;
    let now = state.clock.now();
    let view = state
        .cluster
        .read(|s| KeysView::of(s, state.keys.policy(), now));
    Ok(HttpResponse::Ok().json(json!({
        "added": added.map(|k| k.kid),
        "signing_keys": view,
    })))
}
