//! Clients of the config file (`[[client]]`): pre-registered, as the MCP specification's
//! first choice for a client that knows its server. Their metadata passes the same checks as a
//! dynamic registration (the operator's registration policy aside: it governs strangers, not
//! the operator's own entries), their secret comes from a file or the environment and only its
//! digest is kept, and they are recorded once, on the cluster's first start with any (like the
//! identity providers), then managed at runtime.

use std::time::Duration;

use mcpauth_state::{Client, ClientOrigin, Command, Outcome, Refusal, UnixTime};
use serde::Deserialize;

use super::registration::{self, RegistrationRequest};
use super::registration_policy::{RegistrationMode, RegistrationPolicy};
use crate::cluster::Cluster;
use crate::secrets;

/// One `[[client]]` as written in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    pub id: String,
    pub name: Option<String>,
    pub redirect_uris: Vec<String>,
    /// Default: authorization_code and refresh_token.
    pub grant_types: Option<Vec<String>>,
    pub scope: Option<String>,
    /// A file holding the client secret (trimmed); makes it a confidential client.
    pub secret_file: Option<std::path::PathBuf>,
    /// An environment variable holding the client secret, instead of a file.
    pub secret_env: Option<String>,
    /// `client_secret_basic` (default with a secret) or `client_secret_post`; `none` without.
    pub token_endpoint_auth_method: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfiguredClientError {
    #[error("client {id:?}: the id must be 1 to 128 unreserved characters (A-Z a-z 0-9 - . _ ~)")]
    BadId { id: String },
    #[error("client {id:?}: give the secret as secret_file or secret_env, not both")]
    TwoSecrets { id: String },
    #[error("client {id:?}: cannot read secret_file {path}: {reason}")]
    SecretFile {
        id: String,
        path: String,
        reason: String,
    },
    #[error("client {id:?}: environment variable {var} is not set")]
    SecretEnv { id: String, var: String },
    #[error("client {id:?}: the secret must be at least {MIN_SECRET_CHARS} characters")]
    ShortSecret { id: String },
    #[error("client {id:?}: {reason}")]
    Metadata { id: String, reason: String },
    #[error("client {id:?} is configured twice")]
    Duplicate { id: String },
}

/// Shorter secrets are guessable; a generated one is 43 characters.
const MIN_SECRET_CHARS: usize = 20;

impl ClientSpec {
    /// The record to seed, checked as a registration would be. `allowed_schemes` are the
    /// cluster's private-use redirect schemes.
    pub fn into_client(
        self,
        allowed_schemes: &[String],
        now: UnixTime,
    ) -> Result<Client, ConfiguredClientError> {
        let id = self.id.clone();
        let unreserved = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
        if id.is_empty() || id.len() > 128 || !id.chars().all(unreserved) {
            return Err(ConfiguredClientError::BadId { id });
        }
        let secret = self.secret()?;
        let method = self.token_endpoint_auth_method.clone().unwrap_or_else(|| {
            if secret.is_some() {
                "client_secret_basic".to_owned()
            } else {
                "none".to_owned()
            }
        });
        if (method == "none") != secret.is_none() {
            return Err(ConfiguredClientError::Metadata {
                id,
                reason: format!(
                    "token_endpoint_auth_method {method:?} {} a secret",
                    if secret.is_some() {
                        "takes no"
                    } else {
                        "needs"
                    }
                ),
            });
        }
        let request = RegistrationRequest {
            redirect_uris: self.redirect_uris,
            token_endpoint_auth_method: Some(method),
            // Unlike RFC 7591's default (the code grant only): an operator's own client is
            // meant to stay signed in.
            grant_types: Some(self.grant_types.unwrap_or_else(|| {
                vec!["authorization_code".to_owned(), "refresh_token".to_owned()]
            })),
            client_name: self.name,
            scope: self.scope,
            ..RegistrationRequest::default()
        };
        let any_redirect = RegistrationPolicy::new(RegistrationMode::Open, &[]).map_err(|e| {
            ConfiguredClientError::Metadata {
                id: id.clone(),
                reason: e.to_string(),
            }
        })?;
        let metadata =
            registration::validate(request, allowed_schemes, &any_redirect).map_err(|e| {
                ConfiguredClientError::Metadata {
                    id: id.clone(),
                    reason: e.to_string(),
                }
            })?;
        Ok(Client {
            client_id: id,
            secret_digest: secret.as_deref().map(secrets::digest),
            metadata,
            issued_at: now,
            first_login_at: None,
            registration_token_digest: None,
            origin: ClientOrigin::Configured,
            disabled: false,
            last_used_at: None,
        })
    }

    fn secret(&self) -> Result<Option<String>, ConfiguredClientError> {
        let id = || self.id.clone();
        let secret = match (&self.secret_file, &self.secret_env) {
            (Some(_), Some(_)) => return Err(ConfiguredClientError::TwoSecrets { id: id() }),
            (None, None) => return Ok(None),
            (Some(path), None) => std::fs::read_to_string(path)
                .map_err(|e| ConfiguredClientError::SecretFile {
                    id: id(),
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?
                .trim()
                .to_owned(),
            (None, Some(var)) => {
                std::env::var(var).map_err(|_| ConfiguredClientError::SecretEnv {
                    id: id(),
                    var: var.clone(),
                })?
            }
        };
        if secret.chars().count() < MIN_SECRET_CHARS {
            return Err(ConfiguredClientError::ShortSecret { id: id() });
        }
        Ok(Some(secret))
    }
}

/// The config file's clients as records, every one checked; the first problem is the error.
pub fn configured_clients(
    specs: Vec<ClientSpec>,
    allowed_schemes: &[String],
    now: UnixTime,
) -> Result<Vec<Client>, ConfiguredClientError> {
    let mut clients: Vec<Client> = Vec::with_capacity(specs.len());
    for spec in specs {
        let client = spec.into_client(allowed_schemes, now)?;
        if clients.iter().any(|c| c.client_id == client.client_id) {
            return Err(ConfiguredClientError::Duplicate {
                id: client.client_id,
            });
        }
        clients.push(client);
    }
    Ok(clients)
}

/// Record the config file's clients once every member reads storage format 4 (a cluster being
/// upgraded gets there when its last node is): until then `SeedClients` cannot be written, so
/// this waits, checking every few seconds. Any node may run it; apply() seeds once.
pub async fn seed_when_possible(cluster: Cluster, clients: Vec<Client>) {
    const CHECK_EVERY: Duration = Duration::from_secs(2);
    if clients.is_empty() {
        return;
    }
    loop {
        let (seeded, version) = cluster.read(|s| (s.clients_seeded(), s.cluster_version()));
        if seeded {
            tracing::info!(
                "clients in the config file are not applied: they seed the cluster's first start only"
            );
            return;
        }
        if version >= 4 {
            let seed = Command::SeedClients {
                clients: clients.clone(),
            };
            match cluster.propose(seed).await {
                Ok(Outcome::Done) => {
                    return tracing::info!(count = clients.len(), "configured clients recorded")
                }
                Ok(Outcome::Refused(Refusal::AlreadySeeded)) => {
                    return tracing::info!("configured clients were recorded by another node")
                }
                Ok(other) => {
                    return tracing::warn!(?other, "unexpected answer to seeding the clients")
                }
                // No leader yet, say: try again.
                Err(e) => tracing::warn!(error = %e, "configured clients not recorded yet"),
            }
        }
        tokio::time::sleep(CHECK_EVERY).await;
    }
}
