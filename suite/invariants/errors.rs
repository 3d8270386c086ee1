//! Invariants of rejections: Graph's error body, and never a 5xx.

use conformance_harness::render::describe;
use conformance_harness::{Check, Detail, Exchange};
use serde_json::Value;

use super::*;

pub(super) fn graph_error_body(ex: &Exchange<'_>, check: Check) -> Check {
    if ex.response.status < 400 {
        return check.not_run(format!("not an error ({})", ex.response.status_line()));
    }
    let ct = ex.response.header("content-type").unwrap_or("");
    let mut check = check;
    if !ct.to_ascii_lowercase().starts_with("application/json") {
        check = check.fail_text(format!(
            "Content-Type is {}, expected application/json",
            quote(ct)
        ));
    }
    match &ex.response.json {
        None => check.fail_text("the error response has no body"),
        Some(Err(e)) => check.fail_text(format!("the error body is {e}")),
        Some(Ok(b)) => match ex.cx.schemas.validate("graph-error.json", b) {
            Ok(v) if v.is_empty() => {
                check.undeclared(ex.cx.schemas.undeclared("graph-error.json", b))
            }
            Ok(v) => check
                .fail_text("the body does not satisfy schemas/graph-error.json")
                .fail(Detail::Schema(v)),
            Err(e) => check.fail_text(e),
        },
    }
}

pub(super) fn inner_error(ex: &Exchange<'_>, check: Check) -> Check {
    if ex.response.status < 400 {
        return check.not_run(format!("not an error ({})", ex.response.status_line()));
    }
    let inner = body(ex).and_then(|b| b.pointer("/error/innerError"));
    let Some(inner) = inner.filter(|i| i.is_object()) else {
        return check.fail_text(format!("error.innerError is {}", describe(inner)));
    };
    let mut problems = Vec::new();
    for key in ["request-id", "date"] {
        if !inner.get(key).is_some_and(Value::is_string) {
            problems.push(format!(
                "innerError['{key}'] is {}",
                describe(inner.get(key))
            ));
        }
    }
    let sent = ex.request.header("client-request-id");
    if let Some(sent) = sent {
        let echoed = inner.get("client-request-id");
        if echoed.and_then(Value::as_str) != Some(sent) {
            problems.push(format!(
                "innerError['client-request-id'] is {}, sent {}",
                describe(echoed),
                quote(sent)
            ));
        }
    }
    problems.into_iter().fold(check, Check::fail_text)
}

pub(super) fn no_5xx(ex: &Exchange<'_>, check: Check) -> Check {
    if ex.response.status >= 500 {
        check.fail_text(format!("the target answered {}", ex.response.status_line()))
    } else {
        check
    }
}
