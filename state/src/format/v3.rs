//! Storage format 3, frozen: what mcpauth wrote from the cluster-version release (after 0.1)
//! until format 4. Never edit these types: clusters that ran it hold its bytes, and a node of
//! that release in a cluster being upgraded decodes what newer nodes write in this format.
//!
//! Format 3 kept every record of format 2 as it was (so they are [`super::v2`]'s, re-exported
//! here) and changed only what is defined below: the commands gained `SetClusterVersion`, a
//! grant's answer carries the person's claims, a refusal was added, and the state records the
//! cluster version. A format-3 payload travels inside the envelope's `Framed` variant
//! ([`super::envelope`]), so variant positions start at 0 again here.
//!
//! bincode encodes a struct as its fields in order and an enum as its variant's position, so
//! the order of fields and variants below is the format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::v2::{
    AuthCode, Client, ClientMetadata, Consent, Digest, FamilyId, Federation, Grant,
    IdentityProvider, LoginSettings, PendingUpstream, Profile, PurgeCounts, RefreshEntry,
    RefreshFamily, Sealed, Session, Settings, SigningKey, UnixTime, User,
};

/// The snapshot's state (snapshot bytes: `u32` format 3, then this).
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

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Claims {
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
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
}
