//! Section 4, where the time goes: `perf record` (software clock, so it
//! works in VMs without hardware counters) and `perf stat`, else valgrind's
//! callgrind on a smaller run.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::build::Suite;
use crate::figures::{items, strings};
use crate::throughput::property_run;
use crate::Bench;

/// Rows kept of each flat profile.
const TOP: usize = 25;

/// The output of the flat and of the call-graph `perf record` runs, in the
/// bench's folder.
const RUN_LOG: &str = "perf-run.out";
const CALLGRAPH_LOG: &str = "perf-callgraph-run.out";

/// How a profile was taken, for the report.
struct Target<'a> {
    binary: &'a Path,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: &'a Path,
    out_dir: &'a Path,
}

/// Profiles `n` generated invites of the release binary against the
/// embedded server (perf, else callgrind on at most 50), prints the profile;
/// its part of the report.
pub fn section(bench: &Bench, release: &Suite, n: u32, seed: u64) -> Value {
    println!();
    let (args, env) = property_run(n, seed, None);
    let target = Target {
        binary: &release.binary,
        args,
        env,
        cwd: &bench.root,
        out_dir: &bench.dir,
    };
    let profiled = if perf_works() {
        println!("4. Profile: perf, {n} generated invites, embedded server, release");
        perf(&target)
    } else if valgrind_works() {
        let small = n.min(50);
        println!("4. Profile: perf unavailable; callgrind, {small} generated invites, embedded server, release");
        let target = Target {
            env: property_run(small, seed, None).1,
            ..target
        };
        callgrind(&target)
    } else {
        Err("neither perf nor valgrind works here".to_owned())
    };
    match profiled {
        Ok(p) => {
            print(&p, n);
            p
        }
        Err(e) => {
            println!("   not profiled: {e}");
            json!({"error": e})
        }
    }
}

/// The profile's rows as the table shows them, and `perf stat`'s counters
/// per invite (`n` invites).
fn print(p: &Value, n: u32) {
    if p["run_ok"].as_bool() == Some(false) {
        println!(
            "   the profiled run FAILED: what follows covers only the part that ran (its output: {})",
            strings(&p["logs"]).join(", ")
        );
    }
    let section = |key: &str, title: &str, rows: usize| {
        let list: Vec<&Value> = items(p.get(key)).collect();
        if list.is_empty() {
            return;
        }
        println!("   {title}:");
        for row in list.iter().take(rows) {
            println!(
                "     {:>6.2}%  {}",
                row["percent"].as_f64().unwrap_or(0.0),
                row["what"].as_str().unwrap_or("?")
            );
        }
    };
    section("by_thread", "CPU by thread", 8);
    section("by_object", "CPU by object", 6);
    section("by_symbol", "top symbols (self time)", 20);
    section(
        "inclusive_by_function",
        "suite / harness / server functions (inclusive time)",
        30,
    );
    let counters: Vec<&Value> = items(p.get("perf_stat")).collect();
    if !counters.is_empty() {
        let parts: Vec<String> = counters
            .iter()
            .map(|c| {
                let v = c["value"].as_f64().unwrap_or(0.0);
                let unit = c["unit"].as_str().unwrap_or("");
                format!(
                    "{} {:.0}{}{} ({:.1}/invite)",
                    c["event"].as_str().unwrap_or("?"),
                    v,
                    if unit.is_empty() { "" } else { " " },
                    unit,
                    v / f64::from(n.max(1))
                )
            })
            .collect();
        println!("   perf stat: {}", parts.join(", "));
    }
    if let Some(data) = p["data"].as_str() {
        println!("   data: {data}");
    }
}

/// Whether `perf` can sample here (`perf stat -e task-clock true`).
fn perf_works() -> bool {
    Command::new("perf")
        .args(["stat", "-e", "task-clock", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn valgrind_works() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `program` run from the target's folder, with the environment a child
/// of the bench gets.
fn command(program: &str, target: &Target<'_>) -> Command {
    let mut c = Command::new(program);
    c.current_dir(target.cwd).stdin(Stdio::null());
    crate::child::set_env(&mut c, &target.env);
    c
}

/// The `perf` profile: CPU by thread, by shared object, by symbol, plus
/// `perf stat`'s task clock, context switches and migrations.
fn perf(target: &Target<'_>) -> Result<Value, String> {
    let data = target.out_dir.join("perf.data");
    let run_ok = perf_record(
        target,
        "perf record",
        &["-F", "4999", "-e", "cpu-clock"],
        &data,
        RUN_LOG,
    )?;
    let rows = |v: Vec<(f64, String)>| -> Vec<Value> {
        v.into_iter()
            .take(TOP)
            .map(|(pct, what)| json!({"percent": pct, "what": what}))
            .collect()
    };
    let flat = |sort: &str| -> Result<Vec<Value>, String> {
        Ok(rows(parse_flat(&perf_report(&data, false, sort)?)))
    };
    let threads = flat("comm")?;
    let objects = flat("dso")?;
    let symbols = flat("dso,sym")?;
    let dwarf = target.out_dir.join("perf-callgraph.data");
    let (inclusive, callgraph_ok) = perf_inclusive(target, &dwarf)?;
    let (counters, stat_ok) = perf_stat(target)?;
    let logs = [RUN_LOG, CALLGRAPH_LOG].map(|log| target.out_dir.join(log).display().to_string());
    Ok(json!({
        "tool": "perf record -e cpu-clock -F 4999 (flat), then -F 999 --call-graph dwarf (inclusive)",
        "data": data.display().to_string(),
        "run_ok": run_ok && callgraph_ok && stat_ok,
        "logs": logs,
        "by_thread": threads,
        "by_object": objects,
        "by_symbol": symbols,
        "inclusive_by_function": inclusive.into_iter().take(TOP + 10).map(|(pct, what)| json!({"percent": pct, "what": what})).collect::<Vec<_>>(),
        "callgraph_data": dwarf.display().to_string(),
        "perf_stat": counters,
    }))
}

/// `perf record -q OPTIONS -o data -- binary args`, the run's output in
/// `out_dir/log`; whether the run succeeded. `what` names it in errors.
fn perf_record(
    target: &Target<'_>,
    what: &str,
    options: &[&str],
    data: &Path,
    log: &str,
) -> Result<bool, String> {
    let log = target.out_dir.join(log);
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let status = command("perf", target)
        .args(["record", "-q"])
        .args(options)
        .arg("-o")
        .arg(data)
        .arg("--")
        .arg(target.binary)
        .args(&target.args)
        .stdout(log_file)
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("{what}: {e}"))?;
    Ok(status.success())
}

/// `perf report --stdio`'s text, self time only or (`children`) with the
/// time of the callees; its error output if it fails.
fn perf_report(data: &Path, children: bool, sort: &str) -> Result<String, String> {
    let flag = if children {
        "--children"
    } else {
        "--no-children"
    };
    let args: Vec<&OsStr> = [
        "report", "--stdio", flag, "-g", "none", "--sort", sort, "-i",
    ]
    .into_iter()
    .map(OsStr::new)
    .chain([data.as_os_str()])
    .collect();
    crate::child::stdout_of("perf", &args, Path::new("."))
}

/// Inclusive time of the suite's, the harness's and the server's own
/// functions, unwound with DWARF (.eh_frame; no debug info needed), and
/// whether that run succeeded (none if it failed).
fn perf_inclusive(target: &Target<'_>, dwarf: &Path) -> Result<(Vec<(f64, String)>, bool), String> {
    let ok = perf_record(
        target,
        "perf record --call-graph dwarf",
        &[
            "-F",
            "999",
            "-e",
            "cpu-clock",
            "--call-graph",
            "dwarf,16384",
        ],
        dwarf,
        CALLGRAPH_LOG,
    )?;
    if !ok {
        return Ok((Vec::new(), false));
    }
    Ok((parse_children(&perf_report(dwarf, true, "sym")?), true))
}

/// `perf stat`'s task clock, context switches, migrations and page faults
/// over a run; whether the run succeeded.
fn perf_stat(target: &Target<'_>) -> Result<(Vec<Value>, bool), String> {
    let stat_file = target.out_dir.join("perf-stat.csv");
    let status = command("perf", target)
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
    let counters = stat
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let value: f64 = f.first()?.trim().parse().ok()?;
            Some(json!({"event": f.get(2)?.trim(), "value": value, "unit": f.get(1)?.trim()}))
        })
        .collect();
    Ok((counters, status.success()))
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
            let short = conformance_harness::render::split_at_most(name, 140)
                .0
                .to_owned();
            seen.insert(short.clone()).then_some((children, short))
        })
        .collect()
}

/// Callgrind over the (smaller) run; its inclusive-free top entries.
fn callgrind(target: &Target<'_>) -> Result<Value, String> {
    let out = target.out_dir.join("callgrind.out");
    let log = target.out_dir.join("callgrind-run.out");
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let status = command("valgrind", target)
        .args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(target.binary)
        .args(&target.args)
        .stdout(log_file)
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("valgrind: {e}"))?;
    let text = crate::child::stdout_of("callgrind_annotate", &[&out], Path::new("."))?;
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
        "logs": [log.display().to_string()],
        "by_symbol": rows,
    }))
}
