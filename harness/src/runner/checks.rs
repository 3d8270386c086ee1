//! The checks of the response a case file names: status, captures,
//! headers, schema, body.

use serde_json::Value;

use crate::case::{Case, LoadedCase, MatchMode};
use crate::exchange::HttpResponse;
use crate::matching::{compare, project};
use crate::sanitize::quote;
use crate::schema::Schemas;
use crate::template::{fill_str, fill_value, Vars};
use crate::verdict::{Check, Detail, Level, Outcome};

use super::uses_uncaptured;

/// `status` (what the case requires) and `status.preferred` (what it
/// recommends); whether the status is one the case allows.
pub(super) fn status(
    loaded: &LoadedCase,
    response: &HttpResponse,
    checks: &mut Vec<Check>,
) -> bool {
    let any_status = loaded.statuses.is_empty();
    let status_ok = any_status || loaded.statuses.iter().any(|s| s.accepts(response.status));
    let wanted = joined(&loaded.statuses);
    if !any_status {
        let mut status = Check::new("status", Level::Must, format!("is {wanted}"));
        if !status_ok {
            status = status.fail_text(format!("expected {wanted}, got {}", response.status_line()));
            match &response.json {
                Some(Err(e)) => status = status.note(format!("the body is {e}")),
                Some(Ok(body)) => {
                    status = status.note(format!(
                        "body: {}",
                        crate::render::truncate(
                            &crate::sanitize::shrink_json(body).to_string(),
                            200
                        )
                    ));
                }
                None => {}
            }
        }
        checks.push(status);
    }
    if !loaded.preferred.is_empty() {
        let preferred = joined(&loaded.preferred);
        let check = Check::new("status.preferred", Level::Should, format!("is {preferred}"));
        checks.push(if !status_ok {
            check.not_run(format!("the status is not {wanted}"))
        } else if loaded.preferred.iter().any(|s| s.accepts(response.status)) {
            check
        } else {
            check.fail_text(format!(
                "expected {preferred}, got {}",
                response.status_line()
            ))
        });
    }
    status_ok
}

fn joined(statuses: &[crate::case::StatusExpect]) -> String {
    statuses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The values the case captures from the body, as variables; why each one
/// that could not be captured was not (for the checks that need it).
pub(super) fn capture(
    loaded: &LoadedCase,
    response: &HttpResponse,
    status_ok: bool,
    vars: &mut Vars,
    checks: &mut Vec<Check>,
) -> Vec<String> {
    let mut uncaptured: Vec<String> = Vec::new();
    for (name, path) in &loaded.capture {
        let found = response
            .json_value()
            .and_then(|body| path.select(body).first().copied().cloned());
        let capture = Check::new(
            format!("capture.{name}"),
            Level::Must,
            format!("capture {name} from {path}"),
        );
        match found {
            Some(value) => {
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                vars.insert(name.clone(), text);
                checks.push(capture);
            }
            None if status_ok => {
                uncaptured.push(format!(
                    "{{{{{name}}}}} was not captured ({path} is not in the response body)"
                ));
                checks.push(capture.fail_text(format!("{path} is not in the response body")));
            }
            None => {
                uncaptured.push(format!(
                    "{{{{{name}}}}} was not captured (the status differed)"
                ));
                checks.push(capture.not_run("the status differed"));
            }
        }
    }
    uncaptured
}

/// One check per header the case expects.
pub(super) fn headers(
    case: &Case,
    response: &HttpResponse,
    vars: &Vars,
    uncaptured: &[String],
    checks: &mut Vec<Check>,
) {
    for (name, expect) in &case.expect.headers {
        let check = check_header(name, expect, response, vars);
        checks.push(
            match uses_uncaptured(|| format!("{expect:?}"), uncaptured) {
                Some(reason) => Check {
                    outcome: Outcome::NotRun(reason),
                    details: Vec::new(),
                    ..check
                },
                None => check,
            },
        );
    }
}

/// The body against the case's schema, when it names one.
pub(super) fn schema(
    schemas: &Schemas,
    case: &Case,
    response: &HttpResponse,
    status_ok: bool,
    checks: &mut Vec<Check>,
) {
    let Some(schema) = &case.expect.schema else {
        return;
    };
    let label = format!("body satisfies {}", schemas.display(schema));
    let check = Check::new("schema", Level::Must, label);
    checks.push(if !status_ok {
        check.not_run("status differed")
    } else {
        match &response.json {
            None => check.fail_text("the body is empty"),
            Some(Err(e)) => check.fail_text(format!("the body is {e}")),
            Some(Ok(body)) => match schemas.validate(schema, body) {
                Ok(v) => {
                    let check = check.undeclared(schemas.undeclared(schema, body));
                    if v.is_empty() {
                        check
                    } else {
                        check.fail(Detail::Schema(v))
                    }
                }
                Err(e) => check.fail_text(e),
            },
        }
    });
}

/// The body against the case's expected body, when it gives one.
pub(super) fn body(
    loaded: &LoadedCase,
    response: &HttpResponse,
    status_ok: bool,
    vars: &Vars,
    uncaptured: &[String],
    checks: &mut Vec<Check>,
) -> Result<(), String> {
    let Some(body) = &loaded.case.expect.body else {
        return Ok(());
    };
    if let Some(reason) = uses_uncaptured(|| body.value.to_string(), uncaptured) {
        checks.push(Check::new("body", Level::Must, "matches expect.body").not_run(reason));
        return Ok(());
    }
    let expected = fill_value(&body.value, vars)?;
    let mode = match body.mode {
        MatchMode::Subset => "subset",
        MatchMode::Exact => "exact",
    };
    let check = Check::new("body", Level::Must, format!("matches expect.body ({mode})"));
    checks.push(match response.json_value() {
        None if !status_ok => check.not_run("status differed"),
        None => check.fail_text("the body is not JSON"),
        Some(actual) => {
            let diffs = compare(&expected, actual, body.mode, &loaded.redact);
            if diffs.is_empty() {
                check
            } else {
                let mut shown_expected = expected.clone();
                let mut shown_actual = match body.mode {
                    MatchMode::Subset => project(&expected, actual),
                    MatchMode::Exact => actual.clone(),
                };
                for r in &loaded.redact {
                    r.replace_all(&mut shown_expected, &Value::String("<redacted>".into()));
                    r.replace_all(&mut shown_actual, &Value::String("<redacted>".into()));
                }
                check.fail(Detail::Differences(diffs)).fail(Detail::Diff {
                    expected_label: "expected (expect.body, keys sorted)".into(),
                    actual_label: format!(
                        "actual   (response body{}, keys sorted)",
                        if body.mode == MatchMode::Subset {
                            " projected onto expect.body"
                        } else {
                            ""
                        }
                    ),
                    expected: shown_expected,
                    actual: shown_actual,
                })
            }
        }
    });
    Ok(())
}

fn check_header(
    name: &str,
    expect: &crate::case::HeaderExpect,
    response: &HttpResponse,
    vars: &Vars,
) -> Check {
    let actual = response.header(name);
    let mut wants = Vec::new();
    if let Some(p) = expect.present {
        wants.push(if p {
            "present".to_owned()
        } else {
            "absent".to_owned()
        });
    }
    for (w, verb) in [
        (&expect.equals, "equals"),
        (&expect.starts_with, "starts with"),
        (&expect.ends_with, "ends with"),
        (&expect.contains, "contains"),
    ] {
        if let Some(w) = w {
            wants.push(format!("{verb} {w:?}"));
        }
    }
    let mut check = Check::new(
        format!("header.{}", name.to_ascii_lowercase()),
        Level::Must,
        format!("{name} {}", wants.join(", ")),
    );
    let mut problems = Vec::new();
    if let Some(present) = expect.present {
        if present != actual.is_some() {
            problems.push(if present {
                "expected the header, it is absent".to_owned()
            } else {
                format!(
                    "expected no such header, got {}",
                    actual.map_or_else(|| "none".to_owned(), quote)
                )
            });
        }
    }
    type Test<'a> = (&'a Option<String>, &'a str, fn(&str, &str) -> bool);
    let tests: [Test<'_>; 4] = [
        (&expect.equals, "equal", |a, e| a == e),
        (&expect.starts_with, "start with", |a, e| a.starts_with(e)),
        (&expect.ends_with, "end with", |a, e| a.ends_with(e)),
        (&expect.contains, "contain", |a, e| a.contains(e)),
    ];
    for (wanted, verb, test) in tests {
        let Some(wanted) = wanted else { continue };
        let wanted = match fill_str(wanted, vars) {
            Ok(w) => w,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        match actual {
            Some(a) if test(a, &wanted) => {}
            Some(a) => problems.push(format!(
                "expected it to {verb} {}, got {}",
                quote(&wanted),
                quote(a)
            )),
            None => problems.push(format!(
                "expected it to {verb} {}, it is absent",
                quote(&wanted)
            )),
        }
    }
    for p in problems {
        check = check.fail_text(p);
    }
    check
}
