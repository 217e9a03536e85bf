//! Every refusal the OAuth domain can answer, and the one place that gives each its RFC error
//! code (RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2, RFC 8707 §2, OpenID Connect `prompt`).
//!
//! The domain says *what* went wrong, typed; [`Error::code`] says which wire code that is, and
//! `crate::error::OAuthError` turns it into the HTTP answer. A route never picks a code itself.

use mcpauth_state::Refusal;

use actix_web::http::StatusCode;

use super::application_type::ApplicationType;
use crate::cluster::ProposeError;
use crate::error::{ErrorCode, OAuthError};
use crate::redirect_uri::RedirectUriError;
use crate::resource::ResourceError;

/// Why a client's authentication at the token endpoint failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClientAuthFailure {
    #[error("malformed Basic credentials")]
    MalformedBasic,
    #[error("client_id differs from the authenticated client")]
    IdMismatch,
    #[error("client authentication is required (client_id is missing)")]
    Missing,
    #[error("unknown client; register again")]
    UnknownClient,
    #[error("this client is public and has no secret")]
    SecretForPublicClient,
    #[error("client authentication failed: no client secret presented")]
    NoSecret,
    #[error("client authentication failed")]
    WrongSecret,
    #[error("only confidential clients may introspect tokens; authenticate with a client secret")]
    PublicClient,
}

/// A refusal of the OAuth domain. The description a client reads is the `Display` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // --- the shape of a token request
    #[error("malformed request: a parameter is repeated or not text")]
    Malformed,
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("code_verifier is required (PKCE)")]
    MissingVerifier,
    #[error("code_verifier must be 43 to 128 unreserved characters")]
    InvalidVerifier,
    #[error("use one client authentication method, not two")]
    TwoAuthMethods,
    #[error("grant_type '{0}' is not supported")]
    UnsupportedGrantType(String),

    // --- who the client is and what it may do
    /// `via_basic`: the client tried the Basic scheme, so the answer carries a challenge.
    #[error("{failure}")]
    Client {
        failure: ClientAuthFailure,
        via_basic: bool,
    },
    #[error("this client did not register the {0} grant")]
    GrantNotRegistered(&'static str),
    #[error("{0}")]
    Target(ResourceError),

    // --- what the state machine decided
    #[error("{0}")]
    Refused(Refusal),
    #[error("the identity provider this grant came from is switched off")]
    ProviderSwitchedOff,

    // --- the authorization endpoint, once the redirect URI is trusted
    #[error("response_type is required")]
    ResponseTypeMissing,
    #[error("only response_type=code is supported")]
    ResponseTypeUnsupported,
    #[error("client did not register response_type code")]
    ResponseTypeNotRegistered,
    #[error("PKCE is required: code_challenge is missing")]
    ChallengeMissing,
    #[error("code_challenge_method must be S256")]
    ChallengeMethodNotS256,
    #[error("unsupported code_challenge_method; use S256")]
    ChallengeMethodUnknown,
    #[error("code_challenge is not a valid S256 challenge")]
    ChallengeInvalid,
    #[error("unknown scope '{0}'")]
    UnknownScope(String),
    #[error("prompt=none cannot be combined")]
    PromptNoneCombined,
    #[error("the user is not signed in")]
    LoginRequired,
    #[error("the user has not consented")]
    ConsentRequired,
    #[error("the user denied the request")]
    AccessDenied,
    /// The state machine would not store the code (its client is gone).
    #[error("{0}")]
    CodeNotIssued(Refusal),

    // --- registration (RFC 7591)
    #[error("the registration request is not valid JSON metadata: {0}")]
    MetadataNotJson(String),
    #[error("token_endpoint_auth_method '{0}' is not supported; use one of none, client_secret_basic, client_secret_post")]
    AuthMethodUnsupported(String),
    #[error("grant type '{0}' is not supported")]
    RegisteredGrantUnsupported(String),
    #[error("response type '{0}' is not supported; only 'code'")]
    RegisteredResponseTypeUnsupported(String),
    #[error("grant_types authorization_code and response_types code go together")]
    GrantAndResponseTypeApart,
    #[error("client_name is longer than 200 characters")]
    ClientNameTooLong,
    #[error("redirect_uris is required")]
    RedirectUrisMissing,
    #[error("{error}: {uri}")]
    RedirectUri {
        error: RedirectUriError,
        uri: String,
    },
    #[error("at most 20 redirect_uris")]
    TooManyRedirectUris,
    #[error("application_type '{0}' is not supported; use native or web")]
    ApplicationTypeUnknown(String),
    #[error("{uri} does not fit application_type {}: {}", .application_type.as_str(), .application_type.rule())]
    RedirectUriNotForApplicationType {
        uri: String,
        application_type: ApplicationType,
    },
    #[error(
        "{0} is not allowed by this server's registration policy (registration_redirect_patterns)"
    )]
    RedirectUriNotPermitted(String),
    #[error(
        "dynamic client registration is switched off on this server; ask its operator for a client"
    )]
    RegistrationOff,

    // --- revocation (RFC 7009) and introspection (RFC 7662)
    #[error("token_type_hint '{0}' names a token type this server does not issue")]
    UnsupportedTokenType(String),
    #[error("this token was issued to another client")]
    TokenOfAnotherClient,

    // --- registration management (RFC 7592)
    #[error("a registration access token is required (Authorization: Bearer)")]
    RegistrationTokenMissing,
    #[error("the registration access token is invalid or the client does not exist")]
    RegistrationTokenInvalid,
    #[error("client_id in the request must be the client's own")]
    ClientIdMismatch,
    #[error("client_secret in the request does not match the client's secret")]
    ClientSecretMismatch,
    #[error(
        "token_endpoint_auth_method cannot change between none and a secret; register a new client"
    )]
    AuthMethodChange,

    // --- the cluster
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error; nothing was changed")]
    Internal,
}

impl Error {
    /// The RFC error code of this refusal: the one place codes are chosen.
    pub fn code(&self) -> ErrorCode {
        use Error::*;
        match self {
            Malformed | Missing(_) | MissingVerifier | InvalidVerifier | TwoAuthMethods => {
                ErrorCode::InvalidRequest
            }
            UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
            Client { .. } => ErrorCode::InvalidClient,
            GrantNotRegistered(_) | ResponseTypeNotRegistered => ErrorCode::UnauthorizedClient,
            Target(_) => ErrorCode::InvalidTarget,
            Refused(refusal) => refusal_code(refusal),
            ProviderSwitchedOff => ErrorCode::InvalidGrant,
            ResponseTypeMissing
            | ChallengeMissing
            | ChallengeMethodNotS256
            | ChallengeMethodUnknown
            | ChallengeInvalid
            | PromptNoneCombined
            | CodeNotIssued(_) => ErrorCode::InvalidRequest,
            ResponseTypeUnsupported => ErrorCode::UnsupportedResponseType,
            UnknownScope(_) => ErrorCode::InvalidScope,
            LoginRequired => ErrorCode::LoginRequired,
            ConsentRequired => ErrorCode::ConsentRequired,
            AccessDenied => ErrorCode::AccessDenied,
            MetadataNotJson(_)
            | AuthMethodUnsupported(_)
            | RegisteredGrantUnsupported(_)
            | RegisteredResponseTypeUnsupported(_)
            | GrantAndResponseTypeApart
            | ClientNameTooLong
            | ApplicationTypeUnknown(_) => ErrorCode::InvalidClientMetadata,
            RedirectUrisMissing
            | RedirectUri { .. }
            | TooManyRedirectUris
            | RedirectUriNotForApplicationType { .. }
            | RedirectUriNotPermitted(_) => ErrorCode::InvalidRedirectUri,
            RegistrationOff => ErrorCode::AccessDenied,
            UnsupportedTokenType(_) => ErrorCode::UnsupportedTokenType,
            TokenOfAnotherClient => ErrorCode::UnauthorizedClient,
            RegistrationTokenMissing | RegistrationTokenInvalid => ErrorCode::InvalidToken,
            ClientIdMismatch | ClientSecretMismatch => ErrorCode::InvalidRequest,
            AuthMethodChange => ErrorCode::InvalidClientMetadata,
            Unavailable(_) => ErrorCode::TemporarilyUnavailable,
            Internal => ErrorCode::ServerError,
        }
    }
}

/// The code of a state-machine refusal answered to a token request.
fn refusal_code(refusal: &Refusal) -> ErrorCode {
    match refusal {
        Refusal::UnknownClient => ErrorCode::InvalidClient,
        Refusal::ResourceMismatch => ErrorCode::InvalidTarget,
        Refusal::ScopeExceeded => ErrorCode::InvalidScope,
        Refusal::UnknownCode
        | Refusal::CodeExpired
        | Refusal::CodeReplayed { .. }
        | Refusal::CodeClientMismatch
        | Refusal::RedirectMismatch
        | Refusal::PkceMismatch
        | Refusal::UnknownRefreshToken
        | Refusal::RefreshExpired
        | Refusal::RefreshClientMismatch
        | Refusal::RefreshReused { .. }
        | Refusal::IdentityProviderDisabled
        | Refusal::UserDisabled => ErrorCode::InvalidGrant,
        // RFC 6749 §5.2: this client may not use the grant (an administrator switched it off).
        Refusal::ClientDisabled => ErrorCode::UnauthorizedClient,
        // Never the answer to a token request: these come from login and admin paths.
        Refusal::ClientExists
        | Refusal::UserExists
        | Refusal::DuplicateSecret
        | Refusal::UnknownIdentityProvider
        | Refusal::AlreadySeeded
        | Refusal::UnknownUpstreamState
        | Refusal::UpstreamStateExpired
        | Refusal::UpstreamStateMismatch
        | Refusal::UpstreamStateUsed
        | Refusal::AssertionReplayed
        | Refusal::TooManyPendingLogins
        | Refusal::UnknownUser
        | Refusal::UnknownSession
        | Refusal::UnknownFamily
        | Refusal::RuntimeConfigChanged { .. }
        | Refusal::NoPreviousRuntimeConfig
        | Refusal::LastAdmin => ErrorCode::ServerError,
    }
}

impl From<ProposeError> for Error {
    fn from(e: ProposeError) -> Self {
        Error::Unavailable(e.to_string())
    }
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        let code = e.code();
        if code == ErrorCode::ServerError {
            // Whatever went wrong inside stays in the log, not in the answer.
            return OAuthError::server_error();
        }
        let mut answer = OAuthError::new(code, e.to_string());
        answer.basic_challenge = matches!(
            e,
            Error::Client {
                via_basic: true,
                ..
            }
        );
        if e == Error::RegistrationOff {
            // Not a malformed request: the endpoint is closed to everyone.
            answer.status = Some(StatusCode::FORBIDDEN);
        }
        answer.token_missing = matches!(e, Error::RegistrationTokenMissing);
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_refusals_never_leak_their_reason() {
        let answer = OAuthError::from(Error::Refused(Refusal::DuplicateSecret));
        assert_eq!(answer.code, ErrorCode::ServerError);
        assert_eq!(answer.description, "internal error; nothing was changed");
    }

    #[test]
    fn only_a_basic_attempt_gets_a_challenge() {
        let basic = OAuthError::from(Error::Client {
            failure: ClientAuthFailure::WrongSecret,
            via_basic: true,
        });
        assert!(basic.basic_challenge);
        let post = OAuthError::from(Error::Client {
            failure: ClientAuthFailure::WrongSecret,
            via_basic: false,
        });
        assert!(!post.basic_challenge);
        assert_eq!(post.code, ErrorCode::InvalidClient);
    }

    #[test]
    fn closed_registration_is_forbidden_not_malformed() {
        let answer = OAuthError::from(Error::RegistrationOff);
        assert_eq!(answer.code, ErrorCode::AccessDenied);
        assert_eq!(answer.status, Some(StatusCode::FORBIDDEN));
        assert_eq!(OAuthError::from(Error::Malformed).status, None);
    }
}
