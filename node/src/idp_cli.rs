//! `mcpauth idp …`: identity providers and local accounts on a running cluster, through the
//! internal admin API (`/admin/identity-providers`, `/admin/login-settings`).

use std::path::Path;

use mcpauth_raft::reqwest::Method;
use serde_json::{json, Value};

use crate::cli::IdpCommand;
use crate::cluster_cli::{block_on, CliError, Operator};

pub fn run(command: IdpCommand) -> Result<(), CliError> {
    block_on(async {
        let answer = match command {
            IdpCommand::List(cluster) => {
                Operator::new(&cluster)?
                    .call(Method::GET, "/admin/identity-providers", None)
                    .await?
            }
            IdpCommand::Put { cluster, id, file } => {
                let body = read_description(&file)?;
                Operator::new(&cluster)?
                    .call(
                        Method::PUT,
                        &format!("/admin/identity-providers/{id}"),
                        Some(&body),
                    )
                    .await?
            }
            IdpCommand::Delete { cluster, id } => {
                Operator::new(&cluster)?
                    .call(
                        Method::DELETE,
                        &format!("/admin/identity-providers/{id}"),
                        None,
                    )
                    .await?;
                json!({ "deleted": id })
            }
            IdpCommand::LocalLogin { cluster, state } => {
                let body = json!({ "local_login": state == "on" });
                Operator::new(&cluster)?
                    .call(Method::PUT, "/admin/login-settings", Some(&body))
                    .await?
            }
        };
        let text = serde_json::to_string_pretty(&answer).unwrap_or_else(|_| answer.to_string());
        println!("{text}");
        Ok(())
    })
}

/// A provider description from a JSON or TOML file.
fn read_description(path: &Path) -> Result<Value, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Setup(format!("cannot read {}: {e}", path.display())))?;
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    if is_toml {
        let value: toml::Value = toml::from_str(&text)
            .map_err(|e| CliError::Setup(format!("{}: {e}", path.display())))?;
        serde_json::to_value(value).map_err(|e| CliError::Setup(e.to_string()))
    } else {
        serde_json::from_str(&text).map_err(|e| CliError::Setup(format!("{}: {e}", path.display())))
    }
}
