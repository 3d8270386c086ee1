//! Section 2b: the ceiling that concurrency alone would reach with today's
//! cost per invite: K suite processes at once against one lifted server.

use std::time::Instant;

use conformance_harness::render::truncate;
use serde_json::{json, Value};

use crate::build::Suite;
use crate::child::{self, Measured};
use crate::figures::{opt, secs};
use crate::options::Options;
use crate::throughput::{property_run, start_lifted_server, Rates};
use crate::{Bench, GOAL_INVITES_PER_SEC};

/// Measures and prints the section for each K of `--parallel`; its part of
/// the report. `single_met`: whether one process met the goal.
pub fn section(
    options: &Options,
    bench: &Bench,
    release: &Suite,
    single_met: Option<bool>,
) -> Result<Value, String> {
    let n = options.parallel_cases;
    println!();
    println!(
        "2b. Concurrency ceiling: K suite processes, {n} invites each, at once, against one limit-lifted server (release)"
    );
    println!(
        "   {:>3} {:>8} {:>9} {:>10} {:>11} {:>9}  outcome",
        "K", "invites", "wall", "invites/s", "CPU µs/inv", "CPU %"
    );
    let mut rows = Vec::new();
    for &k in &options.parallel {
        let run = run_processes(bench, release, k, n, options.seed)?;
        run.print();
        rows.push(run.to_json());
    }
    let best = rows
        .iter()
        .filter_map(|r| r["invites_per_second"].as_f64())
        .reduce(f64::max);
    println!(
        "   best aggregate: {} invites/s{}",
        opt(best, 0),
        match (single_met, best.map(|b| b >= GOAL_INVITES_PER_SEC)) {
            (Some(false), Some(false)) =>
                " — concurrency alone does not reach the goal: the cost per invite must fall",
            (Some(false), Some(true)) => " — concurrency alone would reach the goal",
            _ => "",
        }
    );
    Ok(json!({
        "invites_per_process": n,
        "rows": rows,
        "best_invites_per_second": best,
    }))
}

/// `k` processes of `n` invites each at once, against one fresh lifted
/// server; process `i` uses seed `seed + i`.
fn run_processes(
    bench: &Bench,
    release: &Suite,
    k: u32,
    n: u32,
    seed: u64,
) -> Result<Concurrent, String> {
    let server = start_lifted_server()?;
    let base = server.base_url();
    let cpu_before = child::own_cpu_secs(bench.ticks);
    let reaped_before = child::reaped_children_cpu_secs(bench.ticks);
    let started = Instant::now();
    let results: Vec<Result<Measured, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..k)
            .map(|i| {
                let base = &base;
                scope.spawn(move || {
                    let (args, env) = property_run(n, seed + u64::from(i), Some(base.as_str()));
                    let spec = child::Spec {
                        program: &release.binary,
                        args,
                        env,
                        cwd: &bench.root,
                        log: bench.logs.join(format!("parallel-{k}-{i}")),
                    };
                    child::run(&spec, bench.ticks)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a runner thread panicked".into()))
            })
            .collect()
    });
    let wall = started.elapsed().as_secs_f64();
    // The processes end while the others run: each one's own CPU figure
    // would count those reaped meanwhile, so they are measured together.
    let suite_cpu = child::reaped_children_cpu_secs(bench.ticks)
        .zip(reaped_before)
        .map(|(after, before)| after - before);
    let server_cpu = child::own_cpu_since(cpu_before, bench.ticks);
    server.shutdown();
    Ok(Concurrent {
        k,
        invites: u64::from(n) * u64::from(k),
        measured: results.into_iter().collect::<Result<_, _>>()?,
        wall,
        suite_cpu,
        server_cpu,
    })
}

/// One row: `k` processes run at once.
struct Concurrent {
    k: u32,
    /// Invites of all the processes together.
    invites: u64,
    measured: Vec<Measured>,
    wall: f64,
    /// CPU seconds of all the processes together.
    suite_cpu: Option<f64>,
    /// The bench's own CPU over the run: the server's.
    server_cpu: Option<f64>,
}

impl Concurrent {
    fn passed(&self) -> bool {
        self.measured.iter().all(Measured::passed)
    }

    /// Suite + server CPU seconds.
    fn cpu(&self) -> Option<f64> {
        match (self.suite_cpu, self.server_cpu) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        }
    }

    fn rates(&self) -> Rates {
        Rates::new(self.invites as f64, self.wall, self.passed(), self.cpu())
    }

    fn outcome(&self) -> String {
        self.measured
            .iter()
            .find(|m| !m.passed())
            .map_or_else(|| "ok".to_owned(), Measured::outcome)
    }

    fn print(&self) {
        let r = self.rates();
        println!(
            "   {:>3} {:>8} {:>9} {:>10} {:>11} {:>9}  {}",
            self.k,
            self.invites,
            secs(self.wall),
            opt(r.per_second, 0),
            opt(r.cpu_micros_per_invite, 0),
            opt(r.cpu_percent, 0),
            truncate(&self.outcome(), 150),
        );
    }

    fn to_json(&self) -> Value {
        let r = self.rates();
        json!({
            "processes": self.k,
            "invites": self.invites,
            "wall_seconds": self.wall,
            "invites_per_second": r.per_second,
            "suite_cpu_seconds": self.suite_cpu,
            "server_cpu_seconds": self.server_cpu,
            "cpu_microseconds_per_invite": r.cpu_micros_per_invite,
            "cpu_utilisation_percent": r.cpu_percent,
            "passed": self.passed(),
            "outcome": self.outcome(),
        })
    }
}
