//! Outcomes (a leader's answers to forwarded writes) of formats 2 and 3 and the model's.

use super::Convert;
use crate::format::{v2, v3, FormatError};
use crate::outcome::{Outcome, Refusal};

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
            O::Revoked(_) | O::RuntimeConfig { .. } => {
                return Err(FormatError::NotExpressible {
                    what: "an administration outcome",
                    format: 2,
                })
            }
        })
    }
}

impl From<v3::Outcome> for Outcome {
    fn from(old: v3::Outcome) -> Self {
        use v3::Outcome as O;
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

impl TryFrom<Outcome> for v3::Outcome {
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
                    format: 3,
                })
            }
        })
    }
}

/// The refusals an older format knows, by name; `$new_only` are refusals it lacks.
macro_rules! refusals {
    ($old:ident, $format:literal, units: [$($unit:ident),*], new_only: [$($new_only:ident),*]) => {
        impl From<$old::Refusal> for Refusal {
            fn from(old: $old::Refusal) -> Self {
                match old {
                    $($old::Refusal::$unit => Self::$unit,)*
                    $old::Refusal::CodeReplayed { revoked_family } => {
                        Self::CodeReplayed { revoked_family }
                    }
                    $old::Refusal::RefreshReused { revoked_family } => {
                        Self::RefreshReused { revoked_family }
                    }
                }
            }
        }
        impl TryFrom<Refusal> for $old::Refusal {
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
                    $(Refusal::$new_only { .. } => {
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

refusals!(
    v2, 2,
    units: [
        ClientExists, UnknownClient, UserExists, UnknownCode, CodeExpired, CodeClientMismatch,
        RedirectMismatch, PkceMismatch, ResourceMismatch, ScopeExceeded, UnknownRefreshToken,
        RefreshExpired, RefreshClientMismatch, DuplicateSecret, UnknownIdentityProvider,
        AlreadySeeded, UnknownUpstreamState, UpstreamStateExpired, UpstreamStateMismatch,
        UpstreamStateUsed, AssertionReplayed, TooManyPendingLogins
    ],
    new_only: [
        IdentityProviderDisabled, UnknownUser, ClientDisabled, UserDisabled, UnknownSession,
        UnknownFamily, RuntimeConfigChanged, NoPreviousRuntimeConfig, LastAdmin
    ]
);

refusals!(
    v3, 3,
    units: [
        ClientExists, UnknownClient, UserExists, UnknownCode, CodeExpired, CodeClientMismatch,
        RedirectMismatch, PkceMismatch, ResourceMismatch, ScopeExceeded, UnknownRefreshToken,
        RefreshExpired, RefreshClientMismatch, DuplicateSecret, UnknownIdentityProvider,
        AlreadySeeded, UnknownUpstreamState, UpstreamStateExpired, UpstreamStateMismatch,
        UpstreamStateUsed, AssertionReplayed, TooManyPendingLogins, IdentityProviderDisabled
    ],
    new_only: [
        UnknownUser, ClientDisabled, UserDisabled, UnknownSession, UnknownFamily,
        RuntimeConfigChanged, NoPreviousRuntimeConfig, LastAdmin
    ]
);
