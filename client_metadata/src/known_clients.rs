//! The built-in table: documents of known MCP clients shipped with the binary
//! (`client_metadata/known/*.json`; where each came from is in the crate's README).
//!
//! Two kinds of entry:
//! - **fallback** documents (Claude, Claude Code, VS Code and Insiders, Goose, Zed, opencode):
//!   the URL is fetched as usual and the fetched copy wins; the built-in copy serves only when
//!   the fetch fails (claude.ai answers some data-centre addresses with 403).
//! - **authoritative** patterns for chatgpt.com (ChatGPT and Codex): chatgpt.com serves a
//!   well-formed, self-consistent document for any id in its per-connector and per-server
//!   paths, so a successful fetch proves nothing about who the client is. These URLs are never
//!   fetched; the pattern's document is served, with the id from the URL put into the redirect
//!   URIs the vendor publishes for it (`https://chatgpt.com/connector/oauth/<id>` for a ChatGPT
//!   connector, `http://127.0.0.1/callback/<id>` for a Codex server). An id is 1 to 64
//!   characters of `A-Z a-z 0-9 _ -`. Any other chatgpt.com URL is refused without a fetch.
//!   The id never reaches the name, the URI or the logo shown on the consent page.

use std::collections::HashMap;

use crate::{validate_document, ClientIdUrl, ClientMetadataError, ResolvedClient, Source};

/// One shipped document.
#[derive(Debug, Clone, Copy)]
pub struct KnownDocument {
    /// Who it is (for logs and tests).
    pub client: &'static str,
    pub url: &'static str,
    pub json: &'static str,
}

/// The fallback documents, by client_id URL.
pub const FALLBACK_DOCUMENTS: &[KnownDocument] = &[
    KnownDocument {
        client: "Claude",
        url: "https://claude.ai/oauth/mcp-oauth-client-metadata",
        json: include_str!("../known/claude.json"),
    },
    KnownDocument {
        client: "Claude Code",
        url: "https://claude.ai/oauth/claude-code-client-metadata",
        json: include_str!("../known/claude-code.json"),
    },
    KnownDocument {
        client: "VS Code",
        url: "https://vscode.dev/oauth/client-metadata.json",
        json: include_str!("../known/vscode.json"),
    },
    KnownDocument {
        client: "VS Code Insiders",
        url: "https://insiders.vscode.dev/oauth/client-metadata.json",
        json: include_str!("../known/vscode-insiders.json"),
    },
    KnownDocument {
        client: "Goose",
        url: "https://goose-docs.ai/oauth/client-metadata.json",
        json: include_str!("../known/goose.json"),
    },
    KnownDocument {
        client: "Zed",
        url: "https://zed.dev/oauth/client-metadata.json",
        json: include_str!("../known/zed.json"),
    },
    KnownDocument {
        client: "opencode",
        url: "https://opencode.ai/oauth/opencode/client.json",
        json: include_str!("../known/opencode.json"),
    },
];

/// The host whose documents come from the table only.
pub const PATTERN_HOST: &str = "chatgpt.com";
const PATTERN_PREFIX: &str = "https://chatgpt.com/oauth/";
const CHATGPT: &str = include_str!("../known/chatgpt.json");
const CHATGPT_CONNECTOR: &str = include_str!("../known/chatgpt-connector.template.json");
const CODEX: &str = include_str!("../known/codex.json");
const CODEX_SERVER: &str = include_str!("../known/codex-server.template.json");
const MAX_PATTERN_ID_LEN: usize = 64;

/// What the table says about a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuiltIn {
    /// Not in the table: fetch, and refuse if the fetch fails.
    Unknown,
    /// Fetch; serve this if the fetch fails.
    Fallback(ResolvedClient),
    /// Do not fetch; serve this.
    Authoritative(ResolvedClient),
    /// A chatgpt.com URL that no pattern admits: refuse without a fetch.
    Refused(ClientMetadataError),
}

/// The table, its fallback documents validated once.
#[derive(Debug, Clone)]
pub struct KnownClients {
    fallbacks: HashMap<&'static str, ResolvedClient>,
}

impl KnownClients {
    /// Validates every shipped document; one that does not validate is left out and logged
    /// (the crate's tests make sure none is).
    pub fn load() -> Self {
        let mut fallbacks = HashMap::new();
        for known in FALLBACK_DOCUMENTS {
            let parsed = ClientIdUrl::parse(known.url)
                .ok_or(ClientMetadataError::ClientIdMismatch)
                .and_then(|url| validate_document(&url, known.json.as_bytes(), Source::BuiltIn));
            match parsed {
                Ok(client) => {
                    fallbacks.insert(known.url, client);
                }
                Err(error) => {
                    tracing::error!(client = known.client, %error, "built-in client metadata document is invalid; left out");
                }
            }
        }
        Self { fallbacks }
    }

    pub fn lookup(&self, url: &ClientIdUrl) -> BuiltIn {
        if let Some(client) = self.fallbacks.get(url.as_str()) {
            return BuiltIn::Fallback(client.clone());
        }
        if url.host_str() != PATTERN_HOST {
            return BuiltIn::Unknown;
        }
        match pattern_document(url.as_str()) {
            Some(json) => match validate_document(url, json.as_bytes(), Source::BuiltIn) {
                Ok(client) => BuiltIn::Authoritative(client),
                Err(error) => BuiltIn::Refused(error),
            },
            None => BuiltIn::Refused(ClientMetadataError::NotInBuiltInTable {
                host: PATTERN_HOST.to_owned(),
            }),
        }
    }
}

/// The document a chatgpt.com URL stands for, with the id filled in.
fn pattern_document(url: &str) -> Option<String> {
    let rest = url.strip_prefix(PATTERN_PREFIX)?;
    if rest == "client.json" {
        return Some(CHATGPT.to_owned());
    }
    if rest == "codex/client.json" {
        return Some(CODEX.to_owned());
    }
    if let Some(id) = rest
        .strip_prefix("codex/")
        .and_then(|r| r.strip_suffix("/client.json"))
    {
        return is_pattern_id(id).then(|| CODEX_SERVER.replace("{id}", id));
    }
    let id = rest.strip_suffix("/client.json")?;
    is_pattern_id(id).then(|| CHATGPT_CONNECTOR.replace("{id}", id))
}

fn is_pattern_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_PATTERN_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(url: &str) -> BuiltIn {
        let url = ClientIdUrl::parse(url).expect("a client_id URL");
        KnownClients::load().lookup(&url)
    }

    #[test]
    fn every_fallback_document_validates_as_its_own_url() {
        let table = KnownClients::load();
        assert_eq!(table.fallbacks.len(), FALLBACK_DOCUMENTS.len());
        for known in FALLBACK_DOCUMENTS {
            let url = ClientIdUrl::parse(known.url).expect("a client_id URL");
            let client = validate_document(&url, known.json.as_bytes(), Source::BuiltIn)
                .unwrap_or_else(|e| panic!("{}: {e}", known.client));
            assert_eq!(client.client_id, known.url);
            assert!(client.client_name.is_some(), "{}", known.client);
            assert_eq!(table.lookup(&url), BuiltIn::Fallback(client));
        }
    }

    #[test]
    fn the_redirect_uris_are_the_published_ones() {
        let redirects = |url: &str| match lookup(url) {
            BuiltIn::Fallback(c) | BuiltIn::Authoritative(c) => c.redirect_uris,
            other => panic!("{url}: {other:?}"),
        };
        assert_eq!(
            redirects("https://claude.ai/oauth/mcp-oauth-client-metadata"),
            ["https://claude.ai/api/mcp/auth_callback"]
        );
        assert_eq!(
            redirects("https://claude.ai/oauth/claude-code-client-metadata"),
            ["http://localhost/callback", "http://127.0.0.1/callback"]
        );
        assert_eq!(
            redirects("https://vscode.dev/oauth/client-metadata.json"),
            ["http://127.0.0.1:33418/", "https://vscode.dev/redirect"]
        );
        assert_eq!(
            redirects("https://insiders.vscode.dev/oauth/client-metadata.json"),
            [
                "http://127.0.0.1:33418/",
                "https://insiders.vscode.dev/redirect"
            ]
        );
        assert_eq!(
            redirects("https://goose-docs.ai/oauth/client-metadata.json")[0],
            "http://127.0.0.1/oauth_callback"
        );
        assert_eq!(
            redirects("https://chatgpt.com/oauth/client.json"),
            ["https://chatgpt.com/connector_platform_oauth_redirect"]
        );
    }

    #[test]
    fn chatgpt_connector_ids_get_their_own_callback() {
        let BuiltIn::Authoritative(client) =
            lookup("https://chatgpt.com/oauth/FLLrQdlez6Uf/client.json")
        else {
            panic!("not admitted")
        };
        assert_eq!(
            client.client_id,
            "https://chatgpt.com/oauth/FLLrQdlez6Uf/client.json"
        );
        assert_eq!(
            client.redirect_uris,
            ["https://chatgpt.com/connector/oauth/FLLrQdlez6Uf"]
        );
        assert_eq!(client.client_name.as_deref(), Some("ChatGPT"));
        assert_eq!(client.token_endpoint_auth_method, "none");
        assert_eq!(client.source, Source::BuiltIn);
        assert!(!client.localhost_only);
    }

    #[test]
    fn codex_ids_get_a_loopback_callback_with_the_id() {
        let BuiltIn::Authoritative(stable) = lookup("https://chatgpt.com/oauth/codex/client.json")
        else {
            panic!("not admitted")
        };
        assert_eq!(stable.client_name.as_deref(), Some("Codex"));
        assert!(stable.localhost_only);
        let BuiltIn::Authoritative(server) =
            lookup("https://chatgpt.com/oauth/codex/q1w2_e3-r4t5/client.json")
        else {
            panic!("not admitted")
        };
        assert_eq!(
            server.redirect_uris,
            [
                "http://127.0.0.1/callback/q1w2_e3-r4t5",
                "http://localhost/callback/q1w2_e3-r4t5"
            ]
        );
        assert!(server.localhost_only);
    }

    #[test]
    fn other_chatgpt_urls_are_refused_without_a_fetch() {
        let too_long = format!("https://chatgpt.com/oauth/{}/client.json", "a".repeat(65));
        for url in [
            "https://chatgpt.com/oauth/a/b/client.json",
            "https://chatgpt.com/oauth/codex/a/b/client.json",
            "https://chatgpt.com/oauth/a%22b/client.json",
            "https://chatgpt.com/oauth/jwks.json",
            "https://chatgpt.com/evil/client.json",
            "https://chatgpt.com/oauth/client.json?x=1",
            "https://chatgpt.com:8443/oauth/client.json",
            too_long.as_str(),
        ] {
            assert!(matches!(lookup(url), BuiltIn::Refused(_)), "{url} admitted");
        }
    }

    #[test]
    fn lookalike_hosts_are_not_in_the_table() {
        for url in [
            "https://chatgpt.com.evil.example/oauth/client.json",
            "https://claude.ai.evil.example/oauth/mcp-oauth-client-metadata",
            "https://claude.ai/oauth/mcp-oauth-client-metadata/",
            "https://claude.ai/oauth/other",
        ] {
            assert_eq!(lookup(url), BuiltIn::Unknown, "{url}");
        }
    }
}
