//! Raft RPCs, forwarded writes and read index, as bincode over HTTP.

use actix_web::{web, HttpResponse};
use mcpauth_raft::RpcKind;

use super::InternalState;

fn octets(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(body)
}

async fn rpc(state: web::Data<InternalState>, body: web::Bytes, kind: RpcKind) -> HttpResponse {
    match mcpauth_raft::handle_rpc(state.cluster.raft(), kind, &body).await {
        Ok(bytes) => octets(bytes),
        Err(e) if e.stops_the_node() => {
            state.halt.halt(e.to_string());
            HttpResponse::BadRequest().body(e.to_string())
        }
        Err(e) => {
            tracing::warn!(error = %e, "malformed Raft RPC");
            HttpResponse::BadRequest().body(e.to_string())
        }
    }
}

pub async fn append(state: web::Data<InternalState>, body: web::Bytes) -> HttpResponse {
    rpc(state, body, RpcKind::AppendEntries).await
}

pub async fn vote(state: web::Data<InternalState>, body: web::Bytes) -> HttpResponse {
    rpc(state, body, RpcKind::Vote).await
}

pub async fn snapshot(state: web::Data<InternalState>, body: web::Bytes) -> HttpResponse {
    rpc(state, body, RpcKind::InstallSnapshot).await
}

pub async fn forward(state: web::Data<InternalState>, body: web::Bytes) -> HttpResponse {
    match mcpauth_raft::handle_forward(state.cluster.proposer(), &body).await {
        Ok(bytes) => octets(bytes),
        Err(e) => HttpResponse::BadRequest().body(format!("malformed forwarded command: {e}")),
    }
}

/// The storage formats this node reads, for the leader's cluster-version check.
pub async fn version() -> HttpResponse {
    match mcpauth_raft::handle_version() {
        Ok(bytes) => HttpResponse::Ok()
            .content_type("application/json")
            .body(bytes),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

pub async fn read_index(state: web::Data<InternalState>) -> HttpResponse {
    match mcpauth_raft::handle_read_index(state.cluster.raft()).await {
        Ok(bytes) => octets(bytes),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}
