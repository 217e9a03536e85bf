//! Storage format 1, frozen: what the first release (before federated login) wrote. Its log
//! entries are a prefix of format 2's command enum (variants 0 to 12, unchanged since), so they
//! decode with [`super::v2::Command`]; only its snapshot differs: the state had no federation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::v2::{
    AuthCode, Client, Consent, Digest, FamilyId, RefreshEntry, RefreshFamily, Session, Settings,
    SigningKey, User,
};

/// The snapshot's state (snapshot bytes: `u32` format 1, then this).
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
}
