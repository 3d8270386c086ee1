//! Figures as the table shows them, and the statistics the sections share.

use serde_json::Value;

/// The middle of a sorted list: its median (the upper one of an even
/// count); none of an empty list.
pub fn middle<T>(sorted: &[T]) -> Option<&T> {
    sorted.get(sorted.len() / 2)
}

/// (min, median, max) of a non-empty list; zeros for an empty one.
pub fn spread(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match (v.first(), middle(&v), v.last()) {
        (Some(&min), Some(&median), Some(&max)) => (min, median, max),
        _ => (0.0, 0.0, 0.0),
    }
}

/// The median (the upper one of an even count); none of an empty list.
pub fn median_of(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    middle(&v).copied()
}

pub fn secs(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.3} s")
    } else {
        format!("{s:.1} s")
    }
}

pub fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "?".to_owned(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

pub fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{v:.decimals$}"))
}

pub fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "not measured (no passing run)",
    }
}

/// The elements of a JSON array (none if it is absent or not one).
pub fn items(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

/// The strings of a JSON array (none if it is not one).
pub fn strings(v: &Value) -> Vec<&str> {
    items(Some(v)).filter_map(Value::as_str).collect()
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("?")
}
