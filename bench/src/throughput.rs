//! Section 2: generated valid invites per second. `--exact PROPERTY` at
//! `PROPTEST_CASES` = each size, against the embedded server and against one
//! the bench starts with the per-client call limit lifted; time per invite,
//! the marginal cost between sizes, and whether it grows with the size.

use std::collections::BTreeMap;

use conformance_harness::render::truncate;
use invite_reference::ServerHandle;
use serde_json::{json, Value};

use crate::build::{Profile, Suite};
use crate::child::{self, Measured};
use crate::figures::{items, mib, middle, opt, secs, verdict};
use crate::options::Options;
use crate::{Bench, GOAL_INVITES_PER_SEC};

/// The property the throughput figures run: every generated invite is sent,
/// answered, schema-checked and invariant-checked, with its notifications.
pub const PROPERTY: &str = "prop::invite::accepts_valid_bodies";

/// The environment of a throughput run: `n` cases, a fixed seed, nothing
/// persisted, and a failure reported at once (no shrinking, no waiting out
/// `Retry-After`): a failed size is reported, not timed.
pub fn env(n: u32, seed: u64) -> Vec<(String, String)> {
    [
        ("PROPTEST_CASES", n.to_string()),
        ("PROPTEST_RNG_SEED", seed.to_string()),
        ("PROPTEST_DISABLE_FAILURE_PERSISTENCE", "1".to_owned()),
        ("PROPTEST_MAX_SHRINK_ITERS", "0".to_owned()),
        ("CONFORMANCE_RETRY_BUDGET_SECS", "0".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Arguments and environment of a run of [`PROPERTY`] over `n` invites:
/// against the embedded server, or against `server` (`--target`).
pub fn property_run(
    n: u32,
    seed: u64,
    server: Option<&str>,
) -> (Vec<String>, Vec<(String, String)>) {
    let mut args = vec!["--exact".to_owned(), PROPERTY.to_owned()];
    let mut env = env(n, seed);
    if let Some(url) = server {
        args.extend(["--target".to_owned(), url.to_owned()]);
        env.push(("CONFORMANCE_TOKEN".to_owned(), "bench-token".to_owned()));
    }
    (args, env)
}

/// A reference server in the bench's own process, with the per-client call
/// limit lifted.
pub fn start_lifted_server() -> Result<ServerHandle, String> {
    let config = invite_reference::Config {
        max_calls_per_client: usize::MAX,
        ..invite_reference::Config::default()
    };
    invite_reference::start(config).map_err(|e| format!("cannot start a reference server: {e}"))
}

/// Where a throughput run sends its invites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The embedded reference server, as `cargo test` runs it.
    Embedded,
    /// A reference server started in the bench with the per-client call
    /// limit lifted, reached with `--target`.
    Lifted,
}

impl Target {
    fn key(self) -> &'static str {
        match self {
            Target::Embedded => "embedded",
            Target::Lifted => "reference-lifted",
        }
    }
}

/// One line of the section: a binary against a target, at some sizes.
struct Group<'a> {
    suite: &'a Suite,
    target: Target,
    label: &'static str,
    sizes: Vec<u32>,
}

/// Measures and prints the section; its part of the report, and whether
/// the release binary met the invites-per-second goal.
pub fn section(
    options: &Options,
    bench: &Bench,
    release: &Suite,
    dev: Option<&Suite>,
) -> Result<(Value, Option<bool>), String> {
    print_header(options.seed);
    let mut groups = Vec::new();
    let mut best_rate: Option<f64> = None;
    for group in groups_to_run(options, release, dev) {
        let (json, group_best) = measure_group(options, bench, &group)?;
        if group.suite.profile == Profile::Release {
            best_rate = best_rate.into_iter().chain(group_best).reduce(f64::max);
        }
        groups.push(json);
    }
    let partial = groups
        .iter()
        .flat_map(|g| items(g.get("rows")))
        .filter(|r| r["failed_runs"].as_u64() > Some(0) && r["invites_per_second"].is_number())
        .count();
    // A run that failed was no conformant run: the goal is not met beside it.
    let rate_met = best_rate.map(|r| r >= GOAL_INVITES_PER_SEC && partial == 0);
    print_footer(options, best_rate, rate_met, partial);
    let env: BTreeMap<String, String> = env(1, options.seed).into_iter().collect();
    Ok((
        json!({
            "property": PROPERTY,
            "environment": env,
            "note": "embedded: the suite against its embedded reference server, as cargo test runs it. reference-lifted: the suite run with --target against an invite-reference server started inside the bench with max_calls_per_client lifted; its CPU is the bench process's own CPU during the run. Each size runs `repeat` times; the median passing run is reported, failed_runs counts the runs that failed, wall_seconds_of_each_run lists all",
            "groups": groups,
            "goal_invites_per_second": GOAL_INVITES_PER_SEC,
            "goal_met": rate_met,
            "best_invites_per_second": best_rate,
        }),
        rate_met,
    ))
}

fn print_header(seed: u64) {
    println!();
    println!(
        "2. Generated valid invites: `--exact {PROPERTY}`, PROPTEST_CASES = N, PROPTEST_RNG_SEED={seed}"
    );
    println!(
        "   {:<26} {:>7} {:>9} {:>10} {:>10} {:>11} {:>10} {:>9} {:>9}  outcome",
        "binary, target",
        "invites",
        "wall",
        "invites/s",
        "µs/invite",
        "marginal µs",
        "peak RSS",
        "CPU µs/i",
        "CPU %"
    );
}

/// The goal, and notes on reading the table. `partial`: sizes where some
/// runs failed but not all.
fn print_footer(options: &Options, best_rate: Option<f64>, rate_met: Option<bool>, partial: usize) {
    println!(
        "   goal: ≥ {GOAL_INVITES_PER_SEC} invites/s → {} (best median {} invites/s)",
        verdict(rate_met),
        opt(best_rate, 0)
    );
    if partial > 0 {
        println!("   ({partial} size(s) had failed runs: their figures are the median of the runs that passed, and the goal is not met beside a failed run)");
    }
    if options.sizes.last().is_some_and(|n| *n < 10_000) {
        println!("   (sizes below 10,000 weigh process start and warm-up heavily: the goal is for a long run; run without --quick)");
    }
    println!("   (CPU µs/i: suite + server CPU per invite. `limit lifted`: the server runs in the bench process; its CPU is counted, and peak RSS reads suite MiB + the server's growth in MiB)");
}

/// Release against the embedded server and (unless `--no-lifted`) against
/// a lifted one, at every size; dev against the embedded server at the
/// smallest.
fn groups_to_run<'a>(
    options: &Options,
    release: &'a Suite,
    dev: Option<&'a Suite>,
) -> Vec<Group<'a>> {
    let mut groups = vec![Group {
        suite: release,
        target: Target::Embedded,
        label: "release, embedded",
        sizes: options.sizes.clone(),
    }];
    if options.lifted {
        groups.push(Group {
            suite: release,
            target: Target::Lifted,
            label: "release, limit lifted",
            sizes: options.sizes.clone(),
        });
    }
    if let (Some(dev), Some(&first)) = (dev, options.sizes.first()) {
        groups.push(Group {
            suite: dev,
            target: Target::Embedded,
            label: "dev (cargo test), embedded",
            sizes: vec![first],
        });
    }
    groups
}

/// Every size of a group, each row printed as it is measured, then its
/// linearity; the group's report and its best passing rate.
fn measure_group(
    options: &Options,
    bench: &Bench,
    group: &Group<'_>,
) -> Result<(Value, Option<f64>), String> {
    let mut previous: Option<(u32, f64)> = None;
    let mut best_rate: Option<f64> = None;
    let mut rows = Vec::new();
    for &n in &group.sizes {
        let repeats = measure_size(options, bench, group, n)?;
        let Some(run) = repeats.shown() else {
            continue;
        };
        let wall = run.measured.wall.as_secs_f64();
        // The shown run passed unless every repetition failed.
        let passed = run.measured.passed();
        let marginal = match (passed, previous) {
            (true, Some((pn, pw))) if n > pn => Some((wall - pw) * 1e6 / f64::from(n - pn)),
            _ => None,
        };
        if passed {
            previous = Some((n, wall));
            best_rate = best_rate
                .into_iter()
                .chain([f64::from(n) / wall])
                .reduce(f64::max);
        }
        let row = Row {
            label: group.label,
            n,
            run,
            repeats: &repeats,
            marginal,
        };
        row.print();
        rows.push(row.to_json());
    }
    let linearity = linearity(&rows);
    if rows.len() > 1 {
        if let Some(text) = linearity.get("text").and_then(Value::as_str) {
            println!("   ({}) {text}", group.label);
        }
    }
    let json = json!({
        "binary": group.suite.profile.name(),
        "target": group.target.key(),
        "label": group.label,
        "rows": rows,
        "linearity": linearity,
    });
    Ok((json, best_rate))
}

/// `--repeat` runs of one size. The machine's speed drifts between runs (a
/// shared VM): the median passing run stands for the size.
fn measure_size(
    options: &Options,
    bench: &Bench,
    group: &Group<'_>,
    n: u32,
) -> Result<Repeats, String> {
    let mut repeats = Repeats {
        passing: Vec::new(),
        failed: Vec::new(),
    };
    for i in 0..options.repeat {
        let run = run_once(bench, group.suite, group.target, n, options.seed, i)?;
        if run.measured.passed() {
            repeats.passing.push(run);
        } else {
            repeats.failed.push(run);
        }
    }
    repeats.passing.sort_by_key(|r| r.measured.wall);
    Ok(repeats)
}

/// The repetitions of one size: those that passed, sorted by wall, and
/// those that failed, in the order they ran. A failed run stopped early:
/// its wall says nothing of the time per invite.
struct Repeats {
    passing: Vec<Run>,
    failed: Vec<Run>,
}

impl Repeats {
    /// The run that stands for the size: the median passing run, else (all
    /// failed) the first failure.
    fn shown(&self) -> Option<&Run> {
        middle(&self.passing).or(self.failed.first())
    }

    fn count(&self) -> usize {
        self.passing.len() + self.failed.len()
    }

    /// Walls of the passing runs, in seconds, sorted.
    fn passing_walls(&self) -> Vec<f64> {
        walls(&self.passing)
    }

    /// Walls of every run, in seconds, sorted.
    fn all_walls(&self) -> Vec<f64> {
        let mut all = walls(&self.passing);
        all.extend(walls(&self.failed));
        all.sort_by(f64::total_cmp);
        all
    }
}

fn walls(runs: &[Run]) -> Vec<f64> {
    runs.iter().map(|r| r.measured.wall.as_secs_f64()).collect()
}

/// One throughput run, with the in-process server's share of it.
struct Run {
    target: Target,
    measured: Measured,
    /// The bench's own CPU over the run: the lifted server's.
    server_cpu: Option<f64>,
    /// Growth of the bench's resident set over the run: the lifted server's
    /// memory.
    server_rss_growth: Option<u64>,
}

fn run_once(
    bench: &Bench,
    suite: &Suite,
    target: Target,
    n: u32,
    seed: u64,
    repetition: usize,
) -> Result<Run, String> {
    // A fresh server per run, so no run inherits another's calls.
    let server = match target {
        Target::Lifted => Some(start_lifted_server()?),
        Target::Embedded => None,
    };
    let (args, env) = property_run(
        n,
        seed,
        server.as_ref().map(ServerHandle::base_url).as_deref(),
    );
    let spec = child::Spec {
        program: &suite.binary,
        args,
        env,
        cwd: &bench.root,
        log: bench.logs.join(format!(
            "invites-{}-{}-{n}-{repetition}",
            suite.profile.name(),
            target.key()
        )),
    };
    let cpu_before = child::own_cpu_secs(bench.ticks);
    let rss_before = child::own_rss_kib();
    let measured = child::run(&spec, bench.ticks);
    let server_cpu = server
        .as_ref()
        .and_then(|_| child::own_cpu_since(cpu_before, bench.ticks));
    let server_rss_growth = match (&server, child::own_rss_kib(), rss_before) {
        (Some(_), Some(after), Some(before)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    if let Some(server) = server {
        server.shutdown();
    }
    Ok(Run {
        target,
        measured: measured?,
        server_cpu,
        server_rss_growth,
    })
}

impl Run {
    /// Suite + server CPU seconds; none when a server ran in the bench but
    /// its share could not be read.
    fn cpu(&self) -> Option<f64> {
        let suite = self.measured.cpu_secs;
        match self.target {
            Target::Embedded => suite,
            Target::Lifted => Some(suite? + self.server_cpu?),
        }
    }
}

/// Table row: one size, shown by its median passing run.
struct Row<'a> {
    label: &'a str,
    n: u32,
    /// [`Repeats::shown`].
    run: &'a Run,
    repeats: &'a Repeats,
    marginal: Option<f64>,
}

impl Row<'_> {
    /// `ok`, or how many repetitions failed and why the first did.
    fn outcome(&self) -> String {
        match self.repeats.failed.first() {
            None => self.run.measured.outcome(),
            Some(first) if self.repeats.count() > 1 => format!(
                "{} of {} runs {}",
                self.repeats.failed.len(),
                self.repeats.count(),
                first.measured.outcome()
            ),
            Some(first) => first.measured.outcome(),
        }
    }

    fn rates(&self) -> Rates {
        let measured = &self.run.measured;
        Rates::new(
            f64::from(self.n),
            measured.wall.as_secs_f64(),
            measured.passed(),
            self.run.cpu(),
        )
    }

    fn print(&self) {
        let r = self.rates();
        let measured = &self.run.measured;
        println!(
            "   {:<26} {:>7} {:>9} {:>10} {:>10} {:>11} {:>10} {:>9} {:>9}  {}",
            self.label,
            self.n,
            secs(r.wall),
            opt(r.per_second, 0),
            opt(r.micros_per_invite, 0),
            opt(self.marginal, 0),
            match self.run.server_rss_growth {
                Some(g) => format!(
                    "{}+{:.0}",
                    mib(measured.peak_kib).trim_end_matches(" MiB"),
                    g as f64 / 1024.0
                ),
                None => mib(measured.peak_kib),
            },
            opt(r.cpu_micros_per_invite, 0),
            opt(r.cpu_percent, 0),
            truncate(&self.outcome(), 150),
        );
        let walls = self.repeats.passing_walls();
        if let (Some(low), Some(high)) = (walls.first(), walls.last()) {
            if walls.len() > 1 {
                let of = if self.repeats.failed.is_empty() {
                    format!("{} runs", walls.len())
                } else {
                    format!("{} passing runs of {}", walls.len(), self.repeats.count())
                };
                println!(
                    "   {:<26} {:>7} median of {of}; walls {} to {} ({} to {} invites/s)",
                    "",
                    "",
                    secs(*low),
                    secs(*high),
                    opt(Some(f64::from(self.n) / high), 0),
                    opt(Some(f64::from(self.n) / low), 0),
                );
            }
        }
    }

    fn to_json(&self) -> Value {
        let r = self.rates();
        let measured = &self.run.measured;
        json!({
            "invites": self.n,
            "wall_seconds": r.wall,
            "wall_seconds_of_each_run": self.repeats.all_walls(),
            "wall_seconds_of_passing_runs": self.repeats.passing_walls(),
            "runs": self.repeats.count(),
            "failed_runs": self.repeats.failed.len(),
            "invites_per_second": r.per_second,
            "microseconds_per_invite": r.micros_per_invite,
            "marginal_microseconds_per_invite": self.marginal,
            "peak_rss_kib": measured.peak_kib,
            "peak_threads": measured.peak_threads,
            "suite_cpu_seconds": measured.cpu_secs,
            "server_cpu_seconds": self.run.server_cpu,
            "server_rss_growth_kib": self.run.server_rss_growth,
            "cpu_microseconds_per_invite": r.cpu_micros_per_invite,
            "cpu_utilisation_percent": r.cpu_percent,
            "passed": self.repeats.failed.is_empty(),
            "tests": measured.summary.map(child::Summary::to_json),
            "outcome": self.outcome(),
            "logs": measured.logs_json(),
        })
    }
}

/// The figures of a run of `invites` invites (2 and 2b).
pub struct Rates {
    pub wall: f64,
    pub per_second: Option<f64>,
    pub micros_per_invite: Option<f64>,
    pub cpu_micros_per_invite: Option<f64>,
    pub cpu_percent: Option<f64>,
}

impl Rates {
    /// Invites/s, µs per invite and CPU µs per invite, none of them for a
    /// failed run (it stopped early: they would divide by invites it never
    /// sent), and the CPU in % of the wall.
    pub fn new(invites: f64, wall: f64, passed: bool, cpu: Option<f64>) -> Self {
        Rates {
            wall,
            per_second: passed.then(|| invites / wall),
            micros_per_invite: passed.then(|| wall * 1e6 / invites),
            cpu_micros_per_invite: cpu.filter(|_| passed).map(|c| c * 1e6 / invites),
            cpu_percent: cpu.map(|c| c / wall * 100.0),
        }
    }
}

/// Whether time per invite stays flat as the size grows, over the sizes
/// with a passing run.
fn linearity(rows: &[Value]) -> Value {
    let points: Vec<(u64, f64)> = rows
        .iter()
        .filter(|r| r["invites_per_second"].is_number())
        .filter_map(|r| Some((r["invites"].as_u64()?, r["wall_seconds"].as_f64()?)))
        .collect();
    if points.len() < 2 {
        return json!({"text": "linearity: fewer than two sizes passed, not judged"});
    }
    let per: Vec<(u64, f64)> = points
        .iter()
        .map(|(n, w)| (*n, w * 1e6 / *n as f64))
        .collect();
    let (first_n, first) = per[0];
    let (last_n, last) = per[per.len() - 1];
    let ratio = last / first;
    let shape = if ratio <= 1.25 {
        "linear (time per invite does not grow)"
    } else {
        "super-linear (time per invite grows with the run)"
    };
    let listed: Vec<String> = per
        .iter()
        .map(|(n, us)| format!("{n}: {us:.0} µs"))
        .collect();
    json!({
        "microseconds_per_invite": per.iter().map(|(n, us)| json!({"invites": n, "microseconds": us})).collect::<Vec<_>>(),
        "ratio_last_to_first": ratio,
        "text": format!(
            "time per invite {} → ×{ratio:.2} from {first_n} to {last_n}: {shape}",
            listed.join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_against_a_server_names_it_and_carries_a_token() {
        let (args, env) = property_run(10, 3, Some("http://127.0.0.1:1"));
        assert_eq!(
            args,
            ["--exact", PROPERTY, "--target", "http://127.0.0.1:1"]
        );
        assert!(env.contains(&("PROPTEST_CASES".to_owned(), "10".to_owned())));
        assert!(env.contains(&("PROPTEST_RNG_SEED".to_owned(), "3".to_owned())));
        assert_eq!(
            env.last().map(|(k, _)| k.as_str()),
            Some("CONFORMANCE_TOKEN")
        );
        let (args, env) = property_run(10, 3, None);
        assert_eq!(args, ["--exact", PROPERTY]);
        assert!(env.iter().all(|(k, _)| k != "CONFORMANCE_TOKEN"));
    }

    fn run(wall_ms: u64, passed: bool) -> Run {
        Run {
            target: Target::Embedded,
            measured: Measured {
                wall: std::time::Duration::from_millis(wall_ms),
                code: Some(if passed { 0 } else { 101 }),
                peak_kib: None,
                peak_threads: None,
                cpu_secs: Some(0.1),
                stdout_path: "out".into(),
                stderr_path: "err".into(),
                summary: Some(child::Summary {
                    passed: u64::from(passed),
                    failed: u64::from(!passed),
                    ..child::Summary::default()
                }),
                first_problem: (!passed).then(|| "boom".to_owned()),
            },
            server_cpu: None,
            server_rss_growth: None,
        }
    }

    fn row_json(repeats: &Repeats) -> Value {
        let shown = repeats.shown().expect("a run");
        Row {
            label: "x",
            n: 100,
            run: shown,
            repeats,
            marginal: None,
        }
        .to_json()
    }

    #[test]
    fn a_size_is_the_median_of_its_passing_runs_and_counts_the_failed() {
        // A fast failure must not make the faster passing run the median.
        let repeats = Repeats {
            passing: vec![run(200, true), run(400, true)],
            failed: vec![run(10, false)],
        };
        let row = row_json(&repeats);
        assert_eq!(row["wall_seconds"].as_f64(), Some(0.4));
        assert_eq!(row["invites_per_second"].as_f64(), Some(250.0));
        assert_eq!(row["passed"], json!(false));
        assert_eq!(
            (row["runs"].as_u64(), row["failed_runs"].as_u64()),
            (Some(3), Some(1))
        );
        assert_eq!(row["outcome"], json!("1 of 3 runs FAILED (exit 101): boom"));
        assert_eq!(row["wall_seconds_of_passing_runs"], json!([0.2, 0.4]));

        let failed = Repeats {
            passing: Vec::new(),
            failed: vec![run(10, false), run(20, false)],
        };
        let row = row_json(&failed);
        assert!(row["invites_per_second"].is_null());
        assert!(row["cpu_microseconds_per_invite"].is_null());
        assert_eq!(row["outcome"], json!("2 of 2 runs FAILED (exit 101): boom"));
    }

    #[test]
    fn a_lifted_run_without_the_server_cpu_has_no_cpu() {
        let mut lifted = run(100, true);
        lifted.target = Target::Lifted;
        assert_eq!(lifted.cpu(), None);
        lifted.server_cpu = Some(0.05);
        assert!(lifted.cpu().is_some_and(|c| (c - 0.15).abs() < 1e-9));
        assert_eq!(run(100, true).cpu(), Some(0.1));
    }

    #[test]
    fn linearity_compares_time_per_invite_of_passing_sizes() {
        let row = |n: u64, wall: f64, passed: bool| json!({"invites": n, "wall_seconds": wall, "invites_per_second": passed.then(|| n as f64 / wall)});
        let flat = linearity(&[row(100, 0.02, true), row(1_000, 0.2, true)]);
        assert_eq!(flat["ratio_last_to_first"].as_f64(), Some(1.0));
        assert!(flat["text"]
            .as_str()
            .is_some_and(|t| t.ends_with("linear (time per invite does not grow)")));
        let one = linearity(&[row(100, 0.02, true), row(1_000, 9.0, false)]);
        assert!(one.get("ratio_last_to_first").is_none());
    }
}
