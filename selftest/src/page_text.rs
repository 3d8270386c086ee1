//! The spec page's markdown read as text: links reduced to their words,
//! whitespace collapsed. What else a reader drops (notes, quote marks) is
//! the caller's.

/// `[words](target)` → `words`. A `[` whose words run over a line end, or
/// that no `](…)` follows, stays as it is.
pub fn strip_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find("](").and_then(|close| {
            after[close + 2..]
                .find(')')
                .map(|end| (close, close + 3 + end))
        }) {
            Some((close, skip)) if !after[..close].contains('\n') => {
                out.push_str(&after[..close]);
                rest = &after[skip..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every run of whitespace (line ends included) as one space, none at the
/// ends.
pub fn collapse_ws(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_become_their_words() {
        assert_eq!(
            strip_links("see [commsOperation](../resources/commsoperation.md). [x]"),
            "see commsOperation. [x]"
        );
        assert_eq!(strip_links("[a\nb](c) [d](e)"), "[a\nb](c) d");
        assert_eq!(collapse_ws("  a \n\t b  "), "a b");
    }
}
