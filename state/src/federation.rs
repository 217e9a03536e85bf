//! Federated login in the replicated state: the identity providers (configured at runtime, so
//! every node sees a change at once), the pending upstream logins (the `state` a person carries
//! to their provider and back, which may come back to any node), the SAML replay cache, and the
//! profile (email, name, groups) of each federated subject, which access tokens carry.
//!
//! The provider configuration is opaque here: the api crate validates it, keeps it as JSON in
//! [`IdentityProvider::config_json`] (so its shape can grow without changing the log format),
//! and seals the one secret a provider has (client secret, LDAP bind password).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{Digest, Sealed, UnixTime};
use crate::outcome::{Outcome, Refusal};

/// The most upstream logins pending at once, cluster-wide. Starting one needs no sign-in, so
/// the state must not grow without bound while they wait out their 10 minutes.
pub const MAX_PENDING_UPSTREAM: usize = 100_000;

/// An upstream identity provider as stored. Never holds a secret in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProvider {
    /// Short identifier, used in URLs (`/login/{id}`) and in subjects (`{id}:{upstream sub}`).
    pub id: String,
    /// "oidc", "oauth2", "ldap" or "saml" (the api crate knows what each means).
    pub kind: String,
    pub display_name: String,
    pub enabled: bool,
    /// The validated configuration without its secret, as JSON.
    pub config_json: String,
    /// The provider's secret, sealed under the node seal key.
    pub sealed_secret: Option<Sealed>,
    pub updated_at: UnixTime,
}

/// How people may sign in, besides the identity providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSettings {
    /// Local accounts (username and password kept by mcpauth).
    pub local_login: bool,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self { local_login: true }
    }
}

/// A login sent to an upstream provider and not yet back. Keyed by the SHA-256 of the `state`
/// (OIDC, OAuth 2.0) or `RelayState` (SAML) value, which is random and single-use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpstream {
    pub provider_id: String,
    /// Where the person goes afterwards: our own `/authorize?...` request.
    pub return_to: String,
    /// SHA-256 of the random value in the cookie of the browser that started the login: the
    /// callback must come from the same browser (no login CSRF).
    pub browser_digest: Digest,
    /// The SAML AuthnRequest ID the response must answer (InResponseTo).
    pub request_id: Option<String>,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    /// Who consumed it (a digest the consuming node chose); kept until expiry so a retried
    /// consumption by the same attempt gets the same answer and any other is refused.
    pub consumed_by: Option<Digest>,
}

/// What tokens say about a federated subject, refreshed at each login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub subject: String,
    pub provider_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub updated_at: UnixTime,
}

/// The federation part of the state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Federation {
    pub(crate) providers: BTreeMap<String, IdentityProvider>,
    pub(crate) login: LoginSettings,
    /// Whether the config file's providers were loaded (they seed the first start only).
    pub(crate) seeded: bool,
    pub(crate) pending: BTreeMap<Digest, PendingUpstream>,
    pub(crate) profiles: BTreeMap<String, Profile>,
    /// SAML assertions accepted, by (provider, assertion ID): until when, and by whom.
    pub(crate) assertions: BTreeMap<(String, String), (UnixTime, Digest)>,
}

impl Federation {
    pub fn providers(&self) -> impl Iterator<Item = &IdentityProvider> {
        self.providers.values()
    }
    pub fn provider(&self, id: &str) -> Option<&IdentityProvider> {
        self.providers.get(id)
    }
    pub fn login_settings(&self) -> LoginSettings {
        self.login
    }
    pub fn seeded(&self) -> bool {
        self.seeded
    }
    pub fn pending(&self, state_digest: &Digest) -> Option<&PendingUpstream> {
        self.pending.get(state_digest)
    }
    pub fn profile(&self, subject: &str) -> Option<&Profile> {
        self.profiles.get(subject)
    }
    /// Whether `subject` may still use its session and tokens: a federated subject only while
    /// its identity provider exists and is enabled (switching a provider off ends access through
    /// it); any other subject (a local account) always.
    pub fn provider_allows(&self, subject: &str) -> bool {
        match self.profiles.get(subject) {
            Some(profile) => self
                .providers
                .get(&profile.provider_id)
                .is_some_and(|p| p.enabled),
            None => true,
        }
    }

    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }
    pub fn profile_count(&self) -> usize {
        self.profiles.len()
    }
    pub fn assertion_count(&self) -> usize {
        self.assertions.len()
    }

    pub(crate) fn put_provider(&mut self, provider: &IdentityProvider) -> Outcome {
        self.providers.insert(provider.id.clone(), provider.clone());
        Outcome::Done
    }

    pub(crate) fn delete_provider(&mut self, id: &str) -> Outcome {
        match self.providers.remove(id) {
            Some(_) => Outcome::Done,
            None => Outcome::Refused(Refusal::UnknownIdentityProvider),
        }
    }

    pub(crate) fn set_login(&mut self, login: LoginSettings) -> Outcome {
        self.login = login;
        Outcome::Done
    }

    /// The config file's providers, once: a later start (or another node) changes nothing, so
    /// what the admin API changed since is never overwritten.
    pub(crate) fn seed(
        &mut self,
        providers: &[IdentityProvider],
        login: Option<LoginSettings>,
    ) -> Outcome {
        if self.seeded {
            return Outcome::Refused(Refusal::AlreadySeeded);
        }
        for provider in providers {
            self.providers.insert(provider.id.clone(), provider.clone());
        }
        if let Some(login) = login {
            self.login = login;
        }
        self.seeded = true;
        Outcome::Done
    }

    pub(crate) fn begin(&mut self, state_digest: &Digest, pending: &PendingUpstream) -> Outcome {
        if let Some(existing) = self.pending.get(state_digest) {
            // A retried proposal of the same login is the same login.
            return if existing == pending {
                Outcome::Done
            } else {
                Outcome::Refused(Refusal::DuplicateSecret)
            };
        }
        if !self.providers.contains_key(&pending.provider_id) {
            return Outcome::Refused(Refusal::UnknownIdentityProvider);
        }
        if self.pending.len() >= MAX_PENDING_UPSTREAM {
            return Outcome::Refused(Refusal::TooManyPendingLogins);
        }
        self.pending.insert(*state_digest, pending.clone());
        Outcome::Done
    }

    /// Consume a pending login: exactly one consumer wins, and only before it expires, only
    /// for the provider it was sent to.
    pub(crate) fn consume(
        &mut self,
        state_digest: &Digest,
        provider_id: &str,
        consumer: &Digest,
        now: UnixTime,
    ) -> Outcome {
        let Some(pending) = self.pending.get_mut(state_digest) else {
            return Outcome::Refused(Refusal::UnknownUpstreamState);
        };
        if pending.provider_id != provider_id {
            return Outcome::Refused(Refusal::UpstreamStateMismatch);
        }
        match &pending.consumed_by {
            Some(by) if by == consumer => return Outcome::Upstream(pending.clone()),
            Some(_) => return Outcome::Refused(Refusal::UpstreamStateUsed),
            None => {}
        }
        if pending.expires_at <= now {
            return Outcome::Refused(Refusal::UpstreamStateExpired);
        }
        pending.consumed_by = Some(*consumer);
        Outcome::Upstream(pending.clone())
    }

    /// Remember a SAML assertion until it expires; a second presentation is a replay.
    pub(crate) fn record_assertion(
        &mut self,
        provider_id: &str,
        assertion_id: &str,
        expires_at: UnixTime,
        consumer: &Digest,
        now: UnixTime,
    ) -> Outcome {
        let key = (provider_id.to_owned(), assertion_id.to_owned());
        match self.assertions.get(&key) {
            // A retried proposal by the same consumer is the same acceptance.
            Some((_, by)) if by == consumer => Outcome::Done,
            Some(&(until, _)) if until > now => Outcome::Refused(Refusal::AssertionReplayed),
            _ => {
                self.assertions
                    .insert(key, (expires_at.max(now), *consumer));
                Outcome::Done
            }
        }
    }

    pub(crate) fn upsert_profile(&mut self, profile: &Profile) {
        self.profiles
            .insert(profile.subject.clone(), profile.clone());
    }

    /// Drop what expired, and profiles no session, code or refresh family refers to any more.
    pub(crate) fn purge(
        &mut self,
        now: UnixTime,
        live_subjects: &BTreeSet<&str>,
    ) -> (usize, usize, usize) {
        let before = self.pending.len();
        self.pending.retain(|_, p| p.expires_at > now);
        let pending = before - self.pending.len();
        let before = self.assertions.len();
        self.assertions.retain(|_, (until, _)| *until > now);
        let assertions = before - self.assertions.len();
        let before = self.profiles.len();
        self.profiles
            .retain(|subject, _| live_subjects.contains(subject.as_str()));
        let profiles = before - self.profiles.len();
        (pending, assertions, profiles)
    }
}
