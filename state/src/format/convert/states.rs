//! Snapshot states of every format and the model's.

use std::collections::BTreeMap;

use super::Convert;
use crate::federation::Federation;
use crate::format::{v1, v2, v3, BASELINE};
use crate::state::State;

impl From<v3::State> for State {
    fn from(old: v3::State) -> Self {
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
            revoked_access: BTreeMap::new(),
            clients_seeded: false,
            audit: Default::default(),
            access_denials: BTreeMap::new(),
            runtime_config: None,
            previous_runtime_config: None,
        }
    }
}

/// Only written while the cluster version is 3: nothing format 3 lacks is kept in the state
/// then (apply() keeps what format 4 added empty below cluster version 4).
impl From<State> for v3::State {
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
        }
    }
}

impl From<v2::State> for State {
    fn from(old: v2::State) -> Self {
        State::from(v3::State {
            clients: old.clients,
            users: old.users,
            sessions: old.sessions,
            consents: old.consents,
            codes: old.codes,
            families: old.families,
            refresh_tokens: old.refresh_tokens,
            signing_keys: old.signing_keys,
            settings: old.settings,
            next_family: old.next_family,
            federation: old.federation,
            cluster_version: BASELINE,
        })
    }
}

/// Only written while the cluster version is 2, so the version itself goes without saying.
impl From<State> for v2::State {
    fn from(new: State) -> Self {
        let v3 = v3::State::from(new);
        Self {
            clients: v3.clients,
            users: v3.users,
            sessions: v3.sessions,
            consents: v3.consents,
            codes: v3.codes,
            families: v3.families,
            refresh_tokens: v3.refresh_tokens,
            signing_keys: v3.signing_keys,
            settings: v3.settings,
            next_family: v3.next_family,
            federation: v3.federation,
        }
    }
}

impl From<v1::State> for State {
    fn from(old: v1::State) -> Self {
        let mut state = State::from(v2::State {
            clients: old.clients,
            users: old.users,
            sessions: old.sessions,
            consents: old.consents,
            codes: old.codes,
            families: old.families,
            refresh_tokens: old.refresh_tokens,
            signing_keys: old.signing_keys,
            settings: old.settings,
            next_family: old.next_family,
            federation: Federation::default().convert(),
        });
        // A format-1 snapshot can only be met by a binary that reads 2 at least.
        state.cluster_version = BASELINE;
        state
    }
}
