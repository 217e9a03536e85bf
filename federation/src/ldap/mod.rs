//! LDAP / Active Directory login: check a username and password against the organisation's
//! directory and read who the person is.
//!
//! ```text
//! connect (ldaps://, or ldap:// + StartTLS; our own rustls config on ring, roots = ca_pem, else the system trust store)
//!   --> bind as the service account (bind_dn), or stay anonymous
//!   --> search user_base for user_filter with the escaped username (at most 2 entries)
//!   --> bind as the entry found, with the password        (invalidCredentials = wrong password)
//!   --> groups: the member_of_attribute values of the entry, or (rebound as the service
//!       account) a search of group_base for group_filter
//!   --> unbind
//! ```
//! Directories accept a simple bind with an empty password as an *unauthenticated* bind that
//! "succeeds" (RFC 4513 §5.1.2), so an empty password is refused before any network IO, and so
//! is a service account without a password. The username only ever reaches a filter escaped
//! (RFC 4515), and a user filter matching several entries is a configuration error, never a
//! pick. An unknown user and a wrong password give the same [`UpstreamError::BadCredentials`].
//! Errors and logs name the step and the directory's answer, never a password.

mod entry;
mod errors;
mod session;
mod tls;

use ldap3::LdapConnSettings;

use session::Session;
use tls::tls_config;

use crate::config::LdapConfigSpec;
use crate::{Identity, OutboundLimits, UpstreamError};

/// Longest username accepted (bytes).
pub const MAX_USERNAME_LEN: usize = 256;
/// Longest password accepted (bytes); longer is refused as bad credentials.
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Most groups read for one person; a group search matching more is a configuration error.
pub const MAX_GROUPS: usize = 1000;

/// LDAP result codes (RFC 4511 §4.1.9).
const RC_SIZE_LIMIT_EXCEEDED: u32 = 4;
const RC_NO_SUCH_OBJECT: u32 = 32;
const RC_INVALID_CREDENTIALS: u32 = 49;

/// Check `username` and `password` against the directory and read who they are.
///
/// `bind_password` is the service account's password (the provider's sealed secret, opened);
/// when `None`, `config.bind_password` is used if present.
pub async fn authenticate(
    config: &LdapConfigSpec,
    bind_password: Option<&str>,
    username: &str,
    password: &str,
    limits: OutboundLimits,
) -> Result<Identity, UpstreamError> {
    check_credentials(username, password)?;
    let service = service_account(config, bind_password)?;
    let settings = connection_settings(config, limits)?;
    let mut session = Session::open(&config.url, settings, limits.read_timeout).await?;
    let outcome = session.login(config, service, username, password).await;
    session.close().await;
    match &outcome {
        Ok(identity) => tracing::debug!(
            username,
            subject = %identity.subject,
            groups = identity.groups.len(),
            "ldap login succeeded"
        ),
        Err(UpstreamError::BadCredentials) => {
            tracing::debug!(username, "ldap login refused: bad credentials")
        }
        Err(e) => tracing::warn!(username, error = %e, "ldap login failed"),
    }
    outcome
}

/// Refuse what can never be a valid login, before any network IO.
fn check_credentials(username: &str, password: &str) -> Result<(), UpstreamError> {
    // An empty password would be an unauthenticated bind, which directories report as success.
    if password.is_empty() || password.len() > MAX_PASSWORD_LEN || password.contains('\0') {
        return Err(UpstreamError::BadCredentials);
    }
    if username.is_empty() || username.len() > MAX_USERNAME_LEN || username.contains('\0') {
        return Err(UpstreamError::BadCredentials);
    }
    Ok(())
}

/// The service account to bind as, if one is configured.
fn service_account<'a>(
    config: &'a LdapConfigSpec,
    bind_password: Option<&'a str>,
) -> Result<Option<(&'a str, &'a str)>, UpstreamError> {
    let Some(dn) = config.bind_dn.as_deref().filter(|dn| !dn.trim().is_empty()) else {
        return Ok(None);
    };
    match bind_password.or(config.bind_password.as_deref()) {
        // Same trap as for users: an empty password binds unauthenticated.
        Some(password) if !password.is_empty() => Ok(Some((dn, password))),
        _ => Err(UpstreamError::Misconfigured(
            "bind_dn is set but the service account has no password".into(),
        )),
    }
}

/// Connection settings from the URL scheme and `starttls`: timeouts, and our TLS configuration
/// whenever TLS is used.
fn connection_settings(
    config: &LdapConfigSpec,
    limits: OutboundLimits,
) -> Result<LdapConnSettings, UpstreamError> {
    let url = url::Url::parse(&config.url)
        .map_err(|e| UpstreamError::Misconfigured(format!("url: not a URL ({e})")))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UpstreamError::Misconfigured("url: needs a host".into()));
    }
    let settings = LdapConnSettings::new().set_conn_timeout(limits.connect_timeout);
    match url.scheme() {
        "ldaps" => Ok(settings
            .set_starttls(false)
            .set_config(tls_config(config.ca_pem.as_deref())?)),
        "ldap" if config.starttls => Ok(settings
            .set_starttls(true)
            .set_config(tls_config(config.ca_pem.as_deref())?)),
        // Plain LDAP: configuration validation allows it on loopback only.
        "ldap" => Ok(settings.set_starttls(false)),
        other => Err(UpstreamError::Misconfigured(format!(
            "url: scheme {other:?} is not ldaps or ldap"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_hopeless_credentials() {
        assert_eq!(
            check_credentials("alice", ""),
            Err(UpstreamError::BadCredentials)
        );
        assert_eq!(
            check_credentials("alice", "a\0b"),
            Err(UpstreamError::BadCredentials)
        );
        assert_eq!(
            check_credentials("", "pw"),
            Err(UpstreamError::BadCredentials)
        );
        let long = "a".repeat(MAX_USERNAME_LEN + 1);
        assert_eq!(
            check_credentials(&long, "pw"),
            Err(UpstreamError::BadCredentials)
        );
        assert_eq!(check_credentials("alice", "pw"), Ok(()));
    }
}
