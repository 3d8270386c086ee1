//! How a suite's program runs, besides what its contract says: its help
//! text, its default folders, how cargo selects it, and the prefix of the
//! environment variables its options are read from.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Settings {
    /// The first line of `--help`.
    pub about: &'static str,
    /// The case files' folder when `--cases` is not given (relative to the
    /// working directory, which cargo sets to the package's folder).
    pub cases: PathBuf,
    /// The schemas' folder when `--schemas` is not given.
    pub schemas: PathBuf,
    /// What selects this test binary on a cargo command line, for rerun
    /// lines (`-p my-crate --test my_suite`; empty for the package's only one).
    pub cargo_args: &'static str,
    /// Every option is read from the variable of its name under this
    /// prefix too (`--target` from `CONFORMANCE_TARGET`), the contract's
    /// own included, and the token from `<prefix>TOKEN`: two suites in one
    /// environment each read their own.
    pub env_prefix: &'static str,
    /// The suite as a program of its own (an installed binary) rather than
    /// a cargo test: its usage and rerun lines name it.
    pub program: Option<Program>,
}

/// What changes when the suite runs as a program of its own.
#[derive(Debug, Clone, Default)]
pub struct Program {
    /// Its name, as usage and rerun lines call it (`invite-conformance`).
    pub name: &'static str,
    /// Its own options that a rerun line must repeat (` --cases mine`):
    /// ones the program handles before the harness sees the command line.
    pub rerun_args: String,
    /// What `--help` says of `--cases` in place of the harness's text.
    pub cases_help: Option<&'static str>,
    /// Paragraphs `--help` adds at its end (the program's own commands).
    pub after_help: Option<&'static str>,
}

impl Settings {
    /// `cases/` and `schemas/` in the working directory, the package's only
    /// test, variables under `CONFORMANCE_`.
    pub fn new(about: &'static str) -> Self {
        Self {
            about,
            cases: "cases".into(),
            schemas: "schemas".into(),
            cargo_args: "",
            env_prefix: "CONFORMANCE_",
            program: None,
        }
    }

    /// The variable `name` under the prefix: `TARGET` -> `CONFORMANCE_TARGET`.
    pub fn var(&self, name: &str) -> String {
        format!("{}{name}", self.env_prefix)
    }
}
