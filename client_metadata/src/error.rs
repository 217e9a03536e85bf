//! Why a client_id URL was not accepted. Every variant is a refusal the api answers with
//! `invalid_client`; the messages are short reasons meant for the client's developer and never
//! carry the document's body (nor any part of it beyond a field name).

/// A refused client_id URL: the fetch was refused or failed, or the document is not acceptable.
///
/// Clone and PartialEq because a failure is kept for a short while (the fetch throttle) and
/// answered again from memory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientMetadataError {
    #[error("client ID metadata documents are disabled on this server")]
    Disabled,

    // ----- before or instead of a fetch -----
    #[error("the client_id host {host} is, or resolves to, an address this server does not fetch from ({reason})")]
    AddressRefused { host: String, reason: &'static str },
    #[error("the client_id host {host} could not be resolved")]
    Unresolvable { host: String },
    #[error(
        "documents on {host} are served from the built-in table only, and this URL is not in it"
    )]
    NotInBuiltInTable { host: String },

    // ----- the fetch -----
    #[error("too many client metadata documents are being fetched right now; try again")]
    Busy,
    #[error("could not connect to {host} to fetch the client metadata document")]
    ConnectFailed { host: String },
    #[error("TLS with {host} failed: its certificate is not trusted or the handshake failed")]
    TlsFailed { host: String },
    #[error("fetching the client metadata document timed out after {after_ms} ms")]
    TimedOut { after_ms: u64 },
    #[error("the client_id URL answered a redirect (HTTP {status}); redirects are not followed")]
    Redirected { status: u16 },
    #[error("the client_id URL answered HTTP {status}, not 200")]
    HttpStatus { status: u16 },
    #[error("the client metadata document is not JSON (content type {content_type:?})")]
    WrongContentType { content_type: String },
    #[error("the client metadata document is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the client metadata document could not be read")]
    BodyUnreadable,

    // ----- the document -----
    #[error("the client metadata document is not valid JSON")]
    NotJson,
    #[error("the client metadata document is not a JSON object")]
    NotAnObject,
    #[error("the document's client_id does not equal the URL it was fetched from")]
    ClientIdMismatch,
    #[error("the document has no redirect_uris (a non-empty array of strings is required)")]
    MissingRedirectUris,
    #[error("the document's {field} has the wrong type")]
    WrongFieldType { field: &'static str },
    #[error("the document carries {field}, which a client metadata document must not contain")]
    ForbiddenField { field: &'static str },
    #[error("the document's grant_types do not include authorization_code")]
    NoAuthorizationCodeGrant,
    #[error("the document's response_types do not include code")]
    NoCodeResponseType,
    #[error("the document asks for a shared-secret token endpoint authentication method, which a client metadata document cannot use")]
    SharedSecretAuthMethod,
    #[error("the document allows no token endpoint authentication method this server serves (only none is)")]
    UnsupportedAuthMethod,
    #[error("the document carries private key material or both jwks and jwks_uri")]
    KeyMaterial,
}

impl ClientMetadataError {
    /// True when the refusal was decided before any connection was attempted because the
    /// address is not one we fetch from (loopback, private, link-local, metadata...).
    pub fn is_address_refusal(&self) -> bool {
        matches!(self, Self::AddressRefused { .. })
    }
}

/// The resolver could not be built from its configuration (at start-up, not per request).
#[derive(Debug, thiserror::Error)]
pub enum ClientMetadataConfigError {
    #[error("client_metadata.extra_ca_file {path}: {reason}")]
    ExtraCa { path: String, reason: String },
    #[error("client_metadata: {0}")]
    Invalid(String),
    #[error("client_metadata: the HTTP client could not be built ({0})")]
    HttpClient(String),
}
