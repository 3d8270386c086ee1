//! Implementations side by side: several reports (one per implementation,
//! or per version of one) as one matrix, checks as rows, implementations as
//! columns, a cell per check's verdict, in Markdown and HTML, as the
//! conformance suites of other protocols publish theirs.

use std::fmt::Write as _;

use serde_json::Value;

use crate::report_html::{esc, verdict_class, STYLE};

/// One implementation's column: its name and its report.
#[derive(Debug, Clone)]
pub struct Column {
    pub label: String,
    pub report: Value,
}

/// A row: a check, its level, and its verdict in each column (`None`: the
/// column's suite has no such check).
struct Row<'a> {
    id: &'a str,
    level: &'a str,
    verdicts: Vec<Option<&'a str>>,
}

/// The checks of every report, in the first report's order, then the ones
/// only later reports have.
fn rows(columns: &[Column]) -> Vec<Row<'_>> {
    let mut rows: Vec<Row<'_>> = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        for check in column.report["checks"].as_array().into_iter().flatten() {
            let id = check["id"].as_str().unwrap_or_default();
            let verdict = check["verdict"].as_str().unwrap_or("not run");
            let at = match rows.iter().position(|r| r.id == id) {
                Some(at) => at,
                None => {
                    rows.push(Row {
                        id,
                        level: check["level"].as_str().unwrap_or_default(),
                        verdicts: vec![None; columns.len()],
                    });
                    rows.len() - 1
                }
            };
            rows[at].verdicts[i] = Some(verdict);
        }
    }
    rows
}

fn tests_line(r: &Value) -> String {
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    format!(
        "{}/{} passed, {} failed, {} warned",
        n("passed"),
        n("run"),
        n("failed"),
        n("warned")
    )
}

fn md(text: &str) -> String {
    crate::sanitize::line(text).replace('|', "\\|")
}

/// The matrix in Markdown: a legend naming each column's target and
/// suite, then checks × implementations.
pub fn markdown(columns: &[Column]) -> String {
    let mut out = String::new();
    out.push_str("| implementation | target | suite | profile | tests |\n|---|---|---|---|---|\n");
    for c in columns {
        let r = &c.report;
        let _ = writeln!(
            out,
            "| {} | `{}` | {} {} | `{}`{} | {} |",
            md(&c.label),
            md(r["target"].as_str().unwrap_or_default()),
            md(r["suite"]["name"].as_str().unwrap_or_default()),
            md(r["suite"]["version"].as_str().unwrap_or_default()),
            md(r["profile"].as_str().unwrap_or_default()),
            if r["strict"] == true { " (strict)" } else { "" },
            tests_line(r)
        );
    }
    out.push_str("\n| check | level |");
    for c in columns {
        let _ = write!(out, " {} |", md(&c.label));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    for row in rows(columns) {
        let _ = write!(out, "| `{}` | {} |", md(row.id), md(row.level));
        for v in &row.verdicts {
            let cell = match v {
                Some("fail") => "**fail**".to_owned(),
                Some(v) => md(v),
                None => "–".to_owned(),
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}

/// The matrix as a self-contained HTML page, cells coloured by verdict.
pub fn html(title: &str, columns: &[Column]) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>{t}</title><style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n\
         <table><tr><th>implementation</th><th>target</th><th>suite</th><th>profile</th><th>tests</th></tr>\n",
        t = esc(title)
    );
    for c in columns {
        let r = &c.report;
        let _ = writeln!(
            h,
            "<tr><td><b>{}</b></td><td><code>{}</code></td><td>{} {}</td><td><code>{}</code>{}</td><td>{}</td></tr>",
            esc(&c.label),
            esc(r["target"].as_str().unwrap_or_default()),
            esc(r["suite"]["name"].as_str().unwrap_or_default()),
            esc(r["suite"]["version"].as_str().unwrap_or_default()),
            esc(r["profile"].as_str().unwrap_or_default()),
            if r["strict"] == true { " (strict)" } else { "" },
            esc(&tests_line(r))
        );
    }
    h.push_str("</table>\n<table><tr><th>check</th><th>level</th>");
    for c in columns {
        let _ = write!(h, "<th>{}</th>", esc(&c.label));
    }
    h.push_str("</tr>\n");
    for row in rows(columns) {
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td>",
            esc(row.id),
            esc(row.level)
        );
        for v in &row.verdicts {
            match v {
                Some(v) => {
                    let _ = write!(h, "<td class=\"{}\">{}</td>", verdict_class(v), esc(v));
                }
                None => h.push_str("<td>–</td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn column(label: &str, checks: Value) -> Column {
        Column {
            label: label.to_owned(),
            report: json!({"target": "http://x|y", "suite": {"name": "s", "version": "1"},
                           "profile": "spec", "run": 2, "passed": 1, "failed": 1, "checks": checks}),
        }
    }

    #[test]
    fn checks_are_rows_and_implementations_columns() {
        let a = column(
            "a",
            json!([{"id": "status", "level": "MUST", "verdict": "pass"},
                   {"id": "invite.location", "level": "MUST", "verdict": "fail"}]),
        );
        let b = column(
            "b",
            json!([{"id": "invite.location", "level": "MUST", "verdict": "warn"},
                   {"id": "new.check", "level": "SHOULD", "verdict": "pass"}]),
        );
        let md = markdown(&[a.clone(), b.clone()]);
        assert!(md.contains("| check | level | a | b |"), "{md}");
        assert!(md.contains("| `status` | MUST | pass | – |"), "{md}");
        assert!(
            md.contains("| `invite.location` | MUST | **fail** | warn |"),
            "{md}"
        );
        assert!(md.contains("| `new.check` | SHOULD | – | pass |"), "{md}");
        assert!(md.contains("`http://x\\|y`"), "{md}");
        let html = html("t", &[a, b]);
        assert!(
            html.contains("<td class=\"v-fail\">fail</td><td class=\"v-warn\">warn</td>"),
            "{html}"
        );
    }
}
