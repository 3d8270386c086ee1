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
//!
//! [`run`] takes the sections in turn; each lives in its own module, which
//! measures it, prints its part of the table and returns its part of the
//! report.

mod bare_client;
mod build;
mod child;
mod default_run;
mod figures;
mod machine;
mod micro;
mod options;
mod parallel;
mod profile;
mod slow_target;
mod throughput;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Map, Value};

use build::{Profile, Suite};
use options::Options;

/// Goals of the issue "Fast: a suite that costs CI seconds, measured".
const GOAL_DEFAULT_RUN_SECS: f64 = 2.0;
const GOAL_INVITES_PER_SEC: f64 = 5_000.0;

/// Where the bench runs the suite and keeps what it writes.
pub struct Bench {
    /// The workspace root, where `cases/` and `schemas/` are; the suite runs
    /// from here.
    pub root: PathBuf,
    /// `target/bench`: the report, and the profiler's data.
    pub dir: PathBuf,
    /// `target/bench/logs`: the output of each run.
    pub logs: PathBuf,
    /// The unit of `/proc/<pid>/stat` times.
    pub ticks: u64,
}

/// The workspace root, where `cases/` and `schemas/` are.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

impl Bench {
    fn new() -> Result<Self, String> {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| workspace_root().join("target"), PathBuf::from);
        let dir = target.join("bench");
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs)
            .map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
        Ok(Bench {
            root: workspace_root(),
            dir,
            logs,
            ticks: child::clock_ticks(),
        })
    }
}

/// The suite's allocator (see suite/main.rs), for the runs in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match options::parse(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{}", options::HELP);
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

/// Every section in turn, then the report written out.
fn run(options: &Options) -> Result<(), String> {
    let bench = Bench::new()?;
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| bench.dir.join("report.json"));
    let mut report = Map::new();

    let machine = machine::describe();
    machine::print(&machine, options.quick);
    report.insert("machine".into(), machine);
    report.insert("options".into(), options.to_json());
    let suites = suites(options, &bench.root)?;
    report.insert(
        "binaries".into(),
        suites.iter().map(Suite::to_json).collect(),
    );
    let release = suites
        .first()
        .cloned()
        .ok_or_else(|| "no conformance binary to measure".to_owned())?;

    // 1. The default run.
    report.insert(
        "default_run".into(),
        default_run::section(&bench, &suites, options.runs)?,
    );

    // 2. Generated invites per second, and 2b. what concurrency would give.
    let dev = suites.iter().find(|s| s.profile == Profile::Dev);
    let (throughput_json, rate_met) = throughput::section(options, &bench, &release, dev)?;
    report.insert("throughput".into(), throughput_json);
    if !options.parallel.is_empty() && options.lifted {
        let parallel_json = parallel::section(options, &bench, &release, rate_met)?;
        report.insert("parallel".into(), parallel_json);
    }

    // 2c. The embedded floor: a bare client's CPU per invite.
    report.insert(
        "bare_client".into(),
        bare_client::section(&bench, &release, options.bare_invites, options.seed)?,
    );

    // 2d. A slow target, and a failing one.
    if options.slow {
        report.insert(
            "slow_target".into(),
            slow_target::section(&bench, &release, options.baseline_bin.as_deref())?,
        );
    }

    // 3. Validation cost.
    if options.micro {
        report.insert("validation".into(), micro::section(&bench.root));
    }

    // 4. Profile.
    if options.profile {
        report.insert(
            "profile".into(),
            profile::section(&bench, &release, options.profile_cases, options.seed),
        );
    }

    // 5. Build cost and dependencies.
    if options.deps || options.clean_build {
        println!();
        println!("5. Build");
    }
    if options.deps {
        report.insert(
            "dependencies".into(),
            build::dependencies_section(&bench.root),
        );
    }
    if options.clean_build {
        report.insert(
            "clean_build".into(),
            build::clean_builds_section(&bench.root, &options.clean_target),
        );
    }

    write_report(&out, report)?;
    println!();
    println!("report: {}", out.display());
    println!("logs:   {}", bench.logs.display());
    Ok(())
}

/// The binaries to measure, release first: the one given with
/// `--suite-bin`, else the release build and (unless `--no-dev`) the dev
/// build. Their warnings go to stderr.
fn suites(options: &Options, root: &Path) -> Result<Vec<Suite>, String> {
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
            suites.push(build::build_suite(root, Profile::Release)?);
            if options.dev {
                eprintln!("building the conformance binary (dev, as `cargo test` runs it)…");
                match build::build_suite(root, Profile::Dev) {
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
    Ok(suites)
}

/// Writes the JSON report to `out`, creating its folder.
fn write_report(out: &Path, report: Map<String, Value>) -> Result<(), String> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&Value::Object(report))
        .map_err(|e| format!("cannot serialize the report: {e}"))?;
    std::fs::write(out, format!("{text}\n"))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}
