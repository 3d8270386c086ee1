//! One path syntax everywhere: `$.messages[0].author['@odata.type']`.
//!
//! Failures print it, case files use it to name values (captures, redactions),
//! so what a user reads in a failure can be pasted into a case.

use std::fmt;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
    /// `[*]`: every element of an array (or every member of an object).
    Wildcard,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonPath(pub Vec<Segment>);

impl JsonPath {
    pub fn root() -> Self {
        Self(Vec::new())
    }

    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        Self(segments)
    }

    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        Self(segments)
    }

    /// This path followed by `tail`.
    #[must_use]
    pub fn join(&self, tail: &JsonPath) -> Self {
        Self(self.0.iter().chain(&tail.0).cloned().collect())
    }

    /// Parses `$`, `.name`, `['any key']`, `[3]` and `[*]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix('$')
            .ok_or_else(|| format!("path {text:?} must start with '$'"))?;
        let chars: Vec<char> = rest.chars().collect();
        let mut segments = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    let start = i + 1;
                    let mut end = start;
                    while end < chars.len() && chars[end] != '.' && chars[end] != '[' {
                        end += 1;
                    }
                    if end == start {
                        return Err(format!("path {text:?} has an empty name after '.'"));
                    }
                    let name: String = chars[start..end].iter().collect();
                    if name != "*" && !is_identifier(&name) {
                        return Err(format!(
                            "path {text:?}: name {name:?} needs the bracket form ['{name}']"
                        ));
                    }
                    segments.push(if name == "*" {
                        Segment::Wildcard
                    } else {
                        Segment::Key(name)
                    });
                    i = end;
                }
                '[' => {
                    let close = (i..chars.len())
                        .find(|&j| chars[j] == ']' && !in_quote(&chars[i + 1..j]))
                        .ok_or_else(|| format!("path {text:?} has an unclosed '['"))?;
                    let inner: String = chars[i + 1..close].iter().collect();
                    segments
                        .push(parse_bracket(&inner).map_err(|e| format!("path {text:?}: {e}"))?);
                    i = close + 1;
                }
                other => return Err(format!("path {text:?}: unexpected {other:?}")),
            }
        }
        Ok(Self(segments))
    }

    /// Every value the path names in `value` (several with a wildcard).
    pub fn select<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![value];
        for segment in &self.0 {
            let mut next = Vec::new();
            for v in current {
                match (segment, v) {
                    (Segment::Key(k), Value::Object(map)) => next.extend(map.get(k)),
                    (Segment::Index(n), Value::Array(items)) => next.extend(items.get(*n)),
                    (Segment::Wildcard, Value::Array(items)) => next.extend(items.iter()),
                    (Segment::Wildcard, Value::Object(map)) => next.extend(map.values()),
                    _ => {}
                }
            }
            current = next;
        }
        current
    }

    /// Replaces every value the path names with `replacement`.
    pub fn replace_all(&self, value: &mut Value, replacement: &Value) {
        fn walk(segments: &[Segment], value: &mut Value, replacement: &Value) {
            let Some((first, rest)) = segments.split_first() else {
                *value = replacement.clone();
                return;
            };
            match (first, value) {
                (Segment::Key(k), Value::Object(map)) => {
                    if let Some(v) = map.get_mut(k) {
                        walk(rest, v, replacement);
                    }
                }
                (Segment::Index(n), Value::Array(items)) => {
                    if let Some(v) = items.get_mut(*n) {
                        walk(rest, v, replacement);
                    }
                }
                (Segment::Wildcard, Value::Array(items)) => {
                    for v in items {
                        walk(rest, v, replacement);
                    }
                }
                (Segment::Wildcard, Value::Object(map)) => {
                    for v in map.values_mut() {
                        walk(rest, v, replacement);
                    }
                }
                _ => {}
            }
        }
        walk(&self.0, value, replacement);
    }

    /// Whether `concrete` (no wildcards) is named by this pattern.
    pub fn matches(&self, concrete: &JsonPath) -> bool {
        self.0.len() == concrete.0.len()
            && self.0.iter().zip(&concrete.0).all(|(p, c)| match (p, c) {
                (Segment::Wildcard, _) => true,
                (a, b) => a == b,
            })
    }

    /// From a JSON Pointer such as `/messages/0/author`.
    pub fn from_pointer(pointer: &str) -> Self {
        let segments = pointer
            .split('/')
            .skip(1)
            .map(|raw| {
                let key = raw.replace("~1", "/").replace("~0", "~");
                match key.parse::<usize>() {
                    Ok(n) if !key.starts_with('+') => Segment::Index(n),
                    _ => Segment::Key(key),
                }
            })
            .collect();
        Self(segments)
    }
}

fn in_quote(chars: &[char]) -> bool {
    // An odd number of unescaped quotes means the `]` is inside a quoted key.
    let mut inside = false;
    let mut escaped = false;
    for &c in chars {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '\'' {
            inside = !inside;
        }
    }
    inside
}

fn parse_bracket(inner: &str) -> Result<Segment, String> {
    if inner == "*" {
        return Ok(Segment::Wildcard);
    }
    if let Some(quoted) = inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        let mut key = String::new();
        let mut escaped = false;
        for c in quoted.chars() {
            if escaped {
                key.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else {
                key.push(c);
            }
        }
        return Ok(Segment::Key(key));
    }
    inner
        .parse::<usize>()
        .map(Segment::Index)
        .map_err(|_| format!("[{inner}] is neither an index, '*' nor a quoted key"))
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for segment in &self.0 {
            match segment {
                Segment::Key(k) if is_identifier(k) => write!(f, ".{k}")?,
                Segment::Key(k) => {
                    write!(f, "['{}']", k.replace('\\', "\\\\").replace('\'', "\\'"))?
                }
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Wildcard => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_and_parse_round_trip() {
        for text in [
            "$",
            "$.participants[0].identity.user.id",
            "$.participants[*].identity['@odata.type']",
            "$['content-type']",
            "$['it\\'s']",
            "$['a.b'][3]",
            "$['']",
        ] {
            let path = JsonPath::parse(text).expect(text);
            assert_eq!(path.to_string(), text);
        }
    }

    #[test]
    fn rejects_malformed_paths() {
        for text in ["participants", "$.", "$[", "$[x]", "$.a b"] {
            assert!(JsonPath::parse(text).is_err(), "{text} should not parse");
        }
    }

    #[test]
    fn pointer_conversion_handles_escapes_and_digits() {
        let path = JsonPath::from_pointer("/participants/0/identity/a~1b/~0c");
        assert_eq!(path.to_string(), "$.participants[0].identity['a/b']['~c']");
    }

    #[test]
    fn select_and_replace_follow_wildcards() {
        let mut doc = json!({"p": [{"id": 1}, {"id": 2}], "q": {"id": 3}});
        let path = JsonPath::parse("$.p[*].id").unwrap();
        assert_eq!(path.select(&doc), vec![&json!(1), &json!(2)]);
        path.replace_all(&mut doc, &json!("<redacted>"));
        assert_eq!(
            doc,
            json!({"p": [{"id": "<redacted>"}, {"id": "<redacted>"}], "q": {"id": 3}})
        );
        assert!(path.matches(&JsonPath::parse("$.p[7].id").unwrap()));
        assert!(!path.matches(&JsonPath::parse("$.q.id").unwrap()));
    }
}
