//! What the admin API answers when it refuses: one typed error, mapped to an HTTP status and a
//! JSON body `{"error": "<what went wrong>"}` (the shape the CLI reads).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use mcpauth_raft::membership::MembershipError;
use mcpauth_raft::ProposeError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The request is malformed or describes an invalid configuration; nothing changed.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Membership(#[from] MembershipError),
    /// The change could not be committed (or its outcome is unknown: see the README).
    #[error(transparent)]
    Write(#[from] ProposeError),
    /// The state machine answered something this call never expects.
    #[error("unexpected outcome {0}")]
    Unexpected(String),
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Membership(e) => match e {
                MembershipError::NoLeader(_) => StatusCode::SERVICE_UNAVAILABLE,
                MembershipError::Relay { .. } => StatusCode::BAD_GATEWAY,
                MembershipError::NotAMember(_) => StatusCode::NOT_FOUND,
                MembershipError::NotALearner(_)
                | MembershipError::LastVoter
                | MembershipError::WouldLoseQuorum { .. }
                | MembershipError::NotCaughtUp { .. }
                | MembershipError::CannotRead { .. }
                // The node to add must be up first (not "this node cannot reach the leader":
                // the CLI would try the next node).
                | MembershipError::FormatsUnknown { .. }
                | MembershipError::Refused(_) => StatusCode::CONFLICT,
            },
            AdminError::Write(_) => StatusCode::SERVICE_UNAVAILABLE,
            AdminError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(json!({ "error": self.to_string() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_their_status_and_say_why() {
        let quorum = AdminError::from(MembershipError::WouldLoseQuorum {
            id: 3,
            remaining: 2,
            reachable: 1,
        });
        assert_eq!(quorum.status_code(), StatusCode::CONFLICT);
        assert!(quorum.to_string().contains("lose its quorum"));
        assert_eq!(
            AdminError::from(MembershipError::NotAMember(9)).status_code(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            AdminError::from(ProposeError::OutcomeUnknown("lost".into())).status_code(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            AdminError::BadRequest("no".into()).status_code(),
            StatusCode::BAD_REQUEST
        );
    }
}
