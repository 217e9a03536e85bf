//! Storage format 4, frozen: what mcpauth wrote from the client-management release (client
//! ID metadata documents, RFC 7009/7592, key rotation, the refresh policy) until format 5.
//! Never edit these types: clusters that ran it hold its bytes, and a node of that release in a
//! cluster being upgraded decodes what newer nodes write in this format.
//!
//! Format 4 kept the records of format 3 that are re-exported here and changed or added what is
//! defined below. Its payloads travel inside the envelope's `Framed` variant, like format 3's.
//!
//! bincode encodes a struct as its fields in order and an enum as its variant's position, so
//! the order of fields and variants below is the format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::v3::{
    AuthCode, Claims, ClientMetadata, Consent, Digest, FamilyId, Federation, Grant,
    IdentityProvider, LoginSettings, PendingUpstream, Profile, PurgeCounts, Sealed, Session,
    Settings, UnixTime, User,
};

/// The snapshot's state (snapshot bytes: `u32` format 4, then this).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub clients: BTreeMap<String, Client>,
    pub users: BTreeMap<String, User>,
    pub sessions: BTreeMap<Digest, Session>,
    pub consents: BTreeMap<(String, String), Consent>,
    pub codes: BTreeMap<Digest, AuthCode>,
    pub families: BTreeMap<FamilyId, RefreshFamily>,
    pub refresh_tokens: BTreeMap<Digest, RefreshEntry>,
    pub signing_keys: Vec<SigningKey>,
    pub settings: Settings,
    pub next_family: FamilyId,
    pub federation: Federation,
    pub cluster_version: u32,
    pub revoked_access: BTreeMap<String, UnixTime>,
    pub clients_seeded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshEntry {
    pub family: FamilyId,
    pub retired: bool,
    pub expires_at: UnixTime,
    pub seq: u64,
    pub rotated_at: Option<UnixTime>,
}

/// A log entry's command, and a forwarded write on the wire.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    RegisterClient {
        client: Client,
    },
    CreateUser {
        user: User,
    },
    CreateSession {
        session: Session,
        replaces: Option<Digest>,
    },
    EndSession {
        id_digest: Digest,
    },
    GrantConsent {
        consent: Consent,
    },
    IssueCode {
        code: AuthCode,
    },
    RedeemCode {
        digest: Digest,
        client_id: String,
        redirect_uri: String,
        verifier_challenge: String,
        resource: Option<String>,
        now: UnixTime,
        refresh_digest: Digest,
        refresh_idle_expires_at: UnixTime,
    },
    RotateRefresh {
        presented: Digest,
        client_id: String,
        resource: Option<String>,
        scope: Option<String>,
        next: Digest,
        now: UnixTime,
        idle_expires_at: UnixTime,
        reuse: RefreshReuse,
    },
    EnsureSigningKey {
        key: SigningKey,
    },
    SetSettings {
        settings: Settings,
    },
    Purge {
        now: UnixTime,
        unclaimed_client_ttl: u64,
    },
    Batch(Vec<Command>),
    Tagged {
        attempt: u64,
        command: Box<Command>,
    },
    PutIdentityProvider {
        provider: IdentityProvider,
    },
    DeleteIdentityProvider {
        id: String,
    },
    SetLoginSettings {
        login: LoginSettings,
    },
    SeedIdentityProviders {
        providers: Vec<IdentityProvider>,
        login: Option<LoginSettings>,
    },
    BeginUpstreamLogin {
        state_digest: Digest,
        pending: PendingUpstream,
    },
    ConsumeUpstreamState {
        state_digest: Digest,
        provider_id: String,
        consumer: Digest,
        now: UnixTime,
    },
    RecordAssertion {
        provider_id: String,
        assertion_id: String,
        expires_at: UnixTime,
        consumer: Digest,
        now: UnixTime,
    },
    CreateFederatedSession {
        session: Session,
        profile: Profile,
        replaces: Option<Digest>,
    },
    SetClusterVersion {
        version: u32,
    },
    PutClient {
        client: Client,
    },
    UpdateClient {
        client_id: String,
        metadata: ClientMetadata,
    },
    DeleteClient {
        client_id: String,
    },
    SeedClients {
        clients: Vec<Client>,
    },
    RevokeRefreshToken {
        digest: Digest,
        client_id: String,
    },
    RevokeAccessToken {
        jti: String,
        expires_at: UnixTime,
    },
    AddSigningKey {
        key: SigningKey,
        retire_previous_at: UnixTime,
    },
    SetUserPassword {
        username: String,
        password_hash: String,
    },
}

/// apply()'s answer, as a leader sends it back to the follower that forwarded the write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Done,
    Granted {
        family: FamilyId,
        grant: Grant,
        claims: Option<Claims>,
    },
    SigningKey {
        key: SigningKey,
        created: bool,
    },
    Purged(PurgeCounts),
    Refused(Refusal),
    Batch(Vec<Outcome>),
    Upstream(PendingUpstream),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    ClientExists,
    UnknownClient,
    UserExists,
    UnknownCode,
    CodeExpired,
    CodeReplayed { revoked_family: Option<FamilyId> },
    CodeClientMismatch,
    RedirectMismatch,
    PkceMismatch,
    ResourceMismatch,
    ScopeExceeded,
    UnknownRefreshToken,
    RefreshExpired,
    RefreshClientMismatch,
    RefreshReused { revoked_family: FamilyId },
    DuplicateSecret,
    UnknownIdentityProvider,
    AlreadySeeded,
    UnknownUpstreamState,
    UpstreamStateExpired,
    UpstreamStateMismatch,
    UpstreamStateUsed,
    AssertionReplayed,
    TooManyPendingLogins,
    IdentityProviderDisabled,
    UnknownUser,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub secret_digest: Option<Digest>,
    pub metadata: ClientMetadata,
    pub issued_at: UnixTime,
    pub first_login_at: Option<UnixTime>,
    pub registration_token_digest: Option<Digest>,
    pub origin: ClientOrigin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientOrigin {
    Registered,
    Configured,
    MetadataDocument,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshFamily {
    pub id: FamilyId,
    pub grant: Grant,
    pub current: Digest,
    pub idle_expires_at: UnixTime,
    pub created_at: UnixTime,
    pub rotations: u64,
    pub retired: Vec<Digest>,
    pub last_used: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefreshReuse {
    Strict,
    Grace { secs: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    pub kid: String,
    pub alg: String,
    pub public_key: Vec<u8>,
    pub sealed_private_key: Sealed,
    pub created_at: UnixTime,
    pub activates_at: UnixTime,
    pub retires_at: Option<UnixTime>,
}
