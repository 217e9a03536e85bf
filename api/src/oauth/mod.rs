//! The OAuth domain: what each endpoint accepts, decides and refuses, with no HTTP in it.
//!
//! ```text
//! /token      TokenRequest::parse --> ClientCredentials::resolve --> codes actor: TokenService::exchange
//!             (authenticate, the grant's parameters, grant/<type>.rs builds the attempt,
//!             propose, read the Outcome, sign)
//! /authorize  authorize::parse --> authorize::validate --> ValidRequest::next (sign in, consent, code)
//! /register   RegistrationRequest::from_json --> clients actor: registration::validate, propose
//! ```
//! Routes parse HTTP, call in here with the time from the app state's clock, and turn an
//! [`Error`] into the wire answer through its single mapping to RFC error codes
//! ([`Error::code`]). Single-use decisions stay in apply(); this layer prepares the attempt and
//! reads the outcome.

pub mod authorize;
pub mod client_auth;
pub mod error;
pub mod grant;
pub mod metadata_client;
pub mod registration;
pub mod token;
pub mod token_request;

pub use client_auth::{BasicHeader, ClientCredentials, PostedClient};
pub use error::{ClientAuthFailure, Error};
pub use token::{IssuedTokens, TokenService};
pub use token_request::{GrantRequest, TokenRequest};
