//! The records the state machine keeps. Every bearer secret is kept as the SHA-256 of a
//! high-entropy value ([`Digest`]); what must be recovered is [`Sealed`] by the node before
//! it is proposed. Nothing here is ever stored in clear.

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch. apply() never reads a clock: every instant travels in the command.
pub type UnixTime = u64;

/// SHA-256 of a high-entropy secret (authorization code, refresh token, session id, client secret).
pub type Digest = [u8; 32];

/// An AES-256-GCM sealed value. The key never enters the log; the state machine only carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub nonce: [u8; 12],
    pub ciphertext: Vec<u8>,
}

/// RFC 7591 client metadata as registered, echoed back to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ClientMetadata {
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub scope: Option<String>,
    pub contacts: Vec<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    pub application_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    /// SHA-256 of the client secret; `None` for public clients.
    pub secret_digest: Option<Digest>,
    pub metadata: ClientMetadata,
    pub issued_at: UnixTime,
    /// Set when a code of this client is first redeemed: registrations that never complete a
    /// login are reaped by [`crate::Command::Purge`] (configured clients never are).
    pub first_login_at: Option<UnixTime>,
    /// SHA-256 of the RFC 7592 registration access token, for clients that registered
    /// themselves (format 4 on; older registrations have none and cannot be managed).
    pub registration_token_digest: Option<Digest>,
    /// How the client came to be known.
    pub origin: ClientOrigin,
    /// Switched off by an administrator (format 5): it gets no code and no token, and its
    /// refresh tokens are refused, until switched on again.
    pub disabled: bool,
    /// When a code of it was last redeemed or a refresh token of it last rotated (format 5).
    pub last_used_at: Option<UnixTime>,
}

/// Where a client's registration comes from: it decides who may change it and whether an
/// unused one is reaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ClientOrigin {
    /// RFC 7591 dynamic registration (every client before format 4).
    #[default]
    Registered,
    /// A `[[client]]` of the config file: never reaped.
    Configured,
    /// A client ID metadata document (the client_id is its https URL): recorded when first
    /// used and refreshed when the document changes.
    MetadataDocument,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: String,
    /// Stable subject identifier put in `sub`.
    pub subject: String,
    /// Argon2id PHC string (human passwords only).
    pub password_hash: String,
    pub created_at: UnixTime,
    pub disabled: bool,
    /// What the person may administer (format 5). A user named `admin` read from an older
    /// format has [`Role::Admin`]: the first user always had the admin password.
    pub roles: Vec<Role>,
    /// Set by an administrator's reset: the person must choose a new password at their next
    /// login before anything else (format 5).
    pub must_change_password: bool,
}

/// What a person may do in the admin API and console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Everything.
    Admin,
    /// Read everything, change nothing.
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "admin" => Some(Role::Admin),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }
}

/// The roles a user read from a format without roles gets.
pub fn roles_before_format5(username: &str) -> Vec<Role> {
    if username == "admin" {
        vec![Role::Admin]
    } else {
        Vec::new()
    }
}

/// An administrator's change to a local user ([`crate::Command::UpdateUser`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserChange {
    /// Switch the account off (its sessions end and its grants are revoked) or on.
    Disabled(bool),
    /// Replace the user's roles.
    Roles(Vec<Role>),
    /// The person must choose a new password at their next login.
    RequirePasswordChange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id_digest: Digest,
    pub subject: String,
    pub username: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    /// The identity provider the person signed in with; None for a local account (format 5).
    pub identity_provider: Option<String>,
    /// The address the login came from, as the node saw it (format 5).
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub subject: String,
    pub client_id: String,
    /// Scopes granted so far; a request within them needs no new consent.
    pub scopes: Vec<String>,
    pub granted_at: UnixTime,
}

/// What an authorization code or a refresh token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    /// RFC 8707 resource the tokens are bound to (the `aud` of access tokens).
    pub resource: String,
    pub auth_time: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCode {
    pub digest: Digest,
    pub grant: Grant,
    pub redirect_uri: String,
    /// PKCE S256 code_challenge as sent (base64url of SHA-256 of the verifier).
    pub code_challenge: String,
    pub expires_at: UnixTime,
    /// After redemption the code is kept (until it expires) so a replay can be detected and
    /// the family it started revoked.
    pub redeemed_into: Option<FamilyId>,
}

pub type FamilyId = u64;

/// A chain of rotating refresh tokens started by one code redemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshFamily {
    pub id: FamilyId,
    pub grant: Grant,
    /// Digest of the one refresh token of this family that may be used now.
    pub current: Digest,
    /// The current token is refused after this instant (idle lifetime, renewed on each rotation).
    pub idle_expires_at: UnixTime,
    pub created_at: UnixTime,
    pub rotations: u64,
    /// The most recently rotated-out tokens, newest last, at most [`RETIRED_KEPT`]: presenting
    /// one is reuse and revokes the family. Older ones are forgotten (then they are merely
    /// unknown), so a long-lived family's state stays bounded.
    pub retired: Vec<Digest>,
    /// The sequence number (0 for the family's first token, then one more per token issued)
    /// of the newest token that was presented and accepted. A rotated-out token issued no
    /// earlier than it may still be accepted under [`RefreshReuse::Grace`]. None before any
    /// rotation, and for families of clusters that ran format 3 or older.
    pub last_used: Option<u64>,
    /// When a token of this family was last accepted (format 5; None before).
    pub last_used_at: Option<UnixTime>,
}

/// What a refresh token presented again after its rotation gets (README, "refresh policy").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefreshReuse {
    /// RFC 9700 §4.14.2 to the letter: any second presentation revokes the family.
    Strict,
    /// A rotated token is accepted again (a new pair is issued and the family moves to it)
    /// while no token issued after it has been used, or for `secs` after its rotation; else
    /// it is reuse, and the family is revoked.
    Grace { secs: u64 },
}

/// How many rotated-out refresh tokens a family remembers for reuse detection.
pub const RETIRED_KEPT: usize = 16;

/// A signing key: the public part in clear, the private part sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    pub kid: String,
    /// JOSE algorithm, "ES256".
    pub alg: String,
    /// Uncompressed public point (0x04 || x || y) for EC keys.
    pub public_key: Vec<u8>,
    /// PKCS#8 private key sealed under the node seal key.
    pub sealed_private_key: Sealed,
    pub created_at: UnixTime,
    /// Published in JWKS from `created_at`; signs nothing before this instant, so resource
    /// servers that cache JWKS know it before they meet a token signed with it.
    pub activates_at: UnixTime,
    /// Dropped by [`crate::Command::Purge`] at this instant: set when a newer key is added,
    /// to when the last token this one can have signed expires.
    pub retires_at: Option<UnixTime>,
}

/// Cluster-wide settings, replicated so every node decides the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Settings {
    /// RFC 8707 resources (MCP servers) tokens may be issued for. Empty: any (trial mode).
    pub resources: Vec<String>,
    /// Custom URI schemes allowed in redirect URIs (e.g. "cursor").
    pub allowed_redirect_schemes: Vec<String>,
}

/// Whose access an administrator ends ([`crate::Command::RevokeAccess`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessTarget {
    /// One browser session (the person signs in again at the next authorization).
    Session(Digest),
    /// One grant: a refresh family.
    Family(FamilyId),
    /// Every session and grant of a subject; their access tokens are denied until they expire.
    Subject(String),
    /// Every grant of a client; its access tokens are denied until they expire.
    Client(String),
}

/// Whose access tokens are denied by [`AccessDenial`]: those that name this subject or client.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DenialTarget {
    Subject(String),
    Client(String),
}

/// Access tokens of a [`DenialTarget`] issued at or before `issued_before` are revoked; kept
/// `until` the last of them has expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessDenial {
    pub issued_before: UnixTime,
    pub until: UnixTime,
}

/// The runtime configuration (`/api/v1/system/mcp/config`): validated and kept as JSON by the
/// api crate, so its fields can grow without a storage format (as identity providers' are).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// 1 for the first update, one more for each update or rollback.
    pub version: u64,
    pub config_json: String,
    pub updated_at: UnixTime,
    /// Who made the change (an administrator's subject, or the cluster secret).
    pub updated_by: String,
}
