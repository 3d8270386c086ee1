//! Running a property as one trial: many generated inputs, the failing one
//! shrunk (each step is a request, so shrinking is bounded), printed with its
//! seed and as a ready-to-save case file.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use serde_json::Value;

use crate::env::Env;
use crate::render::redact_secrets;
use crate::verdict::{Check, Verdict, Where};

/// Cases per property unless `PROPTEST_CASES` says otherwise.
pub const DEFAULT_CASES: u32 = 32;
/// Shrink steps unless `PROPTEST_MAX_SHRINK_ITERS` says otherwise.
pub const DEFAULT_SHRINK_ITERS: u32 = 256;
/// Shrinking stops after this long (`PROPTEST_MAX_SHRINK_TIME`): against a
/// target that withholds a notification, every step costs a deadline.
pub const DEFAULT_SHRINK_MILLIS: u32 = 30_000;

/// What one generated input came to, when it failed.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    /// `POST /… -> 500 Internal Server Error in 2 ms`
    pub request: Option<String>,
    pub checks: Vec<Check>,
    /// Set when no verdict could be reached.
    pub error: Option<String>,
    /// The input as a case file that reproduces the failure.
    pub case_file: Option<Value>,
}

impl Failure {
    pub fn failed(&self, strict: bool) -> bool {
        self.error.is_some()
            || self
                .checks
                .iter()
                .any(|c| c.failed() && (c.level == crate::Level::Must || strict))
    }
}

/// The run's proptest configuration: our bounded defaults, proptest's
/// environment variables on top, and a seed we know so we can print it.
pub fn config(source_file: &'static str) -> (Config, u64) {
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
    config.source_file = Some(source_file);
    let seed = match config.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => {
            let bytes = uuid::Uuid::new_v4().into_bytes();
            u64::from_le_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            ])
        }
    };
    config.rng_seed = RngSeed::Fixed(seed);
    (config, seed)
}

/// Generated inputs run on this many threads at once: each input waits on
/// the target most of its time, not on the CPU (8 kept both cores of the
/// bench machine busy against the embedded server; 4 left a fifth idle).
/// Fixed, so a seed names the same inputs anywhere.
pub const WORKERS: u64 = 8;

/// A worker's failed run: which worker, proptest's verdict, the last failure seen.
type WorkerFailure<V> = (u64, TestError<V>, Option<Failure>);

/// Runs `test` over the strategy `make` builds, on [`WORKERS`] threads, each
/// with its own share of the cases and a seed derived from the run's; the
/// first failure is shrunk and becomes a verdict whose checks are those of
/// the shrunk input, with the seed and the case file printed.
pub fn run<S>(
    env: &Env,
    name: &str,
    source_file: &'static str,
    make: impl Fn() -> S + Sync,
    test: impl Fn(&Env, &S::Value) -> Option<Failure> + Sync,
) -> Verdict
where
    S: Strategy,
    S::Value: Send,
{
    let (config, seed) = config(source_file);
    let cases = config.cases;
    let strict = env.options.strict;
    // Which worker (plus one) found a failure: the others stop generating,
    // while that one shrinks undisturbed.
    let failing = AtomicU64::new(0);
    let results: Mutex<Vec<WorkerFailure<S::Value>>> = Mutex::new(Vec::new());
    // The first input with only SHOULD-level findings: reported as warnings,
    // not shrunk (a warning does not fail the property).
    let warned: Mutex<Option<Failure>> = Mutex::new(None);
    std::thread::scope(|threads| {
        for worker in 0..WORKERS {
            let mut config = config.clone();
            let share = u64::from(cases) / WORKERS + u64::from(worker < u64::from(cases) % WORKERS);
            config.cases = u32::try_from(share).unwrap_or(u32::MAX);
            config.rng_seed =
                RngSeed::Fixed(seed.wrapping_add(worker.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
            if worker > 0 {
                // Persisted regressions replay once, on the first worker.
                config.failure_persistence = None;
            }
            let (make, test, failing, results, warned) =
                (&make, &test, &failing, &results, &warned);
            threads.spawn(move || {
                if config.cases == 0 {
                    return;
                }
                let strategy = make();
                let mut runner = TestRunner::new(config.clone());
                // The last failure seen: shrinking ends on the minimal one.
                let last: std::cell::RefCell<Option<Failure>> = std::cell::RefCell::new(None);
                let outcome = runner.run(&strategy, |value| {
                    let found = failing.load(Ordering::Relaxed);
                    if found != 0 && found != worker + 1 {
                        return Ok(());
                    }
                    match test(env, &value) {
                        Some(f) if f.failed(strict) => {
                            let _ = failing.compare_exchange(
                                0,
                                worker + 1,
                                Ordering::Relaxed,
                                Ordering::Relaxed,
                            );
                            let reason = f
                                .error
                                .clone()
                                .unwrap_or_else(|| "a check failed".to_owned());
                            *last.borrow_mut() = Some(f);
                            Err(TestCaseError::fail(reason))
                        }
                        Some(f) => {
                            warned
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .get_or_insert(f);
                            Ok(())
                        }
                        None => Ok(()),
                    }
                });
                if let Err(e) = outcome {
                    results
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((worker, e, last.take()));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    results.sort_by_key(|(worker, ..)| *worker);
    let winner = failing.load(Ordering::Relaxed);
    let outcome = match results
        .into_iter()
        .find(|(w, ..)| winner == 0 || *w + 1 == winner)
    {
        Some((_, e, last)) => Err((e, last)),
        None => Ok(()),
    };
    let mut place = Where {
        test: name.to_owned(),
        about: Some(format!("{cases} generated inputs (PROPTEST_CASES)")),
        rerun: vec![
            format!("PROPTEST_RNG_SEED={seed} cargo test -- --exact {name}"),
            format!("PROPTEST_RNG_SEED={seed} cargo nextest run -E 'test(={name})'"),
        ],
        ..Where::default()
    };
    place
        .extra
        .push(("seed".to_owned(), format!("PROPTEST_RNG_SEED={seed}")));
    let mut verdict = Verdict {
        place,
        ..Verdict::default()
    };
    match outcome {
        Ok(()) => {
            if let Some(w) = warned.into_inner().unwrap_or_else(PoisonError::into_inner) {
                verdict.place.extra.push((
                    "warning".to_owned(),
                    "the first generated input with a SHOULD-level finding (not shrunk: a warning does not fail the property)".to_owned(),
                ));
                verdict.place.request = w.request;
                verdict.checks = w.checks;
                if let Some(case) = w.case_file {
                    verdict.place.input = Some(case_text(env, case, name, seed));
                }
            }
            verdict
        }
        Err((TestError::Abort(reason), _)) => {
            verdict.error = Some(format!("the property was aborted: {reason}"));
            verdict
        }
        Err((TestError::Fail(_, minimal), last)) => {
            // Once more on the minimal input, to show all its checks as they stand.
            let failure = match test(env, &minimal).filter(|f| f.failed(strict)) {
                Some(f) => f,
                None => {
                    let mut f = last.unwrap_or_default();
                    f.checks.push(
                        Check::new("flaky", crate::Level::Must, "the minimal input fails every time").fail_text(
                            "it failed as shown above, then passed when run once more: the target (or the suite) is not deterministic here",
                        ),
                    );
                    f
                }
            };
            verdict.place.request = failure.request.clone();
            verdict.checks = failure.checks;
            verdict.error = failure.error;
            if let Some(case) = failure.case_file {
                let text = case_text(env, case, name, seed);
                let saved = save(env, name, &text);
                verdict.place.extra.push((
                    "shrunk".to_owned(),
                    format!("to the case file below{saved}"),
                ));
                verdict.place.input = Some(text);
            }
            verdict
        }
    }
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

/// Writes the case file under `--save-failures DIR`, named after the property.
fn save(env: &Env, name: &str, text: &str) -> String {
    let Some(dir) = &env.options.save_failures else {
        return " (--save-failures DIR writes it)".to_owned();
    };
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{}.json", stem.trim_matches('_')));
    let written =
        std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, format!("{text}\n")));
    match written {
        Ok(()) => format!(", saved as {}", path.display()),
        Err(e) => format!(" (could not save it as {}: {e})", path.display()),
    }
}
