//! `mcpauth user …`: local users on a running cluster, through the internal admin API
//! (`/admin/users/{username}/password`).

use std::io::BufRead;

use mcpauth_raft::reqwest::Method;
use serde_json::json;

use crate::cli::UserCommand;
use crate::cluster_cli::{block_on, CliError, Operator};

/// Where the new password is read from first; then standard input.
const PASSWORD_ENV: &str = "MCPAUTH_NEW_PASSWORD";

pub fn run(command: UserCommand) -> Result<(), CliError> {
    match command {
        UserCommand::SetPassword { cluster, username } => {
            let password = new_password()?;
            block_on(async {
                Operator::new(&cluster)?
                    .call(
                        Method::PUT,
                        &format!("/admin/users/{username}/password"),
                        Some(&json!({ "password": password })),
                    )
                    .await?;
                println!("password of {username} changed");
                Ok(())
            })
        }
    }
}

fn new_password() -> Result<String, CliError> {
    if let Ok(password) = std::env::var(PASSWORD_ENV) {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        CliError::Setup(format!("cannot read the password from standard input: {e}"))
    })?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(CliError::Setup(format!(
            "no password: set {PASSWORD_ENV} or write it on standard input"
        )));
    }
    Ok(password)
}
