//! The installed program, `invite-conformance`: the suite's trials,
//! options, output and exit codes, with its case files and schemas built in
//! so it runs from any folder. What it adds to the test's command line:
//! `--cases DIR` adds a team's cases to the built-in ones (with
//! `--no-builtin-cases`, runs only them), `--version` names the spec
//! revision, and `report matrix|merge` works on reports already written.

use std::ffi::OsString;
use std::process::ExitCode;

use conformance_harness::{Program, EXIT_COULD_NOT_RUN};

use crate::builtin::{Builtin, Joined, Laid};
use crate::contract::InviteContract;

/// The revision of the spec page the suite enforces, as far as it is known
/// (spec/README.md says how it was dated).
pub const SPEC_REVISION: &str = "Microsoft Graph v1.0 \"participant: invite\" \
(api-reference/v1.0/api/participant-invite.md of microsoft-graph-docs-contrib), \
as rendered from a revision after 2022-04-24 and before the 2023 restyling; \
its exact commit is not known (see spec/README.md)";

const AFTER_HELP: &str = "\
The case files and schemas are built in: the program runs from any folder.
  --cases DIR           add the case files under DIR to the built-in ones
                        (a file with the path of a built-in case is an error)
  --no-builtin-cases    with --cases DIR, run only DIR's cases [env: CONFORMANCE_NO_BUILTIN_CASES=]
  --schemas DIR         use DIR's schemas instead of the built-in ones
  -V, --version         the suite's version and the spec revision it enforces

Reports already written (report.json, or the folder holding it):
  invite-conformance report matrix [NAME=]REPORT... [--md FILE] [--html FILE]
        checks × implementations, one column per report
  invite-conformance report merge REPORT... --out DIR [--junit FILE]
        the reports of one run split across machines, as one report";

/// `--version`'s text.
pub fn version_text(builtin: &Builtin<'_>) -> String {
    format!(
        "invite-conformance {}\nspec: {SPEC_REVISION}\nbuilt in: {} case files, fingerprint {}\n",
        env!("CARGO_PKG_VERSION"),
        builtin.case_count(),
        builtin.fingerprint()
    )
}

/// Takes `--NAME VALUE` or `--NAME=VALUE` out of `args` (the last one
/// given wins, as with clap); `Err` when the value is missing.
fn take_value(args: &mut Vec<OsString>, name: &str) -> Result<Option<OsString>, String> {
    let mut found = None;
    let mut i = 1;
    while i < args.len() {
        if args[i] == "--" {
            break;
        }
        let arg = args[i].to_string_lossy().into_owned();
        if arg == name {
            if i + 1 >= args.len() {
                return Err(format!("{name} needs a value"));
            }
            found = Some(args.remove(i + 1));
            args.remove(i);
        } else if let Some(value) = arg.strip_prefix(&format!("{name}=")) {
            found = Some(OsString::from(value));
            args.remove(i);
        } else {
            i += 1;
        }
    }
    Ok(found)
}

/// Takes the switch `name` out of `args`: whether it was there.
fn take_switch(args: &mut Vec<OsString>, name: &str) -> bool {
    let before = args.len();
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let mut i = 1;
    let mut removed = 0;
    while i < end - removed {
        if args[i] == name {
            args.remove(i);
            removed += 1;
        } else {
            i += 1;
        }
    }
    args.len() < before
}

fn truthy(value: &OsString) -> bool {
    matches!(
        value.to_string_lossy().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// Where the run's cases come from, and what a rerun line repeats of it.
struct Cases {
    folder: std::path::PathBuf,
    rerun_args: String,
    /// The run's join of the built-in cases and the user's (removed when dropped).
    _joined: Option<Joined>,
}

fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn cases(laid: &Laid, mine: Option<OsString>, no_builtin: bool) -> Result<Cases, String> {
    match (mine, no_builtin) {
        (None, true) => {
            Err("--no-builtin-cases needs --cases DIR: the cases to run instead".to_owned())
        }
        (None, false) => Ok(Cases {
            folder: laid.cases.clone(),
            rerun_args: String::new(),
            _joined: None,
        }),
        (Some(dir), true) => Ok(Cases {
            rerun_args: format!(
                " --cases {} --no-builtin-cases",
                shell_word(&dir.to_string_lossy())
            ),
            folder: dir.into(),
            _joined: None,
        }),
        (Some(dir), false) => {
            let joined =
                crate::builtin::join(&laid.cases, dir.as_ref()).map_err(|e| e.to_string())?;
            Ok(Cases {
                folder: joined.path.clone(),
                rerun_args: format!(" --cases {}", shell_word(&dir.to_string_lossy())),
                _joined: Some(joined),
            })
        }
    }
}

/// The built-in files laid out in the user's cache, or in the temporary
/// folder when the cache cannot be written.
fn lay_out(builtin: &Builtin<'_>) -> Result<Laid, String> {
    let version = env!("CARGO_PKG_VERSION");
    let fingerprint = builtin.fingerprint();
    let cache = crate::builtin::cache_root(version, &fingerprint);
    builtin.lay_out(&cache).or_else(|first| {
        let temp = std::env::temp_dir()
            .join("invite-conformance")
            .join(format!("{version}-{fingerprint}"));
        builtin
            .lay_out(&temp)
            .map_err(|second| format!("{first}; then {second}"))
    })
}

/// The program: `report …`, `--version`, or a run of the suite.
pub fn main(builtin: &Builtin<'_>) -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "report") {
        return conformance_harness::report_main(args.split_off(2));
    }
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    if args[1.min(end)..end]
        .iter()
        .any(|a| a == "--version" || a == "-V")
    {
        // A reader that closed the pipe early is no error (print! would panic).
        let _ = std::io::Write::write_all(&mut std::io::stdout(), version_text(builtin).as_bytes());
        return ExitCode::SUCCESS;
    }
    let settings = crate::settings();
    let var = |name: &str| std::env::var_os(settings.var(name)).filter(|v| !v.is_empty());
    let no_builtin = take_switch(&mut args, "--no-builtin-cases")
        || var("NO_BUILTIN_CASES").is_some_and(|v| truthy(&v));
    let mine = match take_value(&mut args, "--cases") {
        Ok(given) => given.or_else(|| var("CASES")),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    };
    // The program reads the folder itself: the harness, which would take
    // it as the whole of the cases, is given the joined tree instead.
    // Safe in edition 2021, and no other thread runs yet.
    std::env::remove_var(settings.var("CASES"));
    let run = lay_out(builtin).and_then(|laid| Ok((cases(&laid, mine, no_builtin)?, laid)));
    let (cases, laid) = match run {
        Ok(run) => run,
        Err(e) => {
            eprintln!("error: could not set up the run: {e}");
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    };
    let settings = conformance_harness::Settings {
        cases: cases.folder.clone(),
        schemas: laid.schemas,
        program: Some(Program {
            name: "invite-conformance",
            rerun_args: cases.rerun_args.clone(),
            cases_help: Some(
                "Folder of case files, added to the built-in ones (see --no-builtin-cases below)",
            ),
            after_help: Some(AFTER_HELP),
        }),
        ..settings
    };
    let code = conformance_harness::main_with_args(settings, args, InviteContract::new);
    drop(cases);
    code
}
