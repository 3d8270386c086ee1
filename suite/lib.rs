//! The conformance suite for Microsoft Graph's `participant: invite`, as a
//! library: the invite contract (fixtures, invariants, properties, lints)
//! that the harness runs, and the program's `main`, which both the test
//! binary (`cargo test`) and the `invite-conformance` binary call.
//!
//! Its public API: [`main`], the [`settings`] it runs with (and
//! [`settings_in`] a folder), the [`InviteContract`] and its
//! [`CallOptions`], and [`run`], which runs the suite in the calling
//! process from command-line arguments (the self-tests and the bench use
//! it); [`notification_violations`] validates a notification as the
//! `notification.schema` check does; [`create_call_body`] is the body the
//! suite creates a call with; [`program`] is the installed program's main
//! (its case files and schemas, [`builtin`], embedded by `suite/bin.rs`).

pub mod builtin;
mod contract;
mod fixtures;
mod invariants;
mod lint;
mod notifications;
mod offline;
mod options;
pub mod program;
mod props;
mod tenant;

use std::path::Path;
use std::process::ExitCode;

use conformance_harness::{Options, RunOutcome, Settings};

pub use contract::InviteContract;
pub use fixtures::create_call_body;
pub use invariants::notification::{notification_violations, Validation};
pub use options::CallOptions;

/// How the suite runs: its help text, `cases/` and `schemas/` in the
/// working directory, variables under `CONFORMANCE_`.
pub fn settings() -> Settings {
    Settings::new("Conformance suite for Microsoft Graph's participant: invite API")
}

/// [`settings`] with the case files and schemas under `root` (the
/// checkout), wherever the process runs from.
pub fn settings_in(root: &Path) -> Settings {
    Settings {
        cases: root.join("cases"),
        schemas: root.join("schemas"),
        ..settings()
    }
}

/// The program: the command line and the environment read, the suite run,
/// what it came to printed, and the exit code.
pub fn main() -> ExitCode {
    conformance_harness::main(settings(), InviteContract::new)
}

/// Runs the suite in this process with `settings` and the options `args`
/// give (as the command line does, the program's name first; no
/// environment variable is read), `with` changing them (a token, proptest's
/// settings).
pub fn run(
    settings: &Settings,
    args: &[&str],
    with: impl FnOnce(&mut Options),
) -> Result<RunOutcome, clap::Error> {
    let (mut options, calls) =
        conformance_harness::parse_args::<CallOptions, _, _>(settings, args)?;
    with(&mut options);
    Ok(conformance_harness::run(
        settings,
        InviteContract::new(calls),
        options,
    ))
}
