//! Conversions between the frozen formats and the current model.
//!
//! Reading: every older format converts to the model (`From`). Writing an older format (while
//! the cluster version says some member reads nothing newer): the model converts back, with
//! `TryFrom` where the model can say what the old format cannot (a command it lacks).
//!
//! Types whose fields did not change between a format and the model are converted field by
//! field by [`same_fields!`]: it names every field, so a field added to the model without a
//! conversion fails to compile here. Types the model extended are converted by [`extended!`],
//! which names the shared fields and says what each added one is when read from the older
//! format; written back, the added fields are left out, so apply() must not keep anything in
//! them while the cluster version is older (every node must hold the same state, whether it
//! applied the entries or installed a snapshot in the older format).
//!
//! Formats 2 and 3 share their records (`v3` re-exports `v2`'s), so one conversion of a
//! record serves both; commands, outcomes and states have one per format
//! ([`commands`], [`outcomes`], [`states`]). Format 4 re-exports the records of 3 it kept, and
//! its own conversions (records, commands, outcomes, state) are in [`v4`].

use std::collections::BTreeMap;

use super::v2;
use crate::federation::{Federation, IdentityProvider, LoginSettings, PendingUpstream, Profile};
use crate::model::{
    roles_before_format5, AuthCode, Client, ClientMetadata, ClientOrigin, Consent, Grant,
    RefreshFamily, Sealed, Session, Settings, SigningKey, User,
};
use crate::outcome::{Claims, PurgeCounts};
use crate::state::RefreshEntry;

/// A value converted into its counterpart of another format, element by element for
/// containers (std's `From` has no such impls for `Vec`, `Option` or maps).
trait Convert<T> {
    fn convert(self) -> T;
}

macro_rules! unchanged {
    ($($t:ty),*) => { $(impl Convert<$t> for $t { fn convert(self) -> $t { self } })* };
}
unchanged!(u8, u32, u64, usize, bool, String, [u8; 12], [u8; 32]);

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

/// Both directions for a struct the model extended: the shared fields are converted; each
/// added field is computed from the old value when reading, and left out when writing.
macro_rules! extended {
    ($old:ty, $new:ty { $($field:ident),* $(,)? } + { $($added:ident: $read:expr),* $(,)? }) => {
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
                Self {
                    $($added: ($read)(&old),)*
                    $($field: old.$field.convert(),)*
                }
            }
        }
        impl From<$new> for $old {
            fn from(new: $new) -> Self {
                Self { $($field: new.$field.convert()),* }
            }
        }
    };
}

// Format 4 extended four records (Client, RefreshFamily, SigningKey, RefreshEntry), format 5
// four (User, Session, Client and RefreshFamily again) and PurgeCounts.
extended!(
    v2::User,
    User {
        username,
        subject,
        password_hash,
        created_at,
        disabled,
    } + {
        roles: |old: &v2::User| roles_before_format5(&old.username),
        must_change_password: |_: &v2::User| false,
    }
);
extended!(
    v2::Session,
    Session {
        id_digest,
        subject,
        username,
        created_at,
        expires_at,
    } + {
        identity_provider: |_: &v2::Session| None,
        source: |_: &v2::Session| None,
    }
);
extended!(
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
    } + {
        audit_events: |_: &v2::PurgeCounts| 0,
        access_denials: |_: &v2::PurgeCounts| 0,
    }
);
extended!(
    v2::Client,
    Client {
        client_id,
        secret_digest,
        metadata,
        issued_at,
        first_login_at,
    } + {
        registration_token_digest: |_: &v2::Client| None,
        origin: |_: &v2::Client| ClientOrigin::Registered,
        disabled: |_: &v2::Client| false,
        last_used_at: |_: &v2::Client| None,
    }
);
extended!(
    v2::RefreshFamily,
    RefreshFamily {
        id,
        grant,
        current,
        idle_expires_at,
        created_at,
        rotations,
        retired,
    } + {
        last_used: |_: &v2::RefreshFamily| None,
        last_used_at: |_: &v2::RefreshFamily| None,
    }
);
extended!(
    v2::SigningKey,
    SigningKey {
        kid,
        alg,
        public_key,
        sealed_private_key,
        created_at,
    } + {
        // Keys before format 4 signed from the moment they were made, and never retire.
        activates_at: |old: &v2::SigningKey| old.created_at,
        retires_at: |_: &v2::SigningKey| None,
    }
);
extended!(
    v2::RefreshEntry,
    RefreshEntry {
        family,
        retired,
        expires_at,
    } + {
        seq: |_: &v2::RefreshEntry| 0,
        rotated_at: |_: &v2::RefreshEntry| None,
    }
);
same_fields!(
    super::v3::Claims,
    Claims {
        email,
        name,
        groups
    }
);

// After the macros: `macro_rules!` are in scope only below their definition.
mod commands;
#[macro_use]
mod outcomes;
mod states;
mod v4;
