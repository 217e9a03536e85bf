//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mcpauth_api::oauth::registration_policy::RegistrationMode;

fn parse_registration(value: &str) -> Result<RegistrationMode, String> {
    match value {
        "open" => Ok(RegistrationMode::Open),
        "off" => Ok(RegistrationMode::Off),
        other => Err(format!("{other:?}: use open or off")),
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "mcpauth",
    version,
    about = "OAuth 2.1 authorization server for MCP clients, replicated with Raft"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a node.
    Serve(Box<ServeArgs>),
    /// Inspect and resize a running cluster (through its internal admin API).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Configure identity providers and local accounts on a running cluster (through its
    /// internal admin API; a change applies on every node at once).
    #[command(subcommand)]
    Idp(IdpCommand),
}

#[derive(Debug, Subcommand)]
pub enum IdpCommand {
    /// List the identity providers (secrets are never shown) and whether local accounts are on.
    List(ClusterArgs),
    /// Create or replace provider ID from a JSON or TOML file (the keys of README's
    /// `[[identity_provider]]` examples; `id` may be left out).
    Put {
        #[command(flatten)]
        cluster: ClusterArgs,
        id: String,
        /// The provider's description (.json, or .toml with the keys at the top level).
        #[arg(long)]
        file: PathBuf,
    },
    /// Remove provider ID.
    Delete {
        #[command(flatten)]
        cluster: ClusterArgs,
        id: String,
    },
    /// Switch local accounts (username and password kept by mcpauth) on or off.
    LocalLogin {
        #[command(flatten)]
        cluster: ClusterArgs,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Show the leader, term, voters, learners, and how far each node has applied.
    Status(ClusterArgs),
    /// Add the node `--node N` of the config file: it joins as a learner, catches up (from a
    /// snapshot if need be), then is promoted to voter. Start that node first.
    AddNode {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// The id of the [[node]] entry to add.
        #[arg(long)]
        node: u64,
    },
    /// Remove node ID from the cluster. Refused when the voters left would not have a
    /// reachable majority, unless --force.
    RemoveNode {
        #[command(flatten)]
        cluster: ClusterArgs,
        id: u64,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// The cluster's config file (node addresses and the cluster secret file).
    #[arg(long)]
    pub config: PathBuf,
}

/// Every flag overrides the same setting read from `--config`.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// TOML file with the settings below (see cluster.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// This node's id: picks its [[node]] entry in the config file.
    #[arg(long)]
    pub node: Option<u64>,
    /// Address the HTTP server listens on [default: 127.0.0.1:8080].
    #[arg(long)]
    pub listen: Option<String>,
    /// Internal address (Raft, forwarding, admin API) [default: the HTTP port + 1000].
    #[arg(long)]
    pub raft_listen: Option<String>,
    /// File holding the cluster secret that authenticates internal traffic
    /// [default: <data-dir>/cluster.secret, created if missing].
    #[arg(long)]
    pub cluster_secret_file: Option<PathBuf>,
    /// Issuer identifier, the public base URL [default: http://<listen>].
    #[arg(long)]
    pub issuer: Option<String>,
    /// Directory for the node's data (sled) [default: ./data].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// An MCP server (RFC 8707 resource) tokens may be issued for; repeatable.
    #[arg(long = "resource")]
    pub resources: Vec<String>,
    /// A private-use URI scheme allowed in redirect URIs (e.g. cursor); repeatable. Given,
    /// the list replaces the default (cursor, vscode, vscode-insiders, windsurf, zed).
    #[arg(long = "allow-redirect-scheme")]
    pub allowed_redirect_schemes: Vec<String>,
    /// Dynamic client registration (/register): open or off [default: open].
    #[arg(long, value_parser = parse_registration)]
    pub registration: Option<RegistrationMode>,
    /// Access token lifetime in seconds [default: 3600].
    #[arg(long)]
    pub access_token_ttl: Option<u64>,
    /// Refresh token idle lifetime in seconds [default: 2592000, 30 days].
    #[arg(long)]
    pub refresh_token_ttl: Option<u64>,
    /// Take a snapshot and compact the log every this many entries [default: 5000].
    #[arg(long)]
    pub snapshot_every: Option<u64>,
    /// File holding the 32-byte seal key [default: <data-dir>/seal.key, created if missing].
    /// The environment variable MCPAUTH_SEAL_KEY (base64) takes precedence.
    #[arg(long)]
    pub seal_key_file: Option<PathBuf>,
}
