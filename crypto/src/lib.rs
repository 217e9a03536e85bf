//! mcpauth's cryptography, in one place and free of HTTP and Raft:
//!
//! - [`sealer`]: AES-256-GCM sealing of what must be recovered (signing keys' private parts,
//!   upstream client secrets) under the node's seal key, which never enters the log, and the
//!   keyed derivation of per-login values any node can recompute;
//! - [`secrets`]: high-entropy secrets (codes, tokens, ids) and the SHA-256 digests that are
//!   all the log ever holds of them; PKCE;
//! - [`signer`] and [`signer_cache`]: ES256 access tokens, with the active key unsealed and
//!   parsed once per key rather than per token;
//! - [`verifier`]: verification of our own access tokens, for revocation and introspection;
//! - [`passwords`]: Argon2id for human passwords (the only place a slow hash belongs).
//!
//! DESIGN.md invariant 2 is what this crate exists for: no bearer secret in clear in the log.

pub mod passwords;
pub mod sealer;
pub mod secrets;
pub mod signer;
pub mod signer_cache;
pub mod verifier;

pub use sealer::{SealError, Sealer};
pub use signer::{AccessClaims, SignerError, TokenSigner};
pub use signer_cache::{SignerCache, SignerCacheError, SigningKeys};
pub use verifier::{verify_access_token, VerifiedAccessToken, VerifyError};
