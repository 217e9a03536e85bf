//! The audit trail: security-relevant events, recorded by apply() so every node holds the same
//! events in the same order, retained for a while and bounded in number (format 5).
//!
//! An event is either the outcome of a command the node wrapped in [`Command::Audited`] (its
//! outcome, and a refusal's reason, are apply()'s, so an event can never claim what did not
//! happen), or a fact with no other effect ([`Command::RecordAudit`]: a failed login). What an
//! event carries is chosen by the node from non-secret values only: ids, names, addresses,
//! never a token, code, password or digest of one.
//!
//! Kinds are strings (`token.refreshed`), not an enum, so that a later release can add one
//! without a storage format; the catalogue is [`kinds`] and the README.
//!
//! [`Command::Audited`]: crate::Command::Audited
//! [`Command::RecordAudit`]: crate::Command::RecordAudit

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::model::UnixTime;
use crate::outcome::{Outcome, Refusal};

/// What the proposing node knows of an event: when, what, who, from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AuditContext {
    pub at: UnixTime,
    /// One of [`kinds`].
    pub kind: String,
    /// Who acted: a subject, `cluster-secret` for automation, or None where apply() knows
    /// better (a refresh's subject is the family's, filled in from the outcome).
    pub actor: Option<String>,
    pub client_id: Option<String>,
    /// The request's source address.
    pub source: Option<String>,
    pub identity_provider: Option<String>,
    /// Further non-secret facts (`username`, `target`, `resource`, ...), in order.
    pub details: Vec<(String, String)>,
}

/// How it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditOutcome {
    Success,
    /// A refusal: its stable name ([`Refusal::code`]) or, for events the node records, the
    /// node's reason.
    Failure {
        reason: String,
    },
}

/// One recorded event. `seq` orders the trail and is the cursor of queries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: u64,
    pub context: AuditContext,
    pub outcome: AuditOutcome,
}

/// How long events are kept, and how many at most (the oldest go first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRetention {
    pub max_age_secs: u64,
    pub max_events: u64,
}

impl Default for AuditRetention {
    fn default() -> Self {
        Self {
            max_age_secs: 90 * 24 * 3600,
            max_events: 100_000,
        }
    }
}

/// The trail in the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AuditTrail {
    pub(crate) events: VecDeque<AuditEvent>,
    pub(crate) next_seq: u64,
    /// The retention the last purge was given: the bound on `events` between purges too.
    pub(crate) retention: AuditRetention,
}

/// A query of the trail: filters, then events after the cursor, oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only events with `seq` greater than this (the previous page's last `seq`).
    pub after: Option<u64>,
    /// `kind` equal to this, or starting with it followed by `.` (`token` matches
    /// `token.refreshed`).
    pub kind: Option<String>,
    pub actor: Option<String>,
    pub client_id: Option<String>,
    pub identity_provider: Option<String>,
    /// `Some(true)`: successes only; `Some(false)`: failures only.
    pub success: Option<bool>,
    pub since: Option<UnixTime>,
    pub until: Option<UnixTime>,
    pub limit: usize,
}

impl AuditQuery {
    fn matches(&self, event: &AuditEvent) -> bool {
        let c = &event.context;
        let kind_matches = self.kind.as_deref().is_none_or(|k| {
            c.kind == k
                || c.kind
                    .strip_prefix(k)
                    .is_some_and(|rest| rest.starts_with('.'))
        });
        kind_matches
            && self
                .actor
                .as_deref()
                .is_none_or(|a| c.actor.as_deref() == Some(a))
            && self
                .client_id
                .as_deref()
                .is_none_or(|id| c.client_id.as_deref() == Some(id))
            && self
                .identity_provider
                .as_deref()
                .is_none_or(|p| c.identity_provider.as_deref() == Some(p))
            && self
                .success
                .is_none_or(|s| s == (event.outcome == AuditOutcome::Success))
            && self.since.is_none_or(|t| c.at >= t)
            && self.until.is_none_or(|t| c.at <= t)
    }
}

impl AuditTrail {
    pub fn len(&self) -> usize {
        self.events.len()
    }
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
    /// The `seq` the next event gets: a node that streams the trail reads from here on.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
    pub fn retention(&self) -> AuditRetention {
        self.retention
    }
    /// Events after `seq` (for streaming what a batch of entries added).
    pub fn since_seq(&self, seq: u64) -> impl Iterator<Item = &AuditEvent> {
        let first = self.events.front().map_or(0, |e| e.seq);
        let skip = seq.saturating_add(1).saturating_sub(first) as usize;
        self.events.iter().skip(skip)
    }
    /// One page of the events matching `query`, oldest first; the page is full when it holds
    /// `query.limit` events, and the next page is asked for with `after` = its last `seq`.
    pub fn query(&self, query: &AuditQuery) -> Vec<&AuditEvent> {
        let events: Box<dyn Iterator<Item = &AuditEvent>> = match query.after {
            Some(after) => Box::new(self.since_seq(after)),
            None => Box::new(self.events.iter()),
        };
        events
            .filter(|e| query.matches(e))
            .take(query.limit)
            .collect()
    }

    pub(crate) fn record(&mut self, context: AuditContext, outcome: AuditOutcome) {
        self.events.push_back(AuditEvent {
            seq: self.next_seq,
            context,
            outcome,
        });
        self.next_seq += 1;
        while self.events.len() as u64 > self.retention.max_events {
            self.events.pop_front();
        }
    }

    /// Drop events older than the retention at `now`, and any beyond its count. Returns how
    /// many went.
    pub(crate) fn purge(&mut self, now: UnixTime, retention: AuditRetention) -> usize {
        self.retention = retention;
        let before = self.events.len();
        let oldest_kept = now.saturating_sub(retention.max_age_secs);
        while self
            .events
            .front()
            .is_some_and(|e| e.context.at < oldest_kept)
        {
            self.events.pop_front();
        }
        while self.events.len() as u64 > retention.max_events {
            self.events.pop_front();
        }
        before - self.events.len()
    }
}

/// The event an audited command's outcome makes of its context: a refusal becomes a failure
/// with the refusal's name, and a detected replay or reuse is its own kind (it revoked a
/// family). The grant's subject and client fill in what the node could not know.
pub(crate) fn event_of(
    mut context: AuditContext,
    outcome: &Outcome,
) -> (AuditContext, AuditOutcome) {
    let result = match outcome {
        Outcome::Refused(refusal) => {
            if let Refusal::RefreshReused { revoked_family }
            | Refusal::CodeReplayed {
                revoked_family: Some(revoked_family),
            } = refusal
            {
                context
                    .details
                    .push(("attempted".into(), std::mem::take(&mut context.kind)));
                context.kind = kinds::TOKEN_REUSE_DETECTED.into();
                context
                    .details
                    .push(("revoked_family".into(), revoked_family.to_string()));
            }
            AuditOutcome::Failure {
                reason: refusal.code().into(),
            }
        }
        Outcome::Batch(outcomes) => match outcomes.iter().find_map(|o| match o {
            Outcome::Refused(r) => Some(r),
            _ => None,
        }) {
            Some(refusal) => AuditOutcome::Failure {
                reason: refusal.code().into(),
            },
            None => AuditOutcome::Success,
        },
        Outcome::Granted { family, grant, .. } => {
            context.actor.get_or_insert_with(|| grant.subject.clone());
            context
                .client_id
                .get_or_insert_with(|| grant.client_id.clone());
            context.details.push(("family".into(), family.to_string()));
            context
                .details
                .push(("resource".into(), grant.resource.clone()));
            context.details.push(("scope".into(), grant.scope.clone()));
            AuditOutcome::Success
        }
        Outcome::Revoked(counts) => {
            context
                .details
                .push(("sessions_ended".into(), counts.sessions.to_string()));
            context
                .details
                .push(("grants_revoked".into(), counts.families.to_string()));
            AuditOutcome::Success
        }
        Outcome::RuntimeConfig { version } => {
            context
                .details
                .push(("version".into(), version.to_string()));
            AuditOutcome::Success
        }
        _ => AuditOutcome::Success,
    };
    (context, result)
}

/// The catalogue of event kinds (README, "Audit events").
pub mod kinds {
    pub const CLIENT_REGISTERED: &str = "client.registered";
    pub const CLIENT_UPDATED: &str = "client.updated";
    pub const CLIENT_DELETED: &str = "client.deleted";
    pub const CLIENT_DISABLED: &str = "client.disabled";
    pub const CLIENT_ENABLED: &str = "client.enabled";
    pub const CLIENT_GRANTS_REVOKED: &str = "client.grants_revoked";
    pub const CLIENTS_REAPED: &str = "client.reaped";
    pub const LOGIN_SUCCEEDED: &str = "login.succeeded";
    pub const LOGIN_FAILED: &str = "login.failed";
    pub const CONSENT_GRANTED: &str = "consent.granted";
    pub const CONSENT_DENIED: &str = "consent.denied";
    pub const CODE_ISSUED: &str = "code.issued";
    /// A code redeemed: the tokens issued for it (one step, one event).
    pub const TOKEN_ISSUED: &str = "token.issued";
    pub const TOKEN_REFRESHED: &str = "token.refreshed";
    pub const TOKEN_REVOKED: &str = "token.revoked";
    pub const TOKEN_REUSE_DETECTED: &str = "token.reuse_detected";
    pub const SESSION_ENDED: &str = "session.ended";
    pub const USER_SESSIONS_ENDED: &str = "user.sessions_ended";
    pub const GRANT_REVOKED: &str = "grant.revoked";
    pub const USER_CREATED: &str = "user.created";
    pub const USER_UPDATED: &str = "user.updated";
    pub const USER_DELETED: &str = "user.deleted";
    pub const USER_PASSWORD_SET: &str = "user.password_set";
    pub const CONFIG_UPDATED: &str = "config.updated";
    pub const CONFIG_ROLLED_BACK: &str = "config.rolled_back";
    pub const PROVIDER_PUT: &str = "identity_provider.put";
    pub const PROVIDER_DELETED: &str = "identity_provider.deleted";
    pub const LOGIN_SETTINGS_CHANGED: &str = "login_settings.changed";
    pub const KEY_ADDED: &str = "signing_key.added";
    pub const MEMBERSHIP_CHANGED: &str = "membership.changed";
    pub const RESOURCE_ADDED: &str = "resource.added";
    pub const RESOURCE_REMOVED: &str = "resource.removed";
}
