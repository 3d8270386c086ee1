//! Running a property as one trial: many generated inputs, the failing one
//! shrunk (each step is a request, so shrinking is bounded), printed with the
//! seed that replays it alone and as a ready-to-save case file.
//!
//! Every input has a seed of its own, derived from the run's seed and the
//! input's index (`seed.rs`), whatever the number of worker threads: the same
//! seed and case count name the same inputs on any machine, and the failing
//! input's own seed replays just that input (`PROPTEST_CASES=1`). The verdict
//! is that of the first input, by index, that fails or cannot be set up,
//! however the workers raced: the same target gets the same verdict.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngSeed, TestRunner};
use serde_json::Value;

use crate::contract::{Context, Pool};
use crate::options::Generation;
use crate::regressions::{file_stem, Regressions, Step};
use crate::render::redact_secrets;
use crate::run_options::RunOptions;
use crate::seed::{input_seed, run_seed, RunSeed};
use crate::sync::lock;
use crate::verdict::{Check, Failure, Outcome, Verdict, Where};

/// Cases per property unless `PROPTEST_CASES` says otherwise.
pub const DEFAULT_CASES: u32 = 32;
/// Shrink steps unless `PROPTEST_MAX_SHRINK_ITERS` says otherwise.
pub const DEFAULT_SHRINK_ITERS: u32 = 256;
/// Shrinking stops after this long (`--shrink-budget-secs`,
/// `PROPTEST_MAX_SHRINK_TIME`): against a target that answers in hundreds
/// of milliseconds a step costs a second or more, and a failure is wanted
/// in seconds. Against a fast target shrinking ends well within it.
pub const DEFAULT_SHRINK_MILLIS: u32 = 10_000;

/// The run's proptest configuration: our bounded defaults, under what the
/// run's options set. The console reads proptest's variables into those
/// options; each field they name is set here, so an in-process run with
/// other options is not overridden by its process's environment.
fn config(generation: &Generation) -> Config {
    let mut config = Config {
        cases: generation.cases.unwrap_or(DEFAULT_CASES),
        max_shrink_iters: generation.max_shrink_iters.unwrap_or(DEFAULT_SHRINK_ITERS),
        max_shrink_time: generation
            .max_shrink_time_ms
            .unwrap_or(DEFAULT_SHRINK_MILLIS),
        ..Config::default()
    };
    // Each input's seed is set where its tree is made (`tree`).
    config.rng_seed = RngSeed::Random;
    // Seeds are kept by `regressions.rs`, per input and per target
    // (proptest's own file keeps the state of one runner, in the checkout).
    config.failure_persistence = None;
    config
}

/// Generated inputs run on this many threads at most: each input waits on
/// the target most of its time, not on the CPU (8 kept both cores of the
/// bench machine busy against the embedded server; 4 left a fifth idle).
/// `--test-threads` lowers it (a throttled target wants fewer at once).
pub const MAX_WORKERS: usize = 8;

/// What one input came to, judged under the run's selection of checks and
/// its known-failures register.
enum Judged {
    Passed,
    /// It could not run here; why.
    Skipped(String),
    /// Only SHOULD findings, or failures the register knows: no failure.
    Noted(Failure),
    Failed(Failure),
    /// It could not be set up, and the register does not know why.
    Setup(Failure),
}

impl Judged {
    /// Whether it decides the property: a failure, or an input that could
    /// not be set up (no later input needs to run).
    fn decides(&self) -> bool {
        matches!(self, Self::Failed(_) | Self::Setup(_))
    }
}

/// An input's outcome, judged: the run's selection of checks and the
/// known-failures register applied.
fn judge(options: &RunOptions, name: &str, outcome: Option<Failure>) -> Judged {
    let Some(mut f) = outcome else {
        return Judged::Passed;
    };
    if let Some(reason) = f.skipped.take() {
        return Judged::Skipped(reason);
    }
    if let Some(kind) = &f.setup {
        return match options.known.knows_setup(name, kind) {
            Some(reason) => Judged::Skipped(format!(
                "fixture {kind} could not be set up (known failure: {reason})"
            )),
            None => Judged::Setup(f),
        };
    }
    let selection = &options.selection;
    selection.retain(&mut f.checks);
    options.known.apply_checks(name, &mut f.checks);
    let strict = options.strict;
    if f.failed(strict) {
        Judged::Failed(f)
    } else if f
        .checks
        .iter()
        .any(|c| c.failed() || matches!(c.outcome, Outcome::Known(_)))
    {
        Judged::Noted(f)
    } else if selection.is_partial() && f.checks.is_empty() {
        Judged::Skipped(selection.nothing_selected())
    } else {
        Judged::Passed
    }
}

/// The value tree of the input seeded `seed`: the same input on any
/// machine, for the search, for shrinking and for a rerun alike.
fn tree<S: Strategy>(strategy: &S, config: &Config, seed: u64) -> Result<S::Tree, String> {
    let mut config = config.clone();
    config.rng_seed = RngSeed::Fixed(seed);
    let mut runner = TestRunner::new(config);
    strategy
        .new_tree(&mut runner)
        .map_err(|reason| format!("the generator could not make an input: {reason}"))
}

/// The value of `input`: its seed's tree, taken down the kept shrinking
/// steps (no request is made: a value tree is a pure function of its seed
/// and the calls made on it).
fn value_of<S: Strategy>(strategy: &S, config: &Config, input: &Input) -> Result<S::Value, String> {
    let mut tree = tree(strategy, config, input.seed)?;
    replay(&mut tree, &input.shrink);
    Ok(tree.current())
}

fn replay<T: ValueTree>(tree: &mut T, steps: &[Step]) {
    for step in steps {
        match step {
            Step::Simplify => tree.simplify(),
            Step::Complicate => tree.complicate(),
        };
    }
}

/// One input of a run: a kept one (with the steps to its shrunk input),
/// or one of the run's own.
#[derive(Debug, Clone)]
struct Input {
    seed: u64,
    shrink: Vec<Step>,
    /// Read from the file of kept inputs.
    kept: bool,
}

/// What one input came to, and its wall time.
struct Tried {
    judged: Judged,
    took: Duration,
}

/// What the inputs came to, by index; an input after the first that
/// decided the property may not have run.
type Results = Vec<Option<Tried>>;

/// An input that took this long waited on the target, not on this
/// machine's CPU (an input against the embedded server takes a few
/// milliseconds): the property then widens to `--max-in-flight`.
pub const LATENCY_BOUND: Duration = Duration::from_millis(250);

/// Runs `test` over the strategy `make` builds: first the inputs kept from
/// earlier failures against this target, then `PROPTEST_CASES` inputs, on
/// up to 8 threads (following `--test-threads`), more once they are seen
/// to wait on the target. The first input by index that fails is shrunk
/// and becomes a verdict whose checks are those of the shrunk input, with
/// the seed that replays it and the case file printed.
pub fn run<S>(
    cx: &Context<'_>,
    name: &str,
    make: impl Fn() -> S + Sync,
    test: impl Fn(&Context<'_>, &S::Value) -> Option<Failure> + Sync,
) -> Verdict
where
    S: Strategy,
    S::Value: Send,
{
    run_inputs(cx, name, &make, None, &test)
}

/// [`run`], with the inputs started longest first: `weight` says how long
/// an input takes relative to the others (the stateful model's sequences:
/// their steps). The inputs are generated before the run to be ordered.
pub fn run_weighted<S>(
    cx: &Context<'_>,
    name: &str,
    make: impl Fn() -> S + Sync,
    weight: impl Fn(&S::Value) -> usize + Sync,
    test: impl Fn(&Context<'_>, &S::Value) -> Option<Failure> + Sync,
) -> Verdict
where
    S: Strategy,
    S::Value: Send,
{
    run_inputs(cx, name, &make, Some(&weight), &test)
}

/// Inputs made before the run (to be ordered), each taken by the worker
/// that runs it.
type Made<V> = Mutex<Vec<Option<Result<V, String>>>>;

/// How long an input takes relative to the others.
type Weight<'a, V> = &'a (dyn Fn(&V) -> usize + Sync);

fn run_inputs<S>(
    cx: &Context<'_>,
    name: &str,
    make: &(impl Fn() -> S + Sync),
    weight: Option<Weight<'_, S::Value>>,
    test: &(impl Fn(&Context<'_>, &S::Value) -> Option<Failure> + Sync),
) -> Verdict
where
    S: Strategy,
    S::Value: Send,
{
    let options = cx.options;
    let config = config(&options.generation);
    let run = run_seed(options.generation.rng_seed, options.seeding, name);
    let cases = usize::try_from(config.cases).unwrap_or(usize::MAX);
    let kept = Regressions::for_property(options.regressions.as_ref(), name);
    let (replayed, unreadable) = match kept.entries() {
        Ok(entries) => (entries, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    // Inputs in order: kept ones, then the run's.
    let inputs: Vec<Input> = replayed
        .iter()
        .map(|k| Input {
            seed: k.seed,
            shrink: k.shrink.clone(),
            kept: true,
        })
        .chain((0..cases).map(|i| Input {
            seed: input_seed(run.seed, i),
            shrink: Vec::new(),
            kept: false,
        }))
        .collect();
    let results = search(cx, name, &config, &inputs, make, weight, test);
    let shape = Run {
        seed: run,
        cases,
        replayed: replayed.len(),
        config,
    };
    let mut verdict = Verdict {
        place: place(options, name, &shape),
        ..Verdict::default()
    };
    verdict.warnings.extend(unreadable);
    let decided = results
        .iter()
        .position(|r| r.as_ref().is_some_and(|t| t.judged.decides()));
    // The inputs up to the one that decided: those after it may or may
    // not have run, as the workers raced.
    let considered = &results[..decided.map_or(results.len(), |i| i + 1)];
    let skipped = Skipped::of(considered);
    match decided.and_then(|i| results[i].as_ref().map(|r| (i, r))) {
        Some((
            i,
            Tried {
                judged: Judged::Failed(first),
                took,
            },
        )) => {
            let found = Found {
                input: inputs[i].clone(),
                first: first.clone(),
                took: *took,
            };
            failed(cx, name, &shape, &kept, found, make, test, &mut verdict);
        }
        Some((
            i,
            Tried {
                judged: Judged::Setup(f),
                ..
            },
        )) => {
            verdict.error = Some(format!(
                "generated input {} (seed {}) could not be set up, so the property is undecided (the inputs after it were not run): {}",
                i + 1,
                inputs[i].seed,
                f.error.clone().unwrap_or_default()
            ));
            verdict.setup.clone_from(&f.setup);
        }
        _ => {
            if skipped.count > 0 && skipped.count == results.len() {
                verdict.skipped = Some(format!(
                    "every generated input was skipped: {}",
                    skipped.reasons.join("; ")
                ));
                return verdict;
            }
            // Every input ran: an entry of the register that none of them
            // failed is fixed.
            options.known.property_ran(name);
            settled(options, name, &results, &inputs, &mut verdict);
        }
    }
    if skipped.count > 0 {
        let ran = considered.len();
        verdict.place.extra.push((
            "skipped".to_owned(),
            format!(
                "{} of the first {ran} generated inputs: {}",
                skipped.count,
                skipped.reasons.join("; ")
            ),
        ));
    }
    verdict
}

/// The inputs skipped, and why (each reason once).
struct Skipped<'a> {
    count: usize,
    reasons: Vec<&'a str>,
}

impl<'a> Skipped<'a> {
    fn of(results: &'a [Option<Tried>]) -> Self {
        let mut skipped = Self {
            count: 0,
            reasons: Vec::new(),
        };
        for r in results.iter().flatten() {
            if let Judged::Skipped(reason) = &r.judged {
                skipped.count += 1;
                if !skipped.reasons.contains(&reason.as_str()) {
                    skipped.reasons.push(reason);
                }
            }
        }
        skipped
    }
}

/// A run's seed, its number of inputs, how many kept seeds came first, and
/// its proptest configuration.
struct Run {
    seed: RunSeed,
    cases: usize,
    replayed: usize,
    config: Config,
}

/// The verdict of a property no input failed: passed, or noted (the first
/// input with a warning or a known failure).
fn settled(
    options: &RunOptions,
    name: &str,
    results: &Results,
    inputs: &[Input],
    verdict: &mut Verdict,
) {
    let noted = results.iter().enumerate().find_map(|(i, r)| match r {
        Some(Tried {
            judged: Judged::Noted(f),
            ..
        }) => Some((inputs[i].seed, f.clone())),
        _ => None,
    });
    if let Some((seed, f)) = noted {
        warned(options, name, seed, f, verdict);
    }
}

/// A generated case, run as its file would run, as a property judges it:
/// `None` when it passed with no warning. Warnings come back too: the
/// property reports the first, unshrunk.
pub fn run_case(cx: &Context<'_>, case: &Value) -> Option<Failure> {
    let verdict = match crate::runner::run_generated(cx, case) {
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
    let strict = cx.options.strict;
    let selection = &cx.options.selection;
    let nothing_selected = selection.is_partial() && verdict.checks.is_empty();
    if verdict.skipped.is_none()
        && !nothing_selected
        && verdict.passed(strict)
        && verdict.warnings(strict) == 0
    {
        return None;
    }
    Some(Failure {
        request: verdict.place.request,
        checks: verdict.checks,
        skipped: verdict.skipped.or_else(|| {
            (nothing_selected && verdict.error.is_none()).then(|| selection.nothing_selected())
        }),
        error: verdict.error,
        setup: verdict.setup,
        case_file: Some(case.clone()),
    })
}

/// What a property's workers tell the thread that started them.
enum Event {
    /// An input took [`LATENCY_BOUND`] or more: widen.
    Slow,
    /// A worker ended (a panic included).
    Ended,
}

/// Sends [`Event::Ended`] when its worker ends, however it ends.
struct EndGuard(mpsc::Sender<Event>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        let _ = self.0.send(Event::Ended);
    }
}

/// Tries `inputs`, each from a value tree of its own, on worker threads
/// that take them in order (the heaviest first, when `weight` says which);
/// an input after one that decided the property is not started, so every
/// input before the first decisive one has run when the search ends. It
/// starts with `--test-threads` workers (8 at most) and, once an input is
/// seen to wait on the target, adds workers up to `--max-in-flight`; every
/// input holds one of the run's in-flight permits while it runs.
fn search<S>(
    cx: &Context<'_>,
    name: &str,
    config: &Config,
    inputs: &[Input],
    make: &(impl Fn() -> S + Sync),
    weight: Option<Weight<'_, S::Value>>,
    test: &(impl Fn(&Context<'_>, &S::Value) -> Option<Failure> + Sync),
) -> Results
where
    S: Strategy,
    S::Value: Send,
{
    let n = inputs.len();
    // Weighed inputs are made up front, to be ordered; the others by the
    // worker that runs them (making them is part of the cost per input).
    let (order, made): (Vec<usize>, Option<Made<S::Value>>) = match weight {
        Some(weight) => {
            let strategy = make();
            let values: Vec<Result<S::Value, String>> = inputs
                .iter()
                .map(|input| value_of(&strategy, config, input))
                .collect();
            let mut order: Vec<usize> = (0..n).collect();
            // Stable: equal weights keep their index order.
            order.sort_by_key(|&i| std::cmp::Reverse(values[i].as_ref().map_or(0, weight)));
            (
                order,
                Some(Mutex::new(values.into_iter().map(Some).collect())),
            )
        }
        None => ((0..n).collect(), None),
    };
    let next = AtomicUsize::new(0);
    let decided = AtomicUsize::new(usize::MAX);
    // Inputs ended so far: a stretch with none ended says they are slow.
    let ended = AtomicUsize::new(0);
    let results: Mutex<Results> = Mutex::new((0..n).map(|_| None).collect());
    let limit = cx.options.in_flight.limit();
    // No more workers than permits: a worker's last act (ending its
    // fixtures) sends requests too.
    let base = cx
        .options
        .workers
        .clamp(1, MAX_WORKERS)
        .min(n.max(1))
        .min(limit);
    let wide = limit.max(base).min(n.max(1));
    let work = |events: mpsc::Sender<Event>| {
        let _ended = EndGuard(events.clone());
        let strategy = made.is_none().then(make);
        // A worker's inputs share fixtures in turn, never at once.
        let pool = Pool::default();
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(&i) = order.get(k) else {
                break;
            };
            if decided.load(Ordering::Relaxed) < i {
                continue;
            }
            let value = match (&made, &strategy) {
                (Some(made), _) => lock(made)[i]
                    .take()
                    .unwrap_or_else(|| Err("the input was taken twice".to_owned())),
                (None, Some(strategy)) => value_of(strategy, config, &inputs[i]),
                (None, None) => Err("no generator".to_owned()),
            };
            let permit = cx.options.in_flight.acquire();
            let started = Instant::now();
            let judged = match value {
                Ok(value) => attempt(cx, &pool, name, test, &value),
                Err(error) => Judged::Failed(Failure {
                    error: Some(error),
                    ..Failure::default()
                }),
            };
            let took = started.elapsed();
            drop(permit);
            ended.fetch_add(1, Ordering::Relaxed);
            // Only a slow input is news: a message per input would wake
            // the starting thread thousands of times a second.
            if took >= LATENCY_BOUND {
                let _ = events.send(Event::Slow);
            }
            if judged.decides() {
                decided.fetch_min(i, Ordering::Relaxed);
            }
            lock(&results)[i] = Some(Tried { judged, took });
        }
        // Ending the fixtures is requests too: within the bound.
        let _permit = cx.options.in_flight.acquire();
        pool.release(cx.fixtures);
    };
    std::thread::scope(|threads| {
        let (events, heard) = mpsc::channel();
        let mut live = 0;
        let work = &work;
        let spawn = |count: usize| {
            for _ in 0..count {
                let events = events.clone();
                threads.spawn(move || work(events));
            }
            count
        };
        live += spawn(base);
        let mut widened = false;
        let mut seen = 0;
        // Every worker sends `Ended` as it ends: the loop ends with the
        // last. An input that took the latency bound, or a stretch of it
        // in which no input ended, says the inputs wait on the target.
        while live > 0 {
            // Once widened there is nothing more to decide: a plain wait.
            let event = if widened {
                heard
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected)
            } else {
                heard.recv_timeout(LATENCY_BOUND)
            };
            let slow = match event {
                Ok(Event::Slow) => true,
                Ok(Event::Ended) => {
                    live -= 1;
                    false
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = ended.load(Ordering::Relaxed);
                    std::mem::replace(&mut seen, now) == now
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            if slow && !widened {
                widened = true;
                live += spawn(wide - base);
            }
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One generated input, run in a scope of its own (what it creates is
/// ended when it ends), drawing the fixtures its contract shares from `pool`.
fn attempt<V>(
    cx: &Context<'_>,
    pool: &Pool,
    name: &str,
    test: &impl Fn(&Context<'_>, &V) -> Option<Failure>,
    value: &V,
) -> Judged {
    let scope = cx.fixtures.child(Some(pool));
    let outcome = test(&scope.context(), value);
    scope.release();
    judge(cx.options, name, outcome)
}

/// The input that decided the property by failing, and its wall time.
struct Found {
    input: Input,
    first: Failure,
    took: Duration,
}

/// What shrinking came to: the smallest input that failed, its failure,
/// the steps that lead to it from its seed, and why shrinking stopped
/// before it was done, if it did.
struct Shrunk<V> {
    value: V,
    failure: Failure,
    path: Vec<Step>,
    steps: u32,
    stopped: Option<String>,
}

/// Shrinks the failing input (as proptest does: simplify while it fails,
/// complicate while it passes), bounded in steps and by the shrinking
/// budget; a step that takes the notification deadline or longer stops
/// it (every further step would wait it out again). Each step holds an
/// in-flight permit.
fn shrink<S: Strategy>(
    (cx, pool): (&Context<'_>, &Pool),
    name: &str,
    config: &Config,
    strategy: &S,
    found: Found,
    test: &impl Fn(&Context<'_>, &S::Value) -> Option<Failure>,
) -> Option<Shrunk<S::Value>> {
    let mut tree = tree(strategy, config, found.input.seed).ok()?;
    replay(&mut tree, &found.input.shrink);
    let mut path = found.input.shrink.clone();
    let mut shrunk = Shrunk {
        value: tree.current(),
        failure: found.first,
        path: path.clone(),
        steps: 0,
        stopped: None,
    };
    let started = Instant::now();
    let budget = Duration::from_millis(u64::from(config.max_shrink_time));
    let deadline = cx.options.notification_timeout;
    if config.max_shrink_iters == 0 {
        return Some(shrunk);
    }
    path.push(Step::Simplify);
    if !tree.simplify() {
        return Some(shrunk);
    }
    loop {
        if config.max_shrink_time > 0 && started.elapsed() > budget {
            shrunk.stopped = Some(format!(
                "the shrinking budget of {} s ran out after {} steps (--shrink-budget-secs)",
                budget.as_secs_f64(),
                shrunk.steps
            ));
            break;
        }
        if shrunk.steps >= config.max_shrink_iters() {
            shrunk.stopped = Some(format!(
                "{} steps, PROPTEST_MAX_SHRINK_ITERS, were taken",
                shrunk.steps
            ));
            break;
        }
        shrunk.steps += 1;
        let value = tree.current();
        let permit = cx.options.in_flight.acquire();
        let step_started = Instant::now();
        let judged = attempt(cx, pool, name, test, &value);
        let took = step_started.elapsed();
        drop(permit);
        let failed = matches!(judged, Judged::Failed(_));
        if let Judged::Failed(f) = judged {
            shrunk.value = value;
            shrunk.failure = f;
            shrunk.path.clone_from(&path);
        }
        if took >= deadline {
            shrunk.stopped = Some(format!(
                "step {} took {}, the notification deadline ({} ms) or longer: every further step would wait it out again",
                shrunk.steps,
                crate::report::seconds(took.as_secs_f64() * 1000.0),
                deadline.as_millis()
            ));
            break;
        }
        // An input that passes, or cannot be judged, is no smaller failure.
        let (step, went) = if failed {
            (Step::Simplify, tree.simplify())
        } else {
            (Step::Complicate, tree.complicate())
        };
        path.push(step);
        if !went {
            break;
        }
    }
    Some(shrunk)
}

/// Why the failing input is not shrunk, if it is not: it is a kept shrunk
/// input already, the register names the property, or it failed by
/// missing a deadline (every step would wait it out again).
fn not_shrunk(cx: &Context<'_>, name: &str, found: &Found, kept: &Regressions) -> Option<String> {
    let deadline = cx.options.notification_timeout;
    if found.input.kept && !found.input.shrink.is_empty() {
        Some(format!(
            "the shrunk input kept in {}, replayed (not shrunk again)",
            kept.shown()
        ))
    } else if cx.options.known.names_test(name) {
        Some(
            "not shrunk: the known-failures register names this property, so its failure is known"
                .to_owned(),
        )
    } else if found.took >= deadline {
        Some(format!(
            "not shrunk: the input took {}, the notification deadline ({} ms) or longer, so every shrinking step would wait it out again",
            crate::report::seconds(found.took.as_secs_f64() * 1000.0),
            deadline.as_millis()
        ))
    } else {
        None
    }
}

/// The verdict of a property whose input failed: shrunk (unless
/// [`not_shrunk`] says why not), its checks once more, its seed and
/// shrinking steps kept, its rerun line and case file.
#[expect(clippy::too_many_arguments, reason = "the run's parts, each used once")]
fn failed<S: Strategy>(
    cx: &Context<'_>,
    name: &str,
    run: &Run,
    kept: &Regressions,
    found: Found,
    make: &impl Fn() -> S,
    test: &impl Fn(&Context<'_>, &S::Value) -> Option<Failure>,
    verdict: &mut Verdict,
) {
    let failing = found.input.seed;
    let first = found.first.clone();
    let why_not = not_shrunk(cx, name, &found, kept);
    let pool = Pool::default();
    let (failure, path, said) = if let Some(why_not) = why_not {
        // The failure as found is the one shown: running the input again
        // would only cost its wait once more.
        (found.first, found.input.shrink, why_not)
    } else {
        let shrunk = shrink((cx, &pool), name, &run.config, &make(), found, test);
        let Some(shrunk) = shrunk else {
            pool.release(cx.fixtures);
            // The generator made no input at all: its error is the verdict.
            verdict.error = first.error;
            return;
        };
        let said = match &shrunk.stopped {
            None => format!("in {} steps, to the case file below", shrunk.steps),
            Some(why) => format!(
                "stopped early ({why}), to the case file below: it may hold more than the failure needs"
            ),
        };
        let failure = if shrunk.steps == 0 {
            shrunk.failure
        } else {
            // Once more on the shrunk input, to show all its checks as they stand.
            let again = {
                let _permit = cx.options.in_flight.acquire();
                attempt(cx, &pool, name, test, &shrunk.value)
            };
            match again {
                Judged::Failed(f) => f,
                _ => {
                    let mut f = shrunk.failure;
                    f.checks.push(
                        Check::new("flaky", crate::verdict::Level::Must, "the minimal input fails every time").fail_text(
                            "it failed as shown above, then passed when run once more: the target (or the suite) is not deterministic here",
                        ),
                    );
                    f
                }
            }
        };
        (failure, shrunk.path, said)
    };
    {
        let _permit = cx.options.in_flight.acquire();
        pool.release(cx.fixtures);
    }
    let kept_note = kept.keep(failing, &path, &failure.checks);
    let options = cx.options;
    verdict.place = place_of_failure(options, name, run, failing, kept_note);
    verdict.place.request = failure.request.clone();
    verdict.checks = failure.checks;
    verdict.error = failure.error;
    if let Some(case) = failure.case_file {
        let saved = save(cx, name, failing, &case);
        let text = case_text(options, case, name, failing);
        verdict
            .place
            .extra
            .push(("shrunk".to_owned(), format!("{said}{saved}")));
        verdict.place.input = Some(text);
    } else {
        verdict.place.extra.push(("shrunk".to_owned(), said));
    }
}

/// The verdict of a property that only warned (or failed only as its
/// register knows): the first such input, unshrunk.
fn warned(options: &RunOptions, name: &str, seed: u64, warning: Failure, verdict: &mut Verdict) {
    verdict.place.extra.push((
        "warning".to_owned(),
        format!(
            "the first generated input with a SHOULD-level or known finding (not shrunk: it does not fail the property); PROPTEST_RNG_SEED={seed} PROPTEST_CASES=1 replays it"
        ),
    ));
    verdict.place.request = warning.request;
    verdict.checks = warning.checks;
    if let Some(case) = warning.case_file {
        verdict.place.input = Some(case_text(options, case, name, seed));
    }
}

fn replayed_note(replayed: usize) -> String {
    if replayed == 0 {
        String::new()
    } else {
        format!(", after {replayed} kept from earlier failures against this target")
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
fn place(options: &RunOptions, name: &str, run: &Run) -> Where {
    let replayed = replayed_note(run.replayed);
    let seed = run.seed.seed;
    Where {
        test: name.to_owned(),
        about: Some(format!("{} (PROPTEST_CASES){replayed}", inputs(run.cases))),
        rerun: options.rerun(
            name,
            &[
                ("PROPTEST_RNG_SEED", seed.to_string()),
                ("PROPTEST_CASES", run.cases.to_string()),
            ],
        ),
        extra: vec![(
            "seed".to_owned(),
            format!("PROPTEST_RNG_SEED={seed} ({})", run.seed.from.word()),
        )],
        seed: Some(seed),
        ..Where::default()
    }
}

/// How a failing property is named and rerun: the failing input alone.
fn place_of_failure(
    options: &RunOptions,
    name: &str,
    run: &Run,
    failing: u64,
    kept: String,
) -> Where {
    let replayed = replayed_note(run.replayed);
    let (seed, cases) = (run.seed.seed, run.cases);
    Where {
        test: name.to_owned(),
        about: Some(format!(
            "{} from PROPTEST_RNG_SEED={seed}{replayed}; the input that failed has seed {failing}{kept}",
            inputs(cases)
        )),
        rerun: options.rerun(
            name,
            &[
                ("PROPTEST_RNG_SEED", failing.to_string()),
                ("PROPTEST_CASES", "1".to_owned()),
            ],
        ),
        extra: vec![(
            "seed".to_owned(),
            format!("PROPTEST_RNG_SEED={failing} PROPTEST_CASES=1 (the run: PROPTEST_RNG_SEED={seed} PROPTEST_CASES={cases}, {})", run.seed.from.word()),
        )],
        seed: Some(seed),
        ..Where::default()
    }
}

/// A generated input as the text of a case file, saying where it came from,
/// secrets redacted.
fn case_text(options: &RunOptions, mut case: Value, name: &str, seed: u64) -> String {
    if let Some(Value::String(d)) = case.get_mut("description") {
        d.push_str(&format!(" (found by {name}, PROPTEST_RNG_SEED={seed})"));
    }
    let text = serde_json::to_string_pretty(&case).unwrap_or_default();
    redact_secrets(&text, &options.secrets)
}

/// Writes the case file under `--save-failures DIR`, named after the
/// property and the input's seed, its `$schema` pointing at the schemas
/// from where it lies (so editors and the case lint find them).
fn save(cx: &Context<'_>, name: &str, seed: u64, case: &Value) -> String {
    let Some(dir) = &cx.options.save_failures else {
        return " (--save-failures DIR writes it)".to_owned();
    };
    let path = dir.join(format!("{}_{seed}.json", file_stem(name)));
    let written = std::fs::create_dir_all(dir).and_then(|()| {
        let mut case = case.clone();
        if let Some(schema) = relative_path(dir, &cx.schemas.dir().join("case.schema.json")) {
            case["$schema"] = Value::String(schema);
        }
        let text = case_text(cx.options, case, name, seed);
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
