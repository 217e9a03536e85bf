//! Liveness and readiness for load balancers.

use actix_web::{web, HttpResponse};

use crate::app::AppState;

/// The process is alive and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// The node knows a leader and has applied everything in its log, so its reads are current.
pub async fn readyz(app: web::Data<AppState>) -> HttpResponse {
    let (leader, applied, last_log) = {
        let metrics = app.cluster.raft().metrics();
        let m = metrics.borrow();
        (
            m.current_leader,
            m.last_applied.map(|l| l.index).unwrap_or(0),
            m.last_log_index.unwrap_or(0),
        )
    };
    match leader {
        Some(leader) if applied >= last_log => HttpResponse::Ok()
            .content_type("text/plain")
            .body(format!("ready: leader {leader}, applied {applied}\n")),
        Some(leader) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(format!(
                "catching up: leader {leader}, applied {applied} of {last_log}\n"
            )),
        None => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("no leader known\n"),
    }
}
