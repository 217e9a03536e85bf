//! mcpauth-bench: a load generator that drives any standards-compliant authorization server
//! by its issuer URL (discovery, dynamic client registration, sign-in through plain HTML
//! forms), runs a workload at chosen concurrencies, and reports throughput, latency
//! percentiles, errors by kind and the server's CPU time per operation.

mod browser;
mod cli;
mod cpu;
mod discovery;
mod error;
mod form;
mod http;
mod oauth;
mod record;
mod report;
mod verify;
mod worker;
mod workload;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, RunArgs};
use crate::error::BenchError;
use crate::form::Credentials;
use crate::workload::{Runner, Settings};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(*args),
        Command::Report(args) => report::report(&args),
        Command::Compare(args) => report::compare(&args).map(|line| println!("{line}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcpauth-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(BenchError::io("tokio runtime"))?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: RunArgs) -> Result<(), BenchError> {
    if args.duration.is_zero() {
        return Err(BenchError::Invalid("--duration must be positive".into()));
    }
    let settings = Settings {
        issuer: args.issuer.clone(),
        targets: args.targets.clone(),
        label: args.label.clone(),
        server_pids: args.server_pids.clone(),
        resource: args.resource.clone(),
        scope: args.scope.clone(),
        prompt: args.prompt.clone().filter(|p| !p.is_empty()),
        credentials: Credentials {
            username: args.username.clone(),
            password: args.password.clone(),
        },
        redirect_uri: args.redirect_uri.clone(),
        warmup: args.warmup,
        duration: args.duration,
        timeout: args.timeout,
        signin_concurrency: args.signin_concurrency,
    };
    let mut runner = Runner::setup(settings).await?;
    for workload in &args.workload {
        for &concurrency in &args.concurrency {
            let record = runner.measure(*workload, concurrency).await?;
            println!("{}", report::summary_line(&record));
            record::append(&args.out, &record)?;
        }
    }
    Ok(())
}
