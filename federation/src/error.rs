//! Why an upstream login failed, in words for the person and the administrator.

/// Why an upstream login failed. Each says what happened in words a person can act on; none
/// carries a secret or a token.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum UpstreamError {
    /// The person (or the provider's policy) declined.
    #[error("the identity provider did not sign you in: {0}")]
    Denied(String),
    /// Wrong username or password (LDAP).
    #[error("unknown username or wrong password")]
    BadCredentials,
    /// What the provider sent does not check out (signature, issuer, audience, expiry, nonce...).
    #[error("the identity provider's answer was rejected: {0}")]
    Invalid(String),
    /// The provider could not be reached or answered with an error.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider's configuration does not work.
    #[error("the identity provider is misconfigured: {0}")]
    Misconfigured(String),
}
