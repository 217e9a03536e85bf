//! `application_type` (OpenID Connect Dynamic Client Registration 1.0 §2, which the MCP
//! specification 2026-07-28 asks clients to send): which redirect URIs fit a native app and
//! which a web app.
//!
//! - `web`: https on a host that is not loopback, only. OIDC Registration forbids `localhost`
//!   for web clients, and the MCP specification calls an app reached on localhost native.
//! - `native`: loopback http (RFC 8252 §7.3), the private-use schemes the operator allows
//!   (§7.1), and https (§7.2, "claimed" https URLs). OIDC Registration lists only the first two,
//!   but RFC 8252 §7.2 makes https a native app's redirect too, and the clients that send
//!   `native` register https next to loopback (VS Code: `https://vscode.dev/redirect`; Cursor:
//!   `https://www.cursor.com/agents/mcp/oauth/callback`): refusing it would refuse them.
//! - absent: every redirect URI our general rules accept. OIDC's default would be `web`, but
//!   clients older than MCP 2026-07-28 send nothing and register loopback or private-use URIs;
//!   the MCP specification notes that non-OIDC servers ignore the member.
//!
//! An unknown value is `invalid_client_metadata` (OIDC Registration defines only these two).

use crate::redirect_uri::RedirectKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationType {
    Native,
    Web,
}

impl ApplicationType {
    /// The member as registered; `Err` carries an unknown value back.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "native" => Ok(Self::Native),
            "web" => Ok(Self::Web),
            other => Err(other.to_owned()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Web => "web",
        }
    }

    /// Whether a redirect URI of this kind fits this type of application.
    pub fn permits(self, kind: RedirectKind) -> bool {
        match self {
            Self::Web => kind == RedirectKind::Https,
            Self::Native => true,
        }
    }

    /// What this type of application may register, for the refusal's description.
    pub fn rule(self) -> &'static str {
        match self {
            Self::Web => "a web application registers https redirect URIs on a non-loopback host",
            Self::Native => {
                "a native application registers loopback http, private-use scheme or https redirect URIs"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RedirectKind::*;

    #[test]
    fn web_is_https_on_a_real_host_only() {
        assert!(ApplicationType::Web.permits(Https));
        for kind in [HttpsLoopback, LoopbackHttp, PrivateUse] {
            assert!(!ApplicationType::Web.permits(kind), "{kind:?}");
        }
    }

    #[test]
    fn native_takes_loopback_private_use_and_claimed_https() {
        for kind in [Https, HttpsLoopback, LoopbackHttp, PrivateUse] {
            assert!(ApplicationType::Native.permits(kind), "{kind:?}");
        }
    }

    #[test]
    fn only_the_two_defined_values() {
        assert_eq!(
            ApplicationType::parse("native"),
            Ok(ApplicationType::Native)
        );
        assert_eq!(ApplicationType::parse("web"), Ok(ApplicationType::Web));
        for bad in ["Native", "WEB", "", "desktop", "private"] {
            assert_eq!(ApplicationType::parse(bad), Err(bad.to_owned()));
        }
    }
}
