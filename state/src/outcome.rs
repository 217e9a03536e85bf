//! What apply() answers for a command: the result of a decision made once, cluster-wide.
//!
//! A leader sends outcomes back to the followers that forwarded the writes, so these types are
//! a storage format too (see [`crate::format`] before changing them).

use serde::{Deserialize, Serialize};

use crate::federation::PendingUpstream;
use crate::model::{FamilyId, Grant, SigningKey};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The command took effect and has nothing to report.
    Done,
    /// A code was redeemed (or a refresh token rotated) into this family and grant. From
    /// cluster version 3, apply() has also judged the subject's identity provider and read the
    /// `claims` the access token carries, in the same step. `None`: a decision under format 2
    /// rules (or an answer in format 2), where the answering node checks the provider and
    /// reads the claims from its state, as 0.1 did.
    Granted {
        family: FamilyId,
        grant: Grant,
        claims: Option<Claims>,
    },
    /// The signing key now in force; `created` says whether the command's key was the one added.
    SigningKey { key: SigningKey, created: bool },
    /// What a purge removed.
    Purged(PurgeCounts),
    /// The state machine refused the command; nothing changed unless the refusal says so.
    Refused(Refusal),
    /// The outcomes of a [`crate::Command::Batch`], in order.
    Batch(Vec<Outcome>),
    /// A pending upstream login was consumed by this attempt.
    Upstream(PendingUpstream),
    /// What ending access removed (format 5).
    Revoked(RevokeCounts),
    /// The runtime configuration now in force (format 5).
    RuntimeConfig { version: u64 },
}

/// What [`crate::Command::RevokeAccess`] (and deleting or disabling a user) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RevokeCounts {
    pub sessions: usize,
    pub families: usize,
}

/// What an access token says of its subject besides `sub`: the identity provider's profile at
/// the time of the grant (empty for a local account).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Claims {
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

impl From<&crate::federation::Profile> for Claims {
    fn from(profile: &crate::federation::Profile) -> Self {
        Self {
            email: profile.email.clone(),
            name: profile.name.clone(),
            groups: profile.groups.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PurgeCounts {
    pub codes: usize,
    pub sessions: usize,
    pub families: usize,
    pub retired_refresh_tokens: usize,
    pub clients: usize,
    pub upstream_states: usize,
    pub assertions: usize,
    pub profiles: usize,
    /// Format 5 from here.
    pub audit_events: usize,
    pub access_denials: usize,
}

/// The domain's refusals. Where a refusal changed something (replay and reuse detection revoke a
/// family) it says so in its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Refusal {
    #[error("client id already registered")]
    ClientExists,
    #[error("unknown client")]
    UnknownClient,
    #[error("username already taken")]
    UserExists,
    #[error("unknown authorization code")]
    UnknownCode,
    #[error("authorization code expired")]
    CodeExpired,
    #[error("authorization code already used; the tokens it issued are revoked")]
    CodeReplayed { revoked_family: Option<FamilyId> },
    #[error("authorization code was issued to another client")]
    CodeClientMismatch,
    #[error("redirect_uri does not match the authorization request")]
    RedirectMismatch,
    #[error("PKCE verification failed")]
    PkceMismatch,
    #[error("resource does not match the grant")]
    ResourceMismatch,
    #[error("requested scope exceeds the grant")]
    ScopeExceeded,
    #[error("unknown refresh token")]
    UnknownRefreshToken,
    #[error("refresh token expired")]
    RefreshExpired,
    #[error("refresh token was issued to another client")]
    RefreshClientMismatch,
    #[error("refresh token already used; its family is revoked")]
    RefreshReused { revoked_family: FamilyId },
    #[error("a secret with this digest already exists")]
    DuplicateSecret,
    #[error("unknown identity provider")]
    UnknownIdentityProvider,
    #[error("the identity providers were seeded already")]
    AlreadySeeded,
    #[error("unknown or already finished sign-in")]
    UnknownUpstreamState,
    #[error("the sign-in took too long")]
    UpstreamStateExpired,
    #[error("the sign-in was started with another identity provider")]
    UpstreamStateMismatch,
    #[error("the sign-in was already completed")]
    UpstreamStateUsed,
    #[error("the SAML assertion was already used")]
    AssertionReplayed,
    #[error("too many sign-ins are in progress")]
    TooManyPendingLogins,
    /// Format 3: the subject signed in through an identity provider that is switched off or
    /// gone; nothing changed.
    #[error("the identity provider this person signed in with is switched off")]
    IdentityProviderDisabled,
    #[error("unknown user")]
    UnknownUser,
    // Format 5 from here.
    #[error("the client is disabled")]
    ClientDisabled,
    #[error("the user is disabled")]
    UserDisabled,
    #[error("unknown session")]
    UnknownSession,
    #[error("unknown grant")]
    UnknownFamily,
    #[error("the configuration changed meanwhile (now at version {current}); read it again")]
    RuntimeConfigChanged { current: u64 },
    #[error("there is no earlier configuration to roll back to")]
    NoPreviousRuntimeConfig,
    #[error("this would leave no enabled local administrator")]
    LastAdmin,
}

impl Refusal {
    /// A stable snake_case name (the audit trail's failure reason, and metrics' label).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::ClientExists => "client_exists",
            Refusal::UnknownClient => "unknown_client",
            Refusal::UserExists => "user_exists",
            Refusal::UnknownCode => "unknown_code",
            Refusal::CodeExpired => "code_expired",
            Refusal::CodeReplayed { .. } => "code_replayed",
            Refusal::CodeClientMismatch => "code_client_mismatch",
            Refusal::RedirectMismatch => "redirect_mismatch",
            Refusal::PkceMismatch => "pkce_mismatch",
            Refusal::ResourceMismatch => "resource_mismatch",
            Refusal::ScopeExceeded => "scope_exceeded",
            Refusal::UnknownRefreshToken => "unknown_refresh_token",
            Refusal::RefreshExpired => "refresh_expired",
            Refusal::RefreshClientMismatch => "refresh_client_mismatch",
            Refusal::RefreshReused { .. } => "refresh_reused",
            Refusal::DuplicateSecret => "duplicate_secret",
            Refusal::UnknownIdentityProvider => "unknown_identity_provider",
            Refusal::AlreadySeeded => "already_seeded",
            Refusal::UnknownUpstreamState => "unknown_upstream_state",
            Refusal::UpstreamStateExpired => "upstream_state_expired",
            Refusal::UpstreamStateMismatch => "upstream_state_mismatch",
            Refusal::UpstreamStateUsed => "upstream_state_used",
            Refusal::AssertionReplayed => "assertion_replayed",
            Refusal::TooManyPendingLogins => "too_many_pending_logins",
            Refusal::IdentityProviderDisabled => "identity_provider_disabled",
            Refusal::UnknownUser => "unknown_user",
            Refusal::ClientDisabled => "client_disabled",
            Refusal::UserDisabled => "user_disabled",
            Refusal::UnknownSession => "unknown_session",
            Refusal::UnknownFamily => "unknown_grant",
            Refusal::RuntimeConfigChanged { .. } => "config_changed",
            Refusal::NoPreviousRuntimeConfig => "no_previous_config",
            Refusal::LastAdmin => "last_admin",
        }
    }
}
