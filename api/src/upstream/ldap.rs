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

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{
    ldap_escape, Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, ResultEntry, Scope,
    SearchEntry, SearchOptions,
};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::config::LdapConfigSpec;
use super::{Identity, OutboundLimits, UpstreamError};

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

/// A rustls client configuration on the ring provider trusting exactly the CAs in `ca_pem`,
/// or, without it, the system's trust store (where company CAs are usually installed).
fn tls_config(ca_pem: Option<&str>) -> Result<Arc<ClientConfig>, UpstreamError> {
    let misconfigured = |what: String| UpstreamError::Misconfigured(format!("ca_pem: {what}"));
    let roots = match ca_pem.filter(|pem| !pem.trim().is_empty()) {
        Some(pem) => roots_from_pem(pem).map_err(misconfigured)?,
        None => system_roots()?,
    };
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| UpstreamError::Misconfigured(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The system's trusted CAs; none at all is a misconfiguration (give ca_pem).
///
/// Read from disk once per process: the store is a few hundred files, and reading it on every
/// login would block an HTTP worker each time.
fn system_roots() -> Result<RootCertStore, UpstreamError> {
    static SYSTEM_ROOTS: std::sync::OnceLock<RootCertStore> = std::sync::OnceLock::new();
    let roots = SYSTEM_ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        roots
    });
    if roots.is_empty() {
        return Err(UpstreamError::Misconfigured(
            "no ca_pem given and no CA certificates found in the system trust store: give the PEM of the CA that signed the directory's certificate".into(),
        ));
    }
    Ok(roots.clone())
}

fn roots_from_pem(pem: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| format!("unreadable PEM ({e})"))?;
        roots
            .add(cert)
            .map_err(|e| format!("not a usable CA certificate ({e})"))?;
    }
    if roots.is_empty() {
        return Err("no certificate found".into());
    }
    Ok(roots)
}

/// One connection to the directory; every operation runs under the read timeout.
struct Session {
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
    async fn open(
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
    async fn close(&mut self) {
        let _ = self.ldap.with_timeout(self.timeout).unbind().await;
    }

    async fn login(
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

fn several() -> UpstreamError {
    UpstreamError::Misconfigured("the user filter matched several entries".into())
}

/// `template` with each key replaced by its value, in one pass (a value is never re-scanned).
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    'scan: while let Some(c) = rest.chars().next() {
        for (key, value) in values {
            if let Some(after) = rest.strip_prefix(key) {
                out.push_str(value);
                rest = after;
                continue 'scan;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// ldap3 panics on an entry it cannot decode; a broken directory must not take the worker down.
fn parse_entry(raw: ResultEntry) -> Result<SearchEntry, UpstreamError> {
    std::panic::catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(raw))).map_err(|_| {
        UpstreamError::Invalid("the directory sent an entry that cannot be decoded".into())
    })
}

/// The text values of `attribute` (attribute names are case-insensitive).
fn text_values<'a>(entry: &'a SearchEntry, attribute: &str) -> &'a [String] {
    entry
        .attrs
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
        .map(|(_, values)| values.as_slice())
        .unwrap_or(&[])
}

fn first_text_value(entry: &SearchEntry, attribute: &str) -> Option<String> {
    text_values(entry, attribute)
        .iter()
        .map(|v| v.trim())
        .find(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The subject: the attribute's text, except `objectGUID` (Active Directory, 16 binary bytes)
/// in its usual GUID form, and any other binary value in hex.
fn subject_of(entry: &SearchEntry, attribute: &str) -> Option<String> {
    let binary = entry
        .bin_attrs
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
        .and_then(|(_, values)| values.first());
    if attribute.eq_ignore_ascii_case("objectGUID") {
        // ldap3 files a value that happens to be valid UTF-8 as text: take the bytes either way.
        let bytes = match binary {
            Some(b) => b.as_slice(),
            None => text_values(entry, attribute).first()?.as_bytes(),
        };
        return guid_string(bytes);
    }
    if let Some(text) = first_text_value(entry, attribute) {
        return Some(text);
    }
    binary
        .filter(|b| !b.is_empty())
        .map(|b| b.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Active Directory's GUID text form: the first three fields are little-endian.
fn guid_string(bytes: &[u8]) -> Option<String> {
    let b: &[u8; 16] = bytes.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15]
    ))
}

/// A group's name from a `memberOf`-style value: the value of the DN's first RDN
/// (`cn=engineers,ou=groups,...` gives `engineers`), or the value itself if it is not a DN.
fn group_name_of(value: &str) -> Option<String> {
    let value = value.trim();
    let name = match value.split_once('=') {
        Some((_, rest)) => first_rdn_value(rest),
        None => value.to_owned(),
    };
    Some(name).filter(|n| !n.is_empty())
}

/// The (RFC 4514) value at the start of `rest`, unescaped, up to the first unescaped `,`, `+`
/// or `;`.
fn first_rdn_value(rest: &str) -> String {
    let bytes = rest.trim_start().as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let pair = bytes
                    .get(i + 1)
                    .copied()
                    .and_then(hex)
                    .zip(bytes.get(i + 2).copied().and_then(hex));
                if let Some((high, low)) = pair {
                    out.push(high << 4 | low);
                    i += 3;
                } else if let Some(&next) = bytes.get(i + 1) {
                    out.push(next);
                    i += 2;
                } else {
                    i += 1;
                }
            }
            b',' | b'+' | b';' => break,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).trim().to_owned()
}

/// An operation that did not get an answer (or a TLS or socket failure).
fn failure(what: &str, error: &LdapError) -> UpstreamError {
    tracing::debug!(what, error = %error, "ldap operation failed");
    match error {
        LdapError::Timeout { .. } => {
            UpstreamError::Unavailable(format!("{what}: directory unreachable (no answer in time)"))
        }
        LdapError::Io { source } => {
            if let Some(tls) = source
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return tls_failure(what, tls);
            }
            let reason = match source.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::TimedOut => "timed out".to_owned(),
                std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe => "connection closed by the directory".to_owned(),
                _ => source.to_string(),
            };
            UpstreamError::Unavailable(format!("{what}: directory unreachable ({reason})"))
        }
        LdapError::Rustls { source } => tls_failure(what, source),
        LdapError::DNSName { .. } => UpstreamError::Misconfigured(
            "url: the host is not a valid name for TLS certificate checking".into(),
        ),
        LdapError::UrlParsing { .. } | LdapError::UnknownScheme(_) => {
            UpstreamError::Misconfigured(format!("url: {error}"))
        }
        LdapError::FilterParsing => {
            UpstreamError::Misconfigured(format!("{what}: the filter is not a valid LDAP filter"))
        }
        // StartTLS refused by the server, during connect.
        LdapError::LdapResult { result } => refused(what, result),
        _ => {
            UpstreamError::Unavailable(format!("{what}: the connection to the directory was lost"))
        }
    }
}

fn tls_failure(what: &str, error: &rustls::Error) -> UpstreamError {
    use rustls::CertificateError as C;
    let reason = match error {
        rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => {
            "the directory's certificate is not trusted (not signed by the CA in ca_pem, or by one in the system trust store when ca_pem is not given)".to_owned()
        }
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => "the directory's certificate is not valid for the host in url".to_owned(),
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "the directory's certificate has expired".to_owned()
        }
        rustls::Error::InvalidCertificate(other) => {
            format!("the directory's certificate was rejected ({other:?})")
        }
        other => format!("TLS with the directory failed ({other})"),
    };
    UpstreamError::Unavailable(format!("{what}: {reason}"))
}

/// The directory answered with an error result code.
fn refused(what: &str, result: &LdapResult) -> UpstreamError {
    let text = if result.text.is_empty() {
        String::new()
    } else {
        format!(": {}", result.text.chars().take(200).collect::<String>())
    };
    UpstreamError::Unavailable(format!(
        "{what}: the directory answered with result code {}{text}",
        result.rc
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_in_one_pass() {
        assert_eq!(
            fill(
                "(&(member={dn})(uid={username}))",
                &[("{dn}", "{username}"), ("{username}", "a\\2a")]
            ),
            "(&(member={username})(uid=a\\2a))"
        );
        assert_eq!(
            fill("(uid={username})é", &[("{username}", "é")]),
            "(uid=é)é"
        );
    }

    #[test]
    fn group_names_from_dns() {
        assert_eq!(
            group_name_of("cn=engineers,ou=groups,dc=example,dc=test").as_deref(),
            Some("engineers")
        );
        assert_eq!(
            group_name_of("CN=R\\26D\\2C Europe,OU=x").as_deref(),
            Some("R&D, Europe")
        );
        assert_eq!(group_name_of("cn=a\\,b+uid=c,dc=x").as_deref(), Some("a,b"));
        assert_eq!(
            group_name_of("cn=caf\\c3\\a9,dc=x").as_deref(),
            Some("café")
        );
        assert_eq!(group_name_of("plain-name").as_deref(), Some("plain-name"));
        assert_eq!(group_name_of("cn=,dc=x"), None);
    }

    #[test]
    fn guid_in_active_directory_form() {
        let bytes: Vec<u8> = (0u8..16).collect();
        assert_eq!(
            guid_string(&bytes).as_deref(),
            Some("03020100-0504-0706-0809-0a0b0c0d0e0f")
        );
        assert_eq!(guid_string(&bytes[..15]), None);
    }

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
