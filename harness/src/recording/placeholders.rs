//! What makes a transcript stable and safe to keep: ids the target made up
//! become placeholders (`<call>` for a fixture, `<op>` for a captured
//! value, `<id:3>` for the others, numbered in order of appearance), the
//! suite's callback URLs `<callback>`, times `<time>`, and the token is
//! redacted by value. What the suite sent as input (identities, client
//! contexts) stays as it was: it is what the target was asked.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::sanitize::Redactor;

/// The placeholders of one step, built from what the suite knows of it.
pub struct Placeholders {
    /// Known value -> its placeholder, longest value first (a value that
    /// contains another is replaced whole).
    named: Vec<(String, String)>,
    /// Values the suite sent: never taken for an id the target made up.
    inputs: BTreeSet<String>,
    /// Ids the target made up, numbered as they were first seen.
    numbered: HashMap<String, usize>,
    redactor: Redactor,
    /// The listener's public base: a URL under it is one of the suite's
    /// callbacks, whose path differs every run.
    callback: String,
}

/// Shortest value replaced wherever it occurs inside a string: shorter ones
/// (an id `1`) would match ordinary text.
const SUBSTRING_MIN: usize = 6;

impl Placeholders {
    /// `named`: (value, placeholder name) pairs (`("6f1e…", "call")`);
    /// `inputs`: values the suite sent; `callback`: the listener's public
    /// base URL; `secrets`: values never written.
    pub fn new(
        named: impl IntoIterator<Item = (String, String)>,
        inputs: BTreeSet<String>,
        callback: &str,
        secrets: &[String],
    ) -> Self {
        let mut named: Vec<(String, String)> = named
            .into_iter()
            .filter(|(value, _)| !value.is_empty() && !inputs.contains(value))
            .map(|(value, name)| (value, format!("<{name}>")))
            .collect();
        named.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        named.dedup_by(|a, b| a.0 == b.0);
        Self {
            named,
            inputs,
            numbered: HashMap::new(),
            redactor: Redactor::new(secrets),
            callback: callback.to_owned(),
        }
    }

    /// Notes the ids the target made up in `value` (members named `id` or
    /// `…Id`, and GUIDs anywhere), in order, so that later text naming
    /// them (a URL) is replaced too. Call it on everything before
    /// [`Placeholders::value`].
    pub fn collect(&mut self, value: &Value) {
        self.walk_collect(value, None);
    }

    /// Notes an id-like header value (`request-id`).
    pub fn collect_header(&mut self, name: &str, value: &str) {
        if header_is_id(name) || is_guid(value) {
            self.note(value);
        }
    }

    fn walk_collect(&mut self, value: &Value, key: Option<&str>) {
        match value {
            Value::String(s) if key.is_some_and(key_is_id) || is_guid(s) => self.note(s),
            Value::Array(items) => {
                for item in items {
                    self.walk_collect(item, key);
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    self.walk_collect(v, Some(k));
                }
            }
            _ => {}
        }
    }

    fn note(&mut self, s: &str) {
        let known = self.named.iter().any(|(v, _)| v == s);
        if s.is_empty() || known || self.inputs.contains(s) || s.starts_with('<') {
            return;
        }
        let next = self.numbered.len() + 1;
        self.numbered.entry(s.to_owned()).or_insert(next);
    }

    /// `value` with every placeholder applied.
    pub fn value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.text(k), self.value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// A header's value with its placeholders (`date` is a time).
    pub fn header(&self, name: &str, value: &str) -> String {
        if name.eq_ignore_ascii_case("date") {
            "<time>".to_owned()
        } else {
            self.text(value)
        }
    }

    /// `text` with every placeholder applied: the token redacted, a whole
    /// time or id replaced, known values replaced wherever they occur.
    pub fn text(&self, text: &str) -> String {
        let text = self.redactor.redact(text);
        if is_time(&text) {
            return "<time>".to_owned();
        }
        if !self.callback.is_empty() && text.starts_with(self.callback.as_str()) {
            return "<callback>".to_owned();
        }
        if let Some(n) = self.numbered.get(text.as_ref()) {
            return format!("<id:{n}>");
        }
        let mut out = text.into_owned();
        for (value, name) in &self.named {
            if out == *value || (value.len() >= SUBSTRING_MIN && out.contains(value.as_str())) {
                out = out.replace(value.as_str(), name);
            }
        }
        let mut numbered: Vec<(&String, &usize)> = self
            .numbered
            .iter()
            .filter(|(v, _)| v.len() >= SUBSTRING_MIN)
            .collect();
        numbered.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(b.0)));
        for (value, n) in numbered {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), &format!("<id:{n}>"));
            }
        }
        out
    }
}

/// A member whose value is an identifier: `id`, `…Id`, `…_id`.
fn key_is_id(key: &str) -> bool {
    key == "id" || key.ends_with("Id") || key.ends_with("_id")
}

/// A header whose value identifies a request.
fn header_is_id(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.ends_with("request-id") || name == "x-ms-ags-diagnostic"
}

/// `8-4-4-4-12` hex digits.
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A date and time (`2026-12-07T12:00:00Z`, `2026-12-07 12:00:00`): what a
/// transcript keeps as `<time>`, since only offsets are comparable.
pub fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    b.len() >= 16
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && (b[10] == b'T' || b[10] == b' ')
        && digits(11..13)
        && b[13] == b':'
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_the_target_made_become_placeholders_and_inputs_stay() {
        let user = "278405a3-f568-4b3e-b684-009193463064";
        let call = "11111111-2222-4333-8444-555555555555";
        let op = "op-0001";
        let inputs: BTreeSet<String> = [user.to_owned()].into();
        let mut p = Placeholders::new(
            [
                (call.to_owned(), "call".to_owned()),
                (op.to_owned(), "op".to_owned()),
            ],
            inputs,
            "http://127.0.0.1:4000",
            &["s3cret-token".to_owned()],
        );
        let notification = json!({
            "resourceUrl": format!("/communications/calls/{call}/participants"),
            "resourceData": [{"id": "participant-0007", "info": {"identity": {"user": {"id": user}}}}],
            "callbackUri": "http://127.0.0.1:4000/callbacks/abc",
            "note": "Bearer s3cret-token",
            "innerError": {"date": "2026-12-07T12:00:00", "request-id": "9b2c1f0e-0000-4000-8000-000000000001"},
            "op": format!("/operations/{op}")
        });
        p.collect(&notification);
        assert_eq!(
            p.value(&notification),
            json!({
                "resourceUrl": "/communications/calls/<call>/participants",
                "resourceData": [{"id": "<id:2>", "info": {"identity": {"user": {"id": user}}}}],
                "callbackUri": "<callback>",
                "note": "Bearer <redacted>",
                // Numbered in the order they are met (members sorted).
                "innerError": {"date": "<time>", "request-id": "<id:1>"},
                "op": "/operations/<op>"
            })
        );
        assert_eq!(p.header("Date", "Mon, 07 Dec 2026"), "<time>");
    }

    #[test]
    fn guids_and_times_are_told_from_other_text() {
        assert!(is_guid("278405a3-f568-4b3e-b684-009193463064"));
        assert!(!is_guid("278405a3-f568-4b3e-b684"));
        assert!(is_time("2026-12-07T12:00:00.123Z"));
        assert!(!is_time("2026-12-07"));
        assert!(!is_time("conformance-context"));
    }
}
