//! CPU time of processes, from Linux's /proc/<pid>/stat (user + system, all threads).

use std::process::Command;

/// Clock ticks per second of /proc's times: `getconf CLK_TCK`, 100 when that cannot be run
/// (the value on every Linux of the last decades).
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime in clock ticks, from the text of /proc/<pid>/stat. The command name (field 2)
/// is in parentheses and may hold spaces, so fields are counted after the last ')'.
pub fn parse_stat(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14 and stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU ticks of a process so far; `None` if it is gone or /proc is unreadable.
pub fn ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

/// The summed CPU ticks of several processes; `None` if any cannot be read.
pub fn total_ticks(pids: &[u32]) -> Option<u64> {
    pids.iter().map(|p| ticks(&p.to_string())).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime_after_a_tricky_name() {
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_stat(stat), Some(325));
    }

    #[test]
    fn reads_its_own_process() {
        assert!(ticks("self").is_some());
    }
}
