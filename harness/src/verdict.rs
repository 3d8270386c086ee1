//! Results as data: every check of a trial with its outcome. Rendering is elsewhere.

use serde_json::Value;

use crate::json_path::JsonPath;
use crate::sanitize::bound_text;

/// How much a check weighs: `Must` fails the test, `Should` warns (fails under `--strict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Must,
    Should,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Must => "MUST",
            Self::Should => "SHOULD",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    /// The check could not be evaluated (its input is missing), with the reason.
    NotRun(String),
    /// It failed, and the known-failures register says why.
    Known(String),
}

/// One leaf difference between an expected and an actual document.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub path: JsonPath,
    pub expected: Option<Value>,
    pub actual: Option<Value>,
}

/// One schema violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    pub instance_path: JsonPath,
    pub schema_path: String,
    pub message: String,
}

/// Evidence attached to a check, rendered under it.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    Text(String),
    Differences(Vec<Difference>),
    Schema(Vec<SchemaViolation>),
    /// Members the schemas do not declare: never a failure, reported apart
    /// (a service may add members without notice).
    Undeclared(Vec<crate::undeclared::Undeclared>),
    /// A unified diff of canonicalized JSON: what was expected and what came.
    Diff {
        expected_label: String,
        actual_label: String,
        expected: Value,
        actual: Value,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// A stable id (`status`, `body`, `message.location`, …).
    pub id: String,
    pub level: Level,
    /// What was checked, in words.
    pub label: String,
    /// The spec sentence the check enforces, when it comes from the contract.
    pub spec: Option<String>,
    pub outcome: Outcome,
    pub details: Vec<Detail>,
}

impl Check {
    pub fn new(id: impl Into<String>, level: Level, label: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            level,
            label: label.into(),
            spec: None,
            outcome: Outcome::Pass,
            details: Vec::new(),
        }
    }

    #[must_use]
    pub fn spec(mut self, spec: impl Into<String>) -> Self {
        self.spec = Some(spec.into());
        self
    }

    #[must_use]
    pub fn fail(mut self, detail: Detail) -> Self {
        self.outcome = Outcome::Fail;
        self.details.push(bound_detail(detail));
        self
    }

    #[must_use]
    pub fn fail_text(self, text: impl Into<String>) -> Self {
        self.fail(Detail::Text(text.into()))
    }

    #[must_use]
    pub fn not_run(mut self, reason: impl Into<String>) -> Self {
        self.outcome = Outcome::NotRun(reason.into());
        self
    }

    #[must_use]
    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.details.push(bound_detail(Detail::Text(text.into())));
        self
    }

    /// The check weighs no more than `level` (a SHOULD case makes every check a SHOULD).
    #[must_use]
    pub fn at_most(mut self, level: Level) -> Self {
        self.level = self.level.max(level);
        self
    }

    /// Notes the members beyond the schemas that a validated document had.
    #[must_use]
    pub fn undeclared(mut self, found: Vec<crate::undeclared::Undeclared>) -> Self {
        if !found.is_empty() {
            self.details.push(Detail::Undeclared(found));
        }
        self
    }

    /// Fails with the details when there are any.
    #[must_use]
    pub fn fail_if(mut self, details: Vec<Detail>) -> Self {
        if !details.is_empty() {
            self.outcome = Outcome::Fail;
            self.details.extend(details.into_iter().map(bound_detail));
        }
        self
    }

    pub fn failed(&self) -> bool {
        self.outcome == Outcome::Fail
    }

    /// Failed, and fails its trial: a MUST, or any level under `--strict`.
    pub fn fails(&self, strict: bool) -> bool {
        self.failed() && (self.level == Level::Must || strict)
    }
}

/// Where a trial stood, printed before what went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Where {
    pub test: String,
    pub file: Option<String>,
    pub about: Option<String>,
    pub spec: Option<String>,
    /// `POST /rooms/{{room}}/messages -> 201 Created in 3 ms`
    pub request: Option<String>,
    pub rerun: Vec<String>,
    /// Seed, shrunk input and the like, for generated trials.
    pub extra: Vec<(String, String)>,
    /// A generated input as a case file, shown after the checks.
    pub input: Option<String>,
    /// A property's run seed (`PROPTEST_RNG_SEED`), for the report and the
    /// run's summary.
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    pub place: Where,
    pub checks: Vec<Check>,
    /// Set when no verdict could be reached (transport failure, broken case).
    pub error: Option<String>,
    /// The error came from setting the case up (a fixture the target would
    /// not give), not from the exchange under test: that fixture's kind.
    pub setup: Option<String>,
    /// Set when the register knows this test fails as a whole: the reason.
    pub known: Option<String>,
    /// Set when the case needs what the target cannot give: the reason.
    pub skipped: Option<String>,
    /// What the run says of this trial whatever its verdict (a file of kept
    /// seeds that could not be read): warnings, said after the run.
    pub warnings: Vec<String>,
    /// The trial's wall time (zero until the run has timed it).
    pub duration: std::time::Duration,
}

impl Verdict {
    /// The verdict as the run keeps it for the reports, once it has been
    /// shown: its free text bounded, and the evidence under its checks
    /// dropped but for the members beyond the metadata (the reports read
    /// check ids, outcomes and those members; the evidence was rendered
    /// already).
    pub(crate) fn bound_for_keeping(&mut self) {
        for text in [
            &mut self.error,
            &mut self.skipped,
            &mut self.place.about,
            &mut self.place.spec,
            &mut self.place.request,
        ] {
            if let Some(t) = text.take() {
                *text = Some(bound_text(t));
            }
        }
        for check in &mut self.checks {
            // The members beyond the metadata stay: the reports list them
            // (bounded where they were found).
            check.details.retain(|d| matches!(d, Detail::Undeclared(_)));
            if let Outcome::NotRun(reason) | Outcome::Known(reason) = &mut check.outcome {
                *reason = bound_text(std::mem::take(reason));
            }
        }
    }

    pub fn failures(&self, strict: bool) -> usize {
        self.checks.iter().filter(|c| c.fails(strict)).count()
    }

    pub fn warnings(&self, strict: bool) -> usize {
        if strict {
            return 0;
        }
        self.checks
            .iter()
            .filter(|c| c.failed() && c.level == Level::Should)
            .count()
    }

    pub fn passed(&self, strict: bool) -> bool {
        (self.error.is_none() || self.known.is_some()) && self.failures(strict) == 0
    }

    /// Every member beyond the schemas that its checks saw
    /// (`participant.meetingRole`), once each, sorted.
    pub fn undeclared(&self) -> Vec<String> {
        let mut members: Vec<String> = self
            .checks
            .iter()
            .flat_map(|c| &c.details)
            .filter_map(|d| match d {
                Detail::Undeclared(found) => Some(found),
                _ => None,
            })
            .flatten()
            .map(crate::undeclared::Undeclared::qualified)
            .collect();
        members.sort();
        members.dedup();
        members.truncate(crate::undeclared::MAX_FINDINGS);
        members
    }

    pub fn has_known(&self) -> bool {
        self.known.is_some()
            || self
                .checks
                .iter()
                .any(|c| matches!(c.outcome, Outcome::Known(_)))
    }
}

/// The checks every case can ask for, beside the contract's invariants, with
/// their level (a case of level SHOULD lowers them all).
/// Check ids in a verdict are these, or these with a suffix (`header.location`,
/// `notification[0]`, `capture.op`, `status.preferred`).
pub const BUILTIN_CHECKS: &[(&str, Level, &str)] = &[
    (
        "status",
        Level::Must,
        "the response status is one the case allows",
    ),
    (
        "status.preferred",
        Level::Should,
        "the response status is the one the case recommends (`{\"must\": …, \"should\": …}`), and required under a profile the case names in `profiles`",
    ),
    (
        "header",
        Level::Must,
        "a response header is as the case expects",
    ),
    (
        "schema",
        Level::Must,
        "the response body satisfies the case's schema",
    ),
    (
        "body",
        Level::Must,
        "the response body matches the case's expected body",
    ),
    (
        "capture",
        Level::Must,
        "a value the case captures is in the response body",
    ),
    (
        "notification",
        Level::Must,
        "an expected notification arrives in time, as often as expected, and satisfies its schema",
    ),
];

/// The family of a check id: `header.location` -> `header`,
/// `notification[2]` -> `notification`, `capture.op` -> `capture`; every
/// other id (`status.preferred`, `notification.schema`) is its own family.
pub fn check_family(id: &str) -> &str {
    for (family, sep) in [("header", '.'), ("capture", '.'), ("notification", '[')] {
        if id
            .strip_prefix(family)
            .is_some_and(|rest| rest.starts_with(sep))
        {
            return family;
        }
    }
    id
}

/// What one generated input came to, when it did not simply pass.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    /// `POST /… -> 500 Internal Server Error in 2 ms`
    pub request: Option<String>,
    pub checks: Vec<Check>,
    /// Set when no verdict could be reached.
    pub error: Option<String>,
    /// The error is about setting the input up (its fixtures: a resource
    /// the target would not create), not about the exchange under test: the
    /// fixture kind. The property stops at once, nothing is shrunk or kept.
    pub setup: Option<String>,
    /// The input could not run on this target (it needs a fixture the
    /// target cannot give, or none of its checks is selected): why. It
    /// counts as no input at all.
    pub skipped: Option<String>,
    /// The input as a case file that reproduces the failure.
    pub case_file: Option<Value>,
}

impl Failure {
    pub fn failed(&self, strict: bool) -> bool {
        self.error.is_some() || self.checks.iter().any(|c| c.fails(strict))
    }
}

/// Evidence as a check keeps it: its text bounded as it is made, so a
/// message quoting a target's megabytes costs its excerpt, not its size.
fn bound_detail(detail: Detail) -> Detail {
    match detail {
        Detail::Text(text) => Detail::Text(bound_text(text)),
        Detail::Schema(violations) => Detail::Schema(
            violations
                .into_iter()
                .map(|v| SchemaViolation {
                    message: bound_text(v.message),
                    ..v
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_group_a_builtins_instances_and_nothing_else() {
        assert_eq!(check_family("header.location"), "header");
        assert_eq!(check_family("capture.op"), "capture");
        assert_eq!(check_family("notification[3]"), "notification");
        assert_eq!(check_family("notification.schema"), "notification.schema");
        assert_eq!(check_family("status.preferred"), "status.preferred");
        assert_eq!(check_family("invite.location"), "invite.location");
        for (id, ..) in BUILTIN_CHECKS {
            assert_eq!(check_family(id), *id);
        }
    }
}
