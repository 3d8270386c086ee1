//! Where the time goes: `perf record` (software clock, so it works in VMs
//! without hardware counters) and `perf stat`, else valgrind's callgrind on
//! a smaller run.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// Rows kept of each flat profile.
const TOP: usize = 25;

/// How a profile was taken, for the report.
pub struct Target<'a> {
    pub binary: &'a Path,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: &'a Path,
    pub out_dir: &'a Path,
}

/// Whether `perf` can sample here (`perf stat -e task-clock true`).
pub fn perf_works() -> bool {
    Command::new("perf")
        .args(["stat", "-e", "task-clock", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn valgrind_works() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn command(program: &str, target: &Target<'_>) -> Command {
    let mut c = Command::new(program);
    c.current_dir(target.cwd)
        .stdin(Stdio::null())
        .envs(target.env.iter().map(|(k, v)| (k, v)));
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("PROPTEST_") || name.starts_with("CONFORMANCE_") {
            c.env_remove(&key);
        }
    }
    c
}

/// The `perf` profile: CPU by thread, by shared object, by symbol, plus
/// `perf stat`'s task clock, context switches and migrations.
pub fn perf(target: &Target<'_>) -> Result<Value, String> {
    let data = target.out_dir.join("perf.data");
    let log = target.out_dir.join("perf-run.out");
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let status = command("perf", target)
        .args(["record", "-q", "-F", "4999", "-e", "cpu-clock", "-o"])
        .arg(&data)
        .arg("--")
        .arg(target.binary)
        .args(&target.args)
        .stdout(log_file)
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("perf record: {e}"))?;
    let run_ok = status.success();
    let report = |sort: &str| -> Result<Vec<(f64, String)>, String> {
        let output = Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--no-children",
                "-g",
                "none",
                "--sort",
                sort,
                "-i",
            ])
            .arg(&data)
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("perf report: {e}"))?;
        Ok(parse_flat(&String::from_utf8_lossy(&output.stdout)))
    };
    let rows = |v: Vec<(f64, String)>| -> Vec<Value> {
        v.into_iter()
            .take(TOP)
            .map(|(pct, what)| json!({"percent": pct, "what": what}))
            .collect()
    };
    let threads = report("comm")?;
    let objects = report("dso")?;
    let symbols = report("dso,sym")?;

    // Inclusive time of the suite's, the harness's and the server's own
    // functions, unwound with DWARF (.eh_frame; no debug info needed).
    let dwarf = target.out_dir.join("perf-callgraph.data");
    let dwarf_log = target.out_dir.join("perf-callgraph-run.out");
    let dwarf_log_file = std::fs::File::create(&dwarf_log)
        .map_err(|e| format!("cannot create {}: {e}", dwarf_log.display()))?;
    let dwarf_status = command("perf", target)
        .args([
            "record",
            "-q",
            "-F",
            "999",
            "-e",
            "cpu-clock",
            "--call-graph",
            "dwarf,16384",
            "-o",
        ])
        .arg(&dwarf)
        .arg("--")
        .arg(target.binary)
        .args(&target.args)
        .stdout(dwarf_log_file)
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("perf record --call-graph dwarf: {e}"))?;
    let inclusive = if dwarf_status.success() {
        let output = Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--children",
                "-g",
                "none",
                "--sort",
                "sym",
                "-i",
            ])
            .arg(&dwarf)
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("perf report --children: {e}"))?;
        parse_children(&String::from_utf8_lossy(&output.stdout))
    } else {
        Vec::new()
    };

    let stat_file = target.out_dir.join("perf-stat.csv");
    let stat_status = command("perf", target)
        .args([
            "stat",
            "-x",
            ",",
            "-e",
            "task-clock,context-switches,cpu-migrations,page-faults",
            "-o",
        ])
        .arg(&stat_file)
        .arg("--")
        .arg(target.binary)
        .args(&target.args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("perf stat: {e}"))?;
    let stat = std::fs::read_to_string(&stat_file).unwrap_or_default();
    let counters: Vec<Value> = stat
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let value: f64 = f.first()?.trim().parse().ok()?;
            Some(json!({"event": f.get(2)?.trim(), "value": value, "unit": f.get(1)?.trim()}))
        })
        .collect();
    Ok(json!({
        "tool": "perf record -e cpu-clock -F 4999 (flat), then -F 999 --call-graph dwarf (inclusive)",
        "data": data.display().to_string(),
        "run_ok": run_ok && stat_status.success(),
        "by_thread": rows(threads),
        "by_object": rows(objects),
        "by_symbol": rows(symbols),
        "inclusive_by_function": inclusive.into_iter().take(TOP + 10).map(|(pct, what)| json!({"percent": pct, "what": what})).collect::<Vec<_>>(),
        "callgraph_data": dwarf.display().to_string(),
        "perf_stat": counters,
    }))
}

/// `perf report --stdio` lines `  12.34%  name…` → (12.34, name…).
fn parse_flat(text: &str) -> Vec<(f64, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let l = l.trim();
            let (pct, rest) = l.split_once('%')?;
            let pct: f64 = pct.trim().parse().ok()?;
            Some((pct, rest.split_whitespace().collect::<Vec<_>>().join(" ")))
        })
        .collect()
}

/// Crates whose functions the inclusive profile lists.
const OWN: &[&str] = &[
    "conformance::",
    "conformance_harness::",
    "<conformance_harness::",
    "invite_reference::",
    "<invite_reference::",
    "proptest::test_runner",
    "jsonschema::",
];

/// `perf report --children` lines `  35.51%  0.00%  [.] name` of our own
/// crates' functions → (inclusive %, name), names cut to a readable length.
fn parse_children(text: &str) -> Vec<(f64, String)> {
    let mut seen = std::collections::HashSet::new();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let (children, rest) = l.trim().split_once('%')?;
            let children: f64 = children.trim().parse().ok()?;
            let (_, rest) = rest.trim().split_once('%')?;
            let name = rest
                .trim()
                .trim_start_matches("[.]")
                .trim_start_matches("[k]")
                .trim();
            if !OWN.iter().any(|p| name.starts_with(p)) {
                return None;
            }
            let short: String = name.chars().take(140).collect();
            seen.insert(short.clone()).then_some((children, short))
        })
        .collect()
}

/// Callgrind over the (smaller) run; its inclusive-free top entries.
pub fn callgrind(target: &Target<'_>) -> Result<Value, String> {
    let out = target.out_dir.join("callgrind.out");
    let status = command("valgrind", target)
        .args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(target.binary)
        .args(&target.args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("valgrind: {e}"))?;
    let output = Command::new("callgrind_annotate")
        .arg(&out)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("callgrind_annotate: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    // Rows are `1,234,567 (12.34%)  file:function [object]`.
    let rows: Vec<Value> = text
        .lines()
        .filter_map(|l| {
            let open = l.find('(')?;
            let close = l[open..].find("%)")? + open;
            let pct: f64 = l[open + 1..close].trim().parse().ok()?;
            let what = l[close + 2..].trim();
            (!what.is_empty() && !what.starts_with("PROGRAM TOTALS"))
                .then(|| json!({"percent": pct, "what": what}))
        })
        .take(TOP)
        .collect();
    Ok(json!({
        "tool": "valgrind --tool=callgrind (instructions, exclusive)",
        "data": out.display().to_string(),
        "run_ok": status.success(),
        "by_symbol": rows,
    }))
}
