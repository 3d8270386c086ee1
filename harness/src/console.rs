//! The suite as a program: its command line and environment read into
//! options, the trials run by libtest-mimic (so `--list`, `--exact`,
//! `--format json` and nextest work as they do for any test binary), each
//! through the session's one code path, and what the run came to printed,
//! with its exit code. The only module that prints.

use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, ColorSetting, Completion, Failed, FormatSetting, Trial};

use crate::contract::Contract;
use crate::options::defaults;
use crate::outcome::{Exit, Status};
use crate::render::Styles;
use crate::session::{Session, Stop};
use crate::settings::Settings;
use crate::trial::Tally;

/// The whole program: parse the harness's options and the contract's (`O`)
/// from the command line and the environment, make the contract from its
/// options, run the trials, print what they came to, and return the exit
/// code.
pub fn main<O, C>(settings: Settings, make: impl FnOnce(O) -> C) -> ExitCode
where
    O: clap::Args + clap::FromArgMatches,
    C: Contract,
{
    main_with_args(settings, std::env::args_os().collect(), make)
}

/// [`main`] with the command line given (the program's name first): for a
/// program that handles some arguments of its own before the suite's.
pub fn main_with_args<O, C>(
    settings: Settings,
    args: Vec<std::ffi::OsString>,
    make: impl FnOnce(O) -> C,
) -> ExitCode
where
    O: clap::Args + clap::FromArgMatches,
    C: Contract,
{
    let parsed = match crate::cli::parse_process::<O>(&settings, args) {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(crate::outcome::EXIT_COULD_NOT_RUN)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let mut options = parsed.options;
    let contract = make(parsed.contract);
    if parsed.list_checks {
        return list_checks(&contract, options.profile.as_deref());
    }
    let token_env = crate::rerun::token_env(&settings, &options);
    match crate::cli::token_from_environment(&token_env) {
        Ok(token) => options.token = token,
        // Dropping it would send requests without one: a run of 401s.
        Err(e) if !options.tests.list => {
            eprintln!("error: could not set up the run: {e}");
            return ExitCode::from(crate::outcome::EXIT_COULD_NOT_RUN);
        }
        Err(_) => {}
    }
    let nextest = std::env::var_os("NEXTEST").is_some();
    if options.tests.test_threads.is_none() && !nextest {
        options.tests.test_threads = Some(defaults::TEST_THREADS);
    }
    options.run_id = std::env::var("NEXTEST_RUN_ID").ok();
    let styles = Styles {
        color: use_color(&options.tests),
    };
    let say = Say { nextest };
    let session = match Session::new(&settings, Arc::new(contract), options) {
        Ok(session) => session,
        Err(stop) => return say.stop(&stop),
    };
    let trials = match session.trials() {
        Ok(trials) => trials,
        Err(stop) => return say.stop(&stop),
    };
    say.notes(&trials.notes);
    if let Err(stop) = session.set_up(&trials.plan) {
        say.notes(&session.take_notes());
        return say.stop(&stop);
    }
    say.notes(&session.take_notes());
    let args = session.options().tests.clone();
    let session = Arc::new(session);
    let selected = trials.specs.len() as u64;
    let mut specs = trials.specs;
    if !args.list {
        specs.sort_by_key(|spec| crate::trial::start_rank(&spec.what));
    }
    let libtest: Vec<Trial> = specs
        .into_iter()
        .map(|spec| {
            let ignored = spec.ignored;
            let s = Arc::clone(&session);
            Trial::ignorable_test(spec.name.clone(), move || {
                let finished = s.run_trial(&spec);
                match finished.status {
                    Status::Ignored(reason) => Ok(Completion::ignored_with(reason)),
                    Status::Passed => {
                        if finished.warned {
                            // A passing trial prints nothing through libtest;
                            // its warnings and known failures go to stderr.
                            eprintln!("{}", s.render(&finished, styles));
                        }
                        Ok(Completion::Completed)
                    }
                    Status::Failed => Err(Failed::from(s.render(&finished, styles))),
                }
            })
            .with_ignored_flag(ignored)
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, libtest);
    if args.list {
        return conclusion.exit_code();
    }
    let tally = Tally {
        selected,
        filtered_out: conclusion.num_filtered_out,
        ignored: conclusion.num_ignored,
        passed: conclusion.num_passed,
        failed: conclusion.num_failed,
    };
    let concluded = session.conclude(tally, &trials.plan);
    say.notes(&concluded.notes);
    say.exit(&concluded.exit, &concluded.junit)
}

/// The program's `report` command (`args`: what follows `report`):
/// matrices and merges of reports already written.
pub fn report_main(args: Vec<std::ffi::OsString>) -> ExitCode {
    match crate::report_tool::run(args) {
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::from(crate::outcome::EXIT_COULD_NOT_RUN)
            } else {
                ExitCode::SUCCESS
            }
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(crate::outcome::EXIT_COULD_NOT_RUN)
        }
        Ok(Ok(done)) => {
            let _ = std::io::stdout().lock().write_all(done.stdout.as_bytes());
            for file in done.written {
                eprintln!("wrote {}", file.display());
            }
            ExitCode::SUCCESS
        }
    }
}

/// What the console prints besides libtest's lines, and how.
struct Say {
    /// Under nextest, which takes the last `Error:` line of stderr as a
    /// failure's message (JUnit's `<failure message=…>`, its summary line).
    nextest: bool,
}

impl Say {
    fn notes(&self, notes: &[String]) {
        for note in notes {
            eprintln!("{note}");
        }
    }

    fn stop(&self, stop: &Stop) -> ExitCode {
        self.exit(&stop.exit, stop.junit.as_slice())
    }

    fn exit(&self, exit: &Exit, junit: &[String]) -> ExitCode {
        if let Some(message) = &exit.message {
            eprintln!("{message}");
        }
        if self.nextest {
            // libtest-mimic's failure block goes to stdout, where nextest
            // does not look for one.
            for line in junit {
                eprintln!("Error: {}", crate::sanitize::line(line));
            }
        }
        ExitCode::from(exit.code)
    }
}

/// `--list-checks`, on stdout. A reader that stops early (`| head`) is no
/// error (println! would panic on the closed pipe).
fn list_checks(contract: &dyn Contract, profile: Option<&str>) -> ExitCode {
    let description = contract.description();
    match crate::profile::choose(&description.profiles, profile) {
        Ok(profile) => {
            let text = crate::catalog::text(description, &profile);
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: --profile: {e}");
            ExitCode::from(crate::outcome::EXIT_COULD_NOT_RUN)
        }
    }
}

fn use_color(args: &Arguments) -> bool {
    if matches!(args.format, Some(FormatSetting::Json)) {
        return false;
    }
    match args.color {
        Some(ColorSetting::Always) => true,
        Some(ColorSetting::Never) => false,
        _ => std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal(),
    }
}
