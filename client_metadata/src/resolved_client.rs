//! What the api needs to know about a client that signs in by a client ID metadata document.

/// Which copy of the document served this answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Fetched from the client_id URL (now, or earlier and still in the cache).
    Fetched,
    /// The copy shipped with the binary (`client_metadata/known/`): the fetch failed, or the
    /// URL belongs to a host whose answers prove nothing (chatgpt.com's pattern ids).
    BuiltIn,
}

/// A client_id URL accepted as a public client.
///
/// Redirect URIs are passed on as the document lists them: the api judges them with its own
/// redirect rules (loopback on any port, schemes, exact match) so that one set of rules covers
/// registered and metadata-document clients alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedClient {
    /// The URL, exactly as presented and as the document states it.
    pub client_id: String,
    /// As the document gives it (the consent page shows it, escaped); `None` when absent.
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    /// As listed, never empty.
    pub redirect_uris: Vec<String>,
    /// The document's grant types that we serve, in a fixed order: `authorization_code` always
    /// (a document without it is refused), then `refresh_token` when listed. Others (device
    /// code, jwt-bearer) are ignored.
    pub grant_types: Vec<String>,
    /// Always `"none"`: a metadata document has no shared secret, and a document that prefers
    /// `private_key_jwt` while also allowing `none` (ChatGPT) is served as a public client.
    pub token_endpoint_auth_method: &'static str,
    /// The document's `scope`, if any (space-separated, as given).
    pub scope: Option<String>,
    /// `native` / `web` / other, as given (VS Code's says `native` and lists an https redirect
    /// too): the api decides what it implies.
    pub application_type: Option<String>,
    pub source: Source,
    /// Every redirect URI is a loopback one (localhost, 127.0.0.0/8, ::1): the client runs on
    /// the user's machine and anyone can publish such a document, so the consent page warns.
    pub localhost_only: bool,
}

/// The only token endpoint authentication method a metadata-document client gets.
pub const AUTH_METHOD_NONE: &str = "none";

impl ResolvedClient {
    pub fn allows_refresh_token(&self) -> bool {
        self.grant_types.iter().any(|g| g == "refresh_token")
    }
}
