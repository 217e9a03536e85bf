//! LDAP and Active Directory providers: the directory's URL and TLS, the service account, and
//! where people, groups and their attributes are found.

use serde::{Deserialize, Serialize};
use url::Url;

use super::shared::is_loopback;
use super::{invalid, ConfigError};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LdapConfigSpec {
    /// `ldaps://host:636` or `ldap://host:389` (then `starttls` should be true).
    pub url: String,
    #[serde(default)]
    pub starttls: bool,
    /// PEM of the CA that signed the directory's certificate (else the system roots).
    pub ca_pem: Option<String>,
    /// Service account that searches for the user; omitted for an anonymous search.
    pub bind_dn: Option<String>,
    #[serde(skip_serializing)]
    pub bind_password: Option<String>,
    pub user_base: String,
    /// `{username}` is replaced by the escaped username.
    #[serde(default = "ldap_user_filter")]
    pub user_filter: String,
    pub group_base: Option<String>,
    /// `{dn}` is replaced by the user's escaped DN, `{username}` by the escaped username.
    #[serde(default = "ldap_group_filter")]
    pub group_filter: String,
    /// Attribute of a group entry that names it.
    #[serde(default = "ldap_group_name")]
    pub group_name_attribute: String,
    /// Attribute holding the stable subject (e.g. `uid`, `entryUUID`, `objectGUID`).
    #[serde(default = "ldap_subject")]
    pub subject_attribute: String,
    #[serde(default = "ldap_email")]
    pub email_attribute: String,
    #[serde(default = "ldap_name")]
    pub name_attribute: String,
    /// Read group names from this attribute of the user entry (e.g. `memberOf`) instead of
    /// searching `group_base`.
    pub member_of_attribute: Option<String>,
}

fn ldap_user_filter() -> String {
    "(uid={username})".into()
}
fn ldap_group_filter() -> String {
    "(member={dn})".into()
}
fn ldap_group_name() -> String {
    "cn".into()
}
fn ldap_subject() -> String {
    "uid".into()
}
fn ldap_email() -> String {
    "mail".into()
}
fn ldap_name() -> String {
    "cn".into()
}

fn check_ldap_url(value: &str) -> Result<(), ConfigError> {
    let url = Url::parse(value).map_err(|e| invalid(format!("url: not a URL ({e})")))?;
    if !matches!(url.scheme(), "ldap" | "ldaps") || url.host().is_none() {
        return Err(invalid(
            "url: must be ldaps://host[:port] or ldap://host[:port]",
        ));
    }
    Ok(())
}

pub(super) fn check_ldap(spec: &LdapConfigSpec) -> Result<(), ConfigError> {
    check_ldap_url(&spec.url)?;
    let url = Url::parse(&spec.url).map_err(|e| invalid(format!("url: {e}")))?;
    if url.scheme() == "ldap" && !spec.starttls && !is_loopback(&url) {
        return Err(invalid(
            "url: ldap:// sends passwords in clear; use ldaps:// or starttls = true",
        ));
    }
    if spec.user_base.trim().is_empty() {
        return Err(invalid("user_base is required"));
    }
    if !spec.user_filter.contains("{username}") {
        return Err(invalid("user_filter must contain {username}"));
    }
    if spec.bind_dn.is_some() != spec.bind_password.is_some() {
        return Err(invalid("bind_dn and bind_password go together"));
    }
    if let Some(pem) = &spec.ca_pem {
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(invalid("ca_pem: not a PEM certificate"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ldap_is_refused_off_loopback_and_allowed_on_loopback_addresses() {
        for url in ["ldap://ldap.example.com", "LDAP://ldap.example.com"] {
            let spec = LdapConfigSpec {
                url: url.into(),
                starttls: false,
                ca_pem: None,
                bind_dn: None,
                bind_password: None,
                user_base: "dc=x".into(),
                user_filter: ldap_user_filter(),
                group_base: None,
                group_filter: ldap_group_filter(),
                group_name_attribute: ldap_group_name(),
                subject_attribute: ldap_subject(),
                email_attribute: ldap_email(),
                name_attribute: ldap_name(),
                member_of_attribute: None,
            };
            assert!(check_ldap(&spec).is_err(), "{url}");
            for url in [
                "ldap://[::1]:389",
                "ldap://127.0.0.1:389",
                "ldap://localhost",
            ] {
                let loopback = LdapConfigSpec {
                    url: url.into(),
                    ..spec.clone()
                };
                assert!(check_ldap(&loopback).is_ok(), "{url}");
            }
            // A private address is not loopback: still refused in clear.
            let private = LdapConfigSpec {
                url: "ldap://10.1.2.3:389".into(),
                ..spec.clone()
            };
            let refused = check_ldap(&private).expect_err("plain ldap off loopback");
            assert!(refused.0.contains("sends passwords in clear"), "{refused}");
            // StartTLS makes it acceptable anywhere.
            let starttls = LdapConfigSpec {
                starttls: true,
                ..private
            };
            assert!(check_ldap(&starttls).is_ok());
        }
    }
}
