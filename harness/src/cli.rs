//! The command line: libtest's own options, the target and its limits, then
//! the contract's own (flattened in from its `clap::Args` type), parsed into
//! [`Options`].
//!
//! The console reads every option from an environment variable too (the
//! settings' prefix and the option's name: `CONFORMANCE_TARGET`), since
//! nextest passes no custom flags to a test binary: the environment reaches
//! both its list and run phases. [`parse_args`] reads none, for runs in a
//! process whose environment is not the suite's (a self-test's thread).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, ArgMatches, Parser};

use crate::options::{defaults, GivenOption, Options};
use crate::settings::Settings;

#[derive(Debug, Clone, Parser)]
#[command(name = "conformance")]
struct Cli {
    /// Base URL of the implementation under test; every path of a case is
    /// appended to it.
    #[arg(long, value_name = "URL")]
    target: Option<String>,

    /// Notifications cannot reach the suite's listener: notification checks
    /// are skipped (a contract may follow its resources by polling instead).
    #[arg(long, value_parser = clap::builder::FalseyValueParser::new())]
    no_notifications: bool,

    /// Check notifications captured elsewhere, offline: one JSON document per
    /// line, a JSON array of them, or pretty-printed ones one after another.
    #[arg(long, value_name = "FILE")]
    notifications_file: Option<PathBuf>,

    /// Address the notification listener binds (loopback unless told otherwise).
    #[arg(long, value_name = "ADDR", default_value = defaults::LISTEN)]
    listen: String,

    /// Public URL that reaches the listener (a tunnel), when the target is not local.
    #[arg(long, value_name = "URL")]
    callback_url: Option<String>,

    /// Connections the notification listener serves at once; more are
    /// refused, and a trial that misses a notification meanwhile is an ERROR
    /// of the run, not a finding.
    #[arg(
        long,
        value_name = "N",
        default_value_t = defaults::LISTENER_MAX_CONNECTIONS,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    listener_max_connections: u32,

    /// Connections the notification listener serves at once from one peer
    /// address: a flood from one address leaves room for the others.
    #[arg(
        long,
        value_name = "N",
        default_value_t = defaults::LISTENER_MAX_PER_ADDRESS,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    listener_max_per_address: u32,

    /// Follow redirects on the target's origin (each hop shown in the
    /// request line); by default a redirect is the target's answer.
    #[arg(long, value_parser = clap::builder::FalseyValueParser::new())]
    follow_redirects: bool,

    /// Deadline for each response, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = defaults::RESPONSE_TIMEOUT_MS)]
    response_timeout_ms: u64,

    /// Deadline for each expected notification, in milliseconds after the request.
    #[arg(long, value_name = "MS", default_value_t = defaults::NOTIFICATION_TIMEOUT_MS)]
    notification_timeout_ms: u64,

    /// Seconds of `Retry-After` (429/503) the suite may wait per request.
    #[arg(long, value_name = "SECS", default_value_t = defaults::RETRY_BUDGET_SECS)]
    retry_budget_secs: u64,

    /// Generated inputs (and the stateful model's sequences) in flight at
    /// once, across the run's properties. A property runs its inputs on a
    /// few threads; when they are seen to wait on a slow target it widens
    /// to this bound, which also protects a real target (429 and 503 are
    /// still waited out as their Retry-After says).
    #[arg(
        long,
        value_name = "N",
        default_value_t = defaults::MAX_IN_FLIGHT,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    max_in_flight: u32,

    /// Seconds a failing property may spend shrinking its input
    /// (PROPTEST_MAX_SHRINK_TIME in milliseconds otherwise; default 10). A
    /// failure that is a missed deadline is not shrunk at all.
    #[arg(long, value_name = "SECS")]
    shrink_budget_secs: Option<u64>,

    /// The rules the run is judged under (the suite's first profile by
    /// default; `--list-checks` shows each check's level under each).
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,

    /// Treat SHOULD-level findings as failures.
    #[arg(long, value_parser = clap::builder::FalseyValueParser::new())]
    strict: bool,

    /// Folder of case files.
    #[arg(long, value_name = "DIR")]
    cases: Option<PathBuf>,

    /// Folder of JSON Schemas.
    #[arg(long, value_name = "DIR")]
    schemas: Option<PathBuf>,

    /// Name of the environment variable holding the bearer token.
    #[arg(long, value_name = "VAR")]
    token_env: Option<String>,

    /// Write the shrunk input of a failing property here, as a case file.
    #[arg(long, value_name = "DIR")]
    save_failures: Option<PathBuf>,

    /// A register of known failures (JSON): reported as known, not failed.
    #[arg(long, value_name = "FILE")]
    known_failures: Option<PathBuf>,

    /// Write report.json, report.md and report.html here after the run.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,

    /// Write the run as JUnit XML to FILE (one testcase per trial), for
    /// CI systems that show test results.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,

    /// Judge only the checks whose id (or family) matches GLOB (`*`, `?`;
    /// several, comma-separated or repeated): cases and properties alike.
    #[arg(long, value_name = "GLOB")]
    checks: Vec<String>,

    /// Judge only the checks of this level (MUST or SHOULD).
    #[arg(long, value_name = "LEVEL", value_parser = crate::selection::parse_level)]
    level: Option<crate::verdict::Level>,

    /// Seeds of generated inputs: fixed by default (derived from the suite's
    /// version and each property's name: the same inputs every run),
    /// `random` to explore, or a number. PROPTEST_RNG_SEED, when set, wins.
    #[arg(long, value_name = "SEED", value_parser = crate::seed::Seeding::parse)]
    seed: Option<crate::seed::Seeding>,

    /// Where the seeds of failing inputs are kept, one folder per target
    /// (default: conformance-regressions/ in cargo's target folder).
    #[arg(long, value_name = "DIR")]
    regressions: Option<PathBuf>,

    /// A tenant profile (JSON): the identities of your tenant that the cases
    /// and generated inputs invite, how fixtures are created there, and the
    /// timeouts that fit (default: the suite's sample identities).
    #[arg(long, value_name = "FILE")]
    tenant: Option<PathBuf>,

    /// Record every trial: one transcript per trial under DIR (requests,
    /// responses, notifications, verdict), ids as placeholders, the token
    /// redacted.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,

    /// Write every case trial, as it ran, as a case file under DIR whose
    /// expectations are what the target did: a repro ready for cases/.
    #[arg(long, value_name = "DIR")]
    record_cases: Option<PathBuf>,

    /// Replay the recording under DIR (fresh fixtures, the same bodies in
    /// the same order) and report how the target differs from it.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["record", "record_cases"])]
    compare: Option<PathBuf>,

    /// Print every check the suite can run (id, level, what it enforces) and exit.
    #[arg(long)]
    list_checks: bool,

    #[command(flatten)]
    libtest: libtest_mimic::Arguments,
}

/// Options that are no option of a run: read from no variable, repeated by
/// no rerun line.
const NOT_FROM_ENVIRONMENT: &[&str] = &["list_checks"];

/// A contract without options of its own.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NoOptions {}

/// The heading of libtest's own flags in `--help`.
const LIBTEST_HEADING: &str = "libtest's options";

/// How `--help` lays itself out. libtest-mimic's own template (flattened in
/// with its options) names no program.
const HELP_TEMPLATE: &str = "{about}\n\n{usage-heading} {usage}\n\n{all-args}{after-help}";

/// What the command line asked for.
pub(crate) struct Parsed<O> {
    pub options: Options,
    pub contract: O,
    /// `--list-checks`: print the checks, run nothing.
    pub list_checks: bool,
}

/// The ids of libtest's own options.
fn libtest_ids() -> Vec<clap::Id> {
    <libtest_mimic::Arguments as clap::CommandFactory>::command()
        .get_arguments()
        .map(|a| a.get_id().clone())
        .collect()
}

/// The ids of the contract's options (`O`).
fn contract_ids<O: clap::Args>() -> Vec<clap::Id> {
    O::augment_args(clap::Command::new("contract"))
        .get_arguments()
        .map(|a| a.get_id().clone())
        .collect()
}

/// The command line as `--help` shows it: the harness's options and the
/// contract's (`O`), under the settings' `about`; with `environment`, each
/// option (libtest's aside) reads the variable of its name under the
/// settings' prefix, unless the contract named another.
pub(crate) fn command<O: clap::Args>(settings: &Settings, environment: bool) -> clap::Command {
    // libtest's own flags under a heading of their own, after the harness's
    // and the contract's options (the ones a user came for).
    let libtest = libtest_ids();
    let token = settings.var("TOKEN");
    // The contract's options first: their doc comment would otherwise
    // become the command's description.
    let command = O::augment_args(<Cli as clap::CommandFactory>::command())
        .mut_args(|arg| {
            let id = arg.get_id().as_str().to_owned();
            if libtest.contains(arg.get_id()) {
                return arg.help_heading(LIBTEST_HEADING);
            }
            if !environment {
                return arg.env(None);
            }
            if arg.is_positional() || NOT_FROM_ENVIRONMENT.contains(&id.as_str()) {
                return arg;
            }
            if arg.get_env().is_some() {
                arg
            } else {
                let var = settings.var(&id.to_ascii_uppercase());
                arg.env(var)
            }
        })
        .mut_arg("cases", |a| {
            a.default_value(settings.cases.clone().into_os_string())
        })
        .mut_arg("schemas", |a| {
            a.default_value(settings.schemas.clone().into_os_string())
        })
        .mut_arg("token_env", |a| a.default_value(token.clone()))
        // libtest-mimic gives both the same text.
        .mut_arg("ignored", |a| a.help("Run only the ignored tests"))
        .mut_arg("include_ignored", |a| {
            a.help("Run the ignored tests as well as the others")
        })
        .about(settings.about.to_owned())
        .long_about(None)
        .help_template(HELP_TEMPLATE)
        .after_help(format!(
            "With no --target, the suite runs against its embedded implementation.\n\
             The bearer token is read from {token}, never from the command line."
        ))
        .override_usage(format!(
            "cargo test -- [OPTIONS] [FILTER]\n       \
             {}=URL cargo nextest run [FILTERS]   (options as environment variables)",
            settings.var("TARGET")
        ));
    match &settings.program {
        None => command,
        Some(program) => as_program(command, program, &token),
    }
}

/// `--help` as an installed program shows it: its own name in the usage,
/// its text for `--cases`, and its own commands at the end.
fn as_program(
    command: clap::Command,
    program: &crate::settings::Program,
    token: &str,
) -> clap::Command {
    let command = match program.cases_help {
        Some(help) => command.mut_arg("cases", |a| a.help(help)),
        None => command,
    };
    command
        .override_usage(format!("{} [OPTIONS] [FILTER]", program.name))
        .after_help(format!(
            "With no --target, the suite runs against its embedded implementation.\n\
             The bearer token is read from {token}, never from the command line.{}",
            program
                .after_help
                .map(|more| format!("\n\n{more}"))
                .unwrap_or_default()
        ))
}

/// The harness's options and the contract's, from `args` alone (the
/// program's name first): no environment variable is read, the token
/// included (set [`Options::token`]). For runs inside a process whose
/// environment is not the suite's.
pub fn parse_args<O, I, T>(settings: &Settings, args: I) -> Result<(Options, O), clap::Error>
where
    O: clap::Args + clap::FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let parsed = parse::<O, _, _>(settings, false, args)?;
    Ok((parsed.options, parsed.contract))
}

/// The command line of this process, each option also read from its
/// variable, the token from its own; proptest's `PROPTEST_*` settings too.
pub(crate) fn parse_process<O>(
    settings: &Settings,
    args: Vec<OsString>,
) -> Result<Parsed<O>, clap::Error>
where
    O: clap::Args + clap::FromArgMatches,
{
    let mut parsed = parse::<O, _, _>(settings, true, args)?;
    let options = &mut parsed.options;
    options.forbid_scan = std::env::var_os(settings.var("FORBID_SCAN")).is_some();
    options.generation =
        crate::options::Generation::from_variables(|name| std::env::var(name).ok());
    Ok(parsed)
}

/// The token from the variable the options name: `Ok(None)` when it is
/// unset or empty, an error when it cannot be sent (not UTF-8: dropping it
/// would send requests without one, a run of 401s).
pub(crate) fn token_from_environment(var: &str) -> Result<Option<String>, String> {
    match std::env::var(var) {
        Ok(t) => Ok(Some(t).filter(|t| !t.is_empty())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!(
            "{var} is not valid UTF-8, so it cannot be sent as a bearer token"
        )),
    }
}

fn parse<O, I, T>(settings: &Settings, environment: bool, args: I) -> Result<Parsed<O>, clap::Error>
where
    O: clap::Args + clap::FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let command = command::<O>(settings, environment);
    let matches = command.clone().try_get_matches_from(args)?;
    let cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)?;
    let contract = O::from_arg_matches(&matches)?;
    let given = |id: &str| {
        matches
            .value_source(id)
            .is_some_and(|s| s != clap::parser::ValueSource::DefaultValue)
    };
    let contract_options = contract_ids::<O>()
        .iter()
        .filter(|id| given(id.as_str()))
        .filter_map(|id| given_option(&command, &matches, id.as_str(), settings))
        .collect();
    let options = Options {
        target: cli.target,
        token: None,
        token_env: cli.token_env.filter(|_| given("token_env")),
        no_notifications: cli.no_notifications,
        notifications_file: cli.notifications_file,
        listen: given("listen").then_some(cli.listen),
        callback_url: cli.callback_url,
        listener_max_connections: given("listener_max_connections")
            .then_some(cli.listener_max_connections),
        listener_max_per_address: given("listener_max_per_address")
            .then_some(cli.listener_max_per_address),
        follow_redirects: cli.follow_redirects,
        response_timeout_ms: given("response_timeout_ms").then_some(cli.response_timeout_ms),
        notification_timeout_ms: given("notification_timeout_ms")
            .then_some(cli.notification_timeout_ms),
        retry_budget_secs: given("retry_budget_secs").then_some(cli.retry_budget_secs),
        max_in_flight: given("max_in_flight").then_some(cli.max_in_flight as usize),
        shrink_budget_secs: cli.shrink_budget_secs,
        profile: cli.profile,
        strict: cli.strict,
        cases: cli.cases.filter(|_| given("cases")),
        schemas: cli.schemas.filter(|_| given("schemas")),
        save_failures: cli.save_failures,
        known_failures: cli.known_failures,
        report: cli.report,
        junit: cli.junit,
        checks: cli.checks,
        level: cli.level,
        seed: cli.seed,
        regressions: cli.regressions,
        generation: crate::options::Generation::default(),
        tests: cli.libtest,
        contract_options,
        forbid_scan: false,
        run_id: None,
        tenant: cli.tenant,
        record: cli.record,
        record_cases: cli.record_cases,
        compare: cli.compare,
    };
    Ok(Parsed {
        options,
        contract,
        list_checks: cli.list_checks,
    })
}

/// A contract's option that was given, as a rerun line repeats it; a
/// switch only when it is on.
fn given_option(
    command: &clap::Command,
    matches: &ArgMatches,
    id: &str,
    settings: &Settings,
) -> Option<GivenOption> {
    let arg = command.get_arguments().find(|a| a.get_id() == id)?;
    let flag = format!("--{}", arg.get_long()?);
    let var = arg.get_env().map_or_else(
        || settings.var(&id.to_ascii_uppercase()),
        |v| v.to_string_lossy().into_owned(),
    );
    let value = match arg.get_action() {
        ArgAction::SetTrue => {
            if !matches.get_flag(id) {
                return None;
            }
            String::new()
        }
        _ => matches
            .get_raw(id)?
            .map(|v| v.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(","),
    };
    Some(GivenOption { flag, var, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A contract's own option, to see it flattened in.
    #[derive(Debug, Clone, clap::Args)]
    struct Own {
        /// An option only the contract knows.
        #[arg(long)]
        room: Option<String>,
        /// A switch only the contract knows.
        #[arg(long, value_parser = clap::builder::FalseyValueParser::new())]
        lobby_only: bool,
    }

    fn settings() -> Settings {
        Settings::new("A suite")
    }

    #[test]
    fn the_command_is_consistent() {
        command::<Own>(&settings(), true).debug_assert();
        command::<NoOptions>(&settings(), false).debug_assert();
    }

    #[test]
    fn help_names_the_program_and_every_option() {
        let help = command::<Own>(&Settings::new("Conformance suite for an API"), true)
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
            "CONFORMANCE_TARGET",
            "CONFORMANCE_ROOM",
        ] {
            assert!(help.contains(option), "{option} in:\n{help}");
        }
    }

    #[test]
    fn help_shows_the_contracts_options_before_libtests_and_tells_ignored_apart() {
        let help = command::<Own>(&settings(), true).render_help().to_string();
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
        let (options, own) = parse_args::<Own, _, _>(
            &settings(),
            [
                "conformance",
                "--target",
                "http://127.0.0.1:9/v1.0",
                "--room",
                "r1",
                "--lobby-only",
                "--exact",
                "case::x",
                "--test-threads",
                "3",
            ],
        )
        .unwrap();
        assert_eq!(options.target.as_deref(), Some("http://127.0.0.1:9/v1.0"));
        assert_eq!(own.room.as_deref(), Some("r1"));
        assert!(own.lobby_only);
        assert!(options.tests.exact);
        assert_eq!(options.tests.filter.as_deref(), Some("case::x"));
        assert_eq!(options.tests.test_threads, Some(3));
        // What a rerun line repeats of the contract's.
        assert_eq!(
            options.contract_options,
            [
                GivenOption {
                    flag: "--room".into(),
                    var: "CONFORMANCE_ROOM".into(),
                    value: "r1".into()
                },
                GivenOption {
                    flag: "--lobby-only".into(),
                    var: "CONFORMANCE_LOBBY_ONLY".into(),
                    value: String::new()
                }
            ]
        );
    }

    #[test]
    fn an_option_given_at_its_default_counts_as_given_and_a_default_does_not() {
        let (options, _) = parse_args::<NoOptions, _, _>(
            &settings(),
            ["conformance", "--retry-budget-secs", "30"],
        )
        .unwrap();
        assert_eq!(options.retry_budget_secs, Some(30), "its default, given");
        assert_eq!(options.response_timeout_ms, None);
        assert_eq!(options.cases, None);
        assert_eq!(options.listen, None);
    }

    #[test]
    fn parsing_arguments_alone_reads_no_variable() {
        // Read by the command that reads the environment, not by this one:
        // the variable is this test's own, so no other test reads it.
        let prefix = Settings {
            env_prefix: "CLI_TEST_ONLY_",
            ..settings()
        };
        std::env::set_var("CLI_TEST_ONLY_STRICT", "1");
        let with = command::<NoOptions>(&prefix, true)
            .try_get_matches_from(["conformance"])
            .unwrap();
        let (without, _) = parse_args::<NoOptions, _, _>(&prefix, ["conformance"]).unwrap();
        std::env::remove_var("CLI_TEST_ONLY_STRICT");
        assert!(with.get_flag("strict"));
        assert!(!without.strict);
    }
}
