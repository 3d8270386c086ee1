//! `{{name}}` placeholders in case files: fixture ids, captured values, and
//! `{{repeat:TEXT:N}}` for long strings that nobody should count by hand.

use std::collections::BTreeMap;

use serde_json::Value;

pub type Vars = BTreeMap<String, String>;

/// Fills every placeholder in `text`; an unknown name is an error naming it.
pub fn fill_str(text: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed placeholder in {text:?}"))?;
        out.push_str(&expand(&after[..end], vars)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn expand(name: &str, vars: &Vars) -> Result<String, String> {
    if let Some(spec) = name.strip_prefix("repeat:") {
        let (text, count) = spec
            .rsplit_once(':')
            .ok_or_else(|| format!("{{{{{name}}}}} must be {{{{repeat:TEXT:N}}}}"))?;
        let count: usize = count
            .parse()
            .map_err(|_| format!("{{{{{name}}}}}: {count:?} is not a count"))?;
        if count > 1_000_000 {
            return Err(format!("{{{{{name}}}}}: {count} is too many"));
        }
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

/// Fills placeholders in every string of a JSON value (keys are left alone).
pub fn fill_value(value: &Value, vars: &Vars) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(fill_str(s, vars)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| fill_value(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), fill_value(v, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
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
}
