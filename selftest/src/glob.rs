//! The patterns of `spec/coverage.json`: `*` any text, `{a,b}` either
//! alternative, `[*]` itself (a path's "every element").

/// Whether a pattern from spec/coverage.json (a coverage key, an allowed
/// mutation) names `text`: `*` matches any text, `{a,b}` either alternative
/// (one may be empty), and `[*]` is itself, a path's "every element".
pub fn glob(pattern: &str, text: &str) -> bool {
    const EACH: &str = "\u{1}";
    let text = text.replace("[*]", EACH);
    expand(&pattern.replace("[*]", EACH))
        .iter()
        .any(|p| wildcard(p, &text))
}

/// The patterns `{a,b}` stands for, every brace expanded.
fn expand(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_owned()];
    };
    let Some(close) = pattern[open..].find('}').map(|c| open + c) else {
        return vec![pattern.to_owned()];
    };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    pattern[open + 1..close]
        .split(',')
        .flat_map(|choice| expand(&format!("{head}{choice}{tail}")))
        .collect()
}

fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first().expect("split yields one part at least");
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs_match_as_documented() {
        assert!(glob(
            "*:remove:*['@odata.type']",
            "roster:remove:$.resourceData[*]['@odata.type']"
        ));
        assert!(glob("roster:{remove,null}:$.a{,.id}", "roster:null:$.a.id"));
        assert!(glob("roster:{remove,null}:$.a{,.id}", "roster:remove:$.a"));
        assert!(!glob("roster:{remove,null}:$.a{,.id}", "roster:other:$.a"));
        assert!(!glob(
            "roster:remove:$.r[*].id",
            "roster:remove:$.r[*].m[*].id"
        ));
        assert!(glob(
            "terminal:remove:$.resource",
            "terminal:remove:$.resource"
        ));
        assert!(!glob(
            "terminal:remove:$.resource",
            "terminal:remove:$.resourceData"
        ));
        assert!(glob(
            "roster:*:$.resourceData[*].id",
            "roster:other:$.resourceData[*].id"
        ));
        assert!(!glob(
            "roster:*:$.resourceData[*].id",
            "roster:other:$.resourceData[*].info.id"
        ));
        assert!(glob(
            "request $.participants[*].{a,b}",
            "request $.participants[*].b"
        ));
        assert!(!glob(
            "request $.participants[*].a",
            "request $.participants[*].a.b"
        ));
        assert!(glob("*", "anything"));
        assert!(glob("a*b*c", "abc"));
        assert!(!glob("a*b*c", "acb"));
    }
}
