//! Every check a suite can run: the case files' own (status, headers,
//! schema, body, captures, notifications) and the contract's invariants,
//! each with its level under the run's profile and under each profile, as
//! `--list-checks`, the report and the known-failures register see them.

use std::fmt::Write as _;

use crate::contract::Description;
use crate::profile::Profile;
use crate::report::CheckInfo;
use crate::verdict::{Level, BUILTIN_CHECKS};

/// The header line of `--list-checks`: its columns, tab-separated. `level`
/// is under the run's profile, `profiles` each profile's (`spec=SHOULD graph=MUST`).
pub const LIST_CHECKS_HEADER: &str = "id\tlevel\tsource\tsummary\trule\tprofiles";

/// Every check, with its level under `profile` and under each of the
/// contract's profiles.
pub fn checks(description: &Description, profile: &Profile) -> Vec<CheckInfo> {
    let profiles = &description.profiles;
    let levels = |id: &str, level: Level| {
        profiles
            .iter()
            .map(|p| (p.name, p.level(id, level)))
            .collect::<Vec<_>>()
    };
    BUILTIN_CHECKS
        .iter()
        .map(|(id, level, summary)| CheckInfo {
            id: (*id).to_owned(),
            level: profile.level(id, *level),
            levels: levels(id, *level),
            summary: (*summary).to_owned(),
            source: "the case file".to_owned(),
            spec: "the case's own `spec` sentence; a case with \"level\": \"SHOULD\" makes its checks SHOULD, and `profiles` gives its level (and its status.preferred's) under a profile".to_owned(),
        })
        .chain(description.invariants.iter().map(|i| CheckInfo {
            id: i.id.to_owned(),
            level: profile.level(i.id, i.level),
            levels: levels(i.id, i.level),
            summary: i.summary.to_owned(),
            source: i.source.to_owned(),
            spec: i.spec.to_owned(),
        }))
        .collect()
}

/// Every check id a verdict or the register may name.
pub fn ids(description: &Description, profile: &Profile) -> Vec<String> {
    checks(description, profile)
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// `--list-checks`: the header, then a line per check.
pub fn text(description: &Description, profile: &Profile) -> String {
    let mut text = format!("{LIST_CHECKS_HEADER}\n");
    for c in checks(description, profile) {
        let _ = writeln!(
            text,
            "{}\t{}\t{}\t{}\t{}\t{}",
            c.id,
            c.level.as_str(),
            c.source,
            c.summary,
            c.spec,
            c.levels
                .iter()
                .map(|(name, level)| format!("{name}={}", level.as_str()))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    text
}
