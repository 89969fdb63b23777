//! The memory of the server under measurement, as its kernel accounts it: shared by the
//! benchmarks that judge the service by its RSS (`soak`, `slow_clients`, `service`), so they
//! all read the same figure the same way.

/// A memory figure of process `pid`, in MB, from its `/proc/<pid>/status`: `field` names the
/// line, `VmRSS` (resident now) or `VmHWM` (the resident peak). NaN when it cannot be read
/// (the process has gone), so a report shows the gap instead of the benchmark stopping.
pub fn status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}
