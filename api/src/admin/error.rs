//! The admin API's errors: each a status and a JSON body `{"error": code, "error_description"}`
//! that says what to do; nothing in them is a secret.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use mcpauth_state::{Refusal, Role};
use serde_json::json;

use crate::cluster::ProposeError;

#[derive(Debug, thiserror::Error)]
pub enum AdminApiError {
    /// 401: no token, or one that is not a valid admin-audience token.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// 403: authenticated, without the role this needs.
    #[error("this needs the {} role", .0.as_str())]
    Forbidden(Role),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// 409: the state machine refused (a stale configuration version, the last admin, ...).
    #[error("{0}")]
    Refused(Refusal),
    /// 503: no leader to write through or to catch up with.
    #[error("{0}")]
    Write(#[from] ProposeError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AdminApiError {
    fn code(&self) -> &'static str {
        match self {
            AdminApiError::Unauthenticated(_) => "invalid_token",
            AdminApiError::Forbidden(_) => "insufficient_role",
            AdminApiError::BadRequest(_) => "invalid_request",
            AdminApiError::NotFound(_) => "not_found",
            AdminApiError::Refused(refusal) => refusal.code(),
            AdminApiError::Write(_) => "temporarily_unavailable",
            AdminApiError::Internal(_) => "server_error",
        }
    }
}

impl ResponseError for AdminApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AdminApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            AdminApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminApiError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminApiError::Refused(
                Refusal::UnknownClient
                | Refusal::UnknownUser
                | Refusal::UnknownSession
                | Refusal::UnknownFamily
                | Refusal::UnknownIdentityProvider,
            ) => StatusCode::NOT_FOUND,
            AdminApiError::Refused(_) => StatusCode::CONFLICT,
            AdminApiError::Write(_) => StatusCode::SERVICE_UNAVAILABLE,
            AdminApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let AdminApiError::Unauthenticated(_) = self {
            // RFC 6750 §3.
            response.insert_header((
                "WWW-Authenticate",
                format!("Bearer error=\"invalid_token\", error_description=\"{self}\""),
            ));
        }
        response.json(json!({ "error": self.code(), "error_description": self.to_string() }))
    }
}
