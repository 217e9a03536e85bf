//! Liveness and readiness for load balancers.

use actix_web::{web, HttpResponse};

use crate::app::AppState;

/// The process is alive and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Ready when a leader answers for the commit index (so this node is on the majority side)
/// and this node has applied up to it: its reads are current and its writes can commit.
pub async fn readyz(app: web::Data<AppState>) -> HttpResponse {
    let leader = app.cluster.raft().metrics().borrow().current_leader;
    match app.cluster.readiness().await {
        Ok((applied, committed)) => HttpResponse::Ok().content_type("text/plain").body(format!(
            "ready: leader {}, applied {applied}, committed {committed}\n",
            leader.map_or("?".to_owned(), |l| l.to_string())
        )),
        Err(e) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(format!("not ready: {e}\n")),
    }
}
