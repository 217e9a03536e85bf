//! The public signing keys (RFC 7517), from the replicated state: the active key, a key
//! published ahead of signing, and retiring keys until their tokens have expired. The cache
//! lifetime stays below the publish window (`RotationPolicy::jwks_max_age`), so a resource
//! server that honours it knows the next key before any token carries it.

use actix_web::{web, HttpResponse};

use crate::app::AppState;
use crate::signer::public_jwk;

pub async fn jwks(app: web::Data<AppState>) -> HttpResponse {
    let keys: Vec<serde_json::Value> = app
        .cluster
        .read(|s| s.signing_keys().iter().map(public_jwk).collect());
    HttpResponse::Ok()
        .insert_header((
            "Cache-Control",
            format!("public, max-age={}", app.config.key_rotation.jwks_max_age()),
        ))
        .json(serde_json::json!({ "keys": keys }))
}
