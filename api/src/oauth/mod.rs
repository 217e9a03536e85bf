//! The OAuth domain: what each endpoint accepts, decides and refuses, with no HTTP in it.
//!
//! ```text
//! /token      TokenRequest::parse --> ClientCredentials::resolve --> codes actor: TokenService::exchange
//!             (authenticate, the grant's parameters, grant/<type>.rs builds the attempt,
//!             propose, read the Outcome, sign)
//! /authorize  authorize::parse --> authorize::validate --> ValidRequest::next (sign in, consent, code)
//! /register   RegistrationRequest::parse (closed? JSON) --> clients actor: registration::validate
//!             (application_type, redirect URIs, the operator's patterns), propose
//! /revoke     PresentedToken::parse --> ClientCredentials::resolve --> Revocation::revoke
//! /introspect PresentedToken::parse --> ClientCredentials::resolve --> Introspector::introspect
//! /register/{id}  RegistrationToken::parse --> ClientConfiguration::{read, update, delete}
//! ```
//! Routes parse HTTP, call in here with the time from the app state's clock, and turn an
//! [`Error`] into the wire answer through its single mapping to RFC error codes
//! ([`Error::code`]). Single-use decisions stay in apply(); this layer prepares the attempt and
//! reads the outcome.

pub mod application_type;
pub mod authorize;
pub mod client_auth;
pub mod configured_client;
pub mod error;
pub mod grant;
pub mod introspection;
pub mod metadata_client;
pub mod presented_token;
pub mod registration;
pub mod registration_management;
pub mod registration_policy;
pub mod revocation;
pub mod token;
pub mod token_request;

pub use client_auth::{BasicHeader, ClientCredentials, PostedClient};
pub use error::{ClientAuthFailure, Error};
pub use token::{IssuedTokens, TokenService};
pub use token_request::{GrantRequest, TokenRequest};
