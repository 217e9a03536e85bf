//! The internal server: Raft RPCs, write forwarding, read index and the admin API, on the
//! node's internal (Raft) address. Every request must carry the cluster secret: one middleware
//! checks it in front of every route, and a request without it is refused with 401 and logged.
//! Never expose this address publicly.

mod admin;
mod error;
pub mod identity_providers;
mod raft_routes;
pub mod signing_keys;
mod users;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpResponse};
use mcpauth_raft::{secret_matches, CLUSTER_SECRET_HEADER, MAX_RPC_BODY_BYTES};

use crate::cluster::Cluster;

pub use error::AdminError;
pub use mcpauth_raft::ClusterStatus;

/// What the internal routes need.
pub struct InternalState {
    pub cluster: Cluster,
    pub secret: String,
    /// Seals provider secrets given to the admin API.
    pub sealer: crate::sealer::Sealer,
    /// The node's clock (the same one the public routes read).
    pub clock: crate::clock::SharedClock,
    /// Stops the node when the leader sends what this binary cannot read.
    pub halt: mcpauth_raft::Halt,
    /// Proposes signing keys (`/admin/signing-keys/rotate`) and knows the rotation policy.
    pub keys: crate::key_rotation::KeyRotator,
}

/// Refuse (401) a request without the cluster secret, and log who tried; pass the others on.
async fn require_cluster_secret(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let presented = req
        .headers()
        .get(CLUSTER_SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let allowed = req
        .app_data::<web::Data<InternalState>>()
        .is_some_and(|state| secret_matches(&state.secret, presented));
    if allowed {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    tracing::warn!(
        peer = ?req.peer_addr(),
        path = req.path(),
        secret_present = !presented.is_empty(),
        "internal request refused: wrong or missing cluster secret"
    );
    Ok(req.into_response(
        HttpResponse::Unauthorized()
            .content_type("text/plain")
            .body("cluster secret required\n"),
    ))
}

pub fn configure_internal(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_RPC_BODY_BYTES))
        .app_data(web::JsonConfig::default().limit(64 * 1024))
        .service(
            web::scope("")
                .wrap(from_fn(require_cluster_secret))
                .route("/raft/append", web::post().to(raft_routes::append))
                .route("/raft/vote", web::post().to(raft_routes::vote))
                .route("/raft/snapshot", web::post().to(raft_routes::snapshot))
                .route(
                    mcpauth_raft::FORWARD_PATH,
                    web::post().to(raft_routes::forward),
                )
                .route(
                    mcpauth_raft::READ_INDEX_PATH,
                    web::get().to(raft_routes::read_index),
                )
                .route(
                    mcpauth_raft::VERSION_PATH,
                    web::get().to(raft_routes::version),
                )
                .route("/cluster/status", web::get().to(admin::status))
                .route("/cluster/add-learner", web::post().to(admin::add_learner))
                .route("/cluster/promote", web::post().to(admin::promote))
                .route("/cluster/remove", web::post().to(admin::remove))
                .route(
                    "/admin/identity-providers",
                    web::get().to(identity_providers::list),
                )
                .route(
                    "/admin/identity-providers/{id}",
                    web::put().to(identity_providers::put),
                )
                .route(
                    "/admin/identity-providers/{id}",
                    web::delete().to(identity_providers::delete),
                )
                .route(
                    "/admin/login-settings",
                    web::put().to(identity_providers::put_login_settings),
                )
                .route("/admin/signing-keys", web::get().to(signing_keys::list))
                .route(
                    "/admin/signing-keys/rotate",
                    web::post().to(signing_keys::rotate),
                )
                .route(
                    "/admin/users/{username}/password",
                    web::put().to(users::set_password),
                ),
        );
}
