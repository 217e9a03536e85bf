//! The admin API: cluster status and membership changes. Any node answers; membership changes
//! are relayed to the leader. The changes and their safety checks (a learner promoted only once
//! caught up, no removal that leaves no reachable majority) live in `mcpauth_raft::membership`;
//! these handlers parse, call it, and map its refusals (`AdminError`).

use actix_web::{web, HttpResponse};
use mcpauth_raft::membership::Relayed;
use mcpauth_raft::ClusterStatus;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AdminError, InternalState};

#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    /// `?digest=false` skips the state digest (cheap polling).
    digest: Option<bool>,
}

pub async fn status(
    state: web::Data<InternalState>,
    query: web::Query<StatusQuery>,
) -> HttpResponse {
    let with_digest = query.digest.unwrap_or(true);
    HttpResponse::Ok().json(ClusterStatus::of(&state.cluster, with_digest).await)
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AddLearner {
    pub id: u64,
    /// The new node's internal address.
    pub raft: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct NodeRef {
    pub id: u64,
    #[serde(default)]
    pub force: bool,
}

/// The leader's answer, passed on as it came.
fn relayed(answer: Relayed) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(answer.status)
        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
    HttpResponse::build(status).json(answer.body)
}

pub async fn add_learner(
    state: web::Data<InternalState>,
    body: web::Json<AddLearner>,
) -> Result<HttpResponse, AdminError> {
    let membership = state.cluster.membership();
    if let Some(answer) = membership
        .relay_unless_leader("/cluster/add-learner", &*body)
        .await?
    {
        return Ok(relayed(answer));
    }
    let AddLearner { id, raft } = body.into_inner();
    membership.add_learner(id, raft).await?;
    Ok(HttpResponse::Ok().json(json!({ "added": id })))
}

pub async fn promote(
    state: web::Data<InternalState>,
    body: web::Json<NodeRef>,
) -> Result<HttpResponse, AdminError> {
    let membership = state.cluster.membership();
    if let Some(answer) = membership
        .relay_unless_leader("/cluster/promote", &*body)
        .await?
    {
        return Ok(relayed(answer));
    }
    membership.promote(body.id, body.force).await?;
    Ok(HttpResponse::Ok().json(json!({ "promoted": body.id })))
}

/// Remove a voter or learner (refused when the voters left would not have a reachable
/// majority, unless `force`).
pub async fn remove(
    state: web::Data<InternalState>,
    body: web::Json<NodeRef>,
) -> Result<HttpResponse, AdminError> {
    let membership = state.cluster.membership();
    if let Some(answer) = membership
        .relay_unless_leader("/cluster/remove", &*body)
        .await?
    {
        return Ok(relayed(answer));
    }
    membership.remove(body.id, body.force).await?;
    Ok(HttpResponse::Ok().json(json!({ "removed": body.id })))
}
