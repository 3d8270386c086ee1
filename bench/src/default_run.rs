//! Section 1: the wall time of plain `cargo test`'s run (every case and
//! every property at its default count, against the embedded reference
//! server), `runs` times for each binary, and as many times inside the
//! bench's own process (`invite_conformance::run`, as the self-tests run it).

use conformance_harness::render::truncate;
use serde_json::{json, Value};

use crate::build::Suite;
use crate::child::{self, Measured};
use crate::figures::{median_of, mib, secs, spread, verdict};
use crate::{Bench, GOAL_DEFAULT_RUN_SECS};

/// Measures and prints the section; its part of the report.
pub fn section(bench: &Bench, suites: &[Suite], runs: usize) -> Result<Value, String> {
    println!();
    println!(
        "1. Default run: every case + every property at its default count, embedded reference server ({runs} runs each)"
    );
    println!(
        "   {:<8} {:>9} {:>9} {:>9} {:>10} {:>8} {:>8}  outcome",
        "profile", "min", "median", "max", "peak RSS", "CPU", "threads"
    );
    let mut rows = Vec::new();
    let mut best: Option<f64> = None;
    for suite in suites {
        let measured = run_times(bench, suite, runs)?;
        let summary = RunsSummary::of(&measured);
        summary.print(suite);
        if summary.failed == 0 {
            best = Some(best.map_or(summary.median, |b| b.min(summary.median)));
        }
        rows.push(summary.to_json(suite, &measured));
    }
    let inside = InProcess::measure(bench, runs);
    inside.print();
    rows.push(inside.to_json());
    let met = best.map(|m| m <= GOAL_DEFAULT_RUN_SECS);
    println!(
        "   goal: default run ≤ {GOAL_DEFAULT_RUN_SECS} s → {}",
        verdict(met)
    );
    Ok(json!({"rows": rows, "goal_seconds": GOAL_DEFAULT_RUN_SECS, "goal_met": met}))
}

/// The suite's default run, `runs` times.
fn run_times(bench: &Bench, suite: &Suite, runs: usize) -> Result<Vec<Measured>, String> {
    (0..runs)
        .map(|i| {
            let spec = child::Spec {
                program: &suite.binary,
                args: Vec::new(),
                env: Vec::new(),
                cwd: &bench.root,
                log: bench
                    .logs
                    .join(format!("default-{}-{i}", suite.profile.name())),
            };
            child::run(&spec, bench.ticks)
        })
        .collect()
}

/// The runs of one binary, summed up.
struct RunsSummary {
    walls: Vec<f64>,
    min: f64,
    median: f64,
    max: f64,
    peak_kib: Option<u64>,
    cpu_median: Option<f64>,
    peak_threads: Option<u64>,
    failed: usize,
    outcome: String,
}

impl RunsSummary {
    fn of(runs: &[Measured]) -> Self {
        let walls: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64()).collect();
        let (min, median, max) = spread(&walls);
        let failed: Vec<&Measured> = runs.iter().filter(|r| !r.passed()).collect();
        let outcome = match failed.first() {
            None => format!(
                "ok ({} tests passed)",
                runs.first().and_then(|r| r.summary).map_or(0, |s| s.passed)
            ),
            Some(f) => format!("{} of {} runs: {}", failed.len(), runs.len(), f.outcome()),
        };
        RunsSummary {
            min,
            median,
            max,
            peak_kib: runs.iter().filter_map(|r| r.peak_kib).max(),
            cpu_median: median_of(runs.iter().filter_map(|r| r.cpu_secs).collect()),
            peak_threads: runs.iter().filter_map(|r| r.peak_threads).max(),
            failed: failed.len(),
            outcome,
            walls,
        }
    }

    fn print(&self, suite: &Suite) {
        println!(
            "   {:<8} {:>9} {:>9} {:>9} {:>10} {:>8} {:>8}  {}",
            suite.profile.name(),
            secs(self.min),
            secs(self.median),
            secs(self.max),
            mib(self.peak_kib),
            self.cpu_median.map_or_else(|| "?".to_owned(), secs),
            self.peak_threads
                .map_or_else(|| "?".to_owned(), |t| t.to_string()),
            truncate(&self.outcome, 150),
        );
    }

    fn to_json(&self, suite: &Suite, runs: &[Measured]) -> Value {
        json!({
            "profile": suite.profile.name(),
            "binary": suite.binary.display().to_string(),
            "runs": runs.len(),
            "wall_seconds": {"min": self.min, "median": self.median, "max": self.max, "all": self.walls},
            "peak_rss_kib": self.peak_kib,
            "cpu_seconds_median": self.cpu_median,
            "peak_threads": self.peak_threads,
            "passed": self.failed == 0,
            "tests": runs.first().and_then(|r| r.summary).map(child::Summary::to_json),
            "outcome": self.outcome,
            "logs": runs.iter().map(Measured::logs_json).collect::<Vec<_>>(),
        })
    }
}

/// The default run inside the bench's own process: the suite without a
/// process of its own (no start-up, no exit), as the self-tests run it.
/// Memory, CPU and threads are the bench's, so they are not reported.
struct InProcess {
    walls: Vec<f64>,
    failed: usize,
    outcome: String,
}

impl InProcess {
    fn measure(bench: &Bench, runs: usize) -> Self {
        let settings = invite_conformance::settings_in(&bench.root);
        let mut walls = Vec::new();
        let mut failed = 0;
        let mut outcome = String::new();
        for _ in 0..runs {
            let started = std::time::Instant::now();
            let ran = invite_conformance::run(&settings, &["conformance"], |options| {
                options.generation.forget_failures = true;
            });
            walls.push(started.elapsed().as_secs_f64());
            match ran {
                Ok(run) if run.code() == 0 => {
                    outcome = format!("ok ({} tests passed)", run.trials.len());
                }
                Ok(run) => {
                    failed += 1;
                    outcome = format!("exit {}: {}", run.code(), run.said());
                }
                Err(e) => {
                    failed += 1;
                    outcome = e.to_string();
                }
            }
        }
        Self {
            walls,
            failed,
            outcome,
        }
    }

    fn print(&self) {
        let (min, median, max) = spread(&self.walls);
        println!(
            "   {:<8} {:>9} {:>9} {:>9} {:>10} {:>8} {:>8}  {}",
            "in-proc",
            secs(min),
            secs(median),
            secs(max),
            "-",
            "-",
            "-",
            truncate(&self.outcome, 150),
        );
    }

    fn to_json(&self) -> Value {
        let (min, median, max) = spread(&self.walls);
        json!({
            "profile": "in-process (release, the bench's own process)",
            "runs": self.walls.len(),
            "wall_seconds": {"min": min, "median": median, "max": max, "all": self.walls},
            "passed": self.failed == 0,
            "outcome": self.outcome,
        })
    }
}
