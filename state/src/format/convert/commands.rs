//! Commands of formats 2 and 3 and the model's.
//!
//! `Purge` gained the audit retention in format 5: older entries read with the default (the
//! trail is empty below cluster version 5, and apply() does not keep the retention there).
//!
//! Every variant both sides have is named with its fields and each field converted. `Batch`
//! and `Tagged` nest commands. `RotateRefresh` gained `reuse` in format 4: older entries read
//! as strict (what they were applied as), and written back it is left out, which is safe
//! because apply() ignores it below cluster version 4. Variants listed as `new_only` cannot
//! be written in the older format at all.

use super::Convert;
use crate::audit::AuditRetention;
use crate::command::Command;
use crate::format::{v2, v3, FormatError};
use crate::model::RefreshReuse;

macro_rules! commands {
    ($old:ident, $format:literal: $($variant:ident { $($field:ident),* }),* ;
     new_only: [$($new_only:ident),*]) => {
        impl From<$old::Command> for Command {
            fn from(old: $old::Command) -> Self {
                match old {
                    $($old::Command::$variant { $($field),* } => {
                        Self::$variant { $($field: $field.convert()),* }
                    })*
                    $old::Command::RotateRefresh {
                        presented, client_id, resource, scope, next, now, idle_expires_at,
                    } => Self::RotateRefresh {
                        presented, client_id, resource, scope, next, now, idle_expires_at,
                        reuse: RefreshReuse::Strict,
                    },
                    $old::Command::Purge { now, unclaimed_client_ttl } => Self::Purge {
                        now,
                        unclaimed_client_ttl,
                        audit: AuditRetention::default(),
                    },
                    $old::Command::Batch(commands) => {
                        Self::Batch(commands.into_iter().map(Into::into).collect())
                    }
                    $old::Command::Tagged { attempt, command } => Self::Tagged {
                        attempt,
                        command: Box::new((*command).into()),
                    },
                }
            }
        }

        impl TryFrom<Command> for $old::Command {
            type Error = FormatError;
            fn try_from(new: Command) -> Result<Self, FormatError> {
                Ok(match new {
                    $(Command::$variant { $($field),* } => {
                        Self::$variant { $($field: $field.convert()),* }
                    })*
                    Command::RotateRefresh {
                        presented, client_id, resource, scope, next, now, idle_expires_at,
                        reuse: _,
                    } => Self::RotateRefresh {
                        presented, client_id, resource, scope, next, now, idle_expires_at,
                    },
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
                            format: $format,
                        })
                    })*
                })
            }
        }
    };
}

commands!(
    v2, 2:
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
    EnsureSigningKey { key },
    SetSettings { settings },
    PutIdentityProvider { provider },
    DeleteIdentityProvider { id },
    SetLoginSettings { login },
    SeedIdentityProviders { providers, login },
    BeginUpstreamLogin { state_digest, pending },
    ConsumeUpstreamState { state_digest, provider_id, consumer, now },
    RecordAssertion { provider_id, assertion_id, expires_at, consumer, now },
    CreateFederatedSession { session, profile, replaces };
    new_only: [
        SetClusterVersion, PutClient, UpdateClient, DeleteClient, SeedClients,
        RevokeRefreshToken, RevokeAccessToken, AddSigningKey, SetUserPassword, Audited,
        RecordAudit, RevokeAccess, SetClientDisabled, UpdateUser, DeleteUser, SetRuntimeConfig,
        RollbackRuntimeConfig
    ]
);

commands!(
    v3, 3:
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
    SetClusterVersion { version };
    new_only: [
        PutClient, UpdateClient, DeleteClient, SeedClients, RevokeRefreshToken,
        RevokeAccessToken, AddSigningKey, SetUserPassword, Audited, RecordAudit, RevokeAccess,
        SetClientDisabled, UpdateUser, DeleteUser, SetRuntimeConfig, RollbackRuntimeConfig
    ]
);
