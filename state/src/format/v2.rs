//! Storage format 2, frozen: the log entries, outcomes and snapshots written by mcpauth 0.1
//! (the release with federated login). Never edit these types: the bytes of every cluster that
//! ran 0.1 are decoded with them, and a 0.1 node in a cluster being upgraded decodes what newer
//! nodes write in this format. Format 1 (the release before federation) wrote a prefix of this
//! [`Command`] enum (variants 0 to 12), so its entries decode here too; only its snapshot
//! differs (see [`super::v1`]).
//!
//! bincode encodes a struct as its fields in order and an enum as its variant's position, so
//! the order of fields and variants below is the format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub type UnixTime = u64;
pub type Digest = [u8; 32];
pub type FamilyId = u64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub nonce: [u8; 12],
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub secret_digest: Option<Digest>,
    pub metadata: ClientMetadata,
    pub issued_at: UnixTime,
    pub first_login_at: Option<UnixTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: String,
    pub subject: String,
    pub password_hash: String,
    pub created_at: UnixTime,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id_digest: Digest,
    pub subject: String,
    pub username: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub subject: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub granted_at: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    pub resource: String,
    pub auth_time: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCode {
    pub digest: Digest,
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub expires_at: UnixTime,
    pub redeemed_into: Option<FamilyId>,
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    pub kid: String,
    pub alg: String,
    pub public_key: Vec<u8>,
    pub sealed_private_key: Sealed,
    pub created_at: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub resources: Vec<String>,
    pub allowed_redirect_schemes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProvider {
    pub id: String,
    pub kind: String,
    pub display_name: String,
    pub enabled: bool,
    pub config_json: String,
    pub sealed_secret: Option<Sealed>,
    pub updated_at: UnixTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSettings {
    pub local_login: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpstream {
    pub provider_id: String,
    pub return_to: String,
    pub browser_digest: Digest,
    pub request_id: Option<String>,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub consumed_by: Option<Digest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub subject: String,
    pub provider_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub updated_at: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Federation {
    pub providers: BTreeMap<String, IdentityProvider>,
    pub login: LoginSettings,
    pub seeded: bool,
    pub pending: BTreeMap<Digest, PendingUpstream>,
    pub profiles: BTreeMap<String, Profile>,
    pub assertions: BTreeMap<(String, String), (UnixTime, Digest)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshEntry {
    pub family: FamilyId,
    pub retired: bool,
    pub expires_at: UnixTime,
}

/// The snapshot's state (snapshot bytes: `u32` format 2, then this).
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
    // Format 1 ends here; format 2 appended the federation commands.
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
}

/// The number of [`Command`] variants: the envelope of later formats takes the next position.
pub const COMMAND_VARIANTS: u32 = 21;

/// apply()'s answer, as a leader sends it back to the follower that forwarded the write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Done,
    Granted { family: FamilyId, grant: Grant },
    SigningKey { key: SigningKey, created: bool },
    Purged(PurgeCounts),
    Refused(Refusal),
    Batch(Vec<Outcome>),
    Upstream(PendingUpstream),
}

/// The number of [`Outcome`] variants.
pub const OUTCOME_VARIANTS: u32 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeCounts {
    pub codes: usize,
    pub sessions: usize,
    pub families: usize,
    pub retired_refresh_tokens: usize,
    pub clients: usize,
    pub upstream_states: usize,
    pub assertions: usize,
    pub profiles: usize,
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
}
