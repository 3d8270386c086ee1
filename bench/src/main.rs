//! The conformance suite's benchmark: what a run costs on this machine.
//!
//! ```sh
//! cargo run --release -p conformance-bench            # everything but the clean build
//! cargo run --release -p conformance-bench -- --quick # smaller sizes, fewer runs
//! cargo run --release -p conformance-bench -- --help
//! ```
//!
//! It builds the conformance binary (`cargo test --release --test
//! conformance --no-run`), runs it as a user would, and measures: the wall
//! time of the default run, generated invites per second at several sizes,
//! the cost of one schema validation, peak memory, and a profile. It prints
//! a table and writes the figures to `target/bench/report.json`. It asserts
//! nothing: goals are reported as met or not.

mod build;
mod child;
mod micro;
mod profile;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{json, Value};

use build::{Profile, Suite};
use child::Measured;

/// The property the throughput figures run: every generated invite is sent,
/// answered, schema-checked and invariant-checked, with its notifications.
const PROPERTY: &str = "prop::invite::accepts_valid_bodies";
/// Goals of the issue "Fast: a suite that costs CI seconds, measured".
const GOAL_DEFAULT_RUN_SECS: f64 = 2.0;
const GOAL_INVITES_PER_SEC: f64 = 5_000.0;

const HELP: &str = "\
conformance-bench: what a conformance run costs on this machine

USAGE:
    cargo run --release -p conformance-bench -- [OPTIONS]

OPTIONS:
    --quick                 sizes 100,1000, 3 default runs, --parallel 1,2 of 300
                            invites, profile of 200 invites
    --sizes N,N,...         generated invites per throughput run (default 100,1000,10000)
    --runs N                repetitions of the default run (default 7)
    --repeat N              repetitions of each throughput size; the median run is
                            shown, with the spread (default 3; --quick 1)
    --seed N                PROPTEST_RNG_SEED of the throughput runs (default 1)
    --profile-cases N       invites in the profiled run (default 400)
    --parallel K,K,...      concurrency ceiling: K suite processes at once against one
                            limit-lifted server (default 1,2,4; `none` skips it)
    --parallel-cases N      invites per process in those runs (default 1000)
    --no-profile            skip perf/callgrind
    --no-dev                skip the dev-profile (`cargo test`) binary
    --no-lifted             skip the runs against a reference server whose
                            per-client call limit is lifted
    --no-micro              skip the in-process validation timings
    --no-deps               skip `cargo tree -d` and the build-script list
    --clean-build           also time clean builds of `cargo test --no-run` and
                            `cargo test --workspace --no-run` (minutes)
    --clean-target DIR      target folder of the clean builds (default
                            /tmp/bench-clean-target; it is `cargo clean`ed)
    --suite-bin PATH        measure this conformance binary instead of building one
    --out PATH              the JSON report (default target/bench/report.json)
    -h, --help              this text
";

#[derive(Debug, Clone)]
struct Options {
    quick: bool,
    sizes: Vec<u32>,
    runs: usize,
    repeat: usize,
    seed: u64,
    profile_cases: u32,
    profile: bool,
    dev: bool,
    lifted: bool,
    micro: bool,
    deps: bool,
    clean_build: bool,
    clean_target: PathBuf,
    suite_bin: Option<PathBuf>,
    out: Option<PathBuf>,
    parallel: Vec<u32>,
    parallel_cases: u32,
}

fn parse_options(args: &[String]) -> Result<Option<Options>, String> {
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Options {
        quick,
        sizes: if quick {
            vec![100, 1_000]
        } else {
            vec![100, 1_000, 10_000]
        },
        runs: if quick { 3 } else { 7 },
        repeat: if quick { 1 } else { 3 },
        seed: 1,
        profile_cases: if quick { 200 } else { 400 },
        profile: true,
        dev: true,
        lifted: true,
        micro: true,
        deps: true,
        clean_build: false,
        clean_target: PathBuf::from("/tmp/bench-clean-target"),
        suite_bin: None,
        out: None,
        parallel: if quick { vec![1, 2] } else { vec![1, 2, 4] },
        parallel_cases: if quick { 300 } else { 1_000 },
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let number = |name: &str, v: String| -> Result<u64, String> {
            v.parse::<u64>()
                .map_err(|e| format!("{name} {v:?}: not a number ({e})"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quick" => {}
            "--sizes" => {
                let v = value(arg)?;
                o.sizes = v
                    .split(',')
                    .map(|s| {
                        s.trim()
                            .parse::<u32>()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or_else(|| format!("--sizes {v:?}: {s:?} is not a positive number"))
                    })
                    .collect::<Result<_, _>>()?;
                o.sizes.sort_unstable();
                o.sizes.dedup();
            }
            "--repeat" => {
                let v = value(arg)?;
                o.repeat = usize::try_from(number(arg, v)?.max(1)).unwrap_or(1);
            }
            "--runs" => {
                let v = value(arg)?;
                o.runs = usize::try_from(number(arg, v)?.max(1)).unwrap_or(1);
            }
            "--seed" => {
                let v = value(arg)?;
                o.seed = number(arg, v)?;
            }
            "--profile-cases" => {
                let v = value(arg)?;
                o.profile_cases = u32::try_from(number(arg, v)?.max(1)).unwrap_or(u32::MAX);
            }
            "--parallel" => {
                let v = value(arg)?;
                o.parallel = if v == "0" || v == "none" {
                    Vec::new()
                } else {
                    v.split(',')
                        .map(|s| {
                            s.trim()
                                .parse::<u32>()
                                .ok()
                                .filter(|n| (1..=64).contains(n))
                                .ok_or_else(|| format!("--parallel {v:?}: {s:?} is not 1..=64"))
                        })
                        .collect::<Result<_, _>>()?
                };
            }
            "--parallel-cases" => {
                let v = value(arg)?;
                o.parallel_cases = u32::try_from(number(arg, v)?.max(1)).unwrap_or(u32::MAX);
            }
            "--no-profile" => o.profile = false,
            "--no-dev" => o.dev = false,
            "--no-lifted" => o.lifted = false,
            "--no-micro" => o.micro = false,
            "--no-deps" => o.deps = false,
            "--clean-build" => o.clean_build = true,
            "--clean-target" => o.clean_target = PathBuf::from(value(arg)?),
            "--suite-bin" => o.suite_bin = Some(PathBuf::from(value(arg)?)),
            "--out" => o.out = Some(PathBuf::from(value(arg)?)),
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    Ok(Some(o))
}

/// The workspace root, where `cases/` and `schemas/` are.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_options(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    let root = workspace_root();
    let bench_dir = conformance_selftest::target_dir().join("bench");
    let logs = bench_dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| bench_dir.join("report.json"));
    let ticks = child::clock_ticks();
    let mut report = serde_json::Map::new();

    let machine = machine();
    println!(
        "conformance-bench{}",
        if options.quick { " (quick)" } else { "" }
    );
    println!(
        "machine: {} | {} CPUs | {} | {} | {}",
        str_of(&machine, "cpu"),
        machine["cpus"],
        str_of(&machine, "memory"),
        str_of(&machine, "kernel"),
        str_of(&machine, "rustc"),
    );
    println!(
        "commit:  {} | load average at start: {} (other work on the machine skews every figure)",
        str_of(&machine, "commit"),
        str_of(&machine, "load_average_at_start")
    );
    report.insert("machine".into(), machine);
    report.insert(
        "options".into(),
        json!({
            "quick": options.quick, "sizes": options.sizes, "runs": options.runs,
            "seed": options.seed, "profile_cases": options.profile_cases,
            "parallel": options.parallel, "parallel_cases": options.parallel_cases,
        }),
    );

    // The binaries.
    let mut suites: Vec<Suite> = Vec::new();
    match &options.suite_bin {
        Some(bin) => suites.push(Suite {
            profile: Profile::Release,
            binary: bin.clone(),
            build_time: None,
            warning: Some(format!("given with --suite-bin: {}", bin.display())),
        }),
        None => {
            eprintln!("building the conformance binary (release)…");
            suites.push(build::build_suite(&root, Profile::Release)?);
            if options.dev {
                eprintln!("building the conformance binary (dev, as `cargo test` runs it)…");
                match build::build_suite(&root, Profile::Dev) {
                    Ok(s) => suites.push(s),
                    Err(e) => eprintln!("warning: no dev binary: {e}"),
                }
            }
        }
    }
    for s in &suites {
        if let Some(w) = &s.warning {
            eprintln!("warning: {w}");
        }
    }
    report.insert(
        "binaries".into(),
        suites
            .iter()
            .map(|s| {
                json!({
                    "profile": s.profile.name(),
                    "path": s.binary.display().to_string(),
                    "incremental_build_seconds": s.build_time.map(|d| d.as_secs_f64()),
                    "warning": s.warning,
                })
            })
            .collect(),
    );
    let release = suites
        .first()
        .cloned()
        .ok_or_else(|| "no conformance binary to measure".to_owned())?;

    // 1. The default run.
    println!();
    println!(
        "1. Default run: every case + every property at its default count, embedded reference server ({} runs each)",
        options.runs
    );
    println!(
        "   {:<8} {:>9} {:>9} {:>9} {:>10} {:>8} {:>8}  outcome",
        "profile", "min", "median", "max", "peak RSS", "CPU", "threads"
    );
    let mut default_rows = Vec::new();
    let mut best_default: Option<f64> = None;
    for suite in &suites {
        let mut runs = Vec::new();
        for i in 0..options.runs {
            let spec = child::Spec {
                program: &suite.binary,
                args: Vec::new(),
                env: Vec::new(),
                cwd: &root,
                log: logs.join(format!("default-{}-{i}", suite.profile.name())),
            };
            runs.push(child::run(&spec, ticks)?);
        }
        let walls: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64()).collect();
        let (min, median, max) = spread(&walls);
        let peak = runs.iter().filter_map(|r| r.peak_kib).max();
        let cpu = median_of(runs.iter().filter_map(|r| r.cpu_secs).collect());
        let threads = runs.iter().filter_map(|r| r.peak_threads).max();
        let failed: Vec<&Measured> = runs.iter().filter(|r| !r.passed()).collect();
        let outcome = match failed.first() {
            None => format!(
                "ok ({} tests passed)",
                runs.first().and_then(|r| r.summary).map_or(0, |s| s.passed)
            ),
            Some(f) => format!("{} of {} runs: {}", failed.len(), runs.len(), f.outcome()),
        };
        if failed.is_empty() {
            best_default = Some(best_default.map_or(median, |b: f64| b.min(median)));
        }
        println!(
            "   {:<8} {:>9} {:>9} {:>9} {:>10} {:>8} {:>8}  {}",
            suite.profile.name(),
            secs(min),
            secs(median),
            secs(max),
            mib(peak),
            cpu.map_or_else(|| "?".to_owned(), secs),
            threads.map_or_else(|| "?".to_owned(), |t| t.to_string()),
            cut(&outcome, 150),
        );
        default_rows.push(json!({
            "profile": suite.profile.name(),
            "binary": suite.binary.display().to_string(),
            "runs": runs.len(),
            "wall_seconds": {"min": min, "median": median, "max": max, "all": walls},
            "peak_rss_kib": peak,
            "cpu_seconds_median": cpu,
            "peak_threads": threads,
            "passed": failed.is_empty(),
            "tests": runs.first().and_then(|r| r.summary).map(child::Summary::to_json),
            "outcome": outcome,
            "logs": runs.iter().map(|r| json!([r.stdout_path.display().to_string(), r.stderr_path.display().to_string()])).collect::<Vec<_>>(),
        }));
    }
    let default_met = best_default.map(|m| m <= GOAL_DEFAULT_RUN_SECS);
    println!(
        "   goal: default run ≤ {GOAL_DEFAULT_RUN_SECS} s → {}",
        verdict(default_met)
    );
    report.insert(
        "default_run".into(),
        json!({"rows": default_rows, "goal_seconds": GOAL_DEFAULT_RUN_SECS, "goal_met": default_met}),
    );

    // 2. Generated invites per second.
    let dev = suites.iter().find(|s| s.profile == Profile::Dev);
    let (throughput_json, rate_met) = throughput(options, &release, dev, &root, &logs, ticks)?;
    report.insert("throughput".into(), throughput_json);
    if !options.parallel.is_empty() && options.lifted {
        let parallel_json = parallel(options, &release, &root, &logs, ticks, rate_met)?;
        report.insert("parallel".into(), parallel_json);
    }

    // 3. Validation cost.
    if options.micro {
        println!();
        println!("3. Schema validation, in process (conformance-harness Schemas::validate, median of 7 batches)");
        match micro::measure_all(&root) {
            Ok(figures) => {
                for f in &figures {
                    println!("   {:<70} {:>10.1} µs", f.what, f.micros);
                }
                report.insert(
                    "validation".into(),
                    figures.iter().map(micro::Figure::to_json).collect(),
                );
            }
            Err(e) => {
                println!("   not measured: {e}");
                report.insert("validation".into(), json!({"error": e}));
            }
        }
    }

    // 4. Profile.
    if options.profile {
        println!();
        let n = options.profile_cases;
        let env = throughput_env(n, options.seed);
        let target = profile::Target {
            binary: &release.binary,
            args: vec!["--exact".into(), PROPERTY.into()],
            env: env.clone(),
            cwd: &root,
            out_dir: &bench_dir,
        };
        let profiled = if profile::perf_works() {
            println!("4. Profile: perf, {n} generated invites, embedded server, release");
            profile::perf(&target)
        } else if profile::valgrind_works() {
            let small = n.min(50);
            println!("4. Profile: perf unavailable; callgrind, {small} generated invites, embedded server, release");
            let target = profile::Target {
                env: throughput_env(small, options.seed),
                ..target
            };
            profile::callgrind(&target)
        } else {
            Err("neither perf nor valgrind works here".to_owned())
        };
        match profiled {
            Ok(p) => {
                print_profile(&p, n);
                report.insert("profile".into(), p);
            }
            Err(e) => {
                println!("   not profiled: {e}");
                report.insert("profile".into(), json!({"error": e}));
            }
        }
    }

    // 5. Build cost and dependencies.
    if options.deps || options.clean_build {
        println!();
        println!("5. Build");
    }
    if options.deps {
        match build::dependency_report(&root) {
            Ok(d) => {
                println!(
                    "   packages in the graph: {}",
                    d["packages_in_graph"].as_u64().unwrap_or(0)
                );
                for dup in d["duplicates"].as_array().into_iter().flatten() {
                    let by = strings(&dup["pulled_in_by"]);
                    println!(
                        "   duplicate {:<20} ← {}",
                        dup["crate"].as_str().unwrap_or("?"),
                        by.join(", ")
                    );
                }
                let scripts = strings(&d["build_scripts"]);
                println!(
                    "   build scripts ({}): {}",
                    scripts.len(),
                    scripts.join(", ")
                );
                report.insert("dependencies".into(), d);
            }
            Err(e) => {
                println!("   dependencies not listed: {e}");
                report.insert("dependencies".into(), json!({"error": e}));
            }
        }
    }
    if options.clean_build {
        let mut rows = Vec::new();
        for args in [
            &["test", "--no-run"][..],
            &["test", "--workspace", "--no-run"][..],
        ] {
            eprintln!(
                "clean build: cargo {} in {}…",
                args.join(" "),
                options.clean_target.display()
            );
            match build::clean_build(&root, &options.clean_target, args) {
                Ok(b) => {
                    println!(
                        "   clean `{}`: {} ({} units){}",
                        b.command,
                        secs(b.wall.as_secs_f64()),
                        b.units,
                        if b.ok { "" } else { " FAILED" }
                    );
                    if !b.slowest.is_empty() {
                        let top: Vec<String> = b
                            .slowest
                            .iter()
                            .take(8)
                            .map(|(u, s)| format!("{u} {s:.1}s"))
                            .collect();
                        println!("     slowest units: {}", top.join(", "));
                    }
                    rows.push(json!({
                        "command": b.command,
                        "wall_seconds": b.wall.as_secs_f64(),
                        "ok": b.ok,
                        "units": b.units,
                        "slowest_units": b.slowest.iter().map(|(u, s)| json!({"unit": u, "seconds": s})).collect::<Vec<_>>(),
                    }));
                }
                Err(e) => {
                    println!("   clean `cargo {}` not measured: {e}", args.join(" "));
                    rows.push(json!({"command": format!("cargo {}", args.join(" ")), "error": e}));
                }
            }
        }
        report.insert(
            "clean_build".into(),
            json!({"target_dir": options.clean_target.display().to_string(), "rows": rows}),
        );
    }

    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&Value::Object(report))
        .map_err(|e| format!("cannot serialize the report: {e}"))?;
    std::fs::write(&out, format!("{text}\n"))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!();
    println!("report: {}", out.display());
    println!("logs:   {}", logs.display());
    Ok(())
}

/// The environment of a throughput run: `n` cases, a fixed seed, nothing
/// persisted, and a failure reported at once (no shrinking, no waiting out
/// `Retry-After`): a failed size is reported, not timed.
fn throughput_env(n: u32, seed: u64) -> Vec<(String, String)> {
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

/// Table row: one measured throughput run.
struct Row<'a> {
    label: &'a str,
    n: u32,
    measured: &'a Measured,
    server_cpu: Option<f64>,
    /// Growth of the bench's resident set over the run: the in-process
    /// server's memory (`limit lifted` only).
    server_rss_growth: Option<u64>,
    marginal: Option<f64>,
    /// Walls of every repetition of this size, in seconds, sorted.
    walls: Vec<f64>,
}

fn print_row(row: &Row<'_>) {
    let wall = row.measured.wall.as_secs_f64();
    let ok = row.measured.passed();
    let cpu = match (row.measured.cpu_secs, row.server_cpu) {
        (Some(c), Some(s)) => Some(c + s),
        (c, _) => c,
    };
    println!(
        "   {:<26} {:>7} {:>9} {:>10} {:>10} {:>11} {:>10} {:>9} {:>9}  {}",
        row.label,
        row.n,
        secs(wall),
        opt(ok.then(|| f64::from(row.n) / wall), 0),
        opt(ok.then(|| wall * 1e6 / f64::from(row.n)), 0),
        opt(row.marginal, 0),
        match row.server_rss_growth {
            Some(g) => format!(
                "{}+{:.0}",
                mib(row.measured.peak_kib).trim_end_matches(" MiB"),
                g as f64 / 1024.0
            ),
            None => mib(row.measured.peak_kib),
        },
        // A failed run stopped early: per-invite figures would divide by
        // invites it never sent.
        opt(cpu.filter(|_| ok).map(|c| c * 1e6 / f64::from(row.n)), 0),
        opt(cpu.map(|c| c / wall * 100.0), 0),
        cut(&row.measured.outcome(), 150),
    );
    if let (Some(low), Some(high)) = (row.walls.first(), row.walls.last()) {
        if row.walls.len() > 1 {
            println!(
                "   {:<26} {:>7} median of {} runs; walls {} to {} ({} to {} invites/s)",
                "",
                "",
                row.walls.len(),
                secs(*low),
                secs(*high),
                opt(Some(f64::from(row.n) / high), 0),
                opt(Some(f64::from(row.n) / low), 0),
            );
        }
    }
}

fn row_json(row: &Row<'_>) -> Value {
    let wall = row.measured.wall.as_secs_f64();
    let ok = row.measured.passed();
    let n = f64::from(row.n);
    let cpu_total = match (row.measured.cpu_secs, row.server_cpu) {
        (Some(c), Some(s)) => Some(c + s),
        (c, _) => c,
    };
    json!({
        "invites": row.n,
        "wall_seconds": wall,
        "wall_seconds_of_each_run": row.walls,
        "invites_per_second": ok.then(|| n / wall),
        "microseconds_per_invite": ok.then(|| wall * 1e6 / n),
        "marginal_microseconds_per_invite": row.marginal,
        "peak_rss_kib": row.measured.peak_kib,
        "peak_threads": row.measured.peak_threads,
        "suite_cpu_seconds": row.measured.cpu_secs,
        "server_cpu_seconds": row.server_cpu,
        "server_rss_growth_kib": row.server_rss_growth,
        "cpu_microseconds_per_invite": cpu_total.filter(|_| ok).map(|c| c * 1e6 / n),
        "cpu_utilisation_percent": cpu_total.map(|c| c / wall * 100.0),
        "passed": ok,
        "tests": row.measured.summary.map(child::Summary::to_json),
        "outcome": row.measured.outcome(),
        "logs": [row.measured.stdout_path.display().to_string(), row.measured.stderr_path.display().to_string()],
    })
}

fn throughput(
    options: &Options,
    release: &Suite,
    dev: Option<&Suite>,
    root: &Path,
    logs: &Path,
    ticks: u64,
) -> Result<(Value, Option<bool>), String> {
    println!();
    println!(
        "2. Generated valid invites: `--exact {PROPERTY}`, PROPTEST_CASES = N, PROPTEST_RNG_SEED={}",
        options.seed
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
    let mut runs: Vec<(&Suite, Target, &str, Vec<u32>)> = vec![(
        release,
        Target::Embedded,
        "release, embedded",
        options.sizes.clone(),
    )];
    if options.lifted {
        runs.push((
            release,
            Target::Lifted,
            "release, limit lifted",
            options.sizes.clone(),
        ));
    }
    if let (Some(dev), Some(&first)) = (dev, options.sizes.first()) {
        runs.push((
            dev,
            Target::Embedded,
            "dev (cargo test), embedded",
            vec![first],
        ));
    }
    let mut groups = Vec::new();
    let mut best_rate: Option<f64> = None;
    for (suite, target, label, sizes) in runs {
        let mut previous: Option<(u32, f64)> = None;
        let mut rows = Vec::new();
        for n in sizes {
            // The machine's speed drifts between runs (a shared VM): every size
            // runs `repeat` times and the median run stands for it.
            let mut repeats = Vec::new();
            for _ in 0..options.repeat {
                repeats.push(throughput_run(
                    suite,
                    root,
                    logs,
                    target,
                    n,
                    options.seed,
                    ticks,
                )?);
            }
            repeats.sort_by_key(|r| r.0.wall);
            let walls: Vec<f64> = repeats.iter().map(|r| r.0.wall.as_secs_f64()).collect();
            let Some((measured, server_cpu, server_rss_growth)) =
                repeats.into_iter().nth(walls.len() / 2)
            else {
                continue;
            };
            let wall = measured.wall.as_secs_f64();
            let marginal = match (measured.passed(), previous) {
                (true, Some((pn, pw))) if n > pn => Some((wall - pw) * 1e6 / f64::from(n - pn)),
                _ => None,
            };
            if measured.passed() {
                previous = Some((n, wall));
                if suite.profile == Profile::Release {
                    let rate = f64::from(n) / wall;
                    best_rate = Some(best_rate.map_or(rate, |b: f64| b.max(rate)));
                }
            }
            let row = Row {
                label,
                n,
                measured: &measured,
                server_cpu,
                server_rss_growth,
                marginal,
                walls,
            };
            print_row(&row);
            rows.push(row_json(&row));
        }
        let linearity = linearity(&rows);
        if rows.len() > 1 {
            if let Some(text) = linearity.get("text").and_then(Value::as_str) {
                println!("   ({label}) {text}");
            }
        }
        groups.push(json!({
            "binary": suite.profile.name(),
            "target": target.key(),
            "label": label,
            "rows": rows,
            "linearity": linearity,
        }));
    }
    let rate_met = best_rate.map(|r| r >= GOAL_INVITES_PER_SEC);
    println!(
        "   goal: ≥ {GOAL_INVITES_PER_SEC} invites/s → {} (best median {} invites/s)",
        verdict(rate_met),
        opt(best_rate, 0)
    );
    if options.sizes.last().is_some_and(|n| *n < 10_000) {
        println!("   (sizes below 10,000 weigh process start and warm-up heavily: the goal is for a long run; run without --quick)");
    }
    println!("   (CPU µs/i: suite + server CPU per invite. `limit lifted`: the server runs in the bench process; its CPU is counted, and peak RSS reads suite MiB + the server's growth in MiB)");
    let env: std::collections::BTreeMap<String, String> =
        throughput_env(1, options.seed).into_iter().collect();
    Ok((
        json!({
            "property": PROPERTY,
            "environment": env,
            "note": "embedded: the suite against its embedded reference server, as cargo test runs it. reference-lifted: the suite run with --target against an invite-reference server started inside the bench with max_calls_per_client lifted; its CPU is the bench process's own CPU during the run. Each size runs `repeat` times; the median run is reported and wall_seconds_of_each_run lists all",
            "groups": groups,
            "goal_invites_per_second": GOAL_INVITES_PER_SEC,
            "goal_met": rate_met,
            "best_invites_per_second": best_rate,
        }),
        rate_met,
    ))
}

/// The ceiling that concurrency alone would reach with today's cost per
/// invite: K suite processes at once against one lifted server.
fn parallel(
    options: &Options,
    release: &Suite,
    root: &Path,
    logs: &Path,
    ticks: u64,
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
        let config = invite_reference::Config {
            max_calls_per_client: usize::MAX,
            ..invite_reference::Config::default()
        };
        let server = invite_reference::start(config)
            .map_err(|e| format!("cannot start a reference server: {e}"))?;
        let base = server.base_url();
        let bench_cpu_before = child::own_cpu_secs(ticks);
        let started = std::time::Instant::now();
        let results: Vec<Result<Measured, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..k)
                .map(|i| {
                    let base = base.clone();
                    scope.spawn(move || {
                        let mut env = throughput_env(n, options.seed + u64::from(i));
                        env.push(("CONFORMANCE_TOKEN".to_owned(), "bench-token".to_owned()));
                        let spec = child::Spec {
                            program: &release.binary,
                            args: vec![
                                "--exact".to_owned(),
                                PROPERTY.to_owned(),
                                "--target".to_owned(),
                                base,
                            ],
                            env,
                            cwd: root,
                            log: logs.join(format!("parallel-{k}-{i}")),
                        };
                        child::run(&spec, ticks)
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
        let server_cpu = match (child::own_cpu_secs(ticks), bench_cpu_before) {
            (Some(after), Some(before)) => Some(after - before),
            _ => None,
        };
        server.shutdown();
        let measured: Vec<Measured> = results.into_iter().collect::<Result<_, _>>()?;
        let total = u64::from(n) * u64::from(k);
        let passed = measured.iter().all(Measured::passed);
        let suite_cpu: Option<f64> = measured.iter().map(|m| m.cpu_secs).sum();
        let cpu = match (suite_cpu, server_cpu) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        let rate = passed.then(|| total as f64 / wall);
        let outcome = measured
            .iter()
            .find(|m| !m.passed())
            .map_or_else(|| "ok".to_owned(), Measured::outcome);
        println!(
            "   {:>3} {:>8} {:>9} {:>10} {:>11} {:>9}  {}",
            k,
            total,
            secs(wall),
            opt(rate, 0),
            opt(cpu.filter(|_| passed).map(|c| c * 1e6 / total as f64), 0),
            opt(cpu.map(|c| c / wall * 100.0), 0),
            cut(&outcome, 150),
        );
        rows.push(json!({
            "processes": k,
            "invites": total,
            "wall_seconds": wall,
            "invites_per_second": rate,
            "suite_cpu_seconds": suite_cpu,
            "server_cpu_seconds": server_cpu,
            "cpu_microseconds_per_invite": cpu.filter(|_| passed).map(|c| c * 1e6 / total as f64),
            "cpu_utilisation_percent": cpu.map(|c| c / wall * 100.0),
            "passed": passed,
            "outcome": outcome,
        }));
    }
    let best = rows
        .iter()
        .filter_map(|r| r["invites_per_second"].as_f64())
        .fold(None, |b: Option<f64>, r| Some(b.map_or(r, |b| b.max(r))));
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

fn throughput_run(
    suite: &Suite,
    root: &Path,
    logs: &Path,
    target: Target,
    n: u32,
    seed: u64,
    ticks: u64,
) -> Result<(Measured, Option<f64>, Option<u64>), String> {
    let mut args = vec!["--exact".to_owned(), PROPERTY.to_owned()];
    let mut env = throughput_env(n, seed);
    // A fresh server per run, so no run inherits another's calls.
    let server = if target == Target::Lifted {
        let config = invite_reference::Config {
            max_calls_per_client: usize::MAX,
            ..invite_reference::Config::default()
        };
        let server = invite_reference::start(config)
            .map_err(|e| format!("cannot start a reference server: {e}"))?;
        args.extend(["--target".to_owned(), server.base_url()]);
        env.push(("CONFORMANCE_TOKEN".to_owned(), "bench-token".to_owned()));
        Some(server)
    } else {
        None
    };
    let spec = child::Spec {
        program: &suite.binary,
        args,
        env,
        cwd: root,
        log: logs.join(format!(
            "invites-{}-{}-{n}",
            suite.profile.name(),
            target.key()
        )),
    };
    let before = child::own_cpu_secs(ticks);
    let rss_before = child::own_rss_kib();
    let measured = child::run(&spec, ticks);
    let server_cpu = match (&server, child::own_cpu_secs(ticks), before) {
        (Some(_), Some(after), Some(before)) => Some(after - before),
        _ => None,
    };
    let server_rss_growth = match (&server, child::own_rss_kib(), rss_before) {
        (Some(_), Some(after), Some(before)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    if let Some(server) = server {
        server.shutdown();
    }
    Ok((measured?, server_cpu, server_rss_growth))
}

/// Whether time per invite stays flat as the size grows.
fn linearity(rows: &[Value]) -> Value {
    let points: Vec<(u64, f64)> = rows
        .iter()
        .filter(|r| r["passed"].as_bool() == Some(true))
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

fn print_profile(p: &Value, n: u32) {
    let section = |key: &str, title: &str, rows: usize| {
        let list = p[key].as_array().cloned().unwrap_or_default();
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
    let counters = p["perf_stat"].as_array().cloned().unwrap_or_default();
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

fn machine() -> Value {
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
    let output = |program: &str, args: &[&str]| -> String {
        std::process::Command::new(program)
            .args(args)
            .current_dir(workspace_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
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

/// The strings of a JSON array (none if it is not one).
fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("?")
}

/// (min, median, max) of a non-empty list; zeros for an empty one.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match (v.first(), v.last()) {
        (Some(&min), Some(&max)) => (min, v[v.len() / 2], max),
        _ => (0.0, 0.0, 0.0),
    }
}

fn median_of(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// `text` cut to `max` characters, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

fn secs(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.3} s")
    } else {
        format!("{s:.1} s")
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "?".to_owned(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{v:.decimals$}"))
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "not measured (no passing run)",
    }
}
