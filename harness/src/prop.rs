//! Running a property as one trial: many generated inputs, the failing one
//! shrunk (each step is a request, so shrinking is bounded), printed with the
//! seed that replays it alone and as a ready-to-save case file.
//!
//! Every input has a seed of its own, derived from the run's seed and the
//! input's index, whatever the number of worker threads: the same seed and
//! case count name the same inputs on any machine, and the failing input's
//! own seed replays just that input (`PROPTEST_CASES=1`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use serde_json::Value;

use crate::env::Env;
use crate::lock;
use crate::render::redact_secrets;
use crate::verdict::{Check, Verdict, Where};

/// Cases per property unless `PROPTEST_CASES` says otherwise.
pub const DEFAULT_CASES: u32 = 32;
/// Shrink steps unless `PROPTEST_MAX_SHRINK_ITERS` says otherwise.
pub const DEFAULT_SHRINK_ITERS: u32 = 256;
/// Shrinking stops after this long (`PROPTEST_MAX_SHRINK_TIME`): against a
/// target that withholds a notification, every step costs a deadline.
pub const DEFAULT_SHRINK_MILLIS: u32 = 30_000;
/// Where failing inputs' seeds are kept, one file per property, and replayed
/// first on the next run.
pub const REGRESSIONS_DIR: &str = "proptest-regressions";

/// What one generated input came to, when it failed.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    /// `POST /… -> 500 Internal Server Error in 2 ms`
    pub request: Option<String>,
    pub checks: Vec<Check>,
    /// Set when no verdict could be reached.
    pub error: Option<String>,
    /// The error is about setting the input up (its fixtures: a resource
    /// the target would not create), not about the exchange under test: the
    /// property stops at once, nothing is shrunk or kept.
    pub setup: bool,
    /// The input as a case file that reproduces the failure.
    pub case_file: Option<Value>,
}

impl Failure {
    pub fn failed(&self, strict: bool) -> bool {
        self.error.is_some() || self.checks.iter().any(|c| c.fails(strict))
    }
}

/// The run's proptest configuration: our bounded defaults, proptest's
/// environment variables on top, and the run's seed.
pub fn config() -> (Config, u64) {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = DEFAULT_CASES;
    }
    if std::env::var_os("PROPTEST_MAX_SHRINK_ITERS").is_none() {
        config.max_shrink_iters = DEFAULT_SHRINK_ITERS;
    }
    if std::env::var_os("PROPTEST_MAX_SHRINK_TIME").is_none() {
        config.max_shrink_time = DEFAULT_SHRINK_MILLIS;
    }
    // Seeds are kept by this module, per input (proptest's own file keeps
    // the state of one runner, which the inputs here do not share).
    config.failure_persistence = None;
    let seed = match config.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => {
            let bytes = uuid::Uuid::new_v4().into_bytes();
            u64::from_le_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            ])
        }
    };
    (config, seed)
}

/// The seed of input `index` of a run seeded `seed`: the run's own seed for
/// the first, so `PROPTEST_RNG_SEED=<an input's seed> PROPTEST_CASES=1` runs
/// exactly that input.
pub fn input_seed(seed: u64, index: usize) -> u64 {
    if index == 0 {
        return seed;
    }
    // splitmix64 of the pair: neighbouring indices get unrelated seeds.
    let mut z = seed.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Generated inputs run on this many threads at most: each input waits on
/// the target most of its time, not on the CPU (8 kept both cores of the
/// bench machine busy against the embedded server; 4 left a fifth idle).
/// `--test-threads` lowers it (a throttled target wants fewer at once).
pub const MAX_WORKERS: usize = 8;

/// The input that failed: its seed, proptest's verdict, the last failure seen.
struct Found<V> {
    seed: u64,
    error: TestError<V>,
    last: Option<Failure>,
}

/// What searching the inputs came to.
struct Search<V> {
    /// The first input that failed, shrunk.
    found: Option<Found<V>>,
    /// The first input with only SHOULD-level findings (not shrunk: a
    /// warning does not fail the property), with its seed.
    warned: Option<(u64, Failure)>,
    /// An input that could not be set up: no input can be judged.
    setup: Option<Failure>,
}

/// Runs `test` over the strategy `make` builds: first the seeds kept from
/// earlier failures, then `PROPTEST_CASES` inputs, on up to 8 threads
/// (following `--test-threads`). The first failure is shrunk and becomes a
/// verdict whose checks are those of the shrunk input, with the seed that
/// replays it and the case file printed.
pub fn run<S>(
    env: &Env,
    name: &str,
    make: impl Fn() -> S + Sync,
    test: impl Fn(&Env, &S::Value) -> Option<Failure> + Sync,
) -> Verdict
where
    S: Strategy,
    S::Value: Send,
{
    let (config, seed) = config();
    let cases = usize::try_from(config.cases).unwrap_or(usize::MAX);
    let kept = Regressions::for_property(name);
    let replayed = kept.seeds();
    // Inputs in order: kept seeds, then the run's.
    let seeds: Vec<u64> = replayed
        .iter()
        .copied()
        .chain((0..cases).map(|i| input_seed(seed, i)))
        .collect();
    let search = search(env, &config, &seeds, &make, &test);
    let mut verdict = Verdict {
        place: place(env, name, seed, cases, replayed.len()),
        ..Verdict::default()
    };
    // A failure found stands even when another input (or a shrinking
    // step) could not be set up afterwards: that input was judged.
    if let Some(found) = search.found {
        let run = (seed, cases, replayed.len());
        failed(env, name, run, &kept, found, &test, &mut verdict);
    } else if let Some(f) = search.setup {
        verdict.error = Some(format!(
            "a generated input could not be set up, so no input was judged: {}",
            f.error.unwrap_or_default()
        ));
    } else if let Some((warning_seed, w)) = search.warned {
        warned(env, name, warning_seed, w, &mut verdict);
    }
    verdict
}

/// A generated case, run as its file would run, as a property judges it:
/// `None` when it passed with no warning. Warnings come back too: the
/// property reports the first, unshrunk.
pub fn run_case(env: &Env, contract: &dyn crate::Contract, case: &Value) -> Option<Failure> {
    let verdict = match crate::runner::run_generated(env, contract, case) {
        Ok(v) => v,
        Err(e) => {
            return Some(Failure {
                error: Some(format!(
                    "generator bug: the generated case does not load: {e}"
                )),
                case_file: Some(case.clone()),
                ..Failure::default()
            })
        }
    };
    let strict = env.options.strict;
    if verdict.passed(strict) && verdict.warnings(strict) == 0 {
        return None;
    }
    Some(Failure {
        request: verdict.place.request,
        checks: verdict.checks,
        error: verdict.error,
        setup: verdict.setup,
        case_file: Some(case.clone()),
    })
}

/// Tries the inputs of `seeds`, each with a runner of its own, on worker
/// threads, until one fails (it alone is then shrunk) or cannot be set up.
fn search<S>(
    env: &Env,
    config: &Config,
    seeds: &[u64],
    make: &(impl Fn() -> S + Sync),
    test: &(impl Fn(&Env, &S::Value) -> Option<Failure> + Sync),
) -> Search<S::Value>
where
    S: Strategy,
    S::Value: Send,
{
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let found: Mutex<Option<Found<S::Value>>> = Mutex::new(None);
    let warned: Mutex<Option<(u64, Failure)>> = Mutex::new(None);
    let setup: Mutex<Option<Failure>> = Mutex::new(None);
    let workers = env
        .options
        .workers
        .clamp(1, MAX_WORKERS)
        .min(seeds.len().max(1));
    std::thread::scope(|threads| {
        for _ in 0..workers {
            threads.spawn(|| {
                let strategy = make();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&input_seed) = seeds.get(i) else {
                        return;
                    };
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let mut config = config.clone();
                    config.cases = 1;
                    config.rng_seed = RngSeed::Fixed(input_seed);
                    let judged = judge(env, config, &strategy, test, &stop, |f| {
                        if f.setup {
                            lock(&setup).get_or_insert(f);
                        } else {
                            lock(&warned).get_or_insert((input_seed, f));
                        }
                    });
                    if let Some((error, last)) = judged {
                        lock(&found).get_or_insert(Found {
                            seed: input_seed,
                            error,
                            last,
                        });
                    }
                }
            });
        }
    });
    Search {
        found: found.into_inner().unwrap_or_else(PoisonError::into_inner),
        warned: warned.into_inner().unwrap_or_else(PoisonError::into_inner),
        setup: setup.into_inner().unwrap_or_else(PoisonError::into_inner),
    }
}

/// Runs one input (and, when it fails first, its shrinking). `aside`
/// takes what is no failure of the property: a setup error (which also
/// stops the search) or a warning. Returns proptest's verdict and the last
/// failure seen when this input failed first.
fn judge<S: Strategy>(
    env: &Env,
    config: Config,
    strategy: &S,
    test: &(impl Fn(&Env, &S::Value) -> Option<Failure> + Sync),
    stop: &AtomicBool,
    aside: impl Fn(Failure),
) -> Option<(TestError<S::Value>, Option<Failure>)> {
    let strict = env.options.strict;
    let mut runner = TestRunner::new(config);
    // The last failure seen: shrinking ends on the minimal one.
    let last: std::cell::RefCell<Option<Failure>> = std::cell::RefCell::new(None);
    // This input found the run's failure: it alone is shrunk.
    let winner = std::cell::Cell::new(false);
    let outcome = runner.run(strategy, |value| match test(env, &value) {
        Some(f) if f.setup => {
            stop.store(true, Ordering::Relaxed);
            // Not a finding: nothing to shrink.
            aside(f);
            Ok(())
        }
        Some(f) if f.failed(strict) => {
            if !winner.get() {
                if stop.swap(true, Ordering::Relaxed) {
                    // Another input failed first and is being shrunk;
                    // shrinking this one too would double the requests.
                    return Ok(());
                }
                winner.set(true);
            }
            let reason = f
                .error
                .clone()
                .unwrap_or_else(|| "a check failed".to_owned());
            *last.borrow_mut() = Some(f);
            Err(TestCaseError::fail(reason))
        }
        Some(f) => {
            aside(f);
            Ok(())
        }
        None => Ok(()),
    });
    outcome.err().map(|error| (error, last.take()))
}

/// The verdict of a property whose input failed: that input's checks once
/// more, its seed kept, its rerun line and case file.
fn failed<V>(
    env: &Env,
    name: &str,
    run: (u64, usize, usize),
    kept: &Regressions,
    found: Found<V>,
    test: &impl Fn(&Env, &V) -> Option<Failure>,
    verdict: &mut Verdict,
) {
    let minimal = match found.error {
        TestError::Abort(reason) => {
            verdict.error = Some(format!("the property was aborted: {reason}"));
            return;
        }
        TestError::Fail(_, minimal) => minimal,
    };
    // Once more on the minimal input, to show all its checks as they stand.
    let failure = match test(env, &minimal).filter(|f| f.failed(env.options.strict)) {
        Some(f) => f,
        None => {
            let mut f = found.last.unwrap_or_default();
            f.checks.push(
                Check::new("flaky", crate::Level::Must, "the minimal input fails every time").fail_text(
                    "it failed as shown above, then passed when run once more: the target (or the suite) is not deterministic here",
                ),
            );
            f
        }
    };
    let failing = found.seed;
    let kept_note = kept.keep(failing, &failure);
    verdict.place = place_of_failure(env, name, run, failing, kept_note);
    verdict.place.request = failure.request.clone();
    verdict.checks = failure.checks;
    verdict.error = failure.error;
    if let Some(case) = failure.case_file {
        let saved = save(env, name, failing, &case);
        let text = case_text(env, case, name, failing);
        verdict.place.extra.push((
            "shrunk".to_owned(),
            format!("to the case file below{saved}"),
        ));
        verdict.place.input = Some(text);
    }
}

/// The verdict of a property that only warned: the first such input, unshrunk.
fn warned(env: &Env, name: &str, seed: u64, warning: Failure, verdict: &mut Verdict) {
    verdict.place.extra.push((
        "warning".to_owned(),
        format!(
            "the first generated input with a SHOULD-level finding (not shrunk: a warning does not fail the property); PROPTEST_RNG_SEED={seed} PROPTEST_CASES=1 replays it"
        ),
    ));
    verdict.place.request = warning.request;
    verdict.checks = warning.checks;
    if let Some(case) = warning.case_file {
        verdict.place.input = Some(case_text(env, case, name, seed));
    }
}

fn replayed_note(replayed: usize) -> String {
    if replayed == 0 {
        String::new()
    } else {
        format!(", after {replayed} kept from earlier failures")
    }
}

fn inputs(cases: usize) -> String {
    if cases == 1 {
        "1 generated input".to_owned()
    } else {
        format!("{cases} generated inputs")
    }
}

/// How a passing (or warning) property is named and rerun.
fn place(env: &Env, name: &str, seed: u64, cases: usize, replayed: usize) -> Where {
    let replayed = replayed_note(replayed);
    Where {
        test: name.to_owned(),
        about: Some(format!("{} (PROPTEST_CASES){replayed}", inputs(cases))),
        rerun: env.rerun(
            name,
            &[
                ("PROPTEST_RNG_SEED", seed.to_string()),
                ("PROPTEST_CASES", cases.to_string()),
            ],
        ),
        extra: vec![("seed".to_owned(), format!("PROPTEST_RNG_SEED={seed}"))],
        ..Where::default()
    }
}

/// How a failing property is named and rerun: the failing input alone.
fn place_of_failure(
    env: &Env,
    name: &str,
    (seed, cases, replayed): (u64, usize, usize),
    failing: u64,
    kept: String,
) -> Where {
    let replayed = replayed_note(replayed);
    Where {
        test: name.to_owned(),
        about: Some(format!(
            "{} from PROPTEST_RNG_SEED={seed}{replayed}; the input that failed has seed {failing}{kept}",
            inputs(cases)
        )),
        rerun: env.rerun(
            name,
            &[
                ("PROPTEST_RNG_SEED", failing.to_string()),
                ("PROPTEST_CASES", "1".to_owned()),
            ],
        ),
        extra: vec![(
            "seed".to_owned(),
            format!("PROPTEST_RNG_SEED={failing} PROPTEST_CASES=1 (the run: PROPTEST_RNG_SEED={seed} PROPTEST_CASES={cases})"),
        )],
        ..Where::default()
    }
}

/// The seeds of a property's earlier failures, in `proptest-regressions/`.
struct Regressions {
    path: PathBuf,
    enabled: bool,
}

impl Regressions {
    fn for_property(name: &str) -> Self {
        Self {
            path: PathBuf::from(REGRESSIONS_DIR).join(format!("{}.txt", file_stem(name))),
            // proptest's own switch, which the self-tests set.
            enabled: std::env::var_os("PROPTEST_DISABLE_FAILURE_PERSISTENCE").is_none(),
        }
    }

    /// The file's text; `None` when there is none (or keeping is off).
    fn text(&self) -> std::io::Result<Option<String>> {
        if !self.enabled {
            return Ok(None);
        }
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `seed <u64>` lines; anything else is a comment.
    fn seeds(&self) -> Vec<u64> {
        match self.text() {
            Ok(text) => seeds_in(text.as_deref().unwrap_or_default()),
            Err(e) => {
                // Kept failures that cannot be replayed would pass unseen.
                eprintln!(
                    "warning: failed to read {} ({e}): its kept failures are not replayed",
                    self.path.display()
                );
                Vec::new()
            }
        }
    }

    /// Keeps a failing input's seed, once; what to say about it.
    fn keep(&self, seed: u64, failure: &Failure) -> String {
        if !self.enabled {
            return String::new();
        }
        let mut text = match self.text() {
            Ok(Some(text)) => text,
            Ok(None) => "# Seeds of generated inputs that failed, replayed first by the next run.\n# Commit this file; remove a line once its failure is fixed.\n".to_owned(),
            // Rewriting a file that could not be read would lose its seeds.
            Err(e) => return format!(" (could not keep it in {}: {e})", self.path.display()),
        };
        if seeds_in(&text).contains(&seed) {
            return format!(" (kept in {})", self.path.display());
        }
        let what = failure
            .checks
            .iter()
            .filter(|c| c.failed())
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(text, "seed {seed} # failed: {what}");
        let written = self
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&self.path, text));
        match written {
            Ok(()) => format!(" (kept in {})", self.path.display()),
            Err(e) => format!(" (could not keep it in {}: {e})", self.path.display()),
        }
    }
}

/// The seeds of a regressions file's `seed <u64>` lines.
fn seeds_in(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| {
            l.strip_prefix("seed ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// `prop::rooms::accepts_any_text` -> `rooms__accepts_any_text`.
fn file_stem(name: &str) -> String {
    name.strip_prefix("prop::")
        .unwrap_or(name)
        .chars()
        .map(|c| if c == ':' { '_' } else { c })
        .collect()
}

/// A generated input as the text of a case file, saying where it came from,
/// secrets redacted.
fn case_text(env: &Env, mut case: Value, name: &str, seed: u64) -> String {
    if let Some(Value::String(d)) = case.get_mut("description") {
        d.push_str(&format!(" (found by {name}, PROPTEST_RNG_SEED={seed})"));
    }
    let text = serde_json::to_string_pretty(&case).unwrap_or_default();
    redact_secrets(&text, &env.secrets)
}

/// Writes the case file under `--save-failures DIR`, named after the
/// property and the input's seed, its `$schema` pointing at the schemas
/// from where it lies (so editors and the case lint find them).
fn save(env: &Env, name: &str, seed: u64, case: &Value) -> String {
    let Some(dir) = &env.options.save_failures else {
        return " (--save-failures DIR writes it)".to_owned();
    };
    let path = dir.join(format!("{}_{seed}.json", file_stem(name)));
    let written = std::fs::create_dir_all(dir).and_then(|()| {
        let mut case = case.clone();
        if let Some(schema) = relative_path(dir, &env.schemas.dir().join("case.schema.json")) {
            case["$schema"] = Value::String(schema);
        }
        let text = case_text(env, case, name, seed);
        std::fs::write(&path, format!("{text}\n"))
    });
    match written {
        Ok(()) => format!(", saved as {}", path.display()),
        Err(e) => format!(" (could not save it as {}: {e})", path.display()),
    }
}

/// `to` as a path relative to the folder `from`, with `/` between parts.
fn relative_path(from: &std::path::Path, to: &std::path::Path) -> Option<String> {
    let from = std::fs::canonicalize(from).ok()?;
    let to = std::fs::canonicalize(to).ok()?;
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    let ups = from.components().count() - common;
    let parts: Vec<String> = std::iter::repeat_n("..".to_owned(), ups)
        .chain(
            to.components()
                .skip(common)
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        )
        .collect();
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inputs_seed_replays_it_as_the_first_of_a_run() {
        assert_eq!(input_seed(42, 0), 42);
        let seeds: Vec<u64> = (0..1000).map(|i| input_seed(42, i)).collect();
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seeds.len(), "every input has its own seed");
    }

    #[test]
    fn file_stems_keep_the_property_apart() {
        assert_eq!(
            file_stem("prop::invite::accepts_valid_bodies"),
            "invite__accepts_valid_bodies"
        );
    }

    #[test]
    fn a_regressions_file_that_cannot_be_read_is_left_as_it_is() {
        let dir = std::env::temp_dir().join(format!("regressions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.txt");
        // Not UTF-8: unreadable as text, yet it may hold seeds.
        let bytes = b"seed 7 # failed: x\n\xff\n".to_vec();
        std::fs::write(&path, &bytes).unwrap();
        let kept = Regressions {
            path: path.clone(),
            enabled: true,
        };
        let said = kept.keep(9, &Failure::default());
        assert!(said.contains("could not keep it"), "{said}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "the file is untouched"
        );

        std::fs::write(&path, "# x\nseed 7 # failed: x\n").unwrap();
        assert!(kept.keep(9, &Failure::default()).contains("kept in"));
        assert!(
            kept.keep(9, &Failure::default()).contains("kept in"),
            "once"
        );
        assert_eq!(kept.seeds(), vec![7, 9]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
