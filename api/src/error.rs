//! The OAuth error layer (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 8707 §2) and the readable error
//! page for the browser routes. Which code a refusal gets is decided once, in
//! `crate::oauth::error`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// RFC error codes, spelled as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    InvalidTarget,
    AccessDenied,
    LoginRequired,
    ConsentRequired,
    InvalidRedirectUri,
    InvalidClientMetadata,
    ServerError,
    TemporarilyUnavailable,
    /// RFC 7009 §2.2.1.
    UnsupportedTokenType,
    /// RFC 6750 §3.1 (a registration access token, RFC 7592).
    InvalidToken,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InvalidToken => "invalid_token",
        }
    }
}

/// An OAuth error answered as JSON `{error, error_description}` with `Cache-Control: no-store`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    /// invalid_client after a Basic authentication attempt answers 401 with a challenge.
    pub basic_challenge: bool,
    /// The HTTP status when the code's usual one does not fit (a closed /register: 403).
    pub status: Option<StatusCode>,
    /// invalid_token for a request that sent no bearer token at all: its challenge carries
    /// no error code (RFC 6750 §3.1).
    pub token_missing: bool,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            basic_challenge: false,
            status: None,
            token_missing: false,
        }
    }
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }
    pub fn server_error() -> Self {
        Self::new(
            ErrorCode::ServerError,
            "internal error; nothing was changed",
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        if let Some(status) = self.status {
            return status;
        }
        match self.code {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if self.code == ErrorCode::InvalidClient && self.basic_challenge {
            response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"mcpauth\""));
        }
        if self.code == ErrorCode::InvalidToken {
            let challenge = if self.token_missing {
                "Bearer realm=\"mcpauth\""
            } else {
                "Bearer realm=\"mcpauth\", error=\"invalid_token\""
            };
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        response.json(ErrorBody {
            error: self.code.as_str(),
            error_description: &self.description,
        })
    }
}

/// A failure the browser sees as a page (never a redirect to an unverified URI).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{title}: {detail}")]
pub struct PageError {
    pub status: StatusCode,
    pub title: String,
    pub detail: String,
}

impl PageError {
    pub fn bad_request(title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            title: title.into(),
            detail: detail.into(),
        }
    }
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "Sign-in is unavailable right now".into(),
            detail: detail.into(),
        }
    }
    pub fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Something went wrong".into(),
            detail: "An internal error occurred; nothing was changed. Please try again.".into(),
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        crate::pages::error_page(self.status, &self.title, &self.detail)
    }
}
