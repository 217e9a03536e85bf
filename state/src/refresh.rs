//! Refresh families in apply(): rotation under the refresh policy (which second presentations
//! of a rotated token are accepted, which are reuse), and revocation (RFC 7009, and of a whole
//! family on reuse or a replayed code).

use crate::model::{Digest, FamilyId, Grant, RefreshFamily, RefreshReuse, UnixTime, RETIRED_KEPT};
use crate::outcome::{Outcome, Refusal};
use crate::state::{RefreshEntry, State};

impl State {
    pub(crate) fn rotate_refresh(
        &mut self,
        presented: &Digest,
        attempt: RefreshAttempt<'_>,
        next: Digest,
        idle_expires_at: UnixTime,
    ) -> Outcome {
        let Some(entry) = self.refresh_tokens.get(presented).cloned() else {
            return Outcome::Refused(Refusal::UnknownRefreshToken);
        };
        let Some(family) = self.families.get(&entry.family) else {
            return Outcome::Refused(Refusal::UnknownRefreshToken);
        };
        if family.grant.client_id != attempt.client_id {
            return Outcome::Refused(Refusal::RefreshClientMismatch);
        }
        if entry.retired && family.current == next {
            // The same rotation again (a retried proposal): answer as the first time.
            return match narrowed(&family.grant, attempt.scope) {
                Some(grant) => self.granted(entry.family, grant),
                None => Outcome::Refused(Refusal::ScopeExceeded),
            };
        }
        if entry.retired && !self.accepts_again(&entry, family, &attempt) {
            // RFC 9700 §4.14.2: a rotated token presented again means it leaked, or two
            // requests raced; either way the whole family is revoked.
            self.revoke_family(entry.family);
            return Outcome::Refused(Refusal::RefreshReused {
                revoked_family: entry.family,
            });
        }
        let expires_at = if entry.retired {
            entry.expires_at
        } else {
            family.idle_expires_at
        };
        if attempt.now >= expires_at {
            return Outcome::Refused(Refusal::RefreshExpired);
        }
        if !self.provider_allows(&family.grant.subject) {
            return Outcome::Refused(Refusal::IdentityProviderDisabled);
        }
        if self.client_disabled(&family.grant.client_id) {
            return Outcome::Refused(Refusal::ClientDisabled);
        }
        if let Some(resource) = attempt.resource {
            if resource != family.grant.resource {
                return Outcome::Refused(Refusal::ResourceMismatch);
            }
        }
        let Some(grant) = narrowed(&family.grant, attempt.scope) else {
            return Outcome::Refused(Refusal::ScopeExceeded);
        };
        if self.refresh_tokens.contains_key(&next) {
            return Outcome::Refused(Refusal::DuplicateSecret);
        }
        let family_id = entry.family;
        let superseded = family.current;
        // Sequence numbers and rotation instants are kept from cluster version 4 only: a
        // format-3 snapshot cannot hold them, and every node must hold the same state.
        let tracked = self.cluster_version >= 4;
        let seq = if tracked { family.rotations + 1 } else { 0 };
        let rotated_at = tracked.then_some(attempt.now);
        // The family's current token stops being current: the one presented, or (a rotated
        // token accepted again) the one its other holder has not used yet.
        if let Some(old) = self.refresh_tokens.get_mut(&superseded) {
            old.retired = true;
            old.rotated_at = rotated_at;
        }
        self.refresh_tokens.insert(
            next,
            RefreshEntry {
                family: family_id,
                retired: false,
                expires_at: idle_expires_at,
                seq,
                rotated_at: None,
            },
        );
        let mut forgotten = Vec::new();
        if self.cluster_version >= 5 {
            if let Some(client) = self.clients.get_mut(attempt.client_id) {
                client.last_used_at = Some(attempt.now);
            }
        }
        let format5 = self.cluster_version >= 5;
        if let Some(family) = self.families.get_mut(&family_id) {
            if format5 {
                family.last_used_at = Some(attempt.now);
            }
            family.current = next;
            family.idle_expires_at = idle_expires_at;
            family.rotations += 1;
            if tracked {
                family.last_used = family.last_used.max(Some(entry.seq));
            }
            family.retired.push(superseded);
            while family.retired.len() > RETIRED_KEPT {
                forgotten.push(family.retired.remove(0));
            }
        }
        for digest in forgotten {
            self.refresh_tokens.remove(&digest);
        }
        self.granted(family_id, grant)
    }

    /// Whether a rotated-out token presented again is accepted rather than taken for reuse:
    /// under [`RefreshReuse::Grace`] (cluster version 4 on), while no token issued after it
    /// has been used, or within the grace period after its rotation.
    fn accepts_again(
        &self,
        entry: &RefreshEntry,
        family: &RefreshFamily,
        attempt: &RefreshAttempt<'_>,
    ) -> bool {
        let RefreshReuse::Grace { secs } = attempt.reuse else {
            return false;
        };
        let Some(rotated_at) = entry.rotated_at else {
            return false;
        };
        if self.cluster_version < 4 {
            return false;
        }
        let successor_unused = family.last_used.is_none_or(|used| used <= entry.seq);
        successor_unused || attempt.now < rotated_at.saturating_add(secs)
    }

    pub(crate) fn revoke_refresh_token(&mut self, digest: &Digest, client_id: &str) -> Outcome {
        let Some(entry) = self.refresh_tokens.get(digest) else {
            return Outcome::Done;
        };
        let family = entry.family;
        match self.families.get(&family) {
            Some(f) if f.grant.client_id != client_id => {
                Outcome::Refused(Refusal::RefreshClientMismatch)
            }
            _ => {
                self.revoke_family(family);
                Outcome::Done
            }
        }
    }

    /// Remove a family and every token digest of it. Returns whether it existed.
    pub(crate) fn revoke_family(&mut self, family: FamilyId) -> bool {
        let Some(removed) = self.families.remove(&family) else {
            return false;
        };
        // The family knows every digest of it still indexed: no scan of all tokens.
        self.refresh_tokens.remove(&removed.current);
        for digest in &removed.retired {
            self.refresh_tokens.remove(digest);
        }
        true
    }
}

pub(crate) struct RefreshAttempt<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) resource: Option<&'a str>,
    pub(crate) scope: Option<&'a str>,
    pub(crate) now: UnixTime,
    pub(crate) reuse: RefreshReuse,
}

/// The grant with its scope narrowed to `scope` (RFC 6749 §6), or None if `scope` asks for more.
/// The narrowed scope applies to one access token only; the family keeps its grant.
pub(crate) fn narrowed(grant: &Grant, scope: Option<&str>) -> Option<Grant> {
    let mut grant = grant.clone();
    if let Some(scope) = scope {
        let granted: Vec<&str> = grant.scope.split_whitespace().collect();
        if scope.split_whitespace().any(|s| !granted.contains(&s)) {
            return None;
        }
        grant.scope = scope.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    Some(grant)
}
