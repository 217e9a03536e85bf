//! The `mcpauth` binary: `mcpauth serve` runs a node.

mod cli;
mod cluster_cli;
mod idp_cli;
mod keys_cli;
mod secret_files;
mod serve;
mod settings;
mod user_cli;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,openraft=warn,sled=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Serve(args) => settings::Settings::load(*args)
            .map_err(|e| e.to_string())
            .and_then(|s| serve::serve(s).map_err(|e| e.to_string())),
        cli::Command::Cluster(command) => cluster_cli::run(command).map_err(|e| e.to_string()),
        cli::Command::Idp(command) => idp_cli::run(command).map_err(|e| e.to_string()),
        cli::Command::Keys(command) => keys_cli::run(command).map_err(|e| e.to_string()),
        cli::Command::User(command) => user_cli::run(command).map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcpauth: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
