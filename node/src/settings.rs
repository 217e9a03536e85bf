//! The node's settings: the config file, overridden by flags, with defaults.
//!
//! A config file with `[[node]]` tables describes a whole cluster; `--node N` picks this
//! node's entry. Relative paths in the file are relative to the file's directory, so every
//! node can be started from anywhere with the same file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mcpauth_api::oauth::configured_client::ClientSpec;
use mcpauth_api::oauth::registration_policy::{RegistrationMode, RegistrationPolicy};
use mcpauth_state::RefreshReuse;
use serde::Deserialize;

use crate::cli::ServeArgs;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// One `[[node]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    pub id: u64,
    /// Public HTTP address (OAuth routes) this node listens on.
    pub http: String,
    /// Internal address peers reach this node at (Raft, forwarding, admin API).
    pub raft: String,
    /// Address the internal server binds, when it differs from `raft` (NAT, proxies).
    pub raft_listen: Option<String>,
    pub data_dir: Option<PathBuf>,
}

/// The config file's form; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub listen: Option<String>,
    pub raft_listen: Option<String>,
    pub issuer: Option<String>,
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub resources: Vec<String>,
    /// Unset: the known MCP clients' schemes; set (even to `[]`): exactly these.
    pub allowed_redirect_schemes: Option<Vec<String>>,
    pub access_token_ttl: Option<u64>,
    pub refresh_token_ttl: Option<u64>,
    /// What a rotated refresh token presented again gets: `grace` (default) or `strict`.
    pub refresh_reuse: Option<RefreshReuseName>,
    /// How long after its rotation a refresh token is still accepted again under `grace`.
    pub refresh_grace_secs: Option<u64>,
    pub seal_key_file: Option<PathBuf>,
    pub cluster_secret_file: Option<PathBuf>,
    pub scopes: Option<Vec<String>>,
    /// What a request naming no scope gets (its client having registered none).
    pub default_scopes: Option<Vec<String>>,
    /// "open" (default) or "off".
    pub registration: Option<RegistrationMode>,
    /// Anchored regular expressions; every redirect URI of a registration must match one.
    #[serde(default)]
    pub registration_redirect_patterns: Vec<String>,
    /// Take a snapshot (and compact the log) every this many entries.
    pub snapshot_every: Option<u64>,
    #[serde(default, rename = "node")]
    pub nodes: Vec<NodeEntry>,
    /// Identity providers loaded on the cluster's first start only (later: the admin API).
    #[serde(default, rename = "identity_provider")]
    pub identity_providers: Vec<toml::Value>,
    /// Local accounts on the first start (later: the admin API). Default true.
    pub local_login: Option<bool>,
    /// Pre-registered clients, recorded on the cluster's first start with any.
    #[serde(default, rename = "client")]
    pub clients: Vec<ClientSpec>,
    /// Limits on calls to identity providers.
    pub upstream: Option<UpstreamSettings>,
    /// Signing-key rotation.
    pub signing_keys: Option<SigningKeySettings>,
    /// `[client_metadata]`: client ID metadata documents (fetch limits, trusted roots, hosts
    /// exempt from the private-address refusal). Absent: enabled with the defaults.
    pub client_metadata: Option<mcpauth_client_metadata::ClientMetadataConfig>,
}

/// `[signing_keys]`: how often the leader adds a signing key, and how long before it signs a
/// new key is published in JWKS.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeySettings {
    /// Default 2592000 (30 days).
    pub rotate_every_secs: Option<u64>,
    /// Default 86400 (24 hours).
    pub publish_before_secs: Option<u64>,
}

/// The `refresh_reuse` setting's values (README, "Refresh tokens").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefreshReuseName {
    Grace,
    Strict,
}

/// `[upstream]`: timeouts and size cap of every call to an identity provider.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSettings {
    pub connect_timeout_ms: Option<u64>,
    pub read_timeout_ms: Option<u64>,
    pub max_response_bytes: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub node_id: u64,
    pub listen: String,
    /// Internal address peers use for this node.
    pub raft_advertise: String,
    /// Internal address to bind.
    pub raft_listen: String,
    pub issuer: String,
    pub data_dir: PathBuf,
    pub resources: Vec<String>,
    pub allowed_redirect_schemes: Vec<String>,
    pub access_token_ttl: u64,
    pub refresh_token_ttl: u64,
    pub refresh_reuse: RefreshReuse,
    pub seal_key_file: PathBuf,
    pub cluster_secret_file: PathBuf,
    pub scopes: Vec<String>,
    pub default_scopes: Vec<String>,
    /// `registration` and `registration_redirect_patterns`, the patterns compiled.
    pub registration: RegistrationPolicy,
    pub snapshot_every: u64,
    /// Every node of the cluster file (this one included): the initial members of a new cluster.
    pub members: Vec<NodeEntry>,
    /// `[[identity_provider]]` tables as JSON, validated when the cluster is seeded.
    pub identity_providers: Vec<serde_json::Value>,
    pub local_login: Option<bool>,
    /// `[[client]]` tables, secret files resolved against the config file's directory.
    pub clients: Vec<ClientSpec>,
    pub upstream_limits: mcpauth_federation::OutboundLimits,
    pub key_rotation: mcpauth_api::key_rotation::RotationPolicy,
    /// `extra_ca_file` resolved against the config file's directory.
    pub client_metadata: mcpauth_client_metadata::ClientMetadataConfig,
}

impl Settings {
    pub fn load(args: ServeArgs) -> Result<Self, SettingsError> {
        let (file, base) = match &args.config {
            Some(path) => (
                read_file(path)?,
                path.parent().map(Path::to_path_buf).unwrap_or_default(),
            ),
            None => (FileSettings::default(), PathBuf::new()),
        };
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let entry =
            match (args.node, file.nodes.is_empty()) {
                (Some(id), _) => Some(file.nodes.iter().find(|n| n.id == id).cloned().ok_or_else(
                    || {
                        SettingsError::Invalid(format!(
                            "--node {id}: no [[node]] with id = {id} in the config file"
                        ))
                    },
                )?),
                (None, false) if file.nodes.len() == 1 => file.nodes.first().cloned(),
                (None, false) => return Err(SettingsError::Invalid(
                    "the config file describes several nodes: say which one this is with --node N"
                        .into(),
                )),
                (None, true) => None,
            };
        let listen = args
            .listen
            .or(entry.as_ref().map(|e| e.http.clone()))
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let raft_advertise = args
            .raft_listen
            .clone()
            .or(entry.as_ref().map(|e| e.raft.clone()))
            .or(file.raft_listen.clone())
            .map(Ok)
            .unwrap_or_else(|| default_raft_address(&listen))?;
        let raft_listen = args
            .raft_listen
            .or(entry.as_ref().and_then(|e| e.raft_listen.clone()))
            .unwrap_or_else(|| raft_advertise.clone());
        let issuer = args
            .issuer
            .or(file.issuer)
            .unwrap_or_else(|| format!("http://{listen}"));
        let data_dir = args
            .data_dir
            .or(entry
                .as_ref()
                .and_then(|e| e.data_dir.clone())
                .map(&resolve))
            .or(file.data_dir.map(&resolve))
            .unwrap_or_else(|| PathBuf::from("./data"));
        let seal_key_file = args
            .seal_key_file
            .or(file.seal_key_file.map(&resolve))
            .unwrap_or_else(|| data_dir.join("seal.key"));
        let cluster_secret_file = args
            .cluster_secret_file
            .or(file.cluster_secret_file.map(&resolve))
            .unwrap_or_else(|| data_dir.join("cluster.secret"));
        let resources = if args.resources.is_empty() {
            file.resources
        } else {
            args.resources
        };
        // An unset key and an empty list differ: `[]` allows no private-use scheme at all.
        let allowed_redirect_schemes = if args.allowed_redirect_schemes.is_empty() {
            file.allowed_redirect_schemes
                .unwrap_or_else(mcpauth_api::redirect_uri::known_client_schemes)
        } else {
            args.allowed_redirect_schemes
        };
        let registration = RegistrationPolicy::new(
            args.registration.or(file.registration).unwrap_or_default(),
            &file.registration_redirect_patterns,
        )
        .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        let mut client_metadata = file.client_metadata.unwrap_or_default();
        client_metadata.extra_ca_file = client_metadata.extra_ca_file.map(&resolve);
        let node_id = entry.as_ref().map_or(1, |e| e.id);
        let members = if file.nodes.is_empty() {
            vec![NodeEntry {
                id: node_id,
                http: listen.clone(),
                raft: raft_advertise.clone(),
                raft_listen: Some(raft_listen.clone()),
                data_dir: Some(data_dir.clone()),
            }]
        } else {
            file.nodes
        };
        let access_token_ttl = args
            .access_token_ttl
            .or(file.access_token_ttl)
            .unwrap_or(3600);
        let settings = Self {
            node_id,
            listen,
            raft_advertise,
            raft_listen,
            issuer,
            data_dir,
            resources,
            allowed_redirect_schemes,
            access_token_ttl,
            refresh_token_ttl: args
                .refresh_token_ttl
                .or(file.refresh_token_ttl)
                .unwrap_or(30 * 24 * 3600),
            refresh_reuse: refresh_reuse(file.refresh_reuse, file.refresh_grace_secs)?,
            seal_key_file,
            cluster_secret_file,
            scopes: file
                .scopes
                .unwrap_or_else(mcpauth_api::server_config::default_scopes),
            default_scopes: file
                .default_scopes
                .unwrap_or_else(mcpauth_api::server_config::default_request_scopes),
            registration,
            snapshot_every: args.snapshot_every.or(file.snapshot_every).unwrap_or(5000),
            members,
            identity_providers: file
                .identity_providers
                .into_iter()
                .map(|v| {
                    serde_json::to_value(v)
                        .map_err(|e| SettingsError::Invalid(format!("identity_provider: {e}")))
                })
                .collect::<Result<_, _>>()?,
            local_login: file.local_login,
            clients: file
                .clients
                .into_iter()
                .map(|mut spec| {
                    spec.secret_file = spec.secret_file.map(&resolve);
                    spec
                })
                .collect(),
            upstream_limits: upstream_limits(file.upstream.unwrap_or_default()),
            key_rotation: key_rotation(file.signing_keys.unwrap_or_default(), access_token_ttl),
            client_metadata,
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let issuer = url::Url::parse(&self.issuer)
            .map_err(|e| SettingsError::Invalid(format!("issuer {:?}: {e}", self.issuer)))?;
        let loopback = matches!(issuer.host(), Some(url::Host::Domain("localhost")))
            || matches!(issuer.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(issuer.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
        if issuer.scheme() != "https" && !(issuer.scheme() == "http" && loopback) {
            return Err(SettingsError::Invalid(format!(
                "issuer {:?} must use https (http is allowed on loopback only)",
                self.issuer
            )));
        }
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(SettingsError::Invalid(
                "issuer must not have a query or fragment (RFC 8414)".into(),
            ));
        }
        if self.issuer.ends_with('/') {
            return Err(SettingsError::Invalid(
                "issuer must not end with '/': clients compare it byte for byte".into(),
            ));
        }
        for resource in &self.resources {
            mcpauth_api::resource::canonical(resource)
                .map_err(|e| SettingsError::Invalid(format!("resource {resource:?}: {e}")))?;
        }
        for scheme in &self.allowed_redirect_schemes {
            mcpauth_api::redirect_uri::check_allowable_scheme(scheme)
                .map_err(|e| SettingsError::Invalid(format!("allowed_redirect_schemes: {e}")))?;
        }
        if let Some(unknown) = self
            .default_scopes
            .iter()
            .find(|d| !self.scopes.contains(d))
        {
            return Err(SettingsError::Invalid(format!(
                "default_scopes: {unknown:?} is not one of scopes {:?}",
                self.scopes
            )));
        }
        if self.snapshot_every < 10 {
            return Err(SettingsError::Invalid(
                "snapshot_every must be at least 10".into(),
            ));
        }
        if self.access_token_ttl == 0 || self.refresh_token_ttl == 0 {
            return Err(SettingsError::Invalid(
                "token lifetimes must be positive".into(),
            ));
        }
        if let Some(problem) = self.key_rotation.problem() {
            return Err(SettingsError::Invalid(problem));
        }
        let mut ids: Vec<u64> = self.members.iter().map(|m| m.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != self.members.len() {
            return Err(SettingsError::Invalid(
                "two [[node]] entries have the same id".into(),
            ));
        }
        if let Some(problems) = self.client_metadata.problems() {
            return Err(SettingsError::Invalid(format!(
                "client_metadata: {problems}"
            )));
        }
        for addr in [&self.listen, &self.raft_listen] {
            addr.parse::<SocketAddr>().map_err(|e| {
                SettingsError::Invalid(format!("address {addr:?}: {e} (use host:port with an IP)"))
            })?;
        }
        Ok(())
    }
}

/// Without a configured internal address: the HTTP host, on the HTTP port + 1000.
fn default_raft_address(listen: &str) -> Result<String, SettingsError> {
    let addr: SocketAddr = listen
        .parse()
        .map_err(|e| SettingsError::Invalid(format!("listen address {listen:?}: {e}")))?;
    let port = addr.port().checked_add(1000).ok_or_else(|| {
        SettingsError::Invalid("no default internal port: set --raft-listen".into())
    })?;
    Ok(SocketAddr::new(addr.ip(), port).to_string())
}

/// The refresh policy from its two settings: a grace period with `strict` is a contradiction
/// the operator should hear about rather than have silently ignored.
fn refresh_reuse(
    name: Option<RefreshReuseName>,
    grace_secs: Option<u64>,
) -> Result<RefreshReuse, SettingsError> {
    match (name.unwrap_or(RefreshReuseName::Grace), grace_secs) {
        (RefreshReuseName::Strict, Some(_)) => Err(SettingsError::Invalid(
            "refresh_grace_secs is set but refresh_reuse = \"strict\" accepts no second presentation: remove one of them".into(),
        )),
        (RefreshReuseName::Strict, None) => Ok(RefreshReuse::Strict),
        (RefreshReuseName::Grace, secs) => Ok(RefreshReuse::Grace {
            secs: secs.unwrap_or(mcpauth_api::server_config::DEFAULT_REFRESH_GRACE_SECS),
        }),
    }
}

pub fn read_file(path: &Path) -> Result<FileSettings, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| SettingsError::Parse {
        path: path.to_owned(),
        source,
    })
}

fn upstream_limits(u: UpstreamSettings) -> mcpauth_federation::OutboundLimits {
    let default = mcpauth_federation::OutboundLimits::default();
    mcpauth_federation::OutboundLimits {
        connect_timeout: u
            .connect_timeout_ms
            .map(std::time::Duration::from_millis)
            .unwrap_or(default.connect_timeout),
        read_timeout: u
            .read_timeout_ms
            .map(std::time::Duration::from_millis)
            .unwrap_or(default.read_timeout),
        max_response_bytes: u.max_response_bytes.unwrap_or(default.max_response_bytes),
    }
}

/// The rotation policy: the file's `[signing_keys]`, and the longest lifetime of anything
/// signed (access tokens; mcpauth issues no ID tokens), which the previous key outlives.
fn key_rotation(
    k: SigningKeySettings,
    access_token_ttl: u64,
) -> mcpauth_api::key_rotation::RotationPolicy {
    use mcpauth_api::key_rotation::policy::{
        DEFAULT_PUBLISH_BEFORE_SECS, DEFAULT_ROTATE_EVERY_SECS,
    };
    mcpauth_api::key_rotation::RotationPolicy {
        rotate_every: k.rotate_every_secs.unwrap_or(DEFAULT_ROTATE_EVERY_SECS),
        publish_before: k.publish_before_secs.unwrap_or(DEFAULT_PUBLISH_BEFORE_SECS),
        max_token_lifetime: access_token_ttl,
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
