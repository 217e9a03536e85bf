//! The public signing keys (RFC 7517), from the replicated state.

use actix_web::{web, HttpResponse};

use crate::app::AppState;
use crate::signer::public_jwk;

pub async fn jwks(app: web::Data<AppState>) -> HttpResponse {
    let keys: Vec<serde_json::Value> = app
        .cluster
        .read(|s| s.signing_keys().iter().map(public_jwk).collect());
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(serde_json::json!({ "keys": keys }))
}
