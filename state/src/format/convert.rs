//! Conversions between the frozen formats and the current model.
//!
//! Reading: every older format converts to the model (`From`). Writing an older format (while
//! the cluster version says some member reads nothing newer): the model converts back, with
//! `TryFrom` where the model can say what the old format cannot (a command it lacks).
//!
//! Types whose fields did not change between a format and the model are converted field by
//! field by [`same_fields!`]: it names every field, so a field added to the model without a
//! conversion fails to compile here.

use std::collections::BTreeMap;

use super::{v1, v2, FormatError, BASELINE};
use crate::command::Command;
use crate::federation::{Federation, IdentityProvider, LoginSettings, PendingUpstream, Profile};
use crate::model::{
    AuthCode, Client, ClientMetadata, Consent, Grant, RefreshFamily, Sealed, Session, Settings,
    SigningKey, User,
};
use crate::outcome::{Outcome, PurgeCounts, Refusal};
use crate::state::{RefreshEntry, State};

/// A value converted into its counterpart of another format, element by element for
/// containers (std's `From` has no such impls for `Vec`, `Option` or maps).
trait Convert<T> {
    fn convert(self) -> T;
}

macro_rules! unchanged {
    ($($t:ty),*) => { $(impl Convert<$t> for $t { fn convert(self) -> $t { self } })* };
}
unchanged!(u8, u64, usize, bool, String, [u8; 12], [u8; 32]);

impl<A: Convert<B>, B> Convert<Vec<B>> for Vec<A> {
    fn convert(self) -> Vec<B> {
        self.into_iter().map(Convert::convert).collect()
    }
}

impl<A: Convert<B>, B> Convert<Option<B>> for Option<A> {
    fn convert(self) -> Option<B> {
        self.map(Convert::convert)
    }
}

impl<A: Convert<B>, B> Convert<Box<B>> for Box<A> {
    fn convert(self) -> Box<B> {
        Box::new((*self).convert())
    }
}

impl<K: Ord, A: Convert<B>, B> Convert<BTreeMap<K, B>> for BTreeMap<K, A> {
    fn convert(self) -> BTreeMap<K, B> {
        self.into_iter().map(|(k, v)| (k, v.convert())).collect()
    }
}

impl<A: Convert<C>, B: Convert<D>, C, D> Convert<(C, D)> for (A, B) {
    fn convert(self) -> (C, D) {
        (self.0.convert(), self.1.convert())
    }
}

/// Both directions for a struct whose fields are the same in both formats.
macro_rules! same_fields {
    ($old:ty, $new:ty { $($field:ident),* $(,)? }) => {
        impl Convert<$new> for $old {
            fn convert(self) -> $new {
                <$new>::from(self)
            }
        }
        impl Convert<$old> for $new {
            fn convert(self) -> $old {
                <$old>::from(self)
            }
        }
        impl From<$old> for $new {
            fn from(old: $old) -> Self {
                Self { $($field: old.$field.convert()),* }
            }
        }
        impl From<$new> for $old {
            fn from(new: $new) -> Self {
                Self { $($field: new.$field.convert()),* }
            }
        }
    };
}

same_fields!(v2::Sealed, Sealed { nonce, ciphertext });
same_fields!(
    v2::ClientMetadata,
    ClientMetadata {
        redirect_uris,
        token_endpoint_auth_method,
        grant_types,
        response_types,
        client_name,
        client_uri,
        logo_uri,
        scope,
        contacts,
        tos_uri,
        policy_uri,
        software_id,
        software_version,
        application_type,
    }
);
same_fields!(
    v2::Client,
    Client {
        client_id,
        secret_digest,
        metadata,
        issued_at,
        first_login_at
    }
);
same_fields!(
    v2::User,
    User {
        username,
        subject,
        password_hash,
        created_at,
        disabled
    }
);
same_fields!(
    v2::Session,
    Session {
        id_digest,
        subject,
        username,
        created_at,
        expires_at
    }
);
same_fields!(
    v2::Consent,
    Consent {
        subject,
        client_id,
        scopes,
        granted_at
    }
);
same_fields!(
    v2::Grant,
    Grant {
        client_id,
        subject,
        scope,
        resource,
        auth_time
    }
);
same_fields!(
    v2::AuthCode,
    AuthCode {
        digest,
        grant,
        redirect_uri,
        code_challenge,
        expires_at,
        redeemed_into,
    }
);
same_fields!(
    v2::RefreshFamily,
    RefreshFamily {
        id,
        grant,
        current,
        idle_expires_at,
        created_at,
        rotations,
        retired,
    }
);
same_fields!(
    v2::SigningKey,
    SigningKey {
        kid,
        alg,
        public_key,
        sealed_private_key,
        created_at
    }
);
same_fields!(
    v2::Settings,
    Settings {
        resources,
        allowed_redirect_schemes
    }
);
same_fields!(
    v2::IdentityProvider,
    IdentityProvider {
        id,
        kind,
        display_name,
        enabled,
        config_json,
        sealed_secret,
        updated_at,
    }
);
same_fields!(v2::LoginSettings, LoginSettings { local_login });
same_fields!(
    v2::PendingUpstream,
    PendingUpstream {
        provider_id,
        return_to,
        browser_digest,
        request_id,
        created_at,
        expires_at,
        consumed_by,
    }
);
same_fields!(
    v2::Profile,
    Profile {
        subject,
        provider_id,
        email,
        name,
        groups,
        updated_at
    }
);
same_fields!(
    v2::Federation,
    Federation {
        providers,
        login,
        seeded,
        pending,
        profiles,
        assertions,
    }
);
same_fields!(
    v2::RefreshEntry,
    RefreshEntry {
        family,
        retired,
        expires_at
    }
);
same_fields!(
    v2::PurgeCounts,
    PurgeCounts {
        codes,
        sessions,
        families,
        retired_refresh_tokens,
        clients,
        upstream_states,
        assertions,
        profiles,
    }
);

impl From<v2::State> for State {
    fn from(old: v2::State) -> Self {
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
            cluster_version: BASELINE,
        }
    }
}

/// Only written while the cluster version is 2, so the version itself goes without saying.
impl From<State> for v2::State {
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
        }
    }
}

impl From<v1::State> for State {
    fn from(old: v1::State) -> Self {
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
            federation: Federation::default(),
            // A format-1 snapshot can only be met by a binary that reads 2 at least.
            cluster_version: BASELINE,
        }
    }
}

/// Both directions for the commands both formats have: every variant named with its fields,
/// each field converted. `Batch` and `Tagged` nest commands; `$new_only` are commands format 2
/// cannot express.
macro_rules! commands {
    ($($variant:ident { $($field:ident),* }),* ; new_only: [$($new_only:ident),*]) => {
        impl From<v2::Command> for Command {
            fn from(old: v2::Command) -> Self {
                match old {
                    $(v2::Command::$variant { $($field),* } => {
                        Self::$variant { $($field: $field.convert()),* }
                    })*
                    v2::Command::Batch(commands) => {
                        Self::Batch(commands.into_iter().map(Into::into).collect())
                    }
                    v2::Command::Tagged { attempt, command } => Self::Tagged {
                        attempt,
                        command: Box::new((*command).into()),
                    },
                }
            }
        }

        impl TryFrom<Command> for v2::Command {
            type Error = FormatError;

            fn try_from(new: Command) -> Result<Self, FormatError> {
                Ok(match new {
                    $(Command::$variant { $($field),* } => {
                        Self::$variant { $($field: $field.convert()),* }
                    })*
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
                            format: 2,
                        })
                    })*
                })
            }
        }
    };
}

commands!(
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
    RotateRefresh { presented, client_id, resource, scope, next, now, idle_expires_at },
    EnsureSigningKey { key },
    SetSettings { settings },
    Purge { now, unclaimed_client_ttl },
    PutIdentityProvider { provider },
    DeleteIdentityProvider { id },
    SetLoginSettings { login },
    SeedIdentityProviders { providers, login },
    BeginUpstreamLogin { state_digest, pending },
    ConsumeUpstreamState { state_digest, provider_id, consumer, now },
    RecordAssertion { provider_id, assertion_id, expires_at, consumer, now },
    CreateFederatedSession { session, profile, replaces };
    new_only: [SetClusterVersion]
);

impl From<v2::Outcome> for Outcome {
    fn from(old: v2::Outcome) -> Self {
        use v2::Outcome as O;
        match old {
            O::Done => Self::Done,
            O::Granted { family, grant } => Self::Granted {
                family,
                grant: grant.convert(),
                claims: None,
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

impl TryFrom<Outcome> for v2::Outcome {
    type Error = FormatError;

    /// A grant's claims are left out: format 2 answers did not carry them, and a 0.1 node
    /// reads them from its state.
    fn try_from(new: Outcome) -> Result<Self, FormatError> {
        use Outcome as O;
        Ok(match new {
            O::Done => Self::Done,
            O::Granted { family, grant, .. } => Self::Granted {
                family,
                grant: grant.convert(),
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
        })
    }
}

/// The refusals both formats know, by name; `$new_only` are refusals format 2 lacks.
macro_rules! refusals {
    (units: [$($unit:ident),*], new_only: [$($new_only:ident),*]) => {
        impl From<v2::Refusal> for Refusal {
            fn from(old: v2::Refusal) -> Self {
                match old {
                    $(v2::Refusal::$unit => Self::$unit,)*
                    v2::Refusal::CodeReplayed { revoked_family } => {
                        Self::CodeReplayed { revoked_family }
                    }
                    v2::Refusal::RefreshReused { revoked_family } => {
                        Self::RefreshReused { revoked_family }
                    }
                }
            }
        }
        impl TryFrom<Refusal> for v2::Refusal {
            type Error = FormatError;
            fn try_from(new: Refusal) -> Result<Self, FormatError> {
                Ok(match new {
                    $(Refusal::$unit => Self::$unit,)*
                    Refusal::CodeReplayed { revoked_family } => {
                        Self::CodeReplayed { revoked_family }
                    }
                    Refusal::RefreshReused { revoked_family } => {
                        Self::RefreshReused { revoked_family }
                    }
                    $(Refusal::$new_only => {
                        return Err(FormatError::NotExpressible {
                            what: stringify!($new_only),
                            format: 2,
                        })
                    })*
                })
            }
        }
    };
}

refusals!(
    units: [
        ClientExists, UnknownClient, UserExists, UnknownCode, CodeExpired, CodeClientMismatch,
        RedirectMismatch, PkceMismatch, ResourceMismatch, ScopeExceeded, UnknownRefreshToken,
        RefreshExpired, RefreshClientMismatch, DuplicateSecret, UnknownIdentityProvider,
        AlreadySeeded, UnknownUpstreamState, UpstreamStateExpired, UpstreamStateMismatch,
        UpstreamStateUsed, AssertionReplayed, TooManyPendingLogins
    ],
    new_only: [IdentityProviderDisabled]
);
