//! Administration in apply() (format 5): ending access, managing local users, and the
//! runtime configuration with its one step of history.

use crate::model::{
    AccessDenial, AccessTarget, DenialTarget, FamilyId, Role, RuntimeConfig, UnixTime, UserChange,
};
use crate::outcome::{Outcome, Refusal, RevokeCounts};
use crate::state::State;

impl State {
    pub(crate) fn revoke_access(
        &mut self,
        target: &AccessTarget,
        now: UnixTime,
        deny_access_until: UnixTime,
    ) -> Outcome {
        match target {
            AccessTarget::Session(digest) => match self.sessions.remove(digest) {
                Some(_) => Outcome::Revoked(RevokeCounts {
                    sessions: 1,
                    families: 0,
                }),
                None => Outcome::Refused(Refusal::UnknownSession),
            },
            AccessTarget::Family(id) => {
                if self.revoke_family(*id) {
                    Outcome::Revoked(RevokeCounts {
                        sessions: 0,
                        families: 1,
                    })
                } else {
                    Outcome::Refused(Refusal::UnknownFamily)
                }
            }
            AccessTarget::Subject(subject) => {
                Outcome::Revoked(self.end_subject_access(subject, now, deny_access_until))
            }
            AccessTarget::Client(client_id) => {
                if !self.clients.contains_key(client_id) {
                    return Outcome::Refused(Refusal::UnknownClient);
                }
                let families = self.revoke_families(|f| f.grant.client_id == *client_id);
                self.deny(
                    DenialTarget::Client(client_id.clone()),
                    now,
                    deny_access_until,
                );
                Outcome::Revoked(RevokeCounts {
                    sessions: 0,
                    families,
                })
            }
        }
    }

    /// End every session and grant of `subject`, and deny its access tokens issued up to `now`.
    fn end_subject_access(
        &mut self,
        subject: &str,
        now: UnixTime,
        deny_access_until: UnixTime,
    ) -> RevokeCounts {
        let before = self.sessions.len();
        self.sessions.retain(|_, s| s.subject != subject);
        let sessions = before - self.sessions.len();
        self.codes.retain(|_, c| c.grant.subject != subject);
        let families = self.revoke_families(|f| f.grant.subject == subject);
        self.deny(
            DenialTarget::Subject(subject.to_owned()),
            now,
            deny_access_until,
        );
        RevokeCounts { sessions, families }
    }

    fn revoke_families(&mut self, which: impl Fn(&crate::model::RefreshFamily) -> bool) -> usize {
        let ids: Vec<FamilyId> = self
            .families
            .values()
            .filter(|f| which(f))
            .map(|f| f.id)
            .collect();
        for id in &ids {
            self.revoke_family(*id);
        }
        ids.len()
    }

    fn deny(&mut self, target: DenialTarget, now: UnixTime, until: UnixTime) {
        let denial = self.access_denials.entry(target).or_insert(AccessDenial {
            issued_before: now,
            until,
        });
        denial.issued_before = denial.issued_before.max(now);
        denial.until = denial.until.max(until);
    }

    pub(crate) fn update_user(
        &mut self,
        username: &str,
        change: &UserChange,
        now: UnixTime,
        deny_access_until: UnixTime,
    ) -> Outcome {
        let Some(user) = self.users.get(username) else {
            return Outcome::Refused(Refusal::UnknownUser);
        };
        let removes_admin = match change {
            UserChange::Disabled(disabled) => *disabled,
            UserChange::Roles(roles) => !roles.contains(&Role::Admin),
            UserChange::RequirePasswordChange => false,
        };
        if removes_admin && self.is_last_admin(username) {
            return Outcome::Refused(Refusal::LastAdmin);
        }
        let subject = user.subject.clone();
        let Some(user) = self.users.get_mut(username) else {
            return Outcome::Refused(Refusal::UnknownUser);
        };
        match change {
            UserChange::Disabled(disabled) => {
                user.disabled = *disabled;
                if *disabled {
                    return Outcome::Revoked(self.end_subject_access(
                        &subject,
                        now,
                        deny_access_until,
                    ));
                }
            }
            UserChange::Roles(roles) => {
                let mut roles = roles.clone();
                roles.sort();
                roles.dedup();
                user.roles = roles;
            }
            UserChange::RequirePasswordChange => user.must_change_password = true,
        }
        Outcome::Done
    }

    pub(crate) fn delete_user(
        &mut self,
        username: &str,
        now: UnixTime,
        deny_access_until: UnixTime,
    ) -> Outcome {
        let Some(user) = self.users.get(username) else {
            return Outcome::Refused(Refusal::UnknownUser);
        };
        if self.is_last_admin(username) {
            return Outcome::Refused(Refusal::LastAdmin);
        }
        let subject = user.subject.clone();
        self.users.remove(username);
        self.consents.retain(|(s, _), _| *s != subject);
        Outcome::Revoked(self.end_subject_access(&subject, now, deny_access_until))
    }

    /// Whether `username` is the only enabled local user with the admin role: removing it
    /// would leave the cluster administrable only through an identity provider's group, or
    /// not at all.
    fn is_last_admin(&self, username: &str) -> bool {
        let is_admin = |u: &crate::model::User| !u.disabled && u.roles.contains(&Role::Admin);
        self.users.get(username).is_some_and(is_admin)
            && !self
                .users
                .values()
                .any(|u| u.username != username && is_admin(u))
    }

    pub(crate) fn set_runtime_config(
        &mut self,
        config: &RuntimeConfig,
        expected_version: u64,
    ) -> Outcome {
        let current = self.runtime_config_version();
        if current != expected_version {
            // A retried proposal that already won is answered as the first time.
            let won = self.runtime_config.as_ref().is_some_and(|c| {
                c.version == expected_version + 1
                    && c.config_json == config.config_json
                    && c.updated_at == config.updated_at
                    && c.updated_by == config.updated_by
            });
            if won {
                return Outcome::RuntimeConfig { version: current };
            }
            return Outcome::Refused(Refusal::RuntimeConfigChanged { current });
        }
        let mut config = config.clone();
        config.version = current + 1;
        let version = config.version;
        self.previous_runtime_config = self.runtime_config.replace(config);
        Outcome::RuntimeConfig { version }
    }

    pub(crate) fn rollback_runtime_config(
        &mut self,
        expected_version: u64,
        at: UnixTime,
        by: &str,
    ) -> Outcome {
        let current = self.runtime_config_version();
        if current != expected_version {
            let won = self.runtime_config.as_ref().is_some_and(|c| {
                c.version == expected_version + 1 && c.updated_at == at && c.updated_by == by
            });
            if won {
                return Outcome::RuntimeConfig { version: current };
            }
            return Outcome::Refused(Refusal::RuntimeConfigChanged { current });
        }
        let Some(previous) = self.previous_runtime_config.take() else {
            return Outcome::Refused(Refusal::NoPreviousRuntimeConfig);
        };
        let restored = RuntimeConfig {
            version: current + 1,
            config_json: previous.config_json,
            updated_at: at,
            updated_by: by.to_owned(),
        };
        self.previous_runtime_config = self.runtime_config.replace(restored);
        Outcome::RuntimeConfig {
            version: current + 1,
        }
    }

    /// 0 while no runtime configuration was ever set.
    pub fn runtime_config_version(&self) -> u64 {
        self.runtime_config.as_ref().map_or(0, |c| c.version)
    }
}
