//! The run's options as the trials read them: derived from the options
//! given ([`crate::options::Options`]) once the run is set up.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::known::KnownFailures;
use crate::options::Generation;
use crate::profile::Profile;
use crate::regressions::Keeping;
use crate::rerun::RerunArgs;
use crate::seed::Seeding;
use crate::selection::Selection;
use crate::tenant::Tenant;

/// What the trials read of the run's options.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub strict: bool,
    /// The profile the run is judged under.
    pub profile: Profile,
    pub notification_timeout: Duration,
    /// The target as the user named it (`None`: the embedded implementation).
    pub target: Option<String>,
    /// Where failing properties write their shrunk case files.
    pub save_failures: Option<PathBuf>,
    /// The target's notifications reach the suite's listener.
    pub notifications: bool,
    /// Threads a property runs its generated inputs on (`--test-threads`)
    /// while they do not wait on the target.
    pub workers: usize,
    /// The bound on generated inputs in flight across the run
    /// (`--max-in-flight`), shared by every property.
    pub in_flight: Arc<crate::in_flight::InFlight>,
    /// The checks the run judges (`--checks`, `--level`).
    pub selection: Selection,
    /// How the properties' seeds are chosen (`--seed`).
    pub seeding: Seeding,
    /// How generated inputs are made.
    pub generation: Generation,
    /// Where failing inputs' seeds are kept for this target (`None`: not kept).
    pub regressions: Option<Keeping>,
    /// How to run the same thing again: what every rerun line carries.
    pub rerun: RerunArgs,
    /// Values never printed: the bearer token.
    pub secrets: Vec<String>,
    /// The known-failures register, which properties apply input by input.
    pub(crate) known: Arc<KnownFailures>,
    /// The tenant profile the identities come from.
    pub tenant: Arc<Tenant>,
    /// Where transcripts are written (`--record`).
    pub record: Option<PathBuf>,
    /// Where case trials are written as case files (`--record-cases`).
    pub record_cases: Option<PathBuf>,
    /// The recording trials are compared with (`--compare`).
    pub compare: Option<PathBuf>,
}

impl RunOptions {
    /// The commands that rerun trial `name` as this run ran it.
    pub fn rerun(&self, name: &str, extra: &[(&str, String)]) -> Vec<String> {
        self.rerun.lines(name, extra)
    }
}
