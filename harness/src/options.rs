//! The run's options as given: what the command line and its environment
//! variables fill, or a caller of [`crate::run`] sets. Nothing here reads
//! the process's environment: the console does, into [`Options`].

use std::path::PathBuf;
use std::time::Duration;

use crate::seed::Seeding;
use crate::selection::Selection;
use crate::verdict::Level;

/// Defaults of the options left unset.
pub mod defaults {
    pub const LISTEN: &str = "127.0.0.1:0";
    pub const LISTENER_MAX_CONNECTIONS: u32 = 1024;
    pub const LISTENER_MAX_PER_ADDRESS: u32 = 512;
    pub const RESPONSE_TIMEOUT_MS: u64 = 10_000;
    pub const NOTIFICATION_TIMEOUT_MS: u64 = 5_000;
    pub const RETRY_BUDGET_SECS: u64 = 30;
    /// Trials run this many at a time unless `--test-threads` says
    /// otherwise: they wait on the network, not on the CPU.
    pub const TEST_THREADS: usize = 16;
    /// Generated inputs in flight at once across the run, once a slow
    /// target has made the properties widen their concurrency: the
    /// default run's four properties of 32 inputs as one round (64 left
    /// the model's sequences queued behind the others: 10.9 s against a
    /// target that answers in 300 ms and notifies a second later, 9.7 s
    /// with 128).
    pub const MAX_IN_FLIGHT: u32 = 128;
}

/// The options of one run, as given. Every field left at its default
/// (`None`, `false`, empty) takes the documented default; a field that is
/// set is repeated by the rerun lines of failures, even at its default
/// value, since a rerun may run where other defaults apply.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Base URL of the implementation under test (`None`: the embedded one).
    pub target: Option<String>,
    /// The bearer token (never printed, redacted wherever it would appear).
    pub token: Option<String>,
    /// The variable the token is read from, as rerun lines name it
    /// (default: the settings' prefix and `TOKEN`).
    pub token_env: Option<String>,
    /// Notifications cannot reach the listener: notification checks are skipped.
    pub no_notifications: bool,
    /// Notifications captured elsewhere, checked offline.
    pub notifications_file: Option<PathBuf>,
    /// Where the listener binds (default `127.0.0.1:0`).
    pub listen: Option<String>,
    /// The public URL that reaches the listener (a tunnel).
    pub callback_url: Option<String>,
    pub listener_max_connections: Option<u32>,
    pub listener_max_per_address: Option<u32>,
    /// Follow redirects on the target's origin.
    pub follow_redirects: bool,
    pub response_timeout_ms: Option<u64>,
    pub notification_timeout_ms: Option<u64>,
    pub retry_budget_secs: Option<u64>,
    /// Generated inputs in flight at once, across the run's properties
    /// (default [`defaults::MAX_IN_FLIGHT`]).
    pub max_in_flight: Option<usize>,
    /// Seconds a failing property may spend shrinking its input (over
    /// `PROPTEST_MAX_SHRINK_TIME`; default 10).
    pub shrink_budget_secs: Option<u64>,
    /// The profile the run is judged under (default: the contract's first).
    pub profile: Option<String>,
    /// SHOULD-level findings fail.
    pub strict: bool,
    /// The case files' folder (default: the settings').
    pub cases: Option<PathBuf>,
    /// The schemas' folder (default: the settings').
    pub schemas: Option<PathBuf>,
    pub save_failures: Option<PathBuf>,
    pub known_failures: Option<PathBuf>,
    /// Write report.json, report.md and report.html here after the run.
    pub report: Option<PathBuf>,
    /// Write the run as JUnit XML to this file.
    pub junit: Option<PathBuf>,
    /// Globs over the check ids the run judges (empty: all).
    pub checks: Vec<String>,
    /// Only the checks of this level.
    pub level: Option<Level>,
    pub seed: Option<Seeding>,
    /// Where failing inputs' seeds are kept (default: in cargo's target folder).
    pub regressions: Option<PathBuf>,
    /// How generated inputs are made (proptest's own settings).
    pub generation: Generation,
    /// Which trials run, and on how many threads, as libtest takes them:
    /// a filter, `exact`, `skip`, `ignored`, `include_ignored`, `test_threads`.
    pub tests: libtest_mimic::Arguments,
    /// The contract's own options that were given, as rerun lines repeat
    /// them (the command-line parser fills it).
    pub contract_options: Vec<GivenOption>,
    /// Self-tests set it to prove `--exact` never walks the cases folder.
    pub forbid_scan: bool,
    /// The run this process is part of (nextest's `NEXTEST_RUN_ID`): the
    /// report merges the parts of one run.
    pub run_id: Option<String>,
    /// The tenant profile the cases and generators draw identities from
    /// (default: the contract's sample identities).
    pub tenant: Option<PathBuf>,
    /// Write every trial's transcript under this folder.
    pub record: Option<PathBuf>,
    /// Write every case trial as it ran as a case file under this folder,
    /// its expectations what the target did.
    pub record_cases: Option<PathBuf>,
    /// Replay the transcripts under this folder and report how the target
    /// differs from them, instead of judging it against the contract.
    pub compare: Option<PathBuf>,
}

/// An option of the contract's own that was given, as a rerun line repeats
/// it: the flag, the environment variable that sets it, the value (empty
/// for a switch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenOption {
    pub flag: String,
    pub var: String,
    pub value: String,
}

/// How generated inputs are made: proptest's settings, which the console
/// reads from its `PROPTEST_*` variables.
#[derive(Debug, Clone, Default)]
pub struct Generation {
    /// Inputs per property (`PROPTEST_CASES`; default 32).
    pub cases: Option<u32>,
    /// The run seed of every property (`PROPTEST_RNG_SEED`), over `--seed`.
    pub rng_seed: Option<u64>,
    /// Shrink steps (`PROPTEST_MAX_SHRINK_ITERS`; default 256).
    pub max_shrink_iters: Option<u32>,
    /// Milliseconds of shrinking (`PROPTEST_MAX_SHRINK_TIME`; default 30000).
    pub max_shrink_time_ms: Option<u32>,
    /// Keep no failing seed (`PROPTEST_DISABLE_FAILURE_PERSISTENCE`).
    pub forget_failures: bool,
}

impl Generation {
    /// proptest's settings from its variables (`PROPTEST_CASES`,
    /// `PROPTEST_RNG_SEED`, `PROPTEST_MAX_SHRINK_ITERS`,
    /// `PROPTEST_MAX_SHRINK_TIME`, `PROPTEST_DISABLE_FAILURE_PERSISTENCE`),
    /// as `lookup` gives them: the console's environment, or a caller's own.
    pub fn from_variables(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let number = |var: &str| lookup(var).and_then(|v| v.trim().parse().ok());
        Self {
            cases: number("PROPTEST_CASES"),
            rng_seed: lookup("PROPTEST_RNG_SEED").and_then(|v| v.trim().parse().ok()),
            max_shrink_iters: number("PROPTEST_MAX_SHRINK_ITERS"),
            max_shrink_time_ms: number("PROPTEST_MAX_SHRINK_TIME"),
            forget_failures: lookup("PROPTEST_DISABLE_FAILURE_PERSISTENCE").is_some(),
        }
    }
}

impl Options {
    /// The checks the run judges.
    pub fn selection(&self) -> Selection {
        Selection::new(&self.checks, self.level)
    }

    pub(crate) fn response_timeout(&self) -> Duration {
        Duration::from_millis(
            self.response_timeout_ms
                .unwrap_or(defaults::RESPONSE_TIMEOUT_MS),
        )
    }

    pub(crate) fn notification_timeout(&self) -> Duration {
        Duration::from_millis(
            self.notification_timeout_ms
                .unwrap_or(defaults::NOTIFICATION_TIMEOUT_MS),
        )
    }

    /// proptest's settings, the shrinking budget of `--shrink-budget-secs`
    /// over `PROPTEST_MAX_SHRINK_TIME`.
    pub(crate) fn generation_with_budget(&self) -> Generation {
        let mut generation = self.generation.clone();
        if let Some(secs) = self.shrink_budget_secs {
            let ms = secs.saturating_mul(1000);
            generation.max_shrink_time_ms = Some(u32::try_from(ms).unwrap_or(u32::MAX));
        }
        generation
    }

    pub(crate) fn listen(&self) -> &str {
        self.listen.as_deref().unwrap_or(defaults::LISTEN)
    }
}
