//! Format 4 and the model: the records format 4 defined itself, its commands, outcomes and
//! state. Format 5 extended Client and RefreshFamily again (read from format 4: enabled, never
//! used), gave `Purge` the audit retention, and added the administration commands, outcomes
//! and refusals, which cannot be written in format 4.

use super::Convert;
use crate::audit::{AuditRetention, AuditTrail};
use crate::command::Command;
use crate::format::{v4, FormatError};
use crate::model::{Client, ClientOrigin, RefreshFamily, RefreshReuse, SigningKey};
use crate::outcome::{Outcome, Refusal};
use crate::state::{RefreshEntry, State};

extended!(
    v4::Client,
    Client {
        client_id,
        secret_digest,
        metadata,
        issued_at,
        first_login_at,
        registration_token_digest,
        origin,
    } + {
        disabled: |_: &v4::Client| false,
        last_used_at: |_: &v4::Client| None,
    }
);
extended!(
    v4::RefreshFamily,
    RefreshFamily {
        id,
        grant,
        current,
        idle_expires_at,
        created_at,
        rotations,
        retired,
        last_used,
    } + {
        last_used_at: |_: &v4::RefreshFamily| None,
    }
);
same_fields!(
    v4::SigningKey,
    SigningKey {
        kid,
        alg,
        public_key,
        sealed_private_key,
        created_at,
        activates_at,
        retires_at,
    }
);
same_fields!(
    v4::RefreshEntry,
    RefreshEntry {
        family,
        retired,
        expires_at,
        seq,
        rotated_at,
    }
);

impl Convert<ClientOrigin> for v4::ClientOrigin {
    fn convert(self) -> ClientOrigin {
        match self {
            v4::ClientOrigin::Registered => ClientOrigin::Registered,
            v4::ClientOrigin::Configured => ClientOrigin::Configured,
            v4::ClientOrigin::MetadataDocument => ClientOrigin::MetadataDocument,
        }
    }
}

impl Convert<v4::ClientOrigin> for ClientOrigin {
    fn convert(self) -> v4::ClientOrigin {
        match self {
            ClientOrigin::Registered => v4::ClientOrigin::Registered,
            ClientOrigin::Configured => v4::ClientOrigin::Configured,
            ClientOrigin::MetadataDocument => v4::ClientOrigin::MetadataDocument,
        }
    }
}

impl Convert<RefreshReuse> for v4::RefreshReuse {
    fn convert(self) -> RefreshReuse {
        match self {
            v4::RefreshReuse::Strict => RefreshReuse::Strict,
            v4::RefreshReuse::Grace { secs } => RefreshReuse::Grace { secs },
        }
    }
}

impl Convert<v4::RefreshReuse> for RefreshReuse {
    fn convert(self) -> v4::RefreshReuse {
        match self {
            RefreshReuse::Strict => v4::RefreshReuse::Strict,
            RefreshReuse::Grace { secs } => v4::RefreshReuse::Grace { secs },
        }
    }
}

macro_rules! commands_v4 {
    ($($variant:ident { $($field:ident),* }),* ; new_only: [$($new_only:ident),*]) => {
        impl From<v4::Command> for Command {
            fn from(old: v4::Command) -> Self {
                match old {
                    $(v4::Command::$variant { $($field),* } => {
                        Self::$variant { $($field: $field.convert()),* }
                    })*
                    v4::Command::Purge { now, unclaimed_client_ttl } => Self::Purge {
                        now,
                        unclaimed_client_ttl,
                        audit: AuditRetention::default(),
                    },
                    v4::Command::Batch(commands) => {
                        Self::Batch(commands.into_iter().map(Into::into).collect())
                    }
                    v4::Command::Tagged { attempt, command } => Self::Tagged {
                        attempt,
                        command: Box::new((*command).into()),
                    },
                }
            }
        }

        impl TryFrom<Command> for v4::Command {
            type Error = FormatError;
            fn try_from(new: Command) -> Result<Self, FormatError> {
                Ok(match new {
                    $(Command::$variant { $($field),* } => {
                        Self::$variant { $($field: $field.convert()),* }
                    })*
                    Command::Purge { now, unclaimed_client_ttl, audit: _ } => {
                        Self::Purge { now, unclaimed_client_ttl }
                    }
                    Command::Batch(commands) => Self::Batch(
                        commands
                            .into_iter()
                            .map(TryInto::try_into)
                            .collect::<Result<_, _>>()?,
                    ),
                    Command::Tagged { attempt, command } => Self::Tagged {
                        attempt,
                        command: Box::new((*command).try_into()?),
                    },
                    $(Command::$new_only { .. } => {
                        return Err(FormatError::NotExpressible {
                            what: stringify!($new_only),
                            format: 4,
                        })
                    })*
                })
            }
        }
    };
}

commands_v4!(
    RegisterClient { client },
    CreateUser { user },
    CreateSession { session, replaces },
    EndSession { id_digest },
    GrantConsent { consent },
    IssueCode { code },
    RedeemCode {
        digest, client_id, redirect_uri, verifier_challenge, resource, now, refresh_digest,
        refresh_idle_expires_at
    },
    RotateRefresh {
        presented, client_id, resource, scope, next, now, idle_expires_at, reuse
    },
    EnsureSigningKey { key },
    SetSettings { settings },
    PutIdentityProvider { provider },
    DeleteIdentityProvider { id },
    SetLoginSettings { login },
    SeedIdentityProviders { providers, login },
    BeginUpstreamLogin { state_digest, pending },
    ConsumeUpstreamState { state_digest, provider_id, consumer, now },
    RecordAssertion { provider_id, assertion_id, expires_at, consumer, now },
    CreateFederatedSession { session, profile, replaces },
    SetClusterVersion { version },
    PutClient { client },
    UpdateClient { client_id, metadata },
    DeleteClient { client_id },
    SeedClients { clients },
    RevokeRefreshToken { digest, client_id },
    RevokeAccessToken { jti, expires_at },
    AddSigningKey { key, retire_previous_at },
    SetUserPassword { username, password_hash };
    new_only: [
        Audited, RecordAudit, RevokeAccess, SetClientDisabled, UpdateUser, DeleteUser,
        SetRuntimeConfig, RollbackRuntimeConfig
    ]
);

impl From<v4::Outcome> for Outcome {
    fn from(old: v4::Outcome) -> Self {
        use v4::Outcome as O;
        match old {
            O::Done => Self::Done,
            O::Granted {
                family,
                grant,
                claims,
            } => Self::Granted {
                family,
                grant: grant.convert(),
                claims: claims.convert(),
            },
            O::SigningKey { key, created } => Self::SigningKey {
                key: key.convert(),
                created,
            },
            O::Purged(counts) => Self::Purged(counts.convert()),
            O::Refused(refusal) => Self::Refused(refusal.into()),
            O::Batch(outcomes) => Self::Batch(outcomes.into_iter().map(Into::into).collect()),
            O::Upstream(pending) => Self::Upstream(pending.convert()),
        }
    }
}

impl TryFrom<Outcome> for v4::Outcome {
    type Error = FormatError;

    fn try_from(new: Outcome) -> Result<Self, FormatError> {
        use Outcome as O;
        Ok(match new {
            O::Done => Self::Done,
            O::Granted {
                family,
                grant,
                claims,
            } => Self::Granted {
                family,
                grant: grant.convert(),
                claims: claims.convert(),
            },
            O::SigningKey { key, created } => Self::SigningKey {
                key: key.convert(),
                created,
            },
            O::Purged(counts) => Self::Purged(counts.convert()),
            O::Refused(refusal) => Self::Refused(refusal.try_into()?),
            O::Batch(outcomes) => Self::Batch(
                outcomes
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<Result<_, _>>()?,
            ),
            O::Upstream(pending) => Self::Upstream(pending.convert()),
            O::Revoked(_) | O::RuntimeConfig { .. } => {
                return Err(FormatError::NotExpressible {
                    what: "an administration outcome",
                    format: 4,
                })
            }
        })
    }
}

refusals!(
    v4, 4,
    units: [
        ClientExists, UnknownClient, UserExists, UnknownCode, CodeExpired, CodeClientMismatch,
        RedirectMismatch, PkceMismatch, ResourceMismatch, ScopeExceeded, UnknownRefreshToken,
        RefreshExpired, RefreshClientMismatch, DuplicateSecret, UnknownIdentityProvider,
        AlreadySeeded, UnknownUpstreamState, UpstreamStateExpired, UpstreamStateMismatch,
        UpstreamStateUsed, AssertionReplayed, TooManyPendingLogins, IdentityProviderDisabled,
        UnknownUser
    ],
    new_only: [
        ClientDisabled, UserDisabled, UnknownSession, UnknownFamily, RuntimeConfigChanged,
        NoPreviousRuntimeConfig, LastAdmin
    ]
);

impl From<v4::State> for State {
    fn from(old: v4::State) -> Self {
        Self {
            clients: old.clients.convert(),
            users: old.users.convert(),
            sessions: old.sessions.convert(),
            consents: old.consents.convert(),
            codes: old.codes.convert(),
            families: old.families.convert(),
            refresh_tokens: old.refresh_tokens.convert(),
            signing_keys: old.signing_keys.convert(),
            settings: old.settings.convert(),
            next_family: old.next_family,
            federation: old.federation.convert(),
            cluster_version: old.cluster_version,
            revoked_access: old.revoked_access,
            clients_seeded: old.clients_seeded,
            audit: AuditTrail::default(),
            access_denials: Default::default(),
            runtime_config: None,
            previous_runtime_config: None,
        }
    }
}

/// Only written while the cluster version is 4: nothing format 4 lacks is kept in the state
/// then (apply() keeps what format 5 added empty, or as the conversion reads it, below 5).
impl From<State> for v4::State {
    fn from(new: State) -> Self {
        Self {
            clients: new.clients.convert(),
            users: new.users.convert(),
            sessions: new.sessions.convert(),
            consents: new.consents.convert(),
            codes: new.codes.convert(),
            families: new.families.convert(),
            refresh_tokens: new.refresh_tokens.convert(),
            signing_keys: new.signing_keys.convert(),
            settings: new.settings.convert(),
            next_family: new.next_family,
            federation: new.federation.convert(),
            cluster_version: new.cluster_version,
            revoked_access: new.revoked_access,
            clients_seeded: new.clients_seeded,
        }
    }
}
