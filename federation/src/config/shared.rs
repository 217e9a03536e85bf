//! What several kinds of provider share: where claims are read from, and the rule that every
//! endpoint is https except on loopback, where nothing can be overheard.

use serde::{Deserialize, Serialize};
use url::Url;

use super::{invalid, ConfigError};

/// Where a claim or attribute is read from.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClaimMap {
    #[serde(default = "claim_sub")]
    pub subject: String,
    #[serde(default = "claim_email")]
    pub email: String,
    #[serde(default = "claim_name")]
    pub name: String,
    #[serde(default = "claim_groups")]
    pub groups: String,
    /// Refuse a login whose email the provider has not verified (`email_verified` false).
    #[serde(default)]
    pub require_verified_email: bool,
}

fn claim_sub() -> String {
    "sub".into()
}
fn claim_email() -> String {
    "email".into()
}
fn claim_name() -> String {
    "name".into()
}
fn claim_groups() -> String {
    "groups".into()
}

impl Default for ClaimMap {
    fn default() -> Self {
        Self {
            subject: claim_sub(),
            email: claim_email(),
            name: claim_name(),
            groups: claim_groups(),
            require_verified_email: false,
        }
    }
}

/// Whether `url` names this host (where plain http or ldap cannot be overheard): `localhost`,
/// 127.0.0.0/8 or ::1.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        // An ldap:// URL is not a "special" URL to the parser: its host stays an opaque name,
        // never an address, so an IPv4 address arrives here as text. Only the plain dotted
        // form is read as an address; anything else (`127.1`, hex) stays a name, which is not
        // loopback (the safe side). Bracketed IPv6 is parsed as an address for every scheme.
        // http(s) hosts are lowercased by the parser; an ldap:// host in capitals is just not
        // taken for loopback (the safe side too).
        Some(url::Host::Domain(d)) => {
            d == "localhost"
                || d.parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

/// An endpoint of a provider must be https, except on loopback (test setups, a provider on
/// the same host).
pub fn check_endpoint(what: &str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| invalid(format!("{what}: not a URL ({e})")))?;
    let loopback = is_loopback(&url);
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(invalid(format!(
                "{what}: must be an https URL (plain http only on loopback), got {value}"
            )))
        }
    }
    if url.host().is_none() || url.fragment().is_some() {
        return Err(invalid(format!("{what}: needs a host and no fragment")));
    }
    Ok(url)
}

pub(crate) fn required<'a>(what: &str, value: &'a Option<String>) -> Result<&'a str, ConfigError> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(invalid(format!("{what} is required"))),
    }
}

pub(crate) fn check_id(id: &str) -> Result<(), ConfigError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "id: 1 to 64 characters of a-z, 0-9, '-' and '_' (it appears in URLs)",
        ))
    }
}

pub(crate) fn scopes_or(given: &Option<Vec<String>>, default: &[&str]) -> Vec<String> {
    match given {
        Some(s) if !s.is_empty() => s.clone(),
        _ => default.iter().map(|s| s.to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback(url: &str) -> bool {
        is_loopback(&Url::parse(url).expect("a URL"))
    }

    #[test]
    fn loopback_addresses_count_for_every_scheme() {
        for url in [
            "ldap://127.0.0.1:389",
            "ldap://127.0.0.1",
            "ldap://127.8.9.10:1389",
            "ldap://[::1]:389",
            "ldap://localhost:389",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://LOCALHOST:8080",
        ] {
            assert!(loopback(url), "{url} is loopback");
        }
    }

    #[test]
    fn other_addresses_and_names_do_not() {
        for url in [
            "ldap://10.0.0.5:389",
            "ldap://128.0.0.1",
            "ldap://[::2]:389",
            "ldap://[2001:db8::1]",
            "ldap://127.0.0.1.example.com",
            "ldap://localhost.example.com",
            // Not the dotted form: taken as a name.
            "ldap://127.1",
            "http://192.168.1.1",
            "http://localhost.example.com",
        ] {
            assert!(!loopback(url), "{url} is not loopback");
        }
    }
}
