//! The machine the figures were taken on: CPU, memory, kernel, rustc, the
//! commit, and the load at the start (other work skews every figure).

use serde_json::{json, Value};

use crate::figures::str_of;

/// The machine, as the report records it.
pub fn describe() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown CPU".to_owned(), |(_, v)| v.trim().to_owned());
    let mem_kib: Option<u64> = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok());
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    let dirty = !output("git", &["status", "--porcelain"]).is_empty();
    let commit = output("git", &["rev-parse", "--short", "HEAD"]);
    json!({
        "cpu": cpu,
        "cpus": cpus,
        "memory": mem_kib.map_or_else(|| "unknown memory".to_owned(), |k| format!("{:.1} GiB RAM", k as f64 / 1024.0 / 1024.0)),
        "memory_kib": mem_kib,
        "kernel": format!("Linux {}", read("/proc/sys/kernel/osrelease").trim()),
        "rustc": output("rustc", &["--version"]),
        "load_average_at_start": read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        "commit": format!("{commit}{}", if dirty { " (with uncommitted changes)" } else { "" }),
    })
}

/// The head of the table: the bench, the machine, the commit and the load.
pub fn print(machine: &Value, quick: bool) {
    println!("conformance-bench{}", if quick { " (quick)" } else { "" });
    println!(
        "machine: {} | {} CPUs | {} | {} | {}",
        str_of(machine, "cpu"),
        machine["cpus"],
        str_of(machine, "memory"),
        str_of(machine, "kernel"),
        str_of(machine, "rustc"),
    );
    println!(
        "commit:  {} | load average at start: {} (other work on the machine skews every figure)",
        str_of(machine, "commit"),
        str_of(machine, "load_average_at_start")
    );
}

/// What `program args` prints, trimmed, run from the workspace root; empty
/// if it fails.
fn output(program: &str, args: &[&str]) -> String {
    crate::child::stdout_of(program, args, &crate::workspace_root())
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}
