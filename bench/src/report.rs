//! Reports of result files: a Markdown table, an SVG chart of throughput against
//! concurrency, a one-line comparison, and the line printed after each measurement.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::cli::{CompareArgs, ReportArgs};
use crate::error::BenchError;
use crate::record::{self, Record};

const WORKLOAD_ORDER: &[&str] = &["refresh", "login", "register", "verify"];
/// Line colours, one per label (Tableau 10, readable on white).
const COLOURS: &[RGBColor] = &[
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn workload_rank(name: &str) -> usize {
    WORKLOAD_ORDER
        .iter()
        .position(|w| *w == name)
        .unwrap_or(WORKLOAD_ORDER.len())
}

/// The records of several files; a later record of the same label, workload and concurrency
/// replaces an earlier one. Ordered by label (first appearance), workload, concurrency.
fn load(inputs: &[impl AsRef<Path>]) -> Result<Vec<Record>, BenchError> {
    let mut all: Vec<Record> = Vec::new();
    for input in inputs {
        for r in record::read_all(input.as_ref())? {
            all.retain(|o| {
                !(o.label == r.label && o.workload == r.workload && o.concurrency == r.concurrency)
            });
            all.push(r);
        }
    }
    let labels = labels(&all);
    all.sort_by_key(|r| {
        (
            labels.iter().position(|l| *l == r.label),
            workload_rank(&r.workload),
            r.workload.clone(),
            r.concurrency,
        )
    });
    Ok(all)
}

/// Labels in order of first appearance.
fn labels(records: &[Record]) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for r in records {
        if !labels.contains(&r.label) {
            labels.push(r.label.clone());
        }
    }
    labels
}

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

fn errors_cell(r: &Record) -> String {
    if r.errors == 0 {
        return "0".into();
    }
    let kinds: Vec<String> = r
        .errors_by_kind
        .iter()
        .map(|(kind, n)| format!("{kind}: {n}"))
        .collect();
    format!("{} ({})", r.errors, kinds.join(", "))
}

fn opt_ms(value: Option<f64>) -> String {
    value.map(ms).unwrap_or_else(|| "–".into())
}

/// The Markdown table (with the machine and date it came from).
pub fn markdown(records: &[Record]) -> String {
    let mut out = String::new();
    let machines: BTreeSet<String> = records
        .iter()
        .map(|r| {
            format!(
                "{} CPUs ({}), Linux {}",
                r.machine.cpus, r.machine.cpu_model, r.machine.kernel
            )
        })
        .collect();
    let durations: BTreeSet<String> = records
        .iter()
        .map(|r| format!("{} s", r.duration_s))
        .collect();
    let _ = writeln!(out, "# mcpauth-bench results\n");
    for machine in &machines {
        let _ = writeln!(out, "Machine: {machine}.  ");
    }
    let loads: Vec<f64> = records.iter().filter_map(|r| r.load_before).collect();
    if let (Some(lo), Some(hi)) = (
        loads.iter().copied().reduce(f64::min),
        loads.iter().copied().reduce(f64::max),
    ) {
        let _ = writeln!(
            out,
            "1-minute load average before the measurements: {lo:.2} to {hi:.2}.  "
        );
    }
    let _ = writeln!(
        out,
        "Each measurement lasts {} after a warm-up. Latencies are of successful operations; server CPU is the user + system time of the server processes during the measurement, divided by the successful operations.\n",
        durations.into_iter().collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(
        out,
        "| label | workload | clients | ops/s | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU ms/op |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---|---:|");
    for r in records {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
            r.label,
            r.workload,
            r.concurrency,
            r.ops_per_s,
            ms(r.p50_ms),
            ms(r.p90_ms),
            ms(r.p99_ms),
            ms(r.max_ms),
            errors_cell(r),
            opt_ms(r.server_cpu_ms_per_op),
        );
    }
    out
}

fn chart_error(e: impl std::fmt::Display) -> BenchError {
    BenchError::Chart(e.to_string())
}

/// One panel per workload, one line per label: throughput against concurrent clients
/// (logarithmic axis).
pub fn chart(records: &[Record], path: &Path) -> Result<(), BenchError> {
    let labels = labels(records);
    let mut workloads: Vec<String> = Vec::new();
    for r in records {
        if !workloads.contains(&r.workload) {
            workloads.push(r.workload.clone());
        }
    }
    workloads.sort_by_key(|w| workload_rank(w));
    if workloads.is_empty() {
        return Err(BenchError::Invalid("no results to chart".into()));
    }
    let cols = workloads.len().min(2);
    let rows = workloads.len().div_ceil(cols);
    let (width, height) = (560 * cols as u32, 380 * rows as u32 + 40);
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_error)?;
    let (title, body) = root.split_vertically(40);
    title
        .draw(&Text::new(
            "Throughput against concurrent clients",
            (20, 12),
            ("sans-serif", 20).into_font(),
        ))
        .map_err(chart_error)?;
    let panels = body.split_evenly((rows, cols));
    for (panel, workload) in panels.iter().zip(&workloads) {
        let points = |label: &str| -> Vec<(f64, f64)> {
            records
                .iter()
                .filter(|r| r.label == label && r.workload == *workload)
                .map(|r| (r.concurrency as f64, r.ops_per_s))
                .collect()
        };
        let mine: Vec<&Record> = records.iter().filter(|r| r.workload == *workload).collect();
        let max_x = mine
            .iter()
            .map(|r| r.concurrency as f64)
            .fold(1.0, f64::max);
        let max_y = mine.iter().map(|r| r.ops_per_s).fold(1.0, f64::max);
        let key_points: Vec<f64> = mine
            .iter()
            .map(|r| r.concurrency)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|c| c as f64)
            .collect();
        let mut chart = ChartBuilder::on(panel)
            .caption(workload, ("sans-serif", 18).into_font())
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (0.8f64..max_x * 1.3)
                    .log_scale()
                    .with_key_points(key_points),
                0f64..max_y * 1.15,
            )
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_desc("concurrent clients")
            .y_desc("operations / s")
            .light_line_style(RGBColor(238, 238, 238))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(chart_error)?;
        for (i, label) in labels.iter().enumerate() {
            let pts = points(label);
            if pts.is_empty() {
                continue;
            }
            let color = COLOURS[i % COLOURS.len()];
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(chart_error)?
                .label(label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    pts.iter()
                        .map(|&(x, y)| Circle::new((x, y), 4, color.filled())),
                )
                .map_err(chart_error)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()
            .map_err(chart_error)?;
    }
    root.present().map_err(chart_error)?;
    Ok(())
}

/// `report`: write the table and the chart, and print the table.
pub fn report(args: &ReportArgs) -> Result<(), BenchError> {
    let records = load(&args.input)?;
    let table = markdown(&records);
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table).map_err(BenchError::io(path))?;
    }
    if let Some(path) = &args.chart {
        chart(&records, path)?;
    }
    print!("{table}");
    Ok(())
}

fn find<'a>(records: &'a [Record], label: &str, workload: &str, c: usize) -> Option<&'a Record> {
    records
        .iter()
        .rev()
        .find(|r| r.label == label && r.workload == workload && r.concurrency == c)
}

/// `compare`: one line, `label` against `against` at one workload and concurrency.
pub fn compare(args: &CompareArgs) -> Result<String, BenchError> {
    let records = load(&args.input)?;
    let missing = |label: &str| {
        BenchError::Invalid(format!(
            "no result for {label:?} {} at {} clients",
            args.workload, args.concurrency
        ))
    };
    let a = find(&records, &args.label, &args.workload, args.concurrency)
        .ok_or_else(|| missing(&args.label))?;
    let b = find(&records, &args.against, &args.workload, args.concurrency)
        .ok_or_else(|| missing(&args.against))?;
    let ratio = if b.ops_per_s > 0.0 {
        format!("{:.2}×", a.ops_per_s / b.ops_per_s)
    } else {
        "n/a".into()
    };
    Ok(format!(
        "{} at {} clients: {} {:.0} ops/s (p50 {} ms, p99 {} ms) vs {} {:.0} ops/s (p50 {} ms, p99 {} ms): {} the throughput",
        args.workload,
        args.concurrency,
        a.label,
        a.ops_per_s,
        ms(a.p50_ms),
        ms(a.p99_ms),
        b.label,
        b.ops_per_s,
        ms(b.p50_ms),
        ms(b.p99_ms),
        ratio
    ))
}

/// The line printed after each measurement.
pub fn summary_line(r: &Record) -> String {
    format!(
        "{} | {} | {} clients | {:.0} ops/s | p50 {} p90 {} p99 {} max {} ms | errors {} | server CPU {} ms/op | bench CPU {} ms/op",
        r.label,
        r.workload,
        r.concurrency,
        r.ops_per_s,
        ms(r.p50_ms),
        ms(r.p90_ms),
        ms(r.p99_ms),
        ms(r.max_ms),
        errors_cell(r),
        opt_ms(r.server_cpu_ms_per_op),
        opt_ms(r.bench_cpu_ms_per_op),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Machine;
    use std::collections::BTreeMap;

    fn rec(label: &str, workload: &str, c: usize, ops_per_s: f64) -> Record {
        Record {
            label: label.into(),
            workload: workload.into(),
            concurrency: c,
            duration_s: 10.0,
            ops: (ops_per_s * 10.0) as u64,
            ops_per_s,
            p50_ms: 12.5,
            p90_ms: 20.0,
            p99_ms: 31.0,
            max_ms: 120.0,
            mean_ms: 13.0,
            errors: if c == 64 { 2 } else { 0 },
            errors_by_kind: if c == 64 {
                BTreeMap::from([("HTTP 400 invalid_grant".to_string(), 2)])
            } else {
                BTreeMap::new()
            },
            server_cpu_s: Some(1.0),
            server_cpu_ms_per_op: Some(0.8),
            bench_cpu_ms_per_op: Some(0.2),
            issuer: "http://127.0.0.1:8080".into(),
            targets: vec![],
            server_pids: vec![1],
            machine: Machine {
                cpus: 2,
                cpu_model: "Test CPU".into(),
                kernel: "6.1".into(),
            },
            started_at: 0,
            load_before: Some(0.25),
        }
    }

    fn sample() -> Vec<Record> {
        let mut v = Vec::new();
        for label in ["mcpauth 1 node", "oidc-provider"] {
            for c in [1, 8, 32, 64] {
                v.push(rec(label, "refresh", c, 100.0 * c as f64));
                v.push(rec(label, "login", c, 50.0 * c as f64));
            }
            v.push(rec(label, "register", 32, 900.0));
            v.push(rec(label, "verify", 32, 40000.0));
        }
        v
    }

    #[test]
    fn table_has_a_row_per_record_and_the_machine() {
        let md = markdown(&sample());
        assert!(md.contains("Machine: 2 CPUs (Test CPU), Linux 6.1."));
        assert!(md.contains(
            "| mcpauth 1 node | refresh | 32 | 3200 | 12.5 | 20.0 | 31.0 | 120 | 0 | 0.800 |"
        ));
        assert!(md.contains("| 2 (HTTP 400 invalid_grant: 2) |"));
        assert_eq!(md.lines().filter(|l| l.starts_with("| ")).count(), 1 + 20);
    }

    #[test]
    fn chart_is_an_svg_with_every_label() {
        let dir = std::env::temp_dir().join(format!("mcpauth-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("chart.svg");
        chart(&sample(), &path).expect("chart");
        let svg = std::fs::read_to_string(&path).expect("svg");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("oidc-provider"));
        assert!(svg.contains("mcpauth 1 node"));
        assert!(svg.contains("verify"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn later_records_replace_earlier_ones_and_compare_reads_them() {
        let dir = std::env::temp_dir().join(format!("mcpauth-bench-cmp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("r.jsonl");
        for r in sample() {
            record::append(&path, &r).expect("append");
        }
        record::append(&path, &rec("oidc-provider", "refresh", 32, 1000.0)).expect("append");
        let line = compare(&CompareArgs {
            input: vec![path.clone()],
            label: "mcpauth 1 node".into(),
            against: "oidc-provider".into(),
            workload: "refresh".into(),
            concurrency: 32,
        })
        .expect("compare");
        assert!(line.contains("3200 ops/s"), "{line}");
        assert!(line.contains("1000 ops/s"), "{line}");
        assert!(line.contains("3.20×"), "{line}");
        assert_eq!(load(&[&path]).expect("load").len(), 20);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
