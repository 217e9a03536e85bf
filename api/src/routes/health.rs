//! Liveness and readiness for load balancers.

use actix_web::{web, HttpResponse};

use crate::app::AppState;

/// The process is alive and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Ready when this node can serve now: a leader answers for the commit index (so this node is on
/// the majority side), this node has applied up to it (its reads are current), and its writes
/// commit (the leader's proposal is not stalled; after failed or stalled writes, a no-op write
/// must commit first). See `mcpauth_raft::RaftClient::readiness`.
pub async fn readyz(app: web::Data<AppState>) -> HttpResponse {
    match app.cluster.readiness().await {
        Ok(ready) => HttpResponse::Ok().content_type("text/plain").body(format!(
            "ready: leader {}, applied {}, committed {}\n",
            ready.leader.map_or("?".to_owned(), |l| l.to_string()),
            ready.applied,
            ready.committed
        )),
        Err(e) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(format!("not ready: {e}\n")),
    }
}
