//! `report.html`: the report as one self-contained page, beside report.md.
//! No script, no font, no request of any kind (its Content-Security-Policy
//! forbids them): the verdict at the top, the checks by level, a matrix of
//! tests × checks coloured by outcome, each failure's text (differences,
//! diff, rerun line) one click away, the warnings, the known failures, the
//! members beyond the metadata and the calls left on the target. Made from
//! the report's JSON, so a merged report has its page too. Everything that
//! came from a target or a case file is escaped twice over: its control
//! characters as the console shows them, then HTML's own characters.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// Text as HTML: control characters and terminal escapes shown escaped
/// (one line at a time), then `&<>"'` as entities.
pub(crate) fn esc(text: &str) -> String {
    let shown = text
        .lines()
        .map(crate::sanitize::line)
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::with_capacity(shown.len());
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

/// The page's style: outcome colours readable in print and for colour-blind
/// readers too (each cell also carries a letter).
pub(crate) const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#1b1f24}
h1{font-size:1.5em;margin:.2em 0} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #d0d7de}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;white-space:pre;border-radius:4px}
table{border-collapse:collapse;margin:.5em 0} th,td{border:1px solid #d0d7de;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.banner{padding:.8em 1.2em;border-radius:6px;margin:.6em 0 1em;font-size:1.1em}
.banner b{font-size:1.3em}
.v-pass{background:#dafbe1} .v-fail{background:#ffd7d5} .v-warn{background:#fff1c2} .v-known{background:#ddf4ff} .v-notrun{background:#eaeef2;color:#57606a}
.banner.v-pass{border:1px solid #4ac26b} .banner.v-fail{border:1px solid #d1242f}
.m td{width:1.5em;height:1.4em;padding:0;text-align:center;font:11px ui-monospace,monospace}
.m th.c{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal;font-size:11px;white-space:nowrap;padding:4px 1px}
.m th.t{font-weight:normal;white-space:nowrap;font-family:ui-monospace,monospace;font-size:11.5px}
.m td.x{background:#fff}
details{margin:.3em 0} summary{cursor:pointer} summary code{font-weight:600}
.small{font-size:12px;color:#424a53;max-width:32em} .muted{color:#57606a} .key span{display:inline-block;padding:0 .5em;margin-right:.4em;border-radius:3px}
";

/// The outcome of a check in a test, as a cell's class and letter.
fn outcome_cell(outcome: &str) -> (&'static str, &'static str) {
    match outcome {
        "pass" => ("v-pass", "✓"),
        "fail" => ("v-fail", "✗"),
        "warn" => ("v-warn", "!"),
        o if o.starts_with("known") => ("v-known", "k"),
        _ => ("v-notrun", "·"),
    }
}

/// The class of a verdict word (`pass`, `fail`, …).
pub(crate) fn verdict_class(verdict: &str) -> &'static str {
    outcome_cell(verdict).0
}

/// The whole page.
pub fn page(r: &Value) -> String {
    let mut h = String::new();
    let title = esc(s(r, "title"));
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Conformance report: {title}</title><style>{STYLE}</style></head><body>\n"
    );
    // What a team looks at first: the verdict, where its implementation
    // fails (the matrix), why (each failure); then the rules.
    banner(&mut h, r);
    matrix(&mut h, r);
    failures(&mut h, r);
    checks_by_level(&mut h, r);
    section_of_status(
        &mut h,
        r,
        "warned",
        "Warnings",
        "Tests that passed with SHOULD-level findings (they fail under --strict).",
    );
    section_of_status(
        &mut h,
        r,
        "known",
        "Known failures",
        "Tests whose failures the known-failures register lists: reported, not failed.",
    );
    skipped(&mut h, r);
    undeclared(&mut h, r);
    unreleased(&mut h, r);
    h.push_str("</body></html>\n");
    h
}

fn banner(h: &mut String, r: &Value) {
    let failed = n(r, "failed") > 0;
    let class = if failed { "v-fail" } else { "v-pass" };
    let word = if failed {
        "FAIL"
    } else if n(r, "run") == 0 {
        "NOTHING RUN"
    } else {
        "PASS"
    };
    let _ = write!(
        h,
        "<h1>Conformance report: {}</h1>\n<div class=\"banner {class}\"><b>{word}</b> &nbsp; \
         {} of {} tests run passed, {} failed ({} without a verdict); {} with warnings, {} with known failures; {} skipped, {} ignored</div>\n",
        esc(s(r, "title")),
        n(r, "passed"),
        n(r, "run"),
        n(r, "failed"),
        n(r, "errors"),
        n(r, "warned"),
        n(r, "known"),
        n(r, "skipped"),
        n(r, "ignored"),
    );
    let o = &r["check_outcomes"];
    let _ = writeln!(
        h,
        "<p><b>Target</b> <code>{}</code><br><b>Suite</b> {} {}, judged under profile <code>{}</code>{} \
         ({} process{})<br><b>Checks over all tests</b>: {} passed, {} warned, {} failed, {} known, {} not run</p>",
        esc(s(r, "target")),
        esc(r["suite"]["name"].as_str().unwrap_or_default()),
        esc(r["suite"]["version"].as_str().unwrap_or_default()),
        esc(s(r, "profile")),
        if r["strict"] == true { " (strict)" } else { "" },
        n(r, "processes"),
        if n(r, "processes") == 1 { "" } else { "es" },
        n(o, "passed"),
        n(o, "warned"),
        n(o, "failed"),
        n(o, "known"),
        n(o, "not_run"),
    );
}

fn checks_by_level(h: &mut String, r: &Value) {
    let checks: Vec<&Value> = r["checks"].as_array().into_iter().flatten().collect();
    for level in ["MUST", "SHOULD"] {
        let of_level: Vec<&&Value> = checks.iter().filter(|c| s(c, "level") == level).collect();
        if of_level.is_empty() {
            continue;
        }
        let failing = of_level
            .iter()
            .filter(|c| s(c, "verdict") == "fail")
            .count();
        let _ = write!(
            h,
            "<h2>{level} checks ({} of {} failing)</h2>\n<table><tr><th>check</th><th>verdict</th>\
             <th>pass</th><th>warn</th><th>fail</th><th>known</th><th>not run</th><th>source</th><th>rule</th></tr>\n",
            failing,
            of_level.len()
        );
        for c in of_level {
            let verdict = s(c, "verdict");
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td class=\"{}\"><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"small\">{}</td><td class=\"small\">{}</td></tr>",
                esc(s(c, "id")),
                verdict_class(verdict),
                esc(verdict),
                n(c, "passed"),
                n(c, "warned"),
                n(c, "failed"),
                n(c, "known"),
                n(c, "not_run"),
                esc(s(c, "source")),
                esc(s(c, "spec")),
            );
        }
        h.push_str("</table>\n");
    }
}

/// Tests as rows, the checks any test ran as columns.
fn matrix(h: &mut String, r: &Value) {
    let tests: Vec<&Value> = r["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["checks"].as_array().is_some_and(|c| !c.is_empty()))
        .collect();
    let mut ids: Vec<&str> = r["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| s(c, "id"))
        .filter(|id| {
            tests.iter().any(|t| {
                t["checks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| s(c, "family") == *id)
            })
        })
        .collect();
    ids.dedup();
    if tests.is_empty() || ids.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<h2>Tests × checks</h2>\n<p class=\"key\"><span class=\"v-pass\">✓ pass</span><span class=\"v-fail\">✗ fail</span>\
         <span class=\"v-warn\">! warn</span><span class=\"v-known\">k known</span><span class=\"v-notrun\">· not run</span>\
         <span class=\"muted\">blank: the test has no such check; the worst outcome of a check's family in the test is shown</span></p>\n\
         <table class=\"m\"><tr><th></th>"
    );
    for id in &ids {
        let _ = write!(h, "<th class=\"c\">{}</th>", esc(id));
    }
    h.push_str("</tr>\n");
    for t in tests {
        // A family may hold several outcomes in one test: the worst is shown.
        let mut cells: BTreeMap<&str, &str> = BTreeMap::new();
        for c in t["checks"].as_array().into_iter().flatten() {
            let outcome = s(c, "outcome");
            let slot = cells.entry(s(c, "family")).or_insert(outcome);
            if rank(outcome) > rank(slot) {
                *slot = outcome;
            }
        }
        let name = esc(s(t, "name"));
        let _ = write!(h, "<tr><th class=\"t\">{name}</th>");
        for id in &ids {
            match cells.get(id) {
                Some(outcome) => {
                    let (class, letter) = outcome_cell(outcome);
                    let _ = write!(
                        h,
                        "<td class=\"{class}\" title=\"{name} × {}: {}\">{letter}</td>",
                        esc(id),
                        esc(outcome)
                    );
                }
                None => h.push_str("<td class=\"x\"></td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

/// How bad an outcome is, to show a family's worst.
fn rank(outcome: &str) -> u8 {
    match outcome {
        "fail" => 4,
        "warn" => 3,
        o if o.starts_with("known") => 2,
        "pass" => 1,
        _ => 0,
    }
}

fn ids(t: &Value, key: &str) -> String {
    t[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|id| format!("<code>{}</code>", esc(id)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A test's text one click away.
fn details(h: &mut String, t: &Value, summary: &str) {
    let text = t["text"]
        .as_str()
        .or_else(|| t["error"].as_str())
        .unwrap_or_default();
    let seed = t["seed"]
        .as_str()
        .map(|seed| {
            format!(
                " <span class=\"muted\">PROPTEST_RNG_SEED={}</span>",
                esc(seed)
            )
        })
        .unwrap_or_default();
    let _ = write!(
        h,
        "<details><summary><code>{}</code>{seed} — {summary}</summary>",
        esc(s(t, "name"))
    );
    if text.is_empty() {
        h.push_str("<p class=\"muted\">(no text kept)</p>");
    } else {
        let _ = write!(h, "<pre>{}</pre>", esc(text));
    }
    h.push_str("</details>\n");
}

fn failures(h: &mut String, r: &Value) {
    let failed: Vec<&Value> = r["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| matches!(s(t, "status"), "failed" | "error"))
        .collect();
    let _ = writeln!(h, "<h2>Failures ({})</h2>", failed.len());
    if failed.is_empty() {
        h.push_str("<p>None.</p>\n");
    }
    for t in failed {
        let summary = if s(t, "status") == "error" {
            format!(
                "<b>ERROR</b> {}",
                esc(s(t, "error").lines().next().unwrap_or_default())
            )
        } else {
            format!("<b>failed</b>: {}", ids(t, "failed_checks"))
        };
        details(h, t, &summary);
    }
}

fn section_of_status(h: &mut String, r: &Value, status: &str, title: &str, about: &str) {
    let tests: Vec<&Value> = r["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| s(t, "status") == status)
        .collect();
    if tests.is_empty() {
        return;
    }
    let _ = writeln!(h, "<h2>{title} ({})</h2>\n<p>{about}</p>", tests.len());
    for t in tests {
        let summary = if status == "known" {
            let known: Vec<String> = t["checks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| s(c, "outcome").starts_with("known"))
                .map(|c| {
                    format!(
                        "<code>{}</code> ({})",
                        esc(s(c, "id")),
                        esc(s(c, "outcome"))
                    )
                })
                .collect();
            match t["known"].as_str() {
                Some(reason) => format!("known: {}", esc(reason)),
                None => known.join(", "),
            }
        } else {
            format!("warned: {}", ids(t, "warned_checks"))
        };
        details(h, t, &summary);
    }
}

fn skipped(h: &mut String, r: &Value) {
    let tests: Vec<&Value> = r["tests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| s(t, "status") == "skipped")
        .collect();
    if tests.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<h2>Skipped ({})</h2>\n<table><tr><th>test</th><th>why</th></tr>",
        tests.len()
    );
    for t in tests {
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            esc(s(t, "name")),
            esc(s(t, "skipped"))
        );
    }
    h.push_str("</table>\n");
}

fn undeclared(h: &mut String, r: &Value) {
    let members: Vec<&Value> = r["undeclared"].as_array().into_iter().flatten().collect();
    if members.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<h2>Members beyond the metadata ({})</h2>\n<p>Members the target sent that the schemas do not \
         declare: accepted (a service may add members without notice), listed to compare what the \
         target sends with what its documentation shows.</p>\n<table><tr><th>member</th><th>tests that saw it</th></tr>",
        members.len()
    );
    for m in members {
        let tests: Vec<String> = m["tests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|t| format!("<code>{}</code>", esc(t)))
            .collect();
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td><details><summary>{}</summary>{}</details></td></tr>",
            esc(s(m, "member")),
            tests.len(),
            tests.join("<br>")
        );
    }
    h.push_str("</table>\n");
}

fn unreleased(h: &mut String, r: &Value) {
    let left: Vec<&Value> = r["unreleased"].as_array().into_iter().flatten().collect();
    if left.is_empty() {
        return;
    }
    let _ = writeln!(
        h,
        "<h2>Left on the target ({})</h2>\n<p>Created by the suite, could not be ended: end them yourself.</p>\n<table><tr><th>kind</th><th>id</th><th>answer</th></tr>",
        left.len()
    );
    for u in left {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(s(u, "kind")),
            esc(s(u, "id")),
            esc(s(u, "answer"))
        );
    }
    h.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_a_target_sent_is_escaped_and_nothing_is_fetched() {
        let hostile = "<script>alert(1)</script>\u{1b}]8;;http://x\u{7}";
        let report = json!({
            "title": "t", "target": hostile, "suite": {"name": "s", "version": "1"},
            "run": 1, "failed": 1,
            "checks": [{"id": "status", "level": "MUST", "verdict": "fail", "spec": hostile}],
            "tests": [{"name": "case::x", "status": "failed", "failed_checks": ["status"],
                       "text": hostile,
                       "checks": [{"id": "status", "family": "status", "outcome": "fail"}]}],
            "undeclared": [{"member": hostile, "tests": ["case::x"]}]
        });
        let page = page(&report);
        assert!(!page.contains("<script"), "{page}");
        assert!(
            !page.contains('\u{1b}') && !page.contains('\u{7}'),
            "{page}"
        );
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\u{1b}"),
            "{page}"
        );
        for fetching in ["src=", "href=", "url(", "@import", "@font-face"] {
            assert!(!page.contains(fetching), "{fetching} in {page}");
        }
        assert!(page.contains("default-src 'none'"));
        assert!(page.contains("<b>FAIL</b>"));
        assert!(
            page.contains("<td class=\"v-fail\" title=\"case::x × status: fail\">✗</td>"),
            "{page}"
        );
    }
}
