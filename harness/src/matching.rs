//! Comparing an expected JSON document with an actual one, leaf by leaf.
//!
//! `Subset`: every member the expectation names must be there and match;
//! arrays match when each expected element matches a distinct actual element
//! (its own index first), so one extra element does not cascade into a
//! mismatch at every later index. `Exact`: same members, same lengths.

use serde_json::Value;

use crate::case::MatchMode;
use crate::json_path::JsonPath;
use crate::verdict::Difference;

pub fn compare(
    expected: &Value,
    actual: &Value,
    mode: MatchMode,
    redact: &[JsonPath],
) -> Vec<Difference> {
    let mut out = Vec::new();
    walk(expected, actual, mode, redact, &JsonPath::root(), &mut out);
    out
}

/// Whether `actual` holds all that `expected` names, as [`compare`] in
/// subset mode with nothing redacted finds no difference: its verdict
/// without building the differences, for predicates run on every arrival.
pub fn fits(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(key, ev)| a.get(key).is_some_and(|av| fits(ev, av))),
        // As subset_array pairs them: its own index first, then the first
        // unused element that fits.
        (Value::Array(e), Value::Array(a)) => {
            let mut used = vec![false; a.len()];
            e.iter().enumerate().all(|(i, ev)| {
                let own = a.get(i).is_some_and(|av| !used[i] && fits(ev, av));
                let pick = if own {
                    Some(i)
                } else {
                    (0..a.len()).find(|&j| !used[j] && fits(ev, &a[j]))
                };
                pick.map(|j| used[j] = true).is_some()
            })
        }
        (e, a) => e == a,
    }
}

fn redacted(path: &JsonPath, redact: &[JsonPath]) -> bool {
    redact.iter().any(|r| r.matches(path))
}

fn walk(
    expected: &Value,
    actual: &Value,
    mode: MatchMode,
    redact: &[JsonPath],
    path: &JsonPath,
    out: &mut Vec<Difference>,
) {
    if redacted(path, redact) {
        return;
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, ev) in e {
                let child = path.key(key);
                match a.get(key) {
                    Some(av) => walk(ev, av, mode, redact, &child, out),
                    None if redacted(&child, redact) => {}
                    None => out.push(Difference {
                        path: child,
                        expected: Some(ev.clone()),
                        actual: None,
                    }),
                }
            }
            if mode == MatchMode::Exact {
                for (key, av) in a {
                    let child = path.key(key);
                    if !e.contains_key(key) && !redacted(&child, redact) {
                        out.push(Difference {
                            path: child,
                            expected: None,
                            actual: Some(av.clone()),
                        });
                    }
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => match mode {
            MatchMode::Exact => {
                for (i, ev) in e.iter().enumerate() {
                    match a.get(i) {
                        Some(av) => walk(ev, av, mode, redact, &path.index(i), out),
                        None => out.push(Difference {
                            path: path.index(i),
                            expected: Some(ev.clone()),
                            actual: None,
                        }),
                    }
                }
                for (i, av) in a.iter().enumerate().skip(e.len()) {
                    out.push(Difference {
                        path: path.index(i),
                        expected: None,
                        actual: Some(av.clone()),
                    });
                }
            }
            MatchMode::Subset => subset_array(e, a, redact, path, out),
        },
        (e, a) if e == a => {}
        (e, a) => out.push(Difference {
            path: path.clone(),
            expected: Some(e.clone()),
            actual: Some(a.clone()),
        }),
    }
}

fn subset_array(
    expected: &[Value],
    actual: &[Value],
    redact: &[JsonPath],
    path: &JsonPath,
    out: &mut Vec<Difference>,
) {
    let mut used = vec![false; actual.len()];
    let fits = |ev: &Value, av: &Value, i: usize| {
        let mut d = Vec::new();
        walk(ev, av, MatchMode::Subset, redact, &path.index(i), &mut d);
        d
    };
    for (i, ev) in expected.iter().enumerate() {
        if actual.get(i).is_some() && !used[i] && fits(ev, &actual[i], i).is_empty() {
            used[i] = true;
            continue;
        }
        if let Some(j) = (0..actual.len()).find(|&j| !used[j] && fits(ev, &actual[j], i).is_empty())
        {
            used[j] = true;
            continue;
        }
        // No element fits: show the differences against the closest unused one.
        let closest = (0..actual.len())
            .filter(|&j| !used[j])
            .min_by_key(|&j| (fits(ev, &actual[j], i).len(), usize::from(j != i)));
        match closest {
            Some(j) => {
                used[j] = true;
                out.extend(fits(ev, &actual[j], i));
            }
            None => out.push(Difference {
                path: path.index(i),
                expected: Some(ev.clone()),
                actual: None,
            }),
        }
    }
}

/// The one of `known` that `key` most likely misspells: the same but for
/// case, or at most two edits away (and not `key` itself).
pub fn near_miss<'a>(key: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .filter(|k| *k != key)
        .map(|k| {
            let d = if k.eq_ignore_ascii_case(key) {
                0
            } else {
                edit_distance(&k.to_ascii_lowercase(), &key.to_ascii_lowercase())
            };
            (d, k)
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, by characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The actual document reduced to what the expectation talks about, so a
/// diff of the two shows only what matters (subset mode).
pub fn project(expected: &Value, actual: &Value) -> Value {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => Value::Object(
            a.iter()
                .filter_map(|(k, av)| e.get(k).map(|ev| (k.clone(), project(ev, av))))
                .collect(),
        ),
        (Value::Array(e), Value::Array(a)) => Value::Array(
            a.iter()
                .enumerate()
                .map(|(i, av)| match e.get(i) {
                    Some(ev) => project(ev, av),
                    None => av.clone(),
                })
                .collect(),
        ),
        (_, a) => a.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(d: &[Difference]) -> Vec<String> {
        d.iter().map(|d| d.path.to_string()).collect()
    }

    #[test]
    fn subset_ignores_extra_members_and_reports_missing_ones() {
        let e = json!({"a": 1, "b": {"c": "x"}});
        let a = json!({"a": 1, "b": {"d": 2}, "z": 3});
        let d = compare(&e, &a, MatchMode::Subset, &[]);
        assert_eq!(paths(&d), ["$.b.c"]);
        assert_eq!(d[0].actual, None);
    }

    #[test]
    fn exact_reports_unexpected_members() {
        let d = compare(
            &json!({"a": 1}),
            &json!({"a": 1, "b": 2}),
            MatchMode::Exact,
            &[],
        );
        assert_eq!(paths(&d), ["$.b"]);
        assert_eq!(d[0].expected, None);
    }

    #[test]
    fn an_inserted_element_does_not_cascade() {
        let e = json!([{"id": "a"}, {"id": "b"}]);
        let a = json!([{"id": "bot"}, {"id": "a"}, {"id": "b"}]);
        assert!(compare(&e, &a, MatchMode::Subset, &[]).is_empty());
        let a = json!([{"id": "a"}, {"id": "x"}]);
        assert_eq!(paths(&compare(&e, &a, MatchMode::Subset, &[])), ["$[1].id"]);
    }

    #[test]
    fn redacted_paths_are_skipped() {
        let redact = [JsonPath::parse("$.items[*].id").unwrap()];
        let e = json!({"items": [{"id": 1, "n": 1}]});
        let a = json!({"items": [{"id": 2, "n": 1}]});
        assert!(compare(&e, &a, MatchMode::Exact, &redact).is_empty());
    }

    #[test]
    fn a_near_miss_is_a_misspelling_not_another_member() {
        let known = ["changeType", "resourceUrl", "resource", "resourceData"];
        assert_eq!(near_miss("resourceURL", known), Some("resourceUrl"));
        assert_eq!(near_miss("resourceUrll", known), Some("resourceUrl"));
        assert_eq!(near_miss("chngeType", known), Some("changeType"));
        assert_eq!(near_miss("resource", known), None);
        assert_eq!(near_miss("participants", known), None);
    }

    #[test]
    fn type_changes_are_differences() {
        let d = compare(&json!({"a": "1"}), &json!({"a": 1}), MatchMode::Subset, &[]);
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn fits_agrees_with_compare_in_subset_mode() {
        let cases = [
            (json!({"a": 1}), json!({"a": 1, "b": 2})),
            (json!({"a": 1}), json!({"a": 2})),
            (json!({"a": 1}), json!({"b": 1})),
            (json!({"a": {"b": [1, 2]}}), json!({"a": {"b": [2, 1, 3]}})),
            (json!([1, 1]), json!([1])),
            (
                json!([{"x": 1}, {"x": 2}]),
                json!([{"x": 2, "y": 0}, {"x": 1}]),
            ),
            // Greedy pairing: the first element takes the only fit of the second.
            (json!([{}, {"x": 1}]), json!([{"x": 1}, {"y": 1}])),
            (json!([]), json!({"a": 1})),
            (json!(null), json!(null)),
            (json!("1"), json!(1)),
            (json!({"a": []}), json!({"a": {}})),
        ];
        for (expected, actual) in cases {
            assert_eq!(
                fits(&expected, &actual),
                compare(&expected, &actual, MatchMode::Subset, &[]).is_empty(),
                "{expected} in {actual}"
            );
        }
    }
}
