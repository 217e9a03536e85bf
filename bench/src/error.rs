//! The two error layers: what one operation against the server can meet (counted by kind
//! during a run), and what stops the benchmark itself.

use std::path::PathBuf;

/// The protocol error kind of an authorization answered by a page instead of a code.
pub const INTERACTION_REQUIRED: &str = "interaction required";

/// What went wrong in one operation. A run counts these by [`OpError::kind`] and carries on.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// No HTTP answer: connection refused or reset, timeout, malformed response.
    #[error("transport error ({kind}): {detail}")]
    Transport { kind: &'static str, detail: String },
    /// An HTTP error status with an OAuth `error` code in a JSON body.
    #[error("HTTP {status} {error}: {description}")]
    OAuth {
        status: u16,
        error: String,
        description: String,
    },
    /// An OAuth error sent back to the redirect URI (`?error=...`).
    #[error("authorization error {error}: {description}")]
    Redirected { error: String, description: String },
    /// An HTTP error status without an OAuth error body.
    #[error("HTTP {status}: {snippet}")]
    Http { status: u16, snippet: String },
    /// A successful status whose content is not what the protocol says.
    #[error("protocol ({kind}): {detail}")]
    Protocol { kind: &'static str, detail: String },
}

impl OpError {
    pub fn protocol(kind: &'static str, detail: impl Into<String>) -> Self {
        OpError::Protocol {
            kind,
            detail: detail.into(),
        }
    }

    /// A short, low-cardinality name to count errors by.
    pub fn kind(&self) -> String {
        match self {
            OpError::Transport { kind, .. } => format!("transport {kind}"),
            OpError::OAuth { status, error, .. } => format!("HTTP {status} {error}"),
            OpError::Redirected { error, .. } => format!("redirect {error}"),
            OpError::Http { status, .. } => format!("HTTP {status}"),
            OpError::Protocol { kind, .. } => format!("protocol {kind}"),
        }
    }

    /// Whether the server wants the person to interact again (sign in, consent).
    pub fn needs_interaction(&self) -> bool {
        matches!(
            self,
            OpError::Protocol {
                kind: INTERACTION_REQUIRED,
                ..
            }
        ) || matches!(
            self.oauth_code(),
            Some("login_required" | "interaction_required" | "consent_required")
        )
    }

    /// The OAuth error code, when the server sent one.
    pub fn oauth_code(&self) -> Option<&str> {
        match self {
            OpError::OAuth { error, .. } | OpError::Redirected { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for OpError {
    fn from(e: reqwest::Error) -> Self {
        let kind = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else if e.is_body() || e.is_decode() {
            "body"
        } else if e.is_request() {
            "request"
        } else {
            "other"
        };
        OpError::Transport {
            kind,
            detail: e.to_string(),
        }
    }
}

/// What stops the benchmark (setup failures, files, bad arguments).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    #[error("discovery at {issuer} failed: {detail}")]
    Discovery { issuer: String, detail: String },
    #[error("the server's metadata lacks {0}")]
    MissingEndpoint(&'static str),
    #[error("invalid URL {url}: {source}")]
    Url {
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error("{what} failed: {source}")]
    Setup {
        what: &'static str,
        #[source]
        source: OpError,
    },
    #[error("cannot use the JWKS: {0}")]
    Jwks(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} line {line}: {source}")]
    Record {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot encode a result: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("cannot draw the chart: {0}")]
    Chart(String),
    #[error("{0}")]
    Invalid(String),
    #[error("a worker task failed: {0}")]
    Join(#[source] tokio::task::JoinError),
}

impl BenchError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BenchError {
        let path = path.into();
        move |source| BenchError::Io { path, source }
    }

    pub fn setup(what: &'static str) -> impl FnOnce(OpError) -> BenchError {
        move |source| BenchError::Setup { what, source }
    }
}
