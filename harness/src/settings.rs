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
        }
    }

    /// The variable `name` under the prefix: `TARGET` -> `CONFORMANCE_TARGET`.
    pub fn var(&self, name: &str) -> String {
        format!("{}{name}", self.env_prefix)
    }
}
