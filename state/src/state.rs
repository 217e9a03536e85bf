//! The state machine's data and apply().

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditRetention, AuditTrail};
use crate::command::Command;
use crate::federation::Federation;
use crate::format::{self, FormatVersion};
use crate::model::{
    roles_before_format5, AccessDenial, AuthCode, Client, ClientOrigin, Consent, DenialTarget,
    Digest, FamilyId, Grant, RefreshFamily, RuntimeConfig, Session, Settings, SigningKey, UnixTime,
    User,
};
use crate::outcome::{Claims, Outcome, PurgeCounts, Refusal};
use crate::refresh::RefreshAttempt;

/// A refresh token digest and what it belongs to. Retired digests stay until the instant the
/// token would have expired anyway, so a replay of a rotated token is recognised as reuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RefreshEntry {
    pub(crate) family: FamilyId,
    pub(crate) retired: bool,
    pub(crate) expires_at: UnixTime,
    /// Its place in the family: 0 for the first token, one more for each token issued after.
    pub(crate) seq: u64,
    /// When it stopped being the family's current token. None while current, and for tokens
    /// rotated before cluster version 4 (those are never accepted again).
    pub(crate) rotated_at: Option<UnixTime>,
}

/// Everything the cluster knows. Deterministic: apply() reads no clock and no random source,
/// and every map is ordered so snapshots of equal states are equal bytes.
///
/// This struct is the snapshot's payload in the newest storage format: see [`crate::format`]
/// before changing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub(crate) clients: BTreeMap<String, Client>,
    pub(crate) users: BTreeMap<String, User>,
    pub(crate) sessions: BTreeMap<Digest, Session>,
    pub(crate) consents: BTreeMap<(String, String), Consent>,
    pub(crate) codes: BTreeMap<Digest, AuthCode>,
    pub(crate) families: BTreeMap<FamilyId, RefreshFamily>,
    pub(crate) refresh_tokens: BTreeMap<Digest, RefreshEntry>,
    pub(crate) signing_keys: Vec<SigningKey>,
    pub(crate) settings: Settings,
    pub(crate) next_family: FamilyId,
    pub(crate) federation: Federation,
    /// The newest storage format every member reads: what nodes may write, and which apply()
    /// rules are in force (format 3: the identity-provider check on codes and refreshes).
    /// Raised by [`Command::SetClusterVersion`], never lowered.
    pub(crate) cluster_version: FormatVersion,
    /// RFC 7009: `jti` of revoked access tokens, until they expire (format 4).
    pub(crate) revoked_access: BTreeMap<String, UnixTime>,
    /// Whether the config file's clients were recorded (format 4).
    pub(crate) clients_seeded: bool,
    /// Format 5 from here. The audit trail.
    pub(crate) audit: AuditTrail,
    /// Access tokens revoked by subject or client (an administrator ended that access).
    pub(crate) access_denials: BTreeMap<DenialTarget, AccessDenial>,
    /// The runtime configuration in force, if an administrator ever set one.
    pub(crate) runtime_config: Option<RuntimeConfig>,
    /// The one it replaced, for a rollback.
    pub(crate) previous_runtime_config: Option<RuntimeConfig>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            clients: BTreeMap::new(),
            users: BTreeMap::new(),
            sessions: BTreeMap::new(),
            consents: BTreeMap::new(),
            codes: BTreeMap::new(),
            families: BTreeMap::new(),
            refresh_tokens: BTreeMap::new(),
            signing_keys: Vec::new(),
            settings: Settings::default(),
            next_family: 0,
            federation: Federation::default(),
            cluster_version: format::BASELINE,
            revoked_access: BTreeMap::new(),
            clients_seeded: false,
            audit: AuditTrail::default(),
            access_denials: BTreeMap::new(),
            runtime_config: None,
            previous_runtime_config: None,
        }
    }
}

impl State {
    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.get(client_id)
    }
    pub fn user(&self, username: &str) -> Option<&User> {
        self.users.get(username)
    }
    pub fn session(&self, id_digest: &Digest) -> Option<&Session> {
        self.sessions.get(id_digest)
    }
    pub fn consent(&self, subject: &str, client_id: &str) -> Option<&Consent> {
        self.consents
            .get(&(subject.to_owned(), client_id.to_owned()))
    }
    pub fn signing_keys(&self) -> &[SigningKey] {
        &self.signing_keys
    }
    /// The key new tokens are signed with at `now`: the newest that has activated (a key
    /// added by a rotation is published a while before it signs).
    pub fn active_signing_key(&self, now: UnixTime) -> Option<&SigningKey> {
        self.signing_keys
            .iter()
            .rev()
            .find(|k| k.activates_at <= now)
            .or_else(|| self.signing_keys.first())
    }
    /// Whether the access token with this `jti` was revoked (RFC 7009).
    pub fn access_token_revoked(&self, jti: &str) -> bool {
        self.revoked_access.contains_key(jti)
    }
    /// A refresh token's family, if the token is its current one or a rotated-out one still
    /// remembered (for introspection; says nothing of whether a presentation would win).
    pub fn refresh_token_family(&self, digest: &Digest) -> Option<(&RefreshFamily, bool)> {
        let entry = self.refresh_tokens.get(digest)?;
        Some((self.families.get(&entry.family)?, entry.retired))
    }
    /// Whether an access token of `subject` for `client_id` issued at `issued_at` was revoked
    /// by an administrator ending that subject's or that client's access.
    pub fn access_denied(&self, subject: &str, client_id: &str, issued_at: UnixTime) -> bool {
        [
            DenialTarget::Subject(subject.to_owned()),
            DenialTarget::Client(client_id.to_owned()),
        ]
        .iter()
        .any(|target| {
            self.access_denials
                .get(target)
                .is_some_and(|d| issued_at <= d.issued_before)
        })
    }
    pub fn audit(&self) -> &AuditTrail {
        &self.audit
    }
    pub fn runtime_config(&self) -> Option<&RuntimeConfig> {
        self.runtime_config.as_ref()
    }
    pub fn previous_runtime_config(&self) -> Option<&RuntimeConfig> {
        self.previous_runtime_config.as_ref()
    }
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }
    pub fn families(&self) -> impl Iterator<Item = &RefreshFamily> {
        self.families.values()
    }
    /// Whether the config file's clients were recorded (they seed the first start only).
    pub fn clients_seeded(&self) -> bool {
        self.clients_seeded
    }
    pub fn clients(&self) -> impl Iterator<Item = &Client> {
        self.clients.values()
    }
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn federation(&self) -> &Federation {
        &self.federation
    }
    pub fn family(&self, id: FamilyId) -> Option<&RefreshFamily> {
        self.families.get(&id)
    }
    /// The newest storage format every member of the cluster reads (see [`crate::format`]).
    pub fn cluster_version(&self) -> FormatVersion {
        self.cluster_version
    }
    pub fn counts(&self) -> StateCounts {
        StateCounts {
            clients: self.clients.len(),
            users: self.users.len(),
            sessions: self.sessions.len(),
            consents: self.consents.len(),
            codes: self.codes.len(),
            refresh_families: self.families.len(),
            refresh_tokens: self.refresh_tokens.len(),
            signing_keys: self.signing_keys.len(),
            identity_providers: self.federation.providers().count(),
            audit_events: self.audit.len(),
            upstream_states: self.federation.pending_count(),
            assertions: self.federation.assertion_count(),
            profiles: self.federation.profile_count(),
        }
    }

    /// Apply one command. Deterministic and total: every command yields an Outcome, and a
    /// refusal changes nothing unless the refusal says it did (replay and reuse detection).
    pub fn apply(&mut self, command: &Command) -> Outcome {
        match command {
            Command::RegisterClient { client } => self.register_client(client),
            Command::CreateUser { user } => self.create_user(user),
            Command::CreateSession { session, replaces } => {
                self.create_session(session, replaces.as_ref())
            }
            Command::EndSession { id_digest } => {
                self.sessions.remove(id_digest);
                Outcome::Done
            }
            Command::GrantConsent { consent } => self.grant_consent(consent),
            Command::IssueCode { code } => self.issue_code(code),
            Command::RedeemCode {
                digest,
                client_id,
                redirect_uri,
                verifier_challenge,
                resource,
                now,
                refresh_digest,
                refresh_idle_expires_at,
            } => self.redeem_code(
                digest,
                CodeAttempt {
                    client_id,
                    redirect_uri,
                    verifier_challenge,
                    resource: resource.as_deref(),
                    now: *now,
                },
                *refresh_digest,
                *refresh_idle_expires_at,
            ),
            Command::RotateRefresh {
                presented,
                client_id,
                resource,
                scope,
                next,
                now,
                idle_expires_at,
                reuse,
            } => self.rotate_refresh(
                presented,
                RefreshAttempt {
                    client_id,
                    resource: resource.as_deref(),
                    scope: scope.as_deref(),
                    now: *now,
                    reuse: *reuse,
                },
                *next,
                *idle_expires_at,
            ),
            Command::EnsureSigningKey { key } => match self.signing_keys.last() {
                Some(existing) => Outcome::SigningKey {
                    key: existing.clone(),
                    created: false,
                },
                None => {
                    let mut key = key.clone();
                    if self.cluster_version < 4 {
                        // What format 3 lacks, as its conversion fills it in.
                        key.activates_at = key.created_at;
                        key.retires_at = None;
                    }
                    self.signing_keys.push(key.clone());
                    Outcome::SigningKey { key, created: true }
                }
            },
            Command::SetSettings { settings } => {
                self.settings = settings.clone();
                Outcome::Done
            }
            Command::Purge {
                now,
                unclaimed_client_ttl,
                audit,
            } => Outcome::Purged(self.purge(*now, *unclaimed_client_ttl, *audit)),
            Command::Tagged { command, .. } => match command.as_ref() {
                Command::Tagged { .. } | Command::Batch(_) => Outcome::Batch(Vec::new()),
                inner => self.apply(inner),
            },
            Command::PutIdentityProvider { provider } => self.federation.put_provider(provider),
            Command::DeleteIdentityProvider { id } => self.federation.delete_provider(id),
            Command::SetLoginSettings { login } => self.federation.set_login(*login),
            Command::SeedIdentityProviders { providers, login } => {
                self.federation.seed(providers, *login)
            }
            Command::BeginUpstreamLogin {
                state_digest,
                pending,
            } => self.federation.begin(state_digest, pending),
            Command::ConsumeUpstreamState {
                state_digest,
                provider_id,
                consumer,
                now,
            } => self
                .federation
                .consume(state_digest, provider_id, consumer, *now),
            Command::RecordAssertion {
                provider_id,
                assertion_id,
                expires_at,
                consumer,
                now,
            } => self.federation.record_assertion(
                provider_id,
                assertion_id,
                *expires_at,
                consumer,
                *now,
            ),
            Command::CreateFederatedSession {
                session,
                profile,
                replaces,
            } => {
                let outcome = self.create_session(session, replaces.as_ref());
                if outcome == Outcome::Done {
                    self.federation.upsert_profile(profile);
                }
                outcome
            }
            Command::SetClusterVersion { version } => {
                // Only ever raised: a stale proposal (a slower leader's) changes nothing.
                self.cluster_version = self.cluster_version.max(*version);
                Outcome::Done
            }
            Command::PutClient { client } => self.put_client(client),
            Command::UpdateClient {
                client_id,
                metadata,
            } => match self.clients.get_mut(client_id) {
                Some(client) => {
                    client.metadata = metadata.clone();
                    Outcome::Done
                }
                None => Outcome::Refused(Refusal::UnknownClient),
            },
            Command::DeleteClient { client_id } => self.delete_client(client_id),
            Command::SeedClients { clients } => self.seed_clients(clients),
            Command::RevokeRefreshToken { digest, client_id } => {
                self.revoke_refresh_token(digest, client_id)
            }
            Command::RevokeAccessToken { jti, expires_at } => {
                self.revoked_access.insert(jti.clone(), *expires_at);
                Outcome::Done
            }
            Command::AddSigningKey {
                key,
                retire_previous_at,
            } => self.add_signing_key(key, *retire_previous_at),
            Command::SetUserPassword {
                username,
                password_hash,
            } => match self.users.get_mut(username) {
                Some(user) => {
                    user.password_hash = password_hash.clone();
                    user.must_change_password = false;
                    Outcome::Done
                }
                None => Outcome::Refused(Refusal::UnknownUser),
            },
            Command::Audited { context, command } => match command.as_ref() {
                Command::Tagged { .. } | Command::Batch(_) | Command::Audited { .. } => {
                    Outcome::Batch(Vec::new())
                }
                inner => {
                    let outcome = self.apply(inner);
                    let (context, result) = audit::event_of(context.clone(), &outcome);
                    self.audit.record(context, result);
                    outcome
                }
            },
            Command::RecordAudit { context, outcome } => {
                self.audit.record(context.clone(), outcome.clone());
                Outcome::Done
            }
            Command::RevokeAccess {
                target,
                now,
                deny_access_until,
            } => self.revoke_access(target, *now, *deny_access_until),
            Command::SetClientDisabled {
                client_id,
                disabled,
            } => match self.clients.get_mut(client_id) {
                Some(client) => {
                    client.disabled = *disabled;
                    Outcome::Done
                }
                None => Outcome::Refused(Refusal::UnknownClient),
            },
            Command::UpdateUser {
                username,
                change,
                now,
                deny_access_until,
            } => self.update_user(username, change, *now, *deny_access_until),
            Command::DeleteUser {
                username,
                now,
                deny_access_until,
            } => self.delete_user(username, *now, *deny_access_until),
            Command::SetRuntimeConfig {
                config,
                expected_version,
            } => self.set_runtime_config(config, *expected_version),
            Command::RollbackRuntimeConfig {
                expected_version,
                at,
                by,
            } => self.rollback_runtime_config(*expected_version, *at, by),
            Command::Batch(commands) => Outcome::Batch(
                commands
                    .iter()
                    .map(|c| match c {
                        // A nested batch is not a thing proposers build; refuse it whole.
                        Command::Batch(_) => Outcome::Batch(Vec::new()),
                        c => self.apply(c),
                    })
                    .collect(),
            ),
        }
    }

    fn create_session(&mut self, session: &Session, replaces: Option<&Digest>) -> Outcome {
        // Judge before changing anything: a refused login must not end the old session.
        if let Some(existing) = self.sessions.get(&session.id_digest) {
            return if existing == session {
                Outcome::Done
            } else {
                Outcome::Refused(Refusal::DuplicateSecret)
            };
        }
        if let Some(old) = replaces {
            self.sessions.remove(old);
        }
        let mut session = session.clone();
        if self.cluster_version < 5 {
            // What format 4 lacks, as its conversion fills it in.
            session.identity_provider = None;
            session.source = None;
        }
        self.sessions.insert(session.id_digest, session);
        Outcome::Done
    }

    fn add_signing_key(&mut self, key: &SigningKey, retire_previous_at: UnixTime) -> Outcome {
        if let Some(existing) = self.signing_keys.iter().find(|k| k.kid == key.kid) {
            // The same key again is a retried proposal.
            return if existing == key {
                Outcome::SigningKey {
                    key: key.clone(),
                    created: false,
                }
            } else {
                Outcome::Refused(Refusal::DuplicateSecret)
            };
        }
        for older in &mut self.signing_keys {
            older.retires_at.get_or_insert(retire_previous_at);
        }
        self.signing_keys.push(key.clone());
        Outcome::SigningKey {
            key: key.clone(),
            created: true,
        }
    }

    fn create_user(&mut self, user: &User) -> Outcome {
        let mut user = user.clone();
        if self.cluster_version < 5 {
            user.roles = roles_before_format5(&user.username);
            user.must_change_password = false;
        }
        let user = &user;
        if let Some(existing) = self.users.get(&user.username) {
            return if existing == user {
                Outcome::Done
            } else {
                Outcome::Refused(Refusal::UserExists)
            };
        }
        self.users.insert(user.username.clone(), user.clone());
        Outcome::Done
    }

    fn grant_consent(&mut self, consent: &Consent) -> Outcome {
        if !self.clients.contains_key(&consent.client_id) {
            return Outcome::Refused(Refusal::UnknownClient);
        }
        let key = (consent.subject.clone(), consent.client_id.clone());
        let entry = self.consents.entry(key).or_insert_with(|| Consent {
            scopes: Vec::new(),
            ..consent.clone()
        });
        for scope in &consent.scopes {
            if !entry.scopes.contains(scope) {
                entry.scopes.push(scope.clone());
            }
        }
        entry.scopes.sort();
        entry.granted_at = consent.granted_at;
        Outcome::Done
    }

    fn issue_code(&mut self, code: &AuthCode) -> Outcome {
        match self.clients.get(&code.grant.client_id) {
            None => return Outcome::Refused(Refusal::UnknownClient),
            Some(client) if client.disabled => return Outcome::Refused(Refusal::ClientDisabled),
            Some(_) => {}
        }
        if !self.provider_allows(&code.grant.subject) {
            return Outcome::Refused(Refusal::IdentityProviderDisabled);
        }
        if let Some(existing) = self.codes.get(&code.digest) {
            return if existing == code {
                Outcome::Done
            } else {
                Outcome::Refused(Refusal::DuplicateSecret)
            };
        }
        self.codes.insert(code.digest, code.clone());
        Outcome::Done
    }

    fn redeem_code(
        &mut self,
        digest: &Digest,
        attempt: CodeAttempt<'_>,
        refresh_digest: Digest,
        refresh_idle_expires_at: UnixTime,
    ) -> Outcome {
        let Some(code) = self.codes.get(digest) else {
            return Outcome::Refused(Refusal::UnknownCode);
        };
        if code.grant.client_id != attempt.client_id {
            return Outcome::Refused(Refusal::CodeClientMismatch);
        }
        if let Some(family) = code.redeemed_into {
            // The same attempt again (a proposal retried after an ambiguous failure, before the
            // client saw any answer) is answered as the first time: its refresh token is still
            // the family's first and only one.
            if let Some(f) = self.families.get(&family) {
                if f.current == refresh_digest && f.rotations == 0 {
                    return self.granted(family, f.grant.clone());
                }
            }
            // RFC 9700 §4.14: a replayed code revokes what it issued.
            let revoked = self.revoke_family(family).then_some(family);
            return Outcome::Refused(Refusal::CodeReplayed {
                revoked_family: revoked,
            });
        }
        if attempt.now >= code.expires_at {
            return Outcome::Refused(Refusal::CodeExpired);
        }
        if self.client_disabled(&code.grant.client_id) {
            return Outcome::Refused(Refusal::ClientDisabled);
        }
        if !self.provider_allows(&code.grant.subject) {
            return Outcome::Refused(Refusal::IdentityProviderDisabled);
        }
        if code.redirect_uri != attempt.redirect_uri {
            return Outcome::Refused(Refusal::RedirectMismatch);
        }
        if !constant_time_eq(
            code.code_challenge.as_bytes(),
            attempt.verifier_challenge.as_bytes(),
        ) {
            return Outcome::Refused(Refusal::PkceMismatch);
        }
        if let Some(resource) = attempt.resource {
            if resource != code.grant.resource {
                return Outcome::Refused(Refusal::ResourceMismatch);
            }
        }
        if self.refresh_tokens.contains_key(&refresh_digest) {
            return Outcome::Refused(Refusal::DuplicateSecret);
        }
        let grant = code.grant.clone();
        let family = self.next_family;
        self.next_family += 1;
        if let Some(code) = self.codes.get_mut(digest) {
            code.redeemed_into = Some(family);
        }
        let format5 = self.cluster_version >= 5;
        if let Some(client) = self.clients.get_mut(&grant.client_id) {
            client.first_login_at.get_or_insert(attempt.now);
            if format5 {
                client.last_used_at = Some(attempt.now);
            }
        }
        self.families.insert(
            family,
            RefreshFamily {
                id: family,
                grant: grant.clone(),
                current: refresh_digest,
                idle_expires_at: refresh_idle_expires_at,
                created_at: attempt.now,
                rotations: 0,
                retired: Vec::new(),
                last_used: None,
                last_used_at: format5.then_some(attempt.now),
            },
        );
        self.refresh_tokens.insert(
            refresh_digest,
            RefreshEntry {
                family,
                retired: false,
                expires_at: refresh_idle_expires_at,
                seq: 0,
                rotated_at: None,
            },
        );
        self.granted(family, grant)
    }

    /// The answer to a won redemption or rotation: the grant, and (from cluster version 3) the
    /// claims its access token carries, read in the same step so the node answering needs no
    /// second read.
    pub(crate) fn granted(&self, family: FamilyId, grant: Grant) -> Outcome {
        let claims = (self.cluster_version >= 3).then(|| {
            self.federation
                .profile(&grant.subject)
                .map(Claims::from)
                .unwrap_or_default()
        });
        Outcome::Granted {
            family,
            grant,
            claims,
        }
    }

    /// Whether a code or refresh token of `subject` may still be used. From format 3 this is
    /// judged here, so a refused redemption or rotation changes nothing; before, the node that
    /// answered checked it after the commit, and apply() must keep doing what 0.1 nodes do
    /// while they are members.
    pub(crate) fn provider_allows(&self, subject: &str) -> bool {
        self.cluster_version < 3 || self.federation.provider_allows(subject)
    }

    /// Whether an administrator switched the client off (format 5).
    pub(crate) fn client_disabled(&self, client_id: &str) -> bool {
        self.clients.get(client_id).is_some_and(|c| c.disabled)
    }

    fn purge(
        &mut self,
        now: UnixTime,
        unclaimed_client_ttl: u64,
        audit: AuditRetention,
    ) -> PurgeCounts {
        let mut counts = PurgeCounts::default();
        let before = self.codes.len();
        self.codes.retain(|_, code| code.expires_at > now);
        counts.codes = before - self.codes.len();
        let before = self.sessions.len();
        self.sessions.retain(|_, s| s.expires_at > now);
        counts.sessions = before - self.sessions.len();
        let before = self.families.len();
        self.families.retain(|_, f| f.idle_expires_at > now);
        counts.families = before - self.families.len();
        let before = self.refresh_tokens.len();
        let families = &self.families;
        self.refresh_tokens
            .retain(|_, e| e.expires_at > now && families.contains_key(&e.family));
        counts.retired_refresh_tokens = before - self.refresh_tokens.len();
        let before = self.clients.len();
        let codes = &self.codes;
        self.clients.retain(|id, c| {
            c.origin == ClientOrigin::Configured
                || c.first_login_at.is_some()
                || c.issued_at.saturating_add(unclaimed_client_ttl) > now
                || codes.values().any(|code| &code.grant.client_id == id)
        });
        counts.clients = before - self.clients.len();
        let clients = &self.clients;
        self.consents
            .retain(|(_, client), _| clients.contains_key(client));
        // A live code counts too: it becomes a family (whose tokens carry the profile) even if
        // the session that authorised it ended since.
        let live_subjects: BTreeSet<&str> = self
            .sessions
            .values()
            .map(|s| s.subject.as_str())
            .chain(self.families.values().map(|f| f.grant.subject.as_str()))
            .chain(self.codes.values().map(|c| c.grant.subject.as_str()))
            .collect();
        // Tokens a retired key signed have all expired; a denied access token has expired.
        self.signing_keys
            .retain(|k| k.retires_at.is_none_or(|at| at > now));
        self.revoked_access
            .retain(|_, expires_at| *expires_at > now);
        let before = self.access_denials.len();
        self.access_denials.retain(|_, d| d.until > now);
        counts.access_denials = before - self.access_denials.len();
        if self.cluster_version >= 5 {
            // Below, the retention is not in the entry (format 4 lacks it) and the trail is empty.
            counts.audit_events = self.audit.purge(now, audit);
        }
        let (pending, assertions, profiles) = self.federation.purge(now, &live_subjects);
        counts.upstream_states = pending;
        counts.assertions = assertions;
        counts.profiles = profiles;
        counts
    }
}

struct CodeAttempt<'a> {
    client_id: &'a str,
    redirect_uri: &'a str,
    verifier_challenge: &'a str,
    resource: Option<&'a str>,
    now: UnixTime,
}

/// How many records of each kind the state holds (for status and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    pub clients: usize,
    pub users: usize,
    pub sessions: usize,
    pub consents: usize,
    pub codes: usize,
    pub refresh_families: usize,
    pub refresh_tokens: usize,
    pub signing_keys: usize,
    pub identity_providers: usize,
    pub audit_events: usize,
    pub upstream_states: usize,
    pub assertions: usize,
    pub profiles: usize,
}

/// Compare without an early exit, so timing does not reveal how much of a PKCE challenge matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Grant for a new family (used by tests and by callers that build codes).
pub fn grant(
    client_id: &str,
    subject: &str,
    scope: &str,
    resource: &str,
    auth_time: UnixTime,
) -> Grant {
    Grant {
        client_id: client_id.to_owned(),
        subject: subject.to_owned(),
        scope: scope.to_owned(),
        resource: resource.to_owned(),
        auth_time,
    }
}
