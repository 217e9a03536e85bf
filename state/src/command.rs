//! Commands: the entries of the Raft log.
//!
//! This enum is the newest storage format's model (DESIGN.md, invariant 4; [`crate::format`]).
//! A change to it, or to any type it carries, is a new storage format, never an edit in place:
//! first copy the current types into a frozen `format/vN.rs`, then change the model, add the
//! conversion, raise `format::NEWEST` and check in golden bytes of the new format. The golden
//! tests (`raft/tests/golden.rs`) fail when this enum changes without that.

use serde::{Deserialize, Serialize};

use crate::audit::{AuditContext, AuditOutcome, AuditRetention};
use crate::federation::{IdentityProvider, LoginSettings, PendingUpstream, Profile};
use crate::format::FormatVersion;
use crate::model::{
    AccessTarget, AuthCode, Client, ClientMetadata, Consent, Digest, RefreshReuse, RuntimeConfig,
    Session, Settings, SigningKey, UnixTime, User, UserChange,
};

// A command is built once per proposal and serialized at once, so its in-memory size does not
// matter; boxing the client would only make every construction site noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// RFC 7591 registration. Refused if the id is taken.
    RegisterClient { client: Client },
    /// Create a local user. Refused if the username is taken.
    CreateUser { user: User },
    /// Start a session after a successful login. `replaces` is the session the browser had
    /// before, ended in the same step so a login always yields a fresh session id.
    CreateSession {
        session: Session,
        replaces: Option<Digest>,
    },
    /// Log out.
    EndSession { id_digest: Digest },
    /// Record (or widen) a user's consent for a client.
    GrantConsent { consent: Consent },
    /// Store an authorization code. Refused if the client is unknown.
    IssueCode { code: AuthCode },
    /// Redeem an authorization code: the attempt is judged here, so of any number of
    /// concurrent attempts on any nodes exactly one wins.
    RedeemCode {
        digest: Digest,
        client_id: String,
        redirect_uri: String,
        /// base64url(SHA-256(code_verifier)), computed by the node from the presented verifier.
        verifier_challenge: String,
        /// Canonical resource named on the token request, if any.
        resource: Option<String>,
        now: UnixTime,
        /// Digest of the first refresh token of the new family.
        refresh_digest: Digest,
        refresh_idle_expires_at: UnixTime,
    },
    /// Rotate a refresh token: the presented one is retired, `next` becomes current.
    RotateRefresh {
        presented: Digest,
        client_id: String,
        /// Canonical resource named on the request, if any: must match the family's.
        resource: Option<String>,
        /// Scopes asked for, if any: must be within the family's grant (RFC 6749 §6).
        scope: Option<String>,
        next: Digest,
        now: UnixTime,
        idle_expires_at: UnixTime,
        /// What a rotated-out token presented again gets (format 4; format 3 and older
        /// entries read as `Strict`, and below cluster version 4 apply() is strict).
        reuse: RefreshReuse,
    },
    /// Add a signing key if the cluster has none yet (first start), else keep the existing one.
    EnsureSigningKey { key: SigningKey },
    /// Replace the cluster settings.
    SetSettings { settings: Settings },
    /// Drop everything that expired at `now` (DESIGN.md, invariant 5), and registrations
    /// older than `unclaimed_client_ttl` seconds that never completed a login.
    Purge {
        now: UnixTime,
        unclaimed_client_ttl: u64,
        /// How long audit events are kept and how many (format 5; older entries read as the
        /// default).
        audit: AuditRetention,
    },
    /// Several commands in one log entry (group commit): applied in order, each judged as if
    /// it were its own entry. Never nested.
    Batch(Vec<Command>),
    /// A command labelled with the proposing node's attempt id, so that node can recognise the
    /// entry when it applies it, even if the leader's answer never reached it. Applied as the
    /// command itself.
    Tagged { attempt: u64, command: Box<Command> },
    /// Add or replace an identity provider (admin API); it applies on every node at once.
    PutIdentityProvider { provider: IdentityProvider },
    /// Remove an identity provider. Refused if unknown.
    DeleteIdentityProvider { id: String },
    /// Switch local accounts on or off.
    SetLoginSettings { login: LoginSettings },
    /// The config file's providers and login settings, applied on the cluster's first start
    /// only: refused once seeded, so later starts never undo admin API changes.
    SeedIdentityProviders {
        providers: Vec<IdentityProvider>,
        login: Option<LoginSettings>,
    },
    /// A login sent to an upstream provider; `state_digest` is the SHA-256 of its `state`.
    BeginUpstreamLogin {
        state_digest: Digest,
        pending: PendingUpstream,
    },
    /// The provider sent the person back: consume the pending login (single use, judged here
    /// so only one of any concurrent callbacks on any nodes wins). `consumer` is chosen by the
    /// proposing node, so a retry of the same attempt gets the same answer.
    ConsumeUpstreamState {
        state_digest: Digest,
        provider_id: String,
        consumer: Digest,
        now: UnixTime,
    },
    /// A SAML assertion was accepted: remember its ID until it expires (replay cache).
    RecordAssertion {
        provider_id: String,
        assertion_id: String,
        expires_at: UnixTime,
        consumer: Digest,
        now: UnixTime,
    },
    /// Start a session for a person an upstream provider vouched for, and refresh their profile.
    CreateFederatedSession {
        session: Session,
        profile: Profile,
        replaces: Option<Digest>,
    },
    /// Raise the cluster version (format 3): every member has said it reads `version`, so
    /// nodes may write it and apply() applies its rules from here on. Never lowers it.
    SetClusterVersion { version: FormatVersion },
    // Format 4 from here.
    /// Record a client, or refresh the record of a known one (its registration time, first
    /// login and registration token are kept): a client ID metadata document when first used
    /// or changed.
    PutClient { client: Client },
    /// RFC 7592 update: replace a client's metadata. Refused if unknown.
    UpdateClient {
        client_id: String,
        metadata: ClientMetadata,
    },
    /// RFC 7592 delete: forget a client with its codes, consents and refresh families.
    /// Refused if unknown.
    DeleteClient { client_id: String },
    /// The config file's clients, recorded on the cluster's first start only (as
    /// [`Command::SeedIdentityProviders`]): refused once seeded.
    SeedClients { clients: Vec<Client> },
    /// RFC 7009 for a refresh token: revoke its family. An unknown token is no error (the
    /// RFC's answer is the same); another client's is refused.
    RevokeRefreshToken { digest: Digest, client_id: String },
    /// RFC 7009 for an access token: deny its `jti` until it expires anyway.
    RevokeAccessToken { jti: String, expires_at: UnixTime },
    /// Add a signing key that signs from `key.activates_at`; every older key not yet due to
    /// retire retires at `retire_previous_at` (when the last token it can sign expires).
    AddSigningKey {
        key: SigningKey,
        retire_previous_at: UnixTime,
    },
    /// Replace a local user's password hash. Refused if the user is unknown.
    SetUserPassword {
        username: String,
        password_hash: String,
    },
    // Format 5 from here.
    /// `command`, and an audit event of its outcome ([`crate::audit`]). `command` is neither
    /// a batch nor tagged nor audited (such a wrapper is refused whole, as a nested batch is).
    Audited {
        context: AuditContext,
        command: Box<Command>,
    },
    /// An audit event with no other effect (a failed login).
    RecordAudit {
        context: AuditContext,
        outcome: AuditOutcome,
    },
    /// End access: a session, a grant, or all of a subject's or a client's. For a subject or a
    /// client, access tokens issued up to `now` are denied until `deny_access_until` (when the
    /// last of them expires).
    RevokeAccess {
        target: AccessTarget,
        now: UnixTime,
        deny_access_until: UnixTime,
    },
    /// Switch a client off (no codes, no tokens, refresh refused) or back on.
    SetClientDisabled { client_id: String, disabled: bool },
    /// An administrator's change to a local user. Disabling one also ends their sessions and
    /// grants and denies their access tokens issued up to `now` until `deny_access_until`.
    UpdateUser {
        username: String,
        change: UserChange,
        now: UnixTime,
        deny_access_until: UnixTime,
    },
    /// Forget a local user, ending their sessions and grants as disabling does.
    DeleteUser {
        username: String,
        now: UnixTime,
        deny_access_until: UnixTime,
    },
    /// Replace the runtime configuration if it is still at `expected_version` (0: never set);
    /// the one replaced is kept for a rollback.
    SetRuntimeConfig {
        config: RuntimeConfig,
        expected_version: u64,
    },
    /// Put the previous runtime configuration back in force, as version `expected_version + 1`.
    RollbackRuntimeConfig {
        expected_version: u64,
        at: UnixTime,
        by: String,
    },
}

impl Command {
    /// A short name for logs and metrics; never includes a field's value.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::RegisterClient { .. } => "register_client",
            Command::CreateUser { .. } => "create_user",
            Command::CreateSession { .. } => "create_session",
            Command::EndSession { .. } => "end_session",
            Command::GrantConsent { .. } => "grant_consent",
            Command::IssueCode { .. } => "issue_code",
            Command::RedeemCode { .. } => "redeem_code",
            Command::RotateRefresh { .. } => "rotate_refresh",
            Command::EnsureSigningKey { .. } => "ensure_signing_key",
            Command::SetSettings { .. } => "set_settings",
            Command::Purge { .. } => "purge",
            Command::Batch(_) => "batch",
            Command::Tagged { command, .. } => command.kind(),
            Command::PutIdentityProvider { .. } => "put_identity_provider",
            Command::DeleteIdentityProvider { .. } => "delete_identity_provider",
            Command::SetLoginSettings { .. } => "set_login_settings",
            Command::SeedIdentityProviders { .. } => "seed_identity_providers",
            Command::BeginUpstreamLogin { .. } => "begin_upstream_login",
            Command::ConsumeUpstreamState { .. } => "consume_upstream_state",
            Command::RecordAssertion { .. } => "record_assertion",
            Command::CreateFederatedSession { .. } => "create_federated_session",
            Command::SetClusterVersion { .. } => "set_cluster_version",
            Command::PutClient { .. } => "put_client",
            Command::UpdateClient { .. } => "update_client",
            Command::DeleteClient { .. } => "delete_client",
            Command::SeedClients { .. } => "seed_clients",
            Command::RevokeRefreshToken { .. } => "revoke_refresh_token",
            Command::RevokeAccessToken { .. } => "revoke_access_token",
            Command::AddSigningKey { .. } => "add_signing_key",
            Command::SetUserPassword { .. } => "set_user_password",
            Command::Audited { command, .. } => command.kind(),
            Command::RecordAudit { .. } => "record_audit",
            Command::RevokeAccess { .. } => "revoke_access",
            Command::SetClientDisabled { .. } => "set_client_disabled",
            Command::UpdateUser { .. } => "update_user",
            Command::DeleteUser { .. } => "delete_user",
            Command::SetRuntimeConfig { .. } => "set_runtime_config",
            Command::RollbackRuntimeConfig { .. } => "rollback_runtime_config",
        }
    }
}
