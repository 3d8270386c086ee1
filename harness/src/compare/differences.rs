//! How a replay differs from its recording, leaf by leaf: what the
//! recording has that the replay lacks or has otherwise is a difference
//! (expected = recorded); members only the replay has are reported apart,
//! as extra (open types may grow); array elements are paired by likeness,
//! not by index, so one element more or less does not cascade.

use serde_json::Value;

use crate::json_path::JsonPath;
use crate::verdict::Difference;

use crate::freedoms::Freedoms;

/// The differences, and the members only the replay has.
#[derive(Debug, Default)]
pub struct Found {
    pub differences: Vec<Difference>,
    pub extra: Vec<JsonPath>,
}

/// How `actual` differs from `recorded`.
pub fn between(recorded: &Value, actual: &Value, freedoms: &Freedoms) -> Found {
    let mut found = Found::default();
    walk(recorded, actual, &JsonPath::root(), freedoms, &mut found);
    found
}

fn walk(recorded: &Value, actual: &Value, path: &JsonPath, freedoms: &Freedoms, found: &mut Found) {
    match (recorded, actual) {
        (Value::Object(r), Value::Object(a)) => {
            for (key, rv) in r {
                let child = path.key(key);
                match a.get(key) {
                    Some(av) => walk(rv, av, &child, freedoms, found),
                    None if freedoms.optional.contains(&key.as_str()) => {}
                    None => found.differences.push(Difference {
                        path: child,
                        expected: Some(rv.clone()),
                        actual: None,
                    }),
                }
            }
            for key in a.keys().filter(|k| !r.contains_key(*k)) {
                found.extra.push(path.key(key));
            }
        }
        (Value::Array(r), Value::Array(a)) => paired(r, a, path, freedoms, found),
        (r, a) if r == a => {}
        (r, a) => found.differences.push(Difference {
            path: path.clone(),
            expected: Some(r.clone()),
            actual: Some(a.clone()),
        }),
    }
}

/// Pairs each recorded element with an equal one first, then with the most
/// alike of those left; what is left over on either side is a difference.
pub fn paired(
    recorded: &[Value],
    actual: &[Value],
    path: &JsonPath,
    freedoms: &Freedoms,
    found: &mut Found,
) {
    let mut used = vec![false; actual.len()];
    let mut open: Vec<usize> = Vec::new();
    for (i, rv) in recorded.iter().enumerate() {
        let same = (0..actual.len())
            .find(|&j| !used[j] && between(rv, &actual[j], freedoms).differences.is_empty());
        match same {
            Some(j) => {
                used[j] = true;
                let inner = between(rv, &actual[j], freedoms);
                found
                    .extra
                    .extend(inner.extra.iter().map(|p| path.index(i).join(p)));
            }
            None => open.push(i),
        }
    }
    // The most alike pairs first, across all that are left: a greedy pass
    // in recorded order would let an early element take a later one's match.
    let mut candidates: Vec<(usize, usize, Found)> = open
        .iter()
        .flat_map(|&i| (0..actual.len()).filter(|&j| !used[j]).map(move |j| (i, j)))
        .map(|(i, j)| (i, j, between(&recorded[i], &actual[j], freedoms)))
        .filter(|(i, _, f)| f.differences.len() < leaves(&recorded[*i]).max(1))
        .collect();
    candidates.sort_by_key(|(i, j, f)| (f.differences.len(), usize::from(i != j), *i));
    let mut paired_open = vec![false; recorded.len()];
    for (i, j, inner) in candidates {
        if paired_open[i] || used[j] {
            continue;
        }
        paired_open[i] = true;
        used[j] = true;
        let at = path.index(i);
        found
            .differences
            .extend(inner.differences.into_iter().map(|mut d| {
                d.path = at.join(&d.path);
                d
            }));
        found.extra.extend(inner.extra.iter().map(|p| at.join(p)));
    }
    for i in open.into_iter().filter(|&i| !paired_open[i]) {
        found.differences.push(Difference {
            path: path.index(i),
            expected: Some(recorded[i].clone()),
            actual: None,
        });
    }
    for (j, av) in actual.iter().enumerate().filter(|(j, _)| !used[*j]) {
        found.differences.push(Difference {
            path: path.index(j),
            expected: None,
            actual: Some(av.clone()),
        });
    }
}

/// How many leaves a value has: an element that differs from another in
/// all of them is no pair of it.
fn leaves(v: &Value) -> usize {
    match v {
        Value::Array(items) => items.iter().map(leaves).sum(),
        Value::Object(map) => map.values().map(leaves).sum(),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FREE: Freedoms = Freedoms {
        case_insensitive: &[],
        optional: &["@odata.type"],
        location_from: None,
        headers_present: &[],
    };

    #[test]
    fn missing_and_changed_members_differ_and_extra_ones_are_apart() {
        let found = between(
            &json!({"a": 1, "b": {"c": "x", "@odata.type": "#t"}, "d": true}),
            &json!({"a": 2, "b": {"c": "x", "new": 1}}),
            &FREE,
        );
        let shown: Vec<String> = found
            .differences
            .iter()
            .map(|d| format!("{} {:?} {:?}", d.path, d.expected, d.actual))
            .collect();
        assert_eq!(
            shown,
            [
                "$.a Some(Number(1)) Some(Number(2))",
                "$.d Some(Bool(true)) None"
            ]
        );
        assert_eq!(
            found
                .extra
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["$.b.new"]
        );
    }

    #[test]
    fn elements_pair_by_likeness_so_one_more_does_not_cascade() {
        let recorded = json!([{"k": "a", "v": 1}, {"k": "b", "v": 2}]);
        let actual = json!([{"k": "b", "v": 2}, {"k": "z", "v": 9}, {"k": "a", "v": 1}]);
        let found = between(&recorded, &actual, &FREE);
        assert_eq!(found.differences.len(), 1, "{:?}", found.differences);
        assert_eq!(found.differences[0].path.to_string(), "$[1]");
        assert_eq!(found.differences[0].expected, None);
        // A changed element pairs with its closest, and names the leaf.
        let found = between(
            &json!([{"k": "a", "v": 1}]),
            &json!([{"k": "a", "v": 3}]),
            &FREE,
        );
        assert_eq!(found.differences[0].path.to_string(), "$[0].v");
    }
}
