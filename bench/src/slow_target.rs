//! 2d. A slow target and a failing one.
//!
//! Slow: a reference server in the bench's process that answers every
//! request 300 ms late and sends each notification a second after its event
//! (Graph's order of magnitude). The default run's wall time against it,
//! and its floor: the slowest case file of that run (read from its
//! report.json) run alone against the same server. A property is a batch of
//! independent inputs and the model a set of independent sequences, so the
//! run need not take much longer than its slowest case: the goal is a ratio
//! of at most 1.5.
//!
//! Failing: the default run against a reference whose every invite misses
//! its terminal notification (`no-terminal-notification`), which makes each
//! invite wait out the notification deadline.
//!
//! With `--baseline-bin`, both scenarios run with that binary too, one
//! after the other against the same servers, so that the figures sit side
//! by side.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::build::Suite;
use crate::child::{self, Measured, Spec};
use crate::figures::{secs, verdict};
use crate::Bench;

/// The slow server's answer latency and notification delay.
const LATENCY: Duration = Duration::from_millis(300);
const NOTIFICATION_DELAY: Duration = Duration::from_millis(1000);
/// The goal: the default run takes at most this multiple of its floor.
const GOAL_RATIO: f64 = 1.5;
/// The fault that breaks every invite, for the failing-target run.
const FAULT: &str = "no-terminal-notification";

fn start(config: invite_reference::Config) -> Result<invite_reference::ServerHandle, String> {
    invite_reference::start(config).map_err(|e| format!("cannot start a reference server: {e}"))
}

/// One run of `binary` against `url` with `args` more, its report in
/// `report` when given.
fn run_against(
    bench: &Bench,
    binary: &Path,
    url: &str,
    args: &[&str],
    log: &str,
) -> Result<Measured, String> {
    let mut all = vec!["--target".to_owned(), url.to_owned()];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let env = vec![
        ("CONFORMANCE_TOKEN".to_owned(), "bench-token".to_owned()),
        // No seeds kept: each run starts from the same inputs.
        (
            "PROPTEST_DISABLE_FAILURE_PERSISTENCE".to_owned(),
            "1".to_owned(),
        ),
    ];
    child::run(
        &Spec {
            program: binary,
            args: all,
            env,
            cwd: &bench.root,
            log: bench.logs.join(log),
        },
        bench.ticks,
    )
}

/// The slowest `case::` test of a report.json, and its wall time in ms.
fn slowest_case(report: &Path) -> Option<(String, f64)> {
    let text = std::fs::read_to_string(report).ok()?;
    let report: Value = serde_json::from_str(&text).ok()?;
    report["tests"]
        .as_array()?
        .iter()
        .filter_map(|t| {
            let name = t["name"].as_str()?;
            let ms = t["duration_ms"].as_f64()?;
            name.starts_with("case::").then(|| (name.to_owned(), ms))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// The slow-target figures of one binary: the default run, its slowest
/// case alone, their ratio.
fn slow_figures(
    bench: &Bench,
    binary: &Path,
    url: &str,
    label: &str,
    slowest: Option<&str>,
) -> Result<Value, String> {
    let report_dir = bench.dir.join(format!("slow-report-{label}"));
    let report_arg = report_dir.display().to_string();
    let default = run_against(
        bench,
        binary,
        url,
        &["--report", &report_arg],
        &format!("slow-default-{label}"),
    )?;
    // The floor is the case the binary under test found slowest (a
    // baseline without durations in its report uses the same one).
    let found = slowest_case(&report_dir.join("report.json"));
    let case = found
        .as_ref()
        .map(|(name, _)| name.clone())
        .or_else(|| slowest.map(str::to_owned));
    let alone = match &case {
        Some(case) => Some(run_against(
            bench,
            binary,
            url,
            &["--exact", case],
            &format!("slow-alone-{label}"),
        )?),
        None => None,
    };
    let wall = default.wall.as_secs_f64();
    let floor = alone.as_ref().map(|a| a.wall.as_secs_f64());
    let ratio = floor.filter(|f| *f > 0.0).map(|f| wall / f);
    println!(
        "   {label:<9} default run {:>9} ({})   slowest case alone {:>9} ({})   ratio {}",
        secs(wall),
        default.outcome(),
        floor.map_or_else(|| "—".to_owned(), secs),
        case.as_deref().unwrap_or("no case timed"),
        ratio.map_or_else(|| "—".to_owned(), |r| format!("{r:.2}")),
    );
    Ok(json!({
        "binary": binary.display().to_string(),
        "default_run_secs": wall,
        "default_run_outcome": default.outcome(),
        "default_run_cpu_secs": default.cpu_secs,
        "slowest_case": case,
        "slowest_case_in_run_ms": found.map(|(_, ms)| ms),
        "slowest_case_alone_secs": floor,
        "ratio": ratio,
        "logs": default.logs_json(),
    }))
}

/// The failing-target figure of one binary.
fn failing_figures(bench: &Bench, binary: &Path, url: &str, label: &str) -> Result<Value, String> {
    let run = run_against(bench, binary, url, &[], &format!("failing-{label}"))?;
    let failed = run.summary.map(|s| s.failed);
    println!(
        "   {label:<9} default run {:>9} (exit {}, {} tests failed)",
        secs(run.wall.as_secs_f64()),
        run.code
            .map_or_else(|| "by signal".to_owned(), |c| c.to_string()),
        failed.map_or_else(|| "?".to_owned(), |f| f.to_string()),
    );
    Ok(json!({
        "binary": binary.display().to_string(),
        "default_run_secs": run.wall.as_secs_f64(),
        "exit": run.code,
        "failed_tests": failed,
        "logs": run.logs_json(),
    }))
}

/// Measures and prints the section; its part of the report.
pub fn section(bench: &Bench, release: &Suite, baseline: Option<&Path>) -> Result<Value, String> {
    println!();
    println!(
        "2d. Slow target: a reference answering in {} ms, notifying {} ms later",
        LATENCY.as_millis(),
        NOTIFICATION_DELAY.as_millis()
    );
    let slow = start(invite_reference::Config {
        answer_latency: LATENCY,
        notification_delay: NOTIFICATION_DELAY,
        // Every run's calls are ended, but a run cut short leaves some.
        max_calls_per_client: usize::MAX,
        ..invite_reference::Config::default()
    })?;
    let url = slow.base_url();
    let this = slow_figures(bench, &release.binary, &url, "this", None)?;
    let before = match baseline {
        Some(binary) => Some(slow_figures(
            bench,
            binary,
            &url,
            "baseline",
            this["slowest_case"].as_str(),
        )?),
        None => None,
    };
    let ratio = this["ratio"].as_f64();
    println!(
        "   goal: the default run at most {GOAL_RATIO}x its slowest case alone: {}",
        verdict(ratio.map(|r| r <= GOAL_RATIO))
    );
    drop(slow);

    println!();
    println!("2e. Failing target: a reference whose every invite misses its terminal notification ({FAULT})");
    let fault = FAULT
        .parse::<invite_reference::Fault>()
        .map_err(|e| format!("fault {FAULT}: {e}"))?;
    let failing = start(invite_reference::Config {
        faults: vec![fault],
        max_calls_per_client: usize::MAX,
        ..invite_reference::Config::default()
    })?;
    let url = failing.base_url();
    let failing_this = failing_figures(bench, &release.binary, &url, "this")?;
    let failing_before = match baseline {
        Some(binary) => Some(failing_figures(bench, binary, &url, "baseline")?),
        None => None,
    };
    if let (Some(after), Some(before)) = (
        failing_this["default_run_secs"].as_f64(),
        failing_before
            .as_ref()
            .and_then(|b| b["default_run_secs"].as_f64()),
    ) {
        println!(
            "   this run takes {:.2} of the baseline's (goal: under a third): {}",
            after / before,
            verdict(Some(after * 3.0 < before))
        );
    }
    Ok(json!({
        "latency_ms": LATENCY.as_millis() as u64,
        "notification_delay_ms": NOTIFICATION_DELAY.as_millis() as u64,
        "goal_ratio": GOAL_RATIO,
        "this": this,
        "baseline": before,
        "failing": {"fault": FAULT, "this": failing_this, "baseline": failing_before},
    }))
}
