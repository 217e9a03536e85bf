//! The node's settings: the config file, overridden by flags, with defaults.

use std::path::{Path, PathBuf};

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

/// The config file's form; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub listen: Option<String>,
    pub issuer: Option<String>,
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub allowed_redirect_schemes: Vec<String>,
    pub access_token_ttl: Option<u64>,
    pub refresh_token_ttl: Option<u64>,
    pub seal_key_file: Option<PathBuf>,
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: String,
    pub issuer: String,
    pub data_dir: PathBuf,
    pub resources: Vec<String>,
    pub allowed_redirect_schemes: Vec<String>,
    pub access_token_ttl: u64,
    pub refresh_token_ttl: u64,
    pub seal_key_file: PathBuf,
    pub scopes: Vec<String>,
}

impl Settings {
    pub fn load(args: ServeArgs) -> Result<Self, SettingsError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let issuer = args
            .issuer
            .or(file.issuer)
            .unwrap_or_else(|| format!("http://{listen}"));
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let seal_key_file = args
            .seal_key_file
            .or(file.seal_key_file)
            .unwrap_or_else(|| data_dir.join("seal.key"));
        let resources = if args.resources.is_empty() {
            file.resources
        } else {
            args.resources
        };
        let allowed_redirect_schemes = if args.allowed_redirect_schemes.is_empty() {
            file.allowed_redirect_schemes
        } else {
            args.allowed_redirect_schemes
        };
        let settings = Self {
            listen,
            issuer,
            data_dir,
            resources,
            allowed_redirect_schemes,
            access_token_ttl: args
                .access_token_ttl
                .or(file.access_token_ttl)
                .unwrap_or(3600),
            refresh_token_ttl: args
                .refresh_token_ttl
                .or(file.refresh_token_ttl)
                .unwrap_or(30 * 24 * 3600),
            seal_key_file,
            scopes: file
                .scopes
                .unwrap_or_else(mcpauth_api::server_config::default_scopes),
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let issuer = url::Url::parse(&self.issuer)
            .map_err(|e| SettingsError::Invalid(format!("issuer {:?}: {e}", self.issuer)))?;
        if issuer.scheme() != "https"
            && !matches!(issuer.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
        {
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
        if self.access_token_ttl == 0 || self.refresh_token_ttl == 0 {
            return Err(SettingsError::Invalid(
                "token lifetimes must be positive".into(),
            ));
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> Result<FileSettings, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| SettingsError::Parse {
        path: path.to_owned(),
        source,
    })
}
