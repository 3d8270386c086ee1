//! Command-line options: libtest's own, the target and its limits, then the
//! contract's own (flattened in from its `clap::Args` type).
//!
//! Every option also reads an environment variable, since nextest passes no
//! custom flags to a test binary: the environment reaches both its list and run phases.

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "conformance",
    after_help = "With no --target, the suite runs against its embedded implementation.\n\
                  The bearer token is read from CONFORMANCE_TOKEN, never from the command line."
)]
pub struct Cli {
    /// Base URL of the implementation under test; every path of a case is
    /// appended to it.
    #[arg(long, env = "CONFORMANCE_TARGET", value_name = "URL")]
    pub target: Option<String>,

    /// Notifications cannot reach the suite's listener: notification checks
    /// are skipped (a contract may follow its resources by polling instead).
    #[arg(long, env = "CONFORMANCE_NO_NOTIFICATIONS", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_notifications: bool,

    /// Check notifications captured elsewhere, offline: one JSON document per
    /// line, a JSON array of them, or pretty-printed ones one after another.
    #[arg(long, env = "CONFORMANCE_NOTIFICATIONS_FILE", value_name = "FILE")]
    pub notifications_file: Option<PathBuf>,

    /// Address the notification listener binds (loopback unless told otherwise).
    #[arg(
        long,
        env = "CONFORMANCE_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:0"
    )]
    pub listen: String,

    /// Public URL that reaches the listener (a tunnel), when the target is not local.
    #[arg(long, env = "CONFORMANCE_CALLBACK_URL", value_name = "URL")]
    pub callback_url: Option<String>,

    /// Connections the notification listener serves at once; more are
    /// refused, and a trial that misses a notification meanwhile is an ERROR
    /// of the run, not a finding.
    #[arg(
        long,
        env = "CONFORMANCE_LISTENER_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = 1024,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub listener_max_connections: u32,

    /// Connections the notification listener serves at once from one peer
    /// address: a flood from one address leaves room for the others.
    #[arg(
        long,
        env = "CONFORMANCE_LISTENER_MAX_PER_ADDRESS",
        value_name = "N",
        default_value_t = 512,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub listener_max_per_address: u32,

    /// Follow redirects on the target's origin (each hop shown in the
    /// request line); by default a redirect is the target's answer.
    #[arg(long, env = "CONFORMANCE_FOLLOW_REDIRECTS", value_parser = clap::builder::FalseyValueParser::new())]
    pub follow_redirects: bool,

    /// Deadline for each response, in milliseconds.
    #[arg(
        long,
        env = "CONFORMANCE_RESPONSE_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 10_000
    )]
    pub response_timeout_ms: u64,

    /// Deadline for each expected notification, in milliseconds after the request.
    #[arg(
        long,
        env = "CONFORMANCE_NOTIFICATION_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 5_000
    )]
    pub notification_timeout_ms: u64,

    /// Seconds of `Retry-After` (429/503) the suite may wait per request.
    #[arg(
        long,
        env = "CONFORMANCE_RETRY_BUDGET_SECS",
        value_name = "SECS",
        default_value_t = 30
    )]
    pub retry_budget_secs: u64,

    /// The rules the run is judged under (the suite's first profile by
    /// default; `--list-checks` shows each check's level under each).
    #[arg(long, env = "CONFORMANCE_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Treat SHOULD-level findings as failures.
    #[arg(long, env = "CONFORMANCE_STRICT", value_parser = clap::builder::FalseyValueParser::new())]
    pub strict: bool,

    /// Folder of case files.
    #[arg(
        long,
        env = "CONFORMANCE_CASES",
        value_name = "DIR",
        default_value = "cases"
    )]
    pub cases: PathBuf,

    /// Folder of JSON Schemas.
    #[arg(
        long,
        env = "CONFORMANCE_SCHEMAS",
        value_name = "DIR",
        default_value = "schemas"
    )]
    pub schemas: PathBuf,

    /// What selects the suite's test binary on a cargo command line.
    #[arg(skip)]
    pub cargo_args: &'static str,

    /// Name of the environment variable holding the bearer token.
    #[arg(
        long,
        env = "CONFORMANCE_TOKEN_ENV",
        value_name = "VAR",
        default_value = "CONFORMANCE_TOKEN"
    )]
    pub token_env: String,

    /// Write the shrunk input of a failing property here, as a case file.
    #[arg(long, env = "CONFORMANCE_SAVE_FAILURES", value_name = "DIR")]
    pub save_failures: Option<PathBuf>,

    /// A register of known failures (JSON): reported as known, not failed.
    #[arg(long, env = "CONFORMANCE_KNOWN_FAILURES", value_name = "FILE")]
    pub known_failures: Option<PathBuf>,

    /// Write report.json and report.md here after the run.
    #[arg(long, env = "CONFORMANCE_REPORT", value_name = "DIR")]
    pub report: Option<PathBuf>,

    /// Judge only the checks whose id (or family) matches GLOB (`*`, `?`;
    /// several, comma-separated or repeated): cases and properties alike.
    #[arg(long, env = "CONFORMANCE_CHECKS", value_name = "GLOB")]
    pub checks: Vec<String>,

    /// Judge only the checks of this level (MUST or SHOULD).
    #[arg(long, env = "CONFORMANCE_LEVEL", value_name = "LEVEL", value_parser = crate::selection::parse_level)]
    pub level: Option<crate::verdict::Level>,

    /// Seeds of generated inputs: fixed by default (derived from the suite's
    /// version and each property's name: the same inputs every run),
    /// `random` to explore, or a number. PROPTEST_RNG_SEED, when set, wins.
    #[arg(long, env = "CONFORMANCE_SEED", value_name = "SEED", value_parser = crate::seed::Seeding::parse)]
    pub seed: Option<crate::seed::Seeding>,

    /// Where the seeds of failing inputs are kept, one folder per target
    /// (default: conformance-regressions/ in cargo's target folder).
    #[arg(long, env = "CONFORMANCE_REGRESSIONS", value_name = "DIR")]
    pub regressions: Option<PathBuf>,

    /// Print every check the suite can run (id, level, what it enforces) and exit.
    #[arg(long)]
    pub list_checks: bool,

    #[command(flatten)]
    pub libtest: libtest_mimic::Arguments,

    /// The ids of the options given (by flag or variable), rather than
    /// defaulted: what a rerun line must repeat.
    #[arg(skip)]
    given: std::collections::BTreeSet<String>,
}

/// A contract without options of its own.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NoOptions {}

/// How `--help` lays itself out. libtest-mimic's own template (flattened in
/// with its options) names no program.
/// The heading of libtest's own flags in `--help`.
const LIBTEST_HEADING: &str = "libtest's options";

const HELP_TEMPLATE: &str = "{about}\n\n{usage-heading} {usage}\n\n{all-args}{after-help}";

impl Cli {
    /// The command line as `--help` shows it: the harness's options and the
    /// contract's (`O`), under `about`.
    pub fn command<O: clap::Args>(about: &str) -> clap::Command {
        // libtest's own flags under a heading of their own, after the
        // harness's and the contract's options (the ones a user came for).
        let libtest: Vec<clap::Id> = <libtest_mimic::Arguments as clap::CommandFactory>::command()
            .get_arguments()
            .filter(|a| !a.is_positional())
            .map(|a| a.get_id().clone())
            .collect();
        // The contract's options first: their doc comment would otherwise
        // become the command's description.
        O::augment_args(<Self as clap::CommandFactory>::command())
            .mut_args(|arg| {
                if libtest.contains(arg.get_id()) {
                    arg.help_heading(LIBTEST_HEADING)
                } else {
                    arg
                }
            })
            // libtest-mimic gives both the same text.
            .mut_arg("ignored", |a| a.help("Run only the ignored tests"))
            .mut_arg("include_ignored", |a| {
                a.help("Run the ignored tests as well as the others")
            })
            .about(about.to_owned())
            .long_about(None)
            .help_template(HELP_TEMPLATE)
            .override_usage(
                "cargo test -- [OPTIONS] [FILTER]\n       \
                 CONFORMANCE_TARGET=URL cargo nextest run [FILTERS]   (options as environment variables)",
            )
    }

    /// The harness's options and the contract's, from the process's arguments.
    pub fn parse_args<O: clap::Args + clap::FromArgMatches>(
        about: &str,
    ) -> Result<(Self, O), clap::Error> {
        Self::parse_from_iter(about, std::env::args_os())
    }

    /// The checks the run judges.
    pub fn selection(&self) -> crate::selection::Selection {
        crate::selection::Selection::new(&self.checks, self.level)
    }

    /// Whether the option `id` (its field's name) was given, by flag or by
    /// variable, rather than defaulted.
    pub fn given(&self, id: &str) -> bool {
        self.given.contains(id)
    }

    pub fn parse_from_iter<O, I, T>(about: &str, args: I) -> Result<(Self, O), clap::Error>
    where
        O: clap::Args + clap::FromArgMatches,
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Self::command::<O>(about).try_get_matches_from(args)?;
        let mut cli = <Self as clap::FromArgMatches>::from_arg_matches(&matches)?;
        cli.given = matches
            .ids()
            .filter(|id| {
                matches
                    .value_source(id.as_str())
                    .is_some_and(|s| s != clap::parser::ValueSource::DefaultValue)
            })
            .map(|id| id.as_str().to_owned())
            .collect();
        let options = O::from_arg_matches(&matches)?;
        Ok((cli, options))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A contract's own option, to see it flattened in.
    #[derive(Debug, Clone, clap::Args)]
    struct Own {
        /// An option only the contract knows.
        #[arg(long, env = "CONFORMANCE_TEST_ROOM")]
        room: Option<String>,
    }

    #[test]
    fn the_command_is_consistent() {
        Cli::command::<Own>("A suite").debug_assert();
        Cli::command::<NoOptions>("A suite").debug_assert();
    }

    #[test]
    fn help_names_the_program_and_every_option() {
        let help = Cli::command::<Own>("Conformance suite for an API")
            .render_help()
            .to_string();
        assert!(
            help.contains("Usage: cargo test -- [OPTIONS] [FILTER]"),
            "{help}"
        );
        assert!(help.starts_with("Conformance suite for an API"), "{help}");
        for option in [
            "--target",
            "--strict",
            "--list-checks",
            "--test-threads",
            "--exact",
            "--room",
        ] {
            assert!(help.contains(option), "{option} in:\n{help}");
        }
    }

    #[test]
    fn help_shows_the_contracts_options_before_libtests_and_tells_ignored_apart() {
        let help = Cli::command::<Own>("A suite").render_help().to_string();
        let at = |flag: &str| {
            help.find(&format!("--{flag} "))
                .or_else(|| help.find(&format!("--{flag}\n")))
                .unwrap_or_else(|| panic!("{flag} in:\n{help}"))
        };
        for libtest in [
            "exact",
            "ignored",
            "include-ignored",
            "test-threads",
            "format",
        ] {
            assert!(
                at("room") < at(libtest) && at("target") < at(libtest),
                "the suite's options come before --{libtest}:\n{help}"
            );
        }
        let line_after = |flag: &str| {
            help[at(flag)..]
                .lines()
                .nth(1)
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        assert_ne!(
            line_after("ignored"),
            line_after("include-ignored"),
            "{help}"
        );
        assert!(help.contains(LIBTEST_HEADING), "{help}");
    }

    #[test]
    fn the_harness_the_contract_and_libtest_flags_mix() {
        let (cli, own) = Cli::parse_from_iter::<Own, _, _>(
            "A suite",
            [
                "conformance",
                "--target",
                "http://127.0.0.1:9/v1.0",
                "--room",
                "r1",
                "--exact",
                "case::x",
                "--test-threads",
                "3",
            ],
        )
        .unwrap();
        assert_eq!(cli.target.as_deref(), Some("http://127.0.0.1:9/v1.0"));
        assert_eq!(own.room.as_deref(), Some("r1"));
        assert!(cli.libtest.exact);
        assert_eq!(cli.libtest.filter.as_deref(), Some("case::x"));
        assert_eq!(cli.libtest.test_threads, Some(3));
    }

    #[test]
    fn an_option_counts_as_given_by_flag_or_variable_even_at_its_default() {
        // The test's own option, so that no other test reads this variable.
        std::env::set_var("CONFORMANCE_TEST_ROOM", "r2");
        let (cli, own) = Cli::parse_from_iter::<Own, _, _>(
            "A suite",
            ["conformance", "--retry-budget-secs", "30"],
        )
        .unwrap();
        std::env::remove_var("CONFORMANCE_TEST_ROOM");
        assert_eq!(own.room.as_deref(), Some("r2"));
        assert!(cli.given("room"), "a variable gives an option");
        assert_eq!(cli.retry_budget_secs, 30);
        assert!(cli.given("retry_budget_secs"), "its default, given");
        assert!(!cli.given("response_timeout_ms"));
        assert!(!cli.given("cases"));
    }
}
