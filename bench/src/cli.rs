//! Command-line interface.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::workload::Workload;

#[derive(Debug, Parser)]
#[command(
    name = "mcpauth-bench",
    version,
    about = "Load generator for OAuth 2.1 authorization servers (mcpauth or any other)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Register a client, sign in through the HTML pages, run workloads, append results.
    Run(Box<RunArgs>),
    /// Write the Markdown table and the throughput chart of result files.
    Report(ReportArgs),
    /// Print one line comparing two labels' results at one workload and concurrency.
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The authorization server's issuer identifier (its metadata is discovered from it).
    #[arg(long)]
    pub issuer: String,
    /// Base URLs to spread requests over, round robin (nodes of a cluster that each serve
    /// every route); sign-ins use the issuer's endpoints. Default: the issuer's endpoints.
    #[arg(long, value_delimiter = ',')]
    pub targets: Vec<String>,
    /// Workloads to run, in order.
    #[arg(long, value_delimiter = ',', required = true)]
    pub workload: Vec<Workload>,
    /// Numbers of concurrent workers, each measured in turn.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,64")]
    pub concurrency: Vec<usize>,
    /// How long each measurement lasts (after the warm-up): 10s, 500ms, 1m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Load before each measurement that is not measured.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// The name of the system under test in the results.
    #[arg(long)]
    pub label: String,
    /// Processes of the server whose CPU time is measured (comma-separated pids).
    #[arg(long, value_delimiter = ',')]
    pub server_pids: Vec<u32>,
    /// RFC 8707 resource to request tokens for (also the expected `aud` in verify).
    #[arg(long)]
    pub resource: Option<String>,
    /// Scope to request.
    #[arg(long, default_value = "openid offline_access")]
    pub scope: String,
    /// `prompt` of the first, interactive sign-in (e.g. consent); none by default.
    #[arg(long)]
    pub prompt: Option<String>,
    /// The username typed into sign-in forms.
    #[arg(long, default_value = "admin", env = "MCPAUTH_BENCH_USERNAME")]
    pub username: String,
    /// The password typed into sign-in forms.
    #[arg(
        long,
        default_value = "",
        env = "MCPAUTH_BENCH_PASSWORD",
        hide_env_values = true
    )]
    pub password: String,
    /// The redirect URI registered and used (never connected to).
    #[arg(long, default_value = "http://127.0.0.1:53682/callback")]
    pub redirect_uri: String,
    /// Timeout of each HTTP request.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// How many people sign in at once while setting up.
    #[arg(long, default_value_t = 4)]
    pub signin_concurrency: usize,
    /// JSON-lines file the results are appended to.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// JSON-lines result files.
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// Markdown table to write.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// SVG chart of throughput against concurrency to write.
    #[arg(long)]
    pub chart: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    #[arg(long, required = true, num_args = 1..)]
    pub input: Vec<PathBuf>,
    /// The label measured.
    #[arg(long)]
    pub label: String,
    /// The label it is compared against.
    #[arg(long)]
    pub against: String,
    #[arg(long, default_value = "refresh")]
    pub workload: String,
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
}

/// `10s`, `500ms`, `2m`, or a bare number of seconds (`3`, `0.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 10s, 500ms or 2m"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" | "min" => value * 60.0,
        other => return Err(format!("unknown unit {other:?} (use ms, s or m)")),
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("{text:?} is not a duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3h").is_err());
    }

    #[test]
    fn the_cli_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "mcpauth-bench",
            "run",
            "--issuer",
            "http://127.0.0.1:8080",
            "--workload",
            "refresh,login",
            "--concurrency",
            "1,8",
            "--label",
            "x",
            "--server-pids",
            "1,2",
            "--out",
            "r.jsonl",
        ])
        .expect("parses");
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.workload, vec![Workload::Refresh, Workload::Login]);
        assert_eq!(args.concurrency, vec![1, 8]);
        assert_eq!(args.server_pids, vec![1, 2]);
    }
}
