//! The command line.

use std::path::PathBuf;

use serde_json::{json, Value};

pub const HELP: &str = "\
conformance-bench: what a conformance run costs on this machine

USAGE:
    cargo run --release -p conformance-bench -- [OPTIONS]

OPTIONS:
    --quick                 sizes 100,1000, 3 default runs, --parallel 1,2 of 300
                            invites, profile of 200 invites
    --sizes N,N,...         generated invites per throughput run (default 100,1000,10000)
    --runs N                repetitions of the default run (default 7)
    --repeat N              repetitions of each throughput size; the median passing
                            run is shown, with the spread (default 3; --quick 1)
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
    --no-slow               skip the slow-target scenario (a reference answering in
                            300 ms, notifying 1 s later) and the failing-target run
    --baseline-bin PATH     also run the slow-target and failing-target scenarios with
                            this conformance binary (another commit's release build),
                            side by side, from the same workspace
    --bare-invites N        loopback exchanges of the bare-client row (default 2000;
                            --quick 500)
    --suite-bin PATH        measure this conformance binary instead of building one
    --out PATH              the JSON report (default target/bench/report.json)
    -h, --help              this text
";

#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    pub sizes: Vec<u32>,
    pub runs: usize,
    pub repeat: usize,
    pub seed: u64,
    pub profile_cases: u32,
    pub profile: bool,
    pub dev: bool,
    pub lifted: bool,
    pub micro: bool,
    pub deps: bool,
    pub clean_build: bool,
    pub clean_target: PathBuf,
    pub suite_bin: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub parallel: Vec<u32>,
    pub parallel_cases: u32,
    pub slow: bool,
    pub baseline_bin: Option<PathBuf>,
    pub bare_invites: u32,
}

impl Options {
    /// The defaults, or those of `--quick`.
    fn defaults(quick: bool) -> Self {
        Options {
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
            slow: true,
            baseline_bin: None,
            bare_invites: if quick { 500 } else { 2_000 },
        }
    }

    /// The options the report records.
    pub fn to_json(&self) -> Value {
        json!({
            "quick": self.quick, "sizes": self.sizes, "runs": self.runs,
            "seed": self.seed, "profile_cases": self.profile_cases,
            "parallel": self.parallel, "parallel_cases": self.parallel_cases,
            "slow": self.slow, "bare_invites": self.bare_invites,
            "baseline_bin": self.baseline_bin.as_ref().map(|p| p.display().to_string()),
        })
    }
}

/// The options of `args`; none for `--help`.
pub fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut o = Options::defaults(args.iter().any(|a| a == "--quick"));
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quick" => {}
            "--sizes" => {
                let v = value()?;
                o.sizes = list(arg, &v, |n| n > 0, "a positive number")?;
                o.sizes.sort_unstable();
                o.sizes.dedup();
            }
            "--repeat" => o.repeat = usize::try_from(number(arg, value()?)?.max(1)).unwrap_or(1),
            "--runs" => o.runs = usize::try_from(number(arg, value()?)?.max(1)).unwrap_or(1),
            "--seed" => o.seed = number(arg, value()?)?,
            "--profile-cases" => o.profile_cases = count(arg, value()?)?,
            "--parallel" => {
                let v = value()?;
                o.parallel = if v == "0" || v == "none" {
                    Vec::new()
                } else {
                    list(arg, &v, |n| (1..=64).contains(&n), "1..=64")?
                };
            }
            "--parallel-cases" => o.parallel_cases = count(arg, value()?)?,
            "--no-profile" => o.profile = false,
            "--no-dev" => o.dev = false,
            "--no-lifted" => o.lifted = false,
            "--no-micro" => o.micro = false,
            "--no-deps" => o.deps = false,
            "--clean-build" => o.clean_build = true,
            "--clean-target" => o.clean_target = PathBuf::from(value()?),
            "--suite-bin" => o.suite_bin = Some(PathBuf::from(value()?)),
            "--no-slow" => o.slow = false,
            "--baseline-bin" => o.baseline_bin = Some(PathBuf::from(value()?)),
            "--bare-invites" => o.bare_invites = count(arg, value()?)?,
            "--out" => o.out = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    Ok(Some(o))
}

fn number(name: &str, v: String) -> Result<u64, String> {
    v.parse::<u64>()
        .map_err(|e| format!("{name} {v:?}: not a number ({e})"))
}

/// A count of invites: at least 1, at most `u32::MAX`.
fn count(name: &str, v: String) -> Result<u32, String> {
    Ok(u32::try_from(number(name, v)?.max(1)).unwrap_or(u32::MAX))
}

/// `N,N,…`, each number `allowed` (`what` says which are).
fn list(
    name: &str,
    v: &str,
    allowed: impl Fn(u32) -> bool,
    what: &str,
) -> Result<Vec<u32>, String> {
    v.split(',')
        .map(|s| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| allowed(*n))
                .ok_or_else(|| format!("{name} {v:?}: {s:?} is not {what}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Option<Options>, String> {
        parse(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn quick_sets_smaller_defaults_and_later_options_override_them() {
        let o = parsed(&["--sizes", "1000, 10,1000", "--quick", "--parallel", "none"])
            .expect("valid")
            .expect("not --help");
        assert!(o.quick);
        assert_eq!(o.sizes, vec![10, 1000]);
        assert_eq!((o.runs, o.repeat, o.profile_cases), (3, 1, 200));
        assert!(o.parallel.is_empty());
    }

    #[test]
    fn rejects_what_is_out_of_range() {
        let err = parsed(&["--sizes", "100,0"]).expect_err("0 is not a size");
        assert_eq!(err, r#"--sizes "100,0": "0" is not a positive number"#);
        let err = parsed(&["--parallel", "1,65"]).expect_err("65 is too many");
        assert_eq!(err, r#"--parallel "1,65": "65" is not 1..=64"#);
        assert_eq!(
            parsed(&["--runs"]).expect_err("no value"),
            "--runs needs a value"
        );
        assert!(parsed(&["--help"]).expect("help").is_none());
    }
}
