//! `{{name}}` placeholders in case files: fixture ids, captured values, and
//! `{{repeat:TEXT:N}}` for long strings that nobody should count by hand.

use std::collections::BTreeMap;

use serde_json::Value;

pub type Vars = BTreeMap<String, String>;

/// The most a `{{repeat:TEXT:N}}` may repeat its text.
pub const MAX_REPEAT: usize = 1_000_000;
/// The most bytes one filling (a string, or a whole document) may produce:
/// twice the largest response the suite reads, so that any value captured
/// from a response fits, while a case cannot make gigabytes of a few bytes.
pub const MAX_FILLED: usize = 16 << 20;

/// Fills every placeholder in `text`; an unknown name is an error naming it.
pub fn fill_str(text: &str, vars: &Vars) -> Result<String, String> {
    fill_within(text, vars, &mut MAX_FILLED.clone())
}

/// [`fill_str`], with `budget` bytes left to produce; what is produced is
/// taken from it. A piece is measured before it is made.
fn fill_within(text: &str, vars: &Vars, budget: &mut usize) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    let mut take = |bytes: usize, what: &dyn Fn() -> String| {
        *budget = budget.checked_sub(bytes).ok_or_else(|| {
            format!(
                "{} would make the filled text larger than {MAX_FILLED} bytes (the limit of a filled value)",
                what()
            )
        })?;
        Ok::<(), String>(())
    };
    while let Some(start) = rest.find("{{") {
        take(start, &|| "the text".to_owned())?;
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed placeholder in {}", crate::sanitize::quote(text)))?;
        let name = &after[..end];
        let shown = || format!("{{{{{}}}}}", crate::sanitize::excerpt(name, 60));
        take(expanded_len(name, vars)?, &shown)?;
        out.push_str(&expand(name, vars)?);
        rest = &after[end + 2..];
    }
    take(rest.len(), &|| "the text".to_owned())?;
    out.push_str(rest);
    Ok(out)
}

/// `{{repeat:TEXT:N}}` as its text and count.
fn repeat_spec(name: &str) -> Option<Result<(&str, usize), String>> {
    let spec = name.strip_prefix("repeat:")?;
    Some(parse_repeat(name, spec))
}

fn parse_repeat<'a>(name: &str, spec: &'a str) -> Result<(&'a str, usize), String> {
    let shown = || format!("{{{{{}}}}}", crate::sanitize::excerpt(name, 60));
    let (text, count) = spec
        .rsplit_once(':')
        .ok_or_else(|| format!("{} must be {{{{repeat:TEXT:N}}}}", shown()))?;
    let count: usize = count.parse().map_err(|_| {
        format!(
            "{}: {} is not a count",
            shown(),
            crate::sanitize::quote(count)
        )
    })?;
    if count > MAX_REPEAT {
        return Err(format!(
            "{}: {count} is over the limit of {MAX_REPEAT} repetitions",
            shown()
        ));
    }
    Ok((text, count))
}

/// How many bytes placeholder `name` expands to, found without expanding it.
fn expanded_len(name: &str, vars: &Vars) -> Result<usize, String> {
    match repeat_spec(name) {
        Some(spec) => {
            let (text, count) = spec?;
            Ok(text.len().saturating_mul(count))
        }
        None => Ok(vars.get(name).map_or(0, String::len)),
    }
}

fn expand(name: &str, vars: &Vars) -> Result<String, String> {
    if let Some(spec) = repeat_spec(name) {
        let (text, count) = spec?;
        return Ok(text.repeat(count));
    }
    vars.get(name).cloned().ok_or_else(|| {
        let known: Vec<&str> = vars.keys().map(String::as_str).collect();
        format!(
            "unknown placeholder {{{{{name}}}}} (known here: {})",
            known.join(", ")
        )
    })
}

/// Fills placeholders in every string of a JSON value (keys are left
/// alone); all of them together produce at most `MAX_FILLED` (16 MiB) bytes.
pub fn fill_value(value: &Value, vars: &Vars) -> Result<Value, String> {
    fill_value_within(value, vars, &mut MAX_FILLED.clone())
}

fn fill_value_within(value: &Value, vars: &Vars, budget: &mut usize) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(fill_within(s, vars, budget)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| fill_value_within(v, vars, budget))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), fill_value_within(v, vars, budget)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Each `{{repeat:TEXT:N}}` in the strings of `value` that is malformed or
/// would make more than [`MAX_FILLED`] bytes, with where it is: what the
/// case lint refuses before any trial runs.
pub fn repeat_problems(value: &Value, at: &crate::json_path::JsonPath) -> Vec<String> {
    match value {
        Value::String(s) => {
            let mut total: usize = 0;
            let mut problems = Vec::new();
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                let after = &rest[start + 2..];
                let Some(end) = after.find("}}") else { break };
                match repeat_spec(&after[..end]) {
                    Some(Ok((text, count))) => {
                        total = total.saturating_add(text.len().saturating_mul(count));
                    }
                    Some(Err(e)) => problems.push(format!("{at}: {e}")),
                    None => {}
                }
                rest = &after[end + 2..];
            }
            if total > MAX_FILLED {
                problems.push(format!(
                    "{at}: its {{{{repeat:…}}}} would make {total} bytes, over the limit of {MAX_FILLED} bytes for a filled value"
                ));
            }
            problems
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(i, v)| repeat_problems(v, &at.index(i)))
            .collect(),
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| repeat_problems(v, &at.key(k)))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_names_and_repeats() {
        let vars = Vars::from([("call".to_owned(), "c1".to_owned())]);
        assert_eq!(fill_str("/calls/{{call}}/x", &vars).unwrap(), "/calls/c1/x");
        assert_eq!(fill_str("{{repeat:ab:3}}!", &vars).unwrap(), "ababab!");
        assert_eq!(fill_str("{{repeat:a:b:2}}", &vars).unwrap(), "a:ba:b");
        let err = fill_str("{{op}}", &vars).unwrap_err();
        assert!(err.contains("{{op}}") && err.contains("call"), "{err}");
        assert!(fill_str("{{call", &vars).is_err());
    }

    #[test]
    fn an_expansion_is_bounded_by_what_it_would_make() {
        let vars = Vars::new();
        // 5 KB of text a million times: 5 GB, refused before it is made.
        let text = format!("{{{{repeat:{}:1000000}}}}", "a".repeat(5_000));
        let err = fill_str(&text, &vars).unwrap_err();
        assert!(err.contains(&MAX_FILLED.to_string()), "{err}");
        assert!(err.len() < 300, "the error quotes an excerpt: {err}");
        // Many placeholders in one document share one budget.
        let piece = format!("{{{{repeat:bbbbbbbb:{}}}}}", MAX_FILLED / 32);
        let doc = serde_json::json!([piece, piece, piece, piece, piece]);
        let err = fill_value(&doc, &vars).unwrap_err();
        assert!(err.contains("limit of a filled value"), "{err}");
        let err = fill_str("{{repeat:a:1000001}}", &vars).unwrap_err();
        assert!(err.contains("limit of 1000000 repetitions"), "{err}");
        let root = crate::json_path::JsonPath::root();
        let problems = repeat_problems(&serde_json::json!({"x": [text]}), &root);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("$.x[0]: "), "{problems:?}");
    }
}
