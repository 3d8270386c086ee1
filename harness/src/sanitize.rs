//! Text from a target or a case file, made fit to show: secrets (and their
//! obvious transforms) redacted first, then cut to an excerpt that says the
//! full length, with control characters and terminal escapes shown escaped.
//!
//! Every writer (console, report.md, report.json, JUnit, written case files)
//! goes through here, so a new writer gets the same treatment by calling the
//! same functions. Colour is added after, by the suite's own `Styles` only.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, RwLock};

use base64::Engine as _;
use serde_json::Value;

/// Bytes of a value quoted in a message; the rest is counted, not shown.
pub const QUOTE_MAX: usize = 120;
/// Bytes of one shown line; a longer one is cut, its length said.
pub const LINE_MAX: usize = 2_000;
/// Lines of one block of free text (an error, a note) kept.
pub const TEXT_LINES_MAX: usize = 200;
/// Items of an array, or members of an object, kept in a shown document.
pub const JSON_ITEMS_MAX: usize = 50;

/// Replaces secrets, and the forms a target might echo them in, by
/// `<redacted>`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a form containing another is replaced whole.
    forms: Vec<String>,
}

/// Shorter secrets are not redacted: they would match ordinary text.
const SECRET_MIN: usize = 4;
/// Shorter encoded forms are not redacted, for the same reason.
const FORM_MIN: usize = 8;

impl Redactor {
    pub fn new(secrets: &[String]) -> Self {
        let mut forms: Vec<String> = Vec::new();
        for secret in secrets.iter().filter(|s| s.len() >= SECRET_MIN) {
            forms.push(secret.clone());
            let encoded = std::iter::empty()
                .chain(base64_forms(secret.as_bytes()))
                .chain(percent_forms(secret));
            forms.extend(encoded.filter(|f| f.len() >= FORM_MIN));
        }
        forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        forms.dedup();
        Self { forms }
    }

    /// The longest form redacted: what an excerpt must read past its cut to
    /// see a secret that straddles it.
    fn longest(&self) -> usize {
        self.forms.first().map_or(0, String::len)
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = Cow::Owned(out.replace(form.as_str(), "<redacted>"));
            }
        }
        out
    }
}

/// The base64 text (standard and URL-safe alphabets) that any stream holding
/// `secret` encodes it to, at each of the three alignments a byte string can
/// have in one: `base64(secret)`, `base64("Bearer " + secret)`, a basic-auth
/// pair. Only the characters every one of whose bits come from the secret
/// are kept; the one or two at each end depend on the neighbours.
fn base64_forms(secret: &[u8]) -> Vec<String> {
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let mut forms = Vec::new();
    for engine in engines {
        for align in 0..3 {
            let mut bytes = vec![0u8; align];
            bytes.extend_from_slice(secret);
            let encoded = engine.encode(&bytes);
            // Character i holds bits [6i, 6i + 6); the secret's are
            // [8·align, 8·(align + len)).
            let start = (8 * align).div_ceil(6);
            let end = (8 * (align + secret.len())) / 6;
            if let Some(middle) = encoded.get(start..end) {
                forms.push(middle.to_owned());
            }
        }
    }
    forms
}

/// `secret` percent-encoded as a URL component, with upper- and lower-case
/// hex digits (every byte outside the characters no encoder escapes).
fn percent_forms(secret: &str) -> Vec<String> {
    let mut upper = String::new();
    for b in secret.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            upper.push(char::from(b));
        } else {
            let _ = write!(upper, "%{b:02X}");
        }
    }
    if upper == secret {
        return Vec::new();
    }
    let lower = percent_lowercase(&upper);
    vec![upper, lower]
}

fn percent_lowercase(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut hex_left = 0;
    for c in text.chars() {
        if hex_left > 0 {
            out.push(c.to_ascii_lowercase());
            hex_left -= 1;
        } else {
            if c == '%' {
                hex_left = 2;
            }
            out.push(c);
        }
    }
    out
}

/// The secrets of the run, process-wide. The token comes from the process's
/// environment, and an excerpt cut anywhere (in a check deep inside a
/// contract's invariant) must be redacted before it is cut, or a token
/// echoed across the cut would leave its head behind: every excerpt reads
/// them here rather than being handed them through every formatting call.
static REGISTERED: LazyLock<RwLock<Arc<Redactor>>> =
    LazyLock::new(|| RwLock::new(Arc::new(Redactor::default())));

/// Adds `secrets` to those every excerpt redacts.
pub fn register_secrets(secrets: &[String]) {
    let mut registered = REGISTERED
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut all: Vec<String> = registered.forms.clone();
    all.extend(Redactor::new(secrets).forms);
    all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    all.dedup();
    *registered = Arc::new(Redactor { forms: all });
}

fn registered() -> Arc<Redactor> {
    REGISTERED
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// `text` with the registered secrets and `secrets` (and their transforms)
/// replaced by `<redacted>`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let registered = registered();
    let once = registered.redact(text);
    if secrets.is_empty() {
        return once.into_owned();
    }
    Redactor::new(secrets).redact(&once).into_owned()
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary, and how many bytes are left after it.
pub fn split_at_most(s: &str, max: usize) -> (&str, usize) {
    let cut = (0..=s.len().min(max))
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    (&s[..cut], s.len() - cut)
}

/// The head of `s` that is shown, redacted before it is cut, and whether
/// anything was cut. Only the head (and as much past it as a secret can
/// span) is searched, so a value of megabytes costs no more than its head.
fn redacted_head(s: &str, max: usize) -> (String, bool) {
    let redactor = registered();
    let (window, _) = split_at_most(s, max.saturating_add(redactor.longest()));
    let redacted = redactor.redact(window);
    if window.len() == s.len() {
        // Nothing past the window: what redaction made of it is shown whole
        // when it was short enough before.
        if s.len() <= max {
            return (redacted.into_owned(), false);
        }
    }
    let (head, _) = split_at_most(&redacted, max);
    (head.to_owned(), true)
}

/// `s` as a quoted, escaped excerpt: `"abc"`, or `"abc…" (8388608 bytes)`
/// when it is longer than [`QUOTE_MAX`] bytes.
pub fn quote(s: &str) -> String {
    quote_at_most(s, QUOTE_MAX)
}

/// [`quote`] with another bound.
pub fn quote_at_most(s: &str, max: usize) -> String {
    let (head, cut) = redacted_head(s, max);
    quoted(&head, cut, s.len())
}

/// `head` as a string literal, ending `…" (N bytes)` when it was `cut`
/// from something of `total` bytes.
fn quoted(head: &str, cut: bool, total: usize) -> String {
    let mut out = String::with_capacity(head.len() + 24);
    out.push('"');
    escape_into(&mut out, head, true);
    if cut {
        let _ = write!(out, "…\" ({total} bytes)");
    } else {
        out.push('"');
    }
    out
}

/// The head of `bytes` (UTF-8 or not) as a quoted, escaped excerpt of at
/// most `max` bytes, saying the full length when cut: for bodies, which may
/// be megabytes and need not be text. Only the head is decoded.
pub fn quote_bytes(bytes: &[u8], max: usize) -> String {
    let window = bytes
        .len()
        .min(max.saturating_add(registered().longest()).saturating_add(4));
    let head = String::from_utf8_lossy(&bytes[..window]);
    let (shown, cut) = redacted_head(&head, max);
    quoted(&shown, cut || window < bytes.len(), bytes.len())
}

/// `s` cut to at most `max` bytes (redacted first), with `… (N bytes in all)`
/// when something was cut. Not escaped: for text that is escaped when shown.
pub fn excerpt(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max && registered().forms.is_empty() {
        return Cow::Borrowed(s);
    }
    let (head, cut) = redacted_head(s, max);
    if cut {
        Cow::Owned(format!("{head}… ({} bytes in all)", s.len()))
    } else {
        Cow::Owned(head)
    }
}

/// Whether `c` must not reach a terminal or a Markdown file as it is: the
/// C0 and C1 controls (ESC, CSI, OSC, BEL, CR, backspace…) and DEL, and the
/// invisible characters that reorder or hide text (bidirectional controls,
/// zero-width characters, the byte-order mark). Newline and tab are text.
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c,
            '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}')
}

/// Appends `s` with every unsafe character as `\u{…}`; when `quoted`, also
/// `"`, `\`, newline and tab escaped, as a string literal.
fn escape_into(out: &mut String, s: &str, quoted: bool) {
    for c in s.chars() {
        match c {
            '"' if quoted => out.push_str("\\\""),
            '\\' if quoted => out.push_str("\\\\"),
            '\n' if quoted => out.push_str("\\n"),
            '\t' if quoted => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// `s` with control characters and terminal escapes shown escaped.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    escape_into(&mut out, s, false);
    Cow::Owned(out)
}

/// One line as it is shown: redacted, cut to [`LINE_MAX`] bytes, escaped.
pub fn line(s: &str) -> Cow<'_, str> {
    match excerpt(s, LINE_MAX) {
        Cow::Borrowed(b) => escape_controls(b),
        Cow::Owned(o) => Cow::Owned(escape_controls(&o).into_owned()),
    }
}

/// Free text (a message, an error) bounded for keeping: each line cut to
/// [`LINE_MAX`] bytes, at most [`TEXT_LINES_MAX`] lines. Not escaped (that
/// happens where it is shown), but redacted before anything is cut.
pub fn bound_text(text: String) -> String {
    let long_line = text.lines().any(|l| l.len() > LINE_MAX);
    if !long_line && text.len() <= LINE_MAX * 4 && registered().forms.is_empty() {
        return text;
    }
    let total = text.lines().count();
    let mut out = String::new();
    for (i, l) in text.lines().enumerate() {
        if i == TEXT_LINES_MAX {
            let _ = write!(out, "\n… ({} more lines)", total - i);
            break;
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&excerpt(l, LINE_MAX));
    }
    out
}

/// A JSON document made small enough to show whole: each string longer
/// than [`QUOTE_MAX`] bytes cut (redacted first) with its length said,
/// each array and object cut to [`JSON_ITEMS_MAX`] entries with a count of
/// the rest. What is kept is still JSON, so diffs and one-line views work.
pub fn shrink_json(value: &Value) -> Value {
    match value {
        Value::String(s) if s.len() > QUOTE_MAX => {
            let (head, _) = redacted_head(s, QUOTE_MAX);
            Value::String(format!("{head}… ({} bytes)", s.len()))
        }
        Value::Array(items) => {
            let mut kept: Vec<Value> = items.iter().take(JSON_ITEMS_MAX).map(shrink_json).collect();
            if items.len() > JSON_ITEMS_MAX {
                kept.push(Value::String(format!(
                    "… ({} more items)",
                    items.len() - JSON_ITEMS_MAX
                )));
            }
            Value::Array(kept)
        }
        Value::Object(members) => {
            let mut kept: serde_json::Map<String, Value> = members
                .iter()
                .take(JSON_ITEMS_MAX)
                .map(|(k, v)| (shrink_key(k), shrink_json(v)))
                .collect();
            if members.len() > JSON_ITEMS_MAX {
                kept.insert(
                    "…".to_owned(),
                    Value::String(format!("{} more members", members.len() - JSON_ITEMS_MAX)),
                );
            }
            Value::Object(kept)
        }
        other => other.clone(),
    }
}

fn shrink_key(key: &str) -> String {
    excerpt(key, QUOTE_MAX).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_excerpts_that_say_the_length() {
        assert_eq!(quote("abc"), "\"abc\"");
        let long = "x".repeat(8 << 20);
        let quoted = quote(&long);
        assert!(quoted.len() < QUOTE_MAX + 40, "{quoted}");
        assert!(quoted.ends_with("…\" (8388608 bytes)"), "{quoted}");
        // A cut never splits a character.
        let wide = "é".repeat(100);
        assert!(quote(&wide).contains("(200 bytes)"));
    }

    #[test]
    fn controls_and_escapes_are_shown_escaped() {
        let hostile = "a\u{1b}[2J\u{1b}]52;c;Zm9v\u{7}b\u{9b}c\u{202e}d\re";
        let shown = escape_controls(hostile);
        assert!(!shown.chars().any(is_unsafe), "{shown}");
        assert_eq!(
            shown,
            "a\\u{1b}[2J\\u{1b}]52;c;Zm9v\\u{7}b\\u{9b}c\\u{202e}d\\re"
        );
        assert_eq!(escape_controls("plain\ttext\n"), "plain\ttext\n");
        assert_eq!(quote("a\"\n\u{1b}"), "\"a\\\"\\n\\u{1b}\"");
    }

    #[test]
    fn the_token_and_its_transforms_are_redacted() {
        let token = "tok3n-Sekr1t/+=abc";
        let redactor = Redactor::new(&[token.to_owned()]);
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let b64url = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let texts = [
            format!("echo {token} back"),
            format!("auth {}", b64(token)),
            format!("auth {}", b64(&format!("Bearer {token}"))),
            format!("auth {}", b64url(&format!("Authorization: Bearer {token}"))),
            format!("basic {}", b64(&format!("user:{token}"))),
            "q=tok3n-Sekr1t%2F%2B%3Dabc".to_owned(),
            "q=tok3n-Sekr1t%2f%2b%3dabc".to_owned(),
        ];
        for text in texts {
            let redacted = redactor.redact(&text);
            assert!(redacted.contains("<redacted>"), "{text} -> {redacted}");
            // At most the one or two characters at each end of an encoded
            // form stay: nothing of the secret that could be read back.
            assert!(!redacted.contains("Sekr1t"), "{text} -> {redacted}");
        }
    }

    #[test]
    fn redaction_comes_before_the_cut() {
        let token = "canary-SECRET-0123456789";
        register_secrets(&[token.to_owned()]);
        // The token straddles the cut of a quote and of a line.
        let value = format!("{}{token}{}", "a".repeat(QUOTE_MAX - 8), "b".repeat(50));
        let quoted = quote(&value);
        assert!(!quoted.contains("canary-S"), "{quoted}");
        let line_value = format!("{}{token}{}", "a".repeat(LINE_MAX - 8), "b".repeat(50));
        let shown = line(&line_value);
        assert!(!shown.contains("canary-S"), "{shown}");
        let shrunk = shrink_json(&Value::String(value));
        assert!(!shrunk.to_string().contains("canary-S"), "{shrunk}");
    }

    #[test]
    fn free_text_and_documents_are_bounded() {
        let text = format!("{}\nshort\n", "y".repeat(1 << 20));
        let bounded = bound_text(text);
        assert!(bounded.len() < LINE_MAX + 40, "{}", bounded.len());
        assert!(bounded.contains("(1048576 bytes in all)\nshort"));
        let many = (0..1000).map(|i| format!("line {i}\n")).collect::<String>();
        let bounded = bound_text(many);
        assert_eq!(bounded.lines().count(), TEXT_LINES_MAX + 1);
        assert!(bounded.ends_with("(800 more lines)"), "{bounded}");
        let doc = serde_json::json!({"id": "z".repeat(1000), "list": (0..200).collect::<Vec<_>>()});
        let shrunk = shrink_json(&doc);
        assert!(shrunk.to_string().len() < 600, "{shrunk}");
        assert!(shrunk["id"].as_str().unwrap().ends_with("(1000 bytes)"));
        assert_eq!(shrunk["list"].as_array().unwrap().len(), JSON_ITEMS_MAX + 1);
    }
}
