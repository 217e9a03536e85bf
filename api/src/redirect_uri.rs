//! Redirect URI rules: what may be registered (OAuth 2.1 §2.3.1, RFC 8252, RFC 9700 §4.1) and
//! how a requested URI is matched against the registered ones.
//!
//! [`validate`] answers which kind of redirect a URI is ([`RedirectKind`]), so that rules
//! depending on the client (its `application_type`, see `crate::oauth::application_type`)
//! judge the kind instead of parsing the URI again.

use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("redirect_uri is not an absolute URI")]
    NotAbsolute,
    #[error("redirect_uri must not contain a fragment")]
    Fragment,
    #[error("redirect_uri must not contain user information")]
    UserInfo,
    #[error("redirect_uri with http must use a loopback host (localhost, 127.0.0.1 or [::1])")]
    HttpNotLoopback,
    #[error("redirect_uri scheme '{0}' is not allowed")]
    SchemeRefused(String),
    #[error("redirect_uri must have a host")]
    NoHost,
}

/// Private-use schemes of known MCP clients, allowed when the operator has not chosen a list
/// (`allowed_redirect_schemes`): Cursor registers `cursor://anysphere.cursor-mcp/oauth/callback`,
/// VS Code (and Insiders), Windsurf and Zed register their own.
pub const KNOWN_CLIENT_SCHEMES: &[&str] =
    &["cursor", "vscode", "vscode-insiders", "windsurf", "zed"];

/// [`KNOWN_CLIENT_SCHEMES`], owned: the default of `allowed_redirect_schemes`.
pub fn known_client_schemes() -> Vec<String> {
    KNOWN_CLIENT_SCHEMES.iter().map(|s| s.to_string()).collect()
}

/// What kind of redirect a valid URI is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// https on a host that is not loopback: a web site (or a native app's claimed https URL,
    /// RFC 8252 §7.2).
    Https,
    /// https on a loopback host.
    HttpsLoopback,
    /// http on a loopback host (RFC 8252 §7.3).
    LoopbackHttp,
    /// A private-use scheme the operator allows (RFC 8252 §7.1).
    PrivateUse,
}

/// Schemes never acceptable as a redirect target, whatever the operator allows.
const DANGEROUS_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "vbscript",
    "file",
    "about",
    "blob",
    "filesystem",
    "view-source",
    "ws",
    "wss",
    "ftp",
    "mailto",
    "tel",
    "chrome",
    "chrome-extension",
];

/// Whether `scheme` may be put in `allowed_redirect_schemes`: a URI scheme (RFC 3986 §3.1),
/// neither http(s) (those have their own rules) nor one of the dangerous ones.
pub fn check_allowable_scheme(scheme: &str) -> Result<(), String> {
    let mut chars = scheme.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !well_formed {
        return Err(format!("{scheme:?} is not a URI scheme"));
    }
    let lower = scheme.to_ascii_lowercase();
    if lower == "http" || lower == "https" {
        return Err(format!(
            "{scheme:?} needs no allowing: https is always allowed, http on loopback hosts"
        ));
    }
    if DANGEROUS_SCHEMES.contains(&lower.as_str()) {
        return Err(format!("{scheme:?} is never allowed as a redirect scheme"));
    }
    Ok(())
}

/// Check one redirect URI offered at registration and say what kind it is.
/// `allowed_custom_schemes` are the private-use schemes (e.g. "cursor") allowed.
pub fn validate(
    uri: &str,
    allowed_custom_schemes: &[String],
) -> Result<RedirectKind, RedirectUriError> {
    let url = Url::parse(uri).map_err(|_| RedirectUriError::NotAbsolute)?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(RedirectUriError::UserInfo);
    }
    match url.scheme() {
        "https" => {
            if url.host().is_none() {
                return Err(RedirectUriError::NoHost);
            }
            Ok(if is_loopback(&url) {
                RedirectKind::HttpsLoopback
            } else {
                RedirectKind::Https
            })
        }
        "http" => {
            if is_loopback(&url) {
                Ok(RedirectKind::LoopbackHttp)
            } else {
                Err(RedirectUriError::HttpNotLoopback)
            }
        }
        scheme if DANGEROUS_SCHEMES.contains(&scheme) => {
            Err(RedirectUriError::SchemeRefused(scheme.to_owned()))
        }
        scheme => {
            if allowed_custom_schemes
                .iter()
                .any(|s| s.eq_ignore_ascii_case(scheme))
            {
                Ok(RedirectKind::PrivateUse)
            } else {
                Err(RedirectUriError::SchemeRefused(scheme.to_owned()))
            }
        }
    }
}

/// Whether `requested` matches a registered URI: exactly, or, for http on a loopback host, in
/// everything but the port (RFC 8252 §7.3: native apps listen on an ephemeral port).
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(reg), Ok(req)) = (Url::parse(registered), Url::parse(requested)) else {
        return false;
    };
    reg.scheme() == "http"
        && req.scheme() == "http"
        && is_loopback(&reg)
        && reg.host() == req.host()
        && reg.path() == req.path()
        && reg.query() == req.query()
        && req.fragment().is_none()
        && req.username().is_empty()
        && req.password().is_none()
}

/// Whether `uri` is an http URI on a loopback host (a native app's local listener).
pub fn is_loopback_uri(uri: &str) -> bool {
    Url::parse(uri).is_ok_and(|url| url.scheme() == "http" && is_loopback(&url))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_rules() {
        let none: Vec<String> = vec![];
        assert!(validate("https://claude.ai/api/mcp/auth_callback", &none).is_ok());
        assert!(validate("http://127.0.0.1:33418/callback", &none).is_ok());
        assert!(validate("http://localhost/cb", &none).is_ok());
        assert!(validate("http://[::1]:9/cb", &none).is_ok());
        assert_eq!(
            validate("http://example.com/cb", &none),
            Err(RedirectUriError::HttpNotLoopback)
        );
        assert_eq!(
            validate("https://a.example/cb#x", &none),
            Err(RedirectUriError::Fragment)
        );
        assert_eq!(
            validate("https://u:p@a.example/cb", &none),
            Err(RedirectUriError::UserInfo)
        );
        assert!(matches!(
            validate("javascript:alert(1)", &none),
            Err(RedirectUriError::SchemeRefused(_))
        ));
        assert!(matches!(
            validate("data:text/html,hi", &none),
            Err(RedirectUriError::SchemeRefused(_))
        ));
        assert!(validate("/relative", &none).is_err());
        let cursor = "cursor://anysphere.cursor-mcp/oauth/callback";
        assert!(validate(cursor, &none).is_err());
        assert!(validate(cursor, &["cursor".to_owned()]).is_ok());
        assert!(validate("javascript:x", &["javascript".to_owned()]).is_err());
    }

    #[test]
    fn kinds() {
        let known = known_client_schemes();
        let cases = [
            (
                "https://claude.ai/api/mcp/auth_callback",
                RedirectKind::Https,
            ),
            ("https://localhost:8443/cb", RedirectKind::HttpsLoopback),
            ("http://127.0.0.1:33418/", RedirectKind::LoopbackHttp),
            (
                "cursor://anysphere.cursor-mcp/oauth/callback",
                RedirectKind::PrivateUse,
            ),
            (
                "vscode://vscode.github-authentication/did-authenticate",
                RedirectKind::PrivateUse,
            ),
            ("vscode-insiders://x/cb", RedirectKind::PrivateUse),
            ("windsurf://codeium.windsurf/cb", RedirectKind::PrivateUse),
            ("zed://oauth/callback", RedirectKind::PrivateUse),
        ];
        for (uri, kind) in cases {
            assert_eq!(validate(uri, &known), Ok(kind), "{uri}");
        }
        assert!(validate("other-app://cb", &known).is_err());
    }

    #[test]
    fn allowable_schemes() {
        for ok in ["cursor", "vscode-insiders", "com.example.app", "x+y"] {
            assert_eq!(check_allowable_scheme(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "cur sor",
            "cursor:",
            "HTTP",
            "https",
            "javascript",
            "Data",
            "file",
        ] {
            assert!(check_allowable_scheme(bad).is_err(), "{bad}");
        }
        for known in KNOWN_CLIENT_SCHEMES {
            assert_eq!(check_allowable_scheme(known), Ok(()));
        }
    }

    #[test]
    fn loopback_matches_on_any_port_only() {
        assert!(matches("http://127.0.0.1/", "http://127.0.0.1:5000/"));
        assert!(matches(
            "http://127.0.0.1:1/callback",
            "http://127.0.0.1:2/callback"
        ));
        assert!(!matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:2/other"
        ));
        assert!(!matches(
            "http://127.0.0.1/callback",
            "http://localhost:2/callback"
        ));
        assert!(!matches("https://a.example/cb", "https://a.example:444/cb"));
        assert!(!matches("https://a.example/cb", "https://a.example/cb/"));
        assert!(matches("https://a.example/cb", "https://a.example/cb"));
    }
}
