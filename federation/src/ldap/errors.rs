//! A failed directory operation in words an administrator can act on: unreachable, TLS
//! refused (and why), or the directory's result code. Never a password.

use ldap3::{LdapError, LdapResult};

use crate::UpstreamError;

pub(super) fn several() -> UpstreamError {
    UpstreamError::Misconfigured("the user filter matched several entries".into())
}

/// An operation that did not get an answer (or a TLS or socket failure).
pub(super) fn failure(what: &str, error: &LdapError) -> UpstreamError {
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
pub(super) fn refused(what: &str, result: &LdapResult) -> UpstreamError {
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
