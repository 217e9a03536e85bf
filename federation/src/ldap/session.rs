//! One connection to the directory and the login's steps on it: binds, the user search and
//! the group search, each under the read timeout.

use std::time::Duration;

use ldap3::{
    ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, LdapResult, ResultEntry, Scope,
    SearchEntry, SearchOptions,
};

use super::entry::{fill, first_text_value, group_name_of, parse_entry, subject_of, text_values};
use super::errors::{failure, refused, several};
use super::{MAX_GROUPS, RC_INVALID_CREDENTIALS, RC_NO_SUCH_OBJECT, RC_SIZE_LIMIT_EXCEEDED};
use crate::config::LdapConfigSpec;
use crate::{Identity, UpstreamError};

/// One connection to the directory; every operation runs under the read timeout.
pub(super) struct Session {
    ldap: Ldap,
    timeout: Duration,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // The driver also ends on its own once the handle is gone or after unbind.
        self.driver.abort();
    }
}

impl Session {
    pub(super) async fn open(
        url: &str,
        settings: LdapConnSettings,
        timeout: Duration,
    ) -> Result<Self, UpstreamError> {
        let (conn, ldap) = LdapConnAsync::with_settings(settings, url)
            .await
            .map_err(|e| failure("connect", &e))?;
        let driver = tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "ldap connection ended with an error");
            }
        });
        Ok(Self {
            ldap,
            timeout,
            driver,
        })
    }

    /// Best effort: the login's outcome is already decided.
    pub(super) async fn close(&mut self) {
        let _ = self.ldap.with_timeout(self.timeout).unbind().await;
    }

    pub(super) async fn login(
        &mut self,
        config: &LdapConfigSpec,
        service: Option<(&str, &str)>,
        username: &str,
        password: &str,
    ) -> Result<Identity, UpstreamError> {
        if let Some((dn, service_password)) = service {
            self.bind_service(dn, service_password).await?;
        }

        let escaped_username = ldap_escape(username);
        let filter = fill(
            &config.user_filter,
            &[("{username}", escaped_username.as_ref())],
        );
        let mut attributes = vec![
            config.subject_attribute.as_str(),
            config.email_attribute.as_str(),
            config.name_attribute.as_str(),
        ];
        if let Some(member_of) = &config.member_of_attribute {
            attributes.push(member_of.as_str());
        }
        attributes.retain(|a| !a.trim().is_empty());
        attributes.sort_unstable();
        attributes.dedup();
        let entry = self
            .find_user(&config.user_base, &filter, &attributes)
            .await?;

        self.bind_user(&entry.dn, password).await?;

        let groups = match (&config.member_of_attribute, &config.group_base) {
            (Some(member_of), _) if !member_of.trim().is_empty() => {
                let mut groups: Vec<String> = text_values(&entry, member_of)
                    .iter()
                    .filter_map(|value| group_name_of(value))
                    .collect();
                groups.sort_unstable();
                groups.dedup();
                groups
            }
            (_, Some(group_base)) if !group_base.trim().is_empty() => {
                // Users may not be allowed to read groups; the service account is.
                if let Some((dn, service_password)) = service {
                    self.bind_service(dn, service_password).await?;
                }
                let escaped_dn = ldap_escape(entry.dn.as_str());
                let filter = fill(
                    &config.group_filter,
                    &[
                        ("{dn}", escaped_dn.as_ref()),
                        ("{username}", escaped_username.as_ref()),
                    ],
                );
                self.find_groups(group_base, &filter, &config.group_name_attribute)
                    .await?
            }
            _ => Vec::new(),
        };

        let subject = subject_of(&entry, &config.subject_attribute).ok_or_else(|| {
            UpstreamError::Misconfigured(format!(
                "the user entry has no {} attribute (subject_attribute), or it is not readable",
                config.subject_attribute
            ))
        })?;
        Ok(Identity {
            subject,
            username: Some(username.to_owned()),
            email: first_text_value(&entry, &config.email_attribute),
            name: first_text_value(&entry, &config.name_attribute),
            groups,
        })
    }

    async fn bind_service(&mut self, dn: &str, password: &str) -> Result<(), UpstreamError> {
        let result = self
            .ldap
            .with_timeout(self.timeout)
            .simple_bind(dn, password)
            .await
            .map_err(|e| failure("service account bind", &e))?;
        match result.rc {
            0 => Ok(()),
            RC_INVALID_CREDENTIALS => Err(UpstreamError::Misconfigured(
                "the directory refused the service account (bind_dn or its password is wrong)"
                    .into(),
            )),
            _ => Err(refused("service account bind", &result)),
        }
    }

    async fn bind_user(&mut self, dn: &str, password: &str) -> Result<(), UpstreamError> {
        let result = self
            .ldap
            .with_timeout(self.timeout)
            .simple_bind(dn, password)
            .await
            .map_err(|e| failure("user bind", &e))?;
        match result.rc {
            0 => Ok(()),
            // Active Directory also answers 49 for disabled, locked and expired accounts.
            RC_INVALID_CREDENTIALS => Err(UpstreamError::BadCredentials),
            _ => Err(refused("user bind", &result)),
        }
    }

    /// The one entry `filter` matches under `base`. None is bad credentials (as a wrong
    /// password would be); several is a filter that does not identify people.
    async fn find_user(
        &mut self,
        base: &str,
        filter: &str,
        attributes: &[&str],
    ) -> Result<SearchEntry, UpstreamError> {
        let (entries, result) = self
            .search("user search", base, filter, attributes, 2)
            .await?;
        match result.rc {
            0 => {}
            RC_SIZE_LIMIT_EXCEEDED => return Err(several()),
            RC_NO_SUCH_OBJECT => {
                return Err(UpstreamError::Misconfigured(
                    "user search: user_base does not exist or the search account cannot see it"
                        .into(),
                ))
            }
            _ => return Err(refused("user search", &result)),
        }
        if entries.len() > 1 {
            return Err(several());
        }
        // No entry: answered exactly like a wrong password, so names cannot be probed.
        let Some(raw) = entries.into_iter().next() else {
            return Err(UpstreamError::BadCredentials);
        };
        let entry = parse_entry(raw)?;
        if entry.dn.trim().is_empty() {
            // A bind with an empty DN would be anonymous whatever the password.
            return Err(UpstreamError::Misconfigured(
                "user search: the matched entry has an empty DN".into(),
            ));
        }
        Ok(entry)
    }

    async fn find_groups(
        &mut self,
        base: &str,
        filter: &str,
        name_attribute: &str,
    ) -> Result<Vec<String>, UpstreamError> {
        let (entries, result) = self
            .search("group search", base, filter, &[name_attribute], MAX_GROUPS)
            .await?;
        match result.rc {
            0 => {}
            RC_SIZE_LIMIT_EXCEEDED => {
                return Err(UpstreamError::Misconfigured(format!(
                    "group search: group_filter matched more than {MAX_GROUPS} groups"
                )))
            }
            RC_NO_SUCH_OBJECT => {
                return Err(UpstreamError::Misconfigured(
                    "group search: group_base does not exist or is not visible".into(),
                ))
            }
            _ => return Err(refused("group search", &result)),
        }
        let mut groups = Vec::with_capacity(entries.len());
        for raw in entries {
            let entry = parse_entry(raw)?;
            match first_text_value(&entry, name_attribute) {
                Some(name) => groups.push(name),
                None => tracing::debug!(group = %entry.dn, "ldap group without a readable name"),
            }
        }
        groups.sort_unstable();
        groups.dedup();
        Ok(groups)
    }

    async fn search(
        &mut self,
        what: &str,
        base: &str,
        filter: &str,
        attributes: &[&str],
        size_limit: usize,
    ) -> Result<(Vec<ResultEntry>, LdapResult), UpstreamError> {
        let options = SearchOptions::new().sizelimit(i32::try_from(size_limit).unwrap_or(i32::MAX));
        let ldap3::SearchResult(mut entries, mut result) = self
            .ldap
            .with_search_options(options)
            .with_timeout(self.timeout)
            .search(base, Scope::Subtree, filter, attributes.to_vec())
            .await
            .map_err(|e| failure(what, &e))?;
        // A server may ignore the requested size limit; never keep more than asked.
        if entries.len() > size_limit {
            entries.truncate(size_limit);
            result.rc = RC_SIZE_LIMIT_EXCEEDED;
        }
        Ok((entries, result))
    }
}
