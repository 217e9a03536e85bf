//! Is this `client_id` a Client Identifier URL (draft-ietf-oauth-client-id-metadata-document §3)?
//!
//! The rules of §3: https, a host, a path other than `/`, no userinfo, no fragment, no `.` or
//! `..` segments (percent-encoded ones included). We add one: the string must already be in the
//! canonical form the URL standard serializes it to. The draft compares client_ids as plain
//! strings, and the URL we fetch must equal the client_id; accepting only canonical strings
//! makes the presented client_id, the URL fetched and the string compared with the document's
//! `client_id` one and the same (no `HTTPS://`, no `:443`, no backslashes or whitespace that a
//! parser would quietly rewrite). Every real client's URL is canonical.
//!
//! A query is tolerated (the draft says SHOULD NOT, not MUST NOT).

use std::net::IpAddr;

use url::{Host, Url};

/// Longest client_id URL considered; longer strings are not CIMD URLs.
pub const MAX_CLIENT_ID_URL_LEN: usize = 2048;

/// A client_id that is a Client Identifier URL; its string is exactly the client_id presented.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientIdUrl {
    url: Url,
}

/// The host of a client_id URL, as the fetch sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIdHost {
    /// A name that DNS resolves (lower case, as the URL standard serializes it).
    Name(String),
    /// An IP literal (`https://10.0.0.1/...`, `https://[::1]/...`): no DNS, checked as is.
    Ip(IpAddr),
}

impl ClientIdUrl {
    /// `Some` when `client_id` is a Client Identifier URL, `None` for any other client_id
    /// (a registered client's id, or a malformed URL, which then is simply an unknown client).
    pub fn parse(client_id: &str) -> Option<Self> {
        if client_id.len() > MAX_CLIENT_ID_URL_LEN || !client_id.starts_with("https://") {
            return None;
        }
        if client_id.contains('#') {
            return None;
        }
        let url = Url::parse(client_id).ok()?;
        if url.scheme() != "https" || url.as_str() != client_id {
            return None;
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return None;
        }
        url.host()?;
        let path = url.path();
        if path.is_empty() || path == "/" || path.split('/').any(is_dot_segment) {
            return None;
        }
        Some(Self { url })
    }

    /// The client_id, byte for byte as presented.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn host(&self) -> ClientIdHost {
        match self.url.host() {
            Some(Host::Ipv4(ip)) => ClientIdHost::Ip(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => ClientIdHost::Ip(IpAddr::V6(ip)),
            Some(Host::Domain(name)) => ClientIdHost::Name(name.to_owned()),
            // parse() refused host-less URLs
            None => ClientIdHost::Name(String::new()),
        }
    }

    /// The host as written in the URL, brackets removed from IPv6 literals (for messages and
    /// for matching `allow_hosts`).
    pub fn host_str(&self) -> String {
        match self.host() {
            ClientIdHost::Name(name) => name,
            ClientIdHost::Ip(ip) => ip.to_string(),
        }
    }
}

impl std::fmt::Display for ClientIdUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `.` or `..`, also when spelled with `%2e` / `%2E`.
fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.replace("%2e", ".").replace("%2E", ".");
    decoded == "." || decoded == ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_clients_urls_are_client_id_urls() {
        for url in [
            "https://claude.ai/oauth/mcp-oauth-client-metadata",
            "https://claude.ai/oauth/claude-code-client-metadata",
            "https://vscode.dev/oauth/client-metadata.json",
            "https://goose-docs.ai/oauth/client-metadata.json",
            "https://chatgpt.com/oauth/codex/AbC-12_x/client.json",
            "https://localhost:8443/client.json",
            "https://127.0.0.1:8443/client.json",
            "https://[::1]:8443/client.json",
            "https://example.com/client.json?v=1",
        ] {
            let parsed = ClientIdUrl::parse(url).unwrap_or_else(|| panic!("{url} refused"));
            assert_eq!(parsed.as_str(), url);
        }
    }

    #[test]
    fn other_strings_are_not_client_id_urls() {
        for not_url in [
            "mcp_abcdef",
            "",
            "http://example.com/client.json",
            "HTTPS://example.com/client.json",
            "https://example.com",
            "https://example.com/",
            "https://example.com/client.json#frag",
            "https://example.com/client.json#",
            "https://user@example.com/client.json",
            "https://user:pw@example.com/client.json",
            "https://example.com/a/../client.json",
            "https://example.com/a/./client.json",
            "https://example.com/a/%2e%2e/client.json",
            "https://example.com/a/%2E/client.json",
            "https://example.com/a/.%2e/client.json",
            "https://Example.com/client.json",
            "https://example.com:443/client.json",
            "https://example.com\\client.json",
            " https://example.com/client.json",
            "https://example.com/client json",
            "https:///client.json",
        ] {
            assert!(
                ClientIdUrl::parse(not_url).is_none(),
                "{not_url:?} accepted"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_CLIENT_ID_URL_LEN));
        assert!(ClientIdUrl::parse(&long).is_none());
    }

    #[test]
    fn hosts_are_names_or_ip_literals() {
        let name = ClientIdUrl::parse("https://claude.ai/x").map(|u| u.host());
        assert_eq!(name, Some(ClientIdHost::Name("claude.ai".into())));
        let v4 = ClientIdUrl::parse("https://10.0.0.1/x").map(|u| u.host());
        assert_eq!(v4, Some(ClientIdHost::Ip("10.0.0.1".parse().unwrap())));
        let v6 = ClientIdUrl::parse("https://[::1]/x").map(|u| u.host_str());
        assert_eq!(v6.as_deref(), Some("::1"));
    }
}
