//! Every byte a failure prints: verdicts become plain text, colour is a layer on top.

use std::fmt::Write as _;

use serde_json::Value;
use similar::TextDiff;

pub use crate::sanitize::split_at_most;
use crate::sanitize::{line as shown, quote, shrink_json};
use crate::verdict::{Check, Detail, Difference, Level, Outcome, SchemaViolation, Verdict};

/// Colour in one place: plain by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct Styles {
    pub color: bool,
}

impl Styles {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_owned()
        }
    }
    fn fail(self, t: &str) -> String {
        self.paint("1;31", t)
    }
    fn warn(self, t: &str) -> String {
        self.paint("1;33", t)
    }
    fn ok(self, t: &str) -> String {
        self.paint("32", t)
    }
    fn dim(self, t: &str) -> String {
        self.paint("2", t)
    }
    fn added(self, t: &str) -> String {
        self.paint("32", t)
    }
    fn removed(self, t: &str) -> String {
        self.paint("31", t)
    }
}

/// A value with its type, so `"1"` and `1` never read alike; a string is
/// an excerpt with its length said (see [`crate::sanitize::quote`]).
pub fn describe(value: Option<&Value>) -> String {
    match value {
        None => "(absent)".to_owned(),
        Some(Value::Null) => "null".to_owned(),
        Some(Value::Bool(b)) => format!("boolean {b}"),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => format!("integer {n}"),
        Some(Value::Number(n)) => format!("number {n}"),
        Some(Value::String(s)) => format!("string {}", quote(s)),
        Some(Value::Array(a)) => format!("array [{} item{}]", a.len(), plural(a.len())),
        Some(Value::Object(o)) => format!("object {{{} key{}}}", o.len(), plural(o.len())),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `s` cut to at most `max` bytes, with `…` when something was cut.
pub fn truncate(s: &str, max: usize) -> String {
    match split_at_most(s, max) {
        (head, 0) => head.to_owned(),
        (head, _) => format!("{head}…"),
    }
}

/// A JSON value on one line, keys sorted, its long strings and arrays cut
/// (each saying its length), the whole cut to a readable length.
pub fn one_line(value: &Value) -> String {
    truncate(&canonicalize(&shrink_json(value)).to_string(), 240)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Keys sorted at every level, so a diff shows content, not member order.
pub fn canonicalize(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonicalize(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonicalize).collect()),
        other => other.clone(),
    }
}

/// A document for a diff: a target's megabyte string or ten-thousand-item
/// array is shown cut, with its size, not whole.
fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&canonicalize(&shrink_json(value)))
        .unwrap_or_else(|e| format!("<{e}>"));
    text.push('\n');
    text
}

/// One blank line before a block, never two.
fn blank_line(out: &mut String) {
    if !out.ends_with("\n\n") {
        out.push('\n');
    }
}

pub fn render_differences(out: &mut String, diffs: &[Difference], indent: &str) {
    for d in diffs {
        blank_line(out);
        let _ = writeln!(out, "{indent}{}", shown(&d.path.to_string()));
        let _ = writeln!(
            out,
            "{indent}    expected  {}",
            describe(d.expected.as_ref())
        );
        let _ = writeln!(out, "{indent}    actual    {}", describe(d.actual.as_ref()));
        if let (Some(e), Some(a)) = (&d.expected, &d.actual) {
            if type_name(e) != type_name(a) {
                let _ = writeln!(
                    out,
                    "{indent}    types differ: expected {}, actual {}",
                    type_name(e),
                    type_name(a)
                );
            }
        }
    }
}

fn render_schema(out: &mut String, violations: &[SchemaViolation], indent: &str) {
    for v in violations {
        blank_line(out);
        let _ = writeln!(out, "{indent}{}", shown(&v.instance_path.to_string()));
        let _ = writeln!(out, "{indent}    {}", shown(&v.message));
        let _ = writeln!(out, "{indent}    schema: {}", shown(&v.schema_path));
    }
}

pub fn render_diff(
    out: &mut String,
    styles: Styles,
    expected_label: &str,
    actual_label: &str,
    expected: &Value,
    actual: &Value,
    indent: &str,
) {
    let old = pretty(expected);
    let new = pretty(actual);
    let diff = TextDiff::from_lines(&old, &new);
    let mut unified = diff.unified_diff();
    let text = unified
        .context_radius(3)
        .header(expected_label, actual_label)
        .to_string();
    for line in text.lines().map(shown) {
        let painted = if line.starts_with("+++") || line.starts_with("---") {
            line.into_owned()
        } else if line.starts_with('+') {
            styles.added(&line)
        } else if line.starts_with('-') {
            styles.removed(&line)
        } else if line.starts_with("@@") {
            styles.dim(&line)
        } else {
            line.into_owned()
        };
        let _ = writeln!(out, "{indent}{painted}");
    }
}

fn verdict_word(check: &Check, strict: bool, styles: Styles) -> String {
    match (&check.outcome, check.level) {
        (Outcome::Pass, _) => styles.ok("ok  "),
        (Outcome::Fail, Level::Must) => styles.fail("FAIL"),
        (Outcome::Fail, Level::Should) if strict => styles.fail("FAIL"),
        (Outcome::Fail, Level::Should) => styles.warn("WARN"),
        (Outcome::NotRun(_), _) => styles.dim("skip"),
        (Outcome::Known(_), _) => styles.warn("KNOWN"),
    }
}

/// The whole report of one trial, plain text unless `styles.color`.
pub fn render_verdict(
    verdict: &Verdict,
    styles: Styles,
    strict: bool,
    secrets: &[String],
) -> String {
    let mut out = String::new();
    let p = &verdict.place;
    let failed = verdict.failures(strict);
    let warned = verdict.warnings(strict);
    let total = verdict.checks.len();
    let headline = match (&verdict.error, failed) {
        (Some(_), _) if verdict.known.is_some() => format!(
            "{} (known failure: {})",
            styles.warn("ERROR"),
            shown(verdict.known.as_deref().unwrap_or_default())
        ),
        (Some(_), _) => styles.fail("ERROR"),
        (None, 0) if warned > 0 => format!(
            "{} of {total} checks passed, {warned} warning{}",
            total - warned,
            plural(warned)
        ),
        (None, 0) => format!("all {total} checks passed"),
        (None, n) => format!("{n} of {total} checks failed"),
    };
    let _ = writeln!(out, "{}: {headline}", shown(&p.test));
    for (label, value) in [
        ("case", &p.file),
        ("about", &p.about),
        ("spec", &p.spec),
        ("request", &p.request),
    ] {
        if let Some(v) = value {
            let _ = writeln!(out, "  {label:<8} {}", shown(v));
        }
    }
    for (label, value) in &p.extra {
        let _ = writeln!(out, "  {label:<8} {}", shown(value));
    }
    if let Some(error) = &verdict.error {
        let _ = writeln!(out);
        for line in error.lines() {
            let _ = writeln!(out, "  {} {}", styles.fail("ERROR"), shown(line));
        }
    }
    if !verdict.checks.is_empty() {
        let _ = writeln!(out);
    }
    let mut diffs = Vec::new();
    for check in &verdict.checks {
        let word = verdict_word(check, strict, styles);
        let level = match check.level {
            Level::Must => String::new(),
            Level::Should => " (SHOULD)".to_owned(),
        };
        let skip = match &check.outcome {
            Outcome::NotRun(reason) => format!("  (not run: {})", shown(reason)),
            Outcome::Known(reason) => format!("  (known failure: {})", shown(reason)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {word}  {}: {}{level}{skip}",
            shown(&check.id),
            shown(&check.label)
        );
        if check.outcome == Outcome::Pass {
            continue;
        }
        if let (Some(spec), Outcome::Fail) = (&check.spec, &check.outcome) {
            let _ = writeln!(out, "        spec: {}", shown(spec));
        }
        for detail in &check.details {
            match detail {
                Detail::Text(t) => {
                    for line in t.lines() {
                        let _ = writeln!(out, "        {}", shown(line));
                    }
                }
                Detail::Differences(d) => {
                    render_differences(&mut out, d, "        ");
                    blank_line(&mut out);
                }
                Detail::Schema(v) => {
                    render_schema(&mut out, v, "        ");
                    blank_line(&mut out);
                }
                Detail::Diff { .. } if check.outcome == Outcome::Fail => diffs.push(detail),
                Detail::Diff { .. } | Detail::Undeclared(_) => {}
            }
        }
    }
    let undeclared = verdict.undeclared();
    if !undeclared.is_empty() {
        blank_line(&mut out);
        let _ = writeln!(
            out,
            "  note  {} member{} beyond the metadata (accepted, never failed): {}",
            undeclared.len(),
            plural(undeclared.len()),
            list_at_most(&undeclared, 20)
        );
    }
    for detail in diffs {
        if let Detail::Diff {
            expected_label,
            actual_label,
            expected,
            actual,
        } = detail
        {
            blank_line(&mut out);
            render_diff(
                &mut out,
                styles,
                expected_label,
                actual_label,
                expected,
                actual,
                "  ",
            );
        }
    }
    if let Some(input) = &p.input {
        blank_line(&mut out);
        let _ = writeln!(
            out,
            "  --- the input as a case file (save it under cases/ to reproduce it as a case)"
        );
        for line in input.lines() {
            let _ = writeln!(out, "  {}", shown(line));
        }
    }
    if !p.rerun.is_empty() {
        blank_line(&mut out);
        for (i, cmd) in p.rerun.iter().enumerate() {
            let lead = if i == 0 { "rerun:" } else { "   or:" };
            let _ = writeln!(out, "  {lead} {}", shown(cmd));
        }
    }
    redact_secrets(&out, secrets)
}

/// A failed trial in one line: its name, how many checks failed and which,
/// or why no verdict was reached.
pub fn one_line_summary(verdict: &Verdict, strict: bool) -> String {
    let test = &verdict.place.test;
    if let Some(error) = &verdict.error {
        return format!(
            "{test}: no verdict: {}",
            error.lines().next().unwrap_or_default()
        );
    }
    let failed: Vec<&str> = verdict
        .checks
        .iter()
        .filter(|c| c.fails(strict))
        .map(|c| c.id.as_str())
        .collect();
    format!(
        "{test}: {} of {} checks failed: {}",
        failed.len(),
        verdict.checks.len(),
        failed.join(", ")
    )
}

/// Replaces each secret, by value, wherever it appears, and the forms a
/// target may echo it in (base64, URL-encoded): see [`crate::sanitize`].
pub fn redact_secrets(text: &str, secrets: &[String]) -> String {
    crate::sanitize::redact(text, secrets)
}

/// `items` joined with commas, at most `max` of them, and how many more.
pub(crate) fn list_at_most(items: &[String], max: usize) -> String {
    let shown = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    match items.len().saturating_sub(max) {
        0 => shown,
        more => format!("{shown}, and {more} more"),
    }
}
