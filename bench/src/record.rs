//! One measurement (a workload at one concurrency against one server), as a JSON line.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::BenchError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub label: String,
    pub workload: String,
    pub concurrency: usize,
    /// Length of the measured phase (after the warm-up), seconds.
    pub duration_s: f64,
    /// Operations that succeeded in the measured phase.
    pub ops: u64,
    pub ops_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// CPU seconds the server processes spent in the measured phase (None: no pids given,
    /// or a process could not be read).
    pub server_cpu_s: Option<f64>,
    pub server_cpu_ms_per_op: Option<f64>,
    /// CPU milliseconds per operation of the benchmark process itself.
    pub bench_cpu_ms_per_op: Option<f64>,
    pub issuer: String,
    pub targets: Vec<String>,
    pub server_pids: Vec<u32>,
    pub machine: Machine,
    /// Unix seconds when the measured phase began.
    pub started_at: u64,
    /// The machine's 1-minute load average just before the measurement (other work on the
    /// machine skews the numbers).
    #[serde(default)]
    pub load_before: Option<f64>,
}

/// The machine a measurement came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub kernel: String,
}

impl Machine {
    pub fn current() -> Self {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        Machine {
            cpus,
            cpu_model,
            kernel,
        }
    }
}

/// The 1-minute load average (/proc/loadavg).
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Append one record as a JSON line (creating the file and its directory).
pub fn append(path: &Path, record: &Record) -> Result<(), BenchError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(BenchError::io(dir))?;
    }
    let mut line = serde_json::to_string(record).map_err(BenchError::Encode)?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(BenchError::io(path))?;
    file.write_all(line.as_bytes())
        .map_err(BenchError::io(path))
}

/// Every record of a JSON-lines file (blank lines skipped).
pub fn read_all(path: &Path) -> Result<Vec<Record>, BenchError> {
    let file = std::fs::File::open(path).map_err(BenchError::io(path))?;
    let mut records = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(BenchError::io(path))?;
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str(&line).map_err(|source| BenchError::Record {
            path: path.to_path_buf(),
            line: i + 1,
            source,
        })?;
        records.push(record);
    }
    Ok(records)
}
