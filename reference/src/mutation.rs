//! Data mutation: one member of one kind of document the server sends,
//! altered in one way (removed, set to null, given a wrong JSON type, or
//! given another valid-looking value). A self-test runs the conformance
//! suite against a server with each such mutation and asks whether the suite
//! notices, which no fault can show: a fault proves a check can fail, a
//! mutation finds the members no check looks at.
//!
//! A mutation is written `DOCUMENT:CHANGE:PATH`, for example
//! `response:other:$.participants[*].identity.user.id` or
//! `terminal:remove:$.resourceData['@odata.type']`. Paths start at the
//! document's root: `.name`, `['any name']`, `[3]`, and `[*]` for every
//! element of an array.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde_json::{Map, Number, Value};

/// Declares an enum of names with a description each, in one place, so a new
/// member cannot be added without a name and a sentence.
macro_rules! named {
    ($(#[$meta:meta])* $enum:ident { $($variant:ident => $name:literal, $description:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $enum {
            $(#[doc = $description] $variant,)+
        }

        impl $enum {
            /// Every member, in the order `--help` lists them.
            pub const ALL: &'static [$enum] = &[$($enum::$variant,)+];

            /// The kebab-case name used in a mutation's text.
            pub fn name(self) -> &'static str {
                match self {
                    $($enum::$variant => $name,)+
                }
            }

            /// What it is, in one sentence.
            pub fn description(self) -> &'static str {
                match self {
                    $($enum::$variant => $description,)+
                }
            }
        }

        impl fmt::Display for $enum {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $enum {
            type Err = MutationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $enum::ALL
                    .iter()
                    .copied()
                    .find(|member| member.name() == s)
                    .ok_or_else(|| {
                        let known: Vec<&str> = $enum::ALL.iter().map(|m| m.name()).collect();
                        MutationError(format!(
                            "unknown {} {s:?} (one of: {})",
                            stringify!($enum).to_ascii_lowercase(),
                            known.join(", ")
                        ))
                    })
            }
        }
    };
}

named! {
    /// A kind of document the server sends that a mutation can alter.
    Document {
        Response => "response",
            "the body of a successful invite's response (the inviteParticipantsOperation)";
        Operation => "operation",
            "the body of GET /communications/calls/{id}/operations/{opId}";
        Terminal => "terminal",
            "an operation's terminal notification item (the commsNotification with changeType deleted)";
        Roster => "roster",
            "a roster notification item (the commsNotification about .../participants, changeType updated)";
        Envelope => "envelope",
            "the commsNotifications body of every notification POST";
    }
}

named! {
    /// How the member is altered.
    Change {
        Remove => "remove",
            "the member is removed (an array element is taken out of its array)";
        Null => "null",
            "the member is set to null";
        WrongType => "wrong-type",
            "the member gets a value of another JSON type: a string becomes the number 1, a number or a boolean its text, null true, an object an empty array, an array an empty object";
        Other => "other",
            "the member gets another valid-looking value of its type: another GUID where there is one (another call or operation id), another value of the same enumeration (status, changeType, media), another @odata.type, another phone number, another string, the number plus one, the negated boolean, an empty object or array (null stays null)";
    }
}

/// A mutation's text that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MutationError(pub String);

/// Paths longer than this are refused: no document the server sends is
/// nearly that deep.
const MAX_STEPS: usize = 64;

/// One step of a [`MemberPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// A member of an object.
    Key(String),
    /// An element of an array, counted from 0.
    Index(usize),
    /// `[*]`: every element of an array.
    Each,
}

/// Where the altered member is, from the document's root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberPath(Vec<Step>);

impl MemberPath {
    /// A path of these steps; a path names a member, so it has at least one.
    pub fn new(steps: Vec<Step>) -> Result<MemberPath, MutationError> {
        if steps.is_empty() {
            return Err(MutationError(
                "a mutation names a member: the path needs at least one step after '$'".into(),
            ));
        }
        if steps.len() > MAX_STEPS {
            return Err(MutationError(format!(
                "a path of {} steps is longer than any document's ({MAX_STEPS} at most)",
                steps.len()
            )));
        }
        Ok(MemberPath(steps))
    }

    pub fn steps(&self) -> &[Step] {
        &self.0
    }
}

impl fmt::Display for MemberPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for step in &self.0 {
            match step {
                Step::Key(name) if is_identifier(name) => write!(f, ".{name}")?,
                Step::Key(name) => {
                    let escaped = name.replace('\\', "\\\\").replace('\'', "\\'");
                    write!(f, "['{escaped}']")?;
                }
                Step::Index(i) => write!(f, "[{i}]")?,
                Step::Each => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl FromStr for MemberPath {
    type Err = MutationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| MutationError(format!("path {text:?}: {why}"));
        let mut rest = text
            .strip_prefix('$')
            .ok_or_else(|| bad("it starts with '$'"))?;
        let mut steps = Vec::new();
        while let Some(first) = rest.chars().next() {
            if first == '.' {
                let name_end = rest[1..].find(['.', '[']).map_or(rest.len(), |end| end + 1);
                let name = &rest[1..name_end];
                if !is_identifier(name) {
                    return Err(bad(&format!(
                        "{name:?} after '.' is not a plain name; write ['{name}']"
                    )));
                }
                steps.push(Step::Key(name.to_owned()));
                rest = &rest[name_end..];
            } else if let Some(quoted) = rest.strip_prefix("['") {
                let (name, after) =
                    unquote(quoted).ok_or_else(|| bad("a ['name'] is not closed"))?;
                steps.push(Step::Key(name));
                rest = after;
            } else if let Some(inner) = rest.strip_prefix('[') {
                let close = inner.find(']').ok_or_else(|| bad("a '[' is not closed"))?;
                let index = &inner[..close];
                steps.push(if index == "*" {
                    Step::Each
                } else {
                    Step::Index(
                        index
                            .parse()
                            .map_err(|_| bad(&format!("[{index}] is not an index nor [*]")))?,
                    )
                });
                rest = &inner[close + 1..];
            } else {
                return Err(bad(&format!("unexpected {first:?}")));
            }
            if steps.len() > MAX_STEPS {
                return Err(bad(&format!("longer than {MAX_STEPS} steps")));
            }
        }
        MemberPath::new(steps).map_err(|e| bad(&e.0))
    }
}

/// The name of `['name']` after its opening `['`, with `\'` and `\\`
/// unescaped, and the text after its closing `']`.
fn unquote(text: &str) -> Option<(String, &str)> {
    let mut name = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => name.push(chars.next()?.1),
            '\'' => return text[i + 1..].strip_prefix(']').map(|after| (name, after)),
            other => name.push(other),
        }
    }
    None
}

/// One member of one kind of document, altered in one way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mutation {
    document: Document,
    change: Change,
    path: MemberPath,
}

impl Mutation {
    pub fn new(document: Document, change: Change, path: MemberPath) -> Mutation {
        Mutation {
            document,
            change,
            path,
        }
    }

    pub fn path(&self) -> &MemberPath {
        &self.path
    }

    /// Alters `value` (a whole document) in place. A path that leads
    /// nowhere in it leaves it as it was; nothing panics.
    pub fn apply(&self, value: &mut Value) {
        visit(value, self.path.steps(), self.change);
    }

    /// [`Mutation::apply`] to a document given as JSON text; text that is
    /// not JSON is returned as it was.
    pub fn apply_to_text(&self, text: String) -> String {
        match serde_json::from_str::<Value>(&text) {
            Ok(mut value) => {
                self.apply(&mut value);
                value.to_string()
            }
            Err(_) => text,
        }
    }
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.document, self.change, self.path)
    }
}

impl FromStr for Mutation {
    type Err = MutationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parts = text.splitn(3, ':');
        let (Some(document), Some(change), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(MutationError(format!(
                "mutation {text:?} is not DOCUMENT:CHANGE:PATH (for example response:remove:$.clientContext)"
            )));
        };
        Ok(Mutation {
            document: document.parse()?,
            change: change.parse()?,
            path: path.parse()?,
        })
    }
}

fn visit(value: &mut Value, steps: &[Step], change: Change) {
    let Some((step, rest)) = steps.split_first() else {
        return;
    };
    if rest.is_empty() {
        alter(value, step, change);
        return;
    }
    match (step, value) {
        (Step::Key(name), Value::Object(members)) => {
            if let Some(member) = members.get_mut(name) {
                visit(member, rest, change);
            }
        }
        (Step::Index(i), Value::Array(items)) => {
            if let Some(item) = items.get_mut(*i) {
                visit(item, rest, change);
            }
        }
        (Step::Each, Value::Array(items)) => {
            for item in items {
                visit(item, rest, change);
            }
        }
        _ => {}
    }
}

/// Alters what `step` names in `parent`.
fn alter(parent: &mut Value, step: &Step, change: Change) {
    match (step, parent) {
        (Step::Key(name), Value::Object(members)) => {
            if change == Change::Remove {
                members.remove(name);
            } else if let Some(member) = members.get_mut(name) {
                *member = changed(member, change);
            }
        }
        (Step::Index(i), Value::Array(items)) if *i < items.len() => {
            if change == Change::Remove {
                items.remove(*i);
            } else {
                items[*i] = changed(&items[*i], change);
            }
        }
        (Step::Each, Value::Array(items)) => {
            if change == Change::Remove {
                items.clear();
            } else {
                for item in items.iter_mut() {
                    *item = changed(item, change);
                }
            }
        }
        _ => {}
    }
}

fn changed(value: &Value, change: Change) -> Value {
    match change {
        // Handled by the caller: a removed member has no value.
        Change::Remove => value.clone(),
        Change::Null => Value::Null,
        Change::WrongType => wrong_type(value),
        Change::Other => other_value(value),
    }
}

fn wrong_type(value: &Value) -> Value {
    match value {
        Value::Null => Value::Bool(true),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        Value::String(_) => Value::Number(1.into()),
        Value::Array(_) => Value::Object(Map::new()),
        Value::Object(_) => Value::Array(Vec::new()),
    }
}

fn other_value(value: &Value) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::Bool(b) => Value::Bool(!b),
        Value::Number(n) => Value::Number(plus_one(n)),
        Value::String(s) => Value::String(other_string(s)),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Object(_) => Value::Object(Map::new()),
    }
}

fn plus_one(n: &Number) -> Number {
    if let Some(i) = n.as_i64() {
        Number::from(i.checked_add(1).unwrap_or(i - 1))
    } else if let Some(u) = n.as_u64() {
        Number::from(u.checked_add(1).unwrap_or(u - 1))
    } else {
        n.as_f64()
            .and_then(|f| Number::from_f64(f + 1.0))
            .unwrap_or_else(|| Number::from(0))
    }
}

/// Enumerations whose values a mutation swaps for another of the same kind
/// (lower camel case; casing is kept): operationStatus, changeType,
/// endpointType, modality, mediaDirection.
const ENUM_SWAPS: &[(&str, &str)] = &[
    ("notstarted", "running"),
    ("running", "completed"),
    ("completed", "failed"),
    ("failed", "completed"),
    ("created", "updated"),
    ("updated", "deleted"),
    ("deleted", "updated"),
    ("default", "voicemail"),
    ("voicemail", "default"),
    ("skypeforbusiness", "default"),
    ("skypeforbusinessvoipphone", "default"),
    ("audio", "video"),
    ("video", "audio"),
    ("videobasedscreensharing", "audio"),
    ("data", "audio"),
    ("sendreceive", "sendOnly"),
    ("sendonly", "sendReceive"),
    ("receiveonly", "sendReceive"),
    ("inactive", "sendReceive"),
];

/// Graph types a mutation swaps for another, unrelated one.
const TYPE_SWAPS: &[(&str, &str)] = &[
    (
        "inviteParticipantsOperation",
        "addLargeGalleryViewOperation",
    ),
    ("invitationParticipantInfo", "participantInfo"),
    ("identitySet", "identity"),
    ("identity", "identitySet"),
    ("commsNotification", "commsNotifications"),
    ("commsNotifications", "commsNotification"),
    ("participant", "invitationParticipantInfo"),
    ("participantInfo", "identitySet"),
    ("mediaStream", "mediaInfo"),
    ("resultInfo", "publicError"),
];

fn other_string(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if let Some((_, swapped)) = ENUM_SWAPS.iter().find(|(from, _)| *from == lower) {
        return with_casing_of(text, swapped);
    }
    if let Some(name) = text.strip_prefix("#microsoft.graph.") {
        let swapped = TYPE_SWAPS
            .iter()
            .find(|(from, _)| *from == name)
            .map_or("entity", |(_, to)| to);
        return format!("#microsoft.graph.{swapped}");
    }
    if let Some(start) = guid_start(text) {
        let mut other = String::with_capacity(text.len());
        other.push_str(&text[..start]);
        other.extend(text[start..start + 36].chars().map(next_hex_digit));
        other.push_str(&text[start + 36..]);
        return other;
    }
    if let Some(digits) = text.strip_prefix('+') {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let mut other: Vec<char> = text.chars().collect();
            if let Some(last) = other.last_mut() {
                *last = next_decimal_digit(*last);
            }
            return other.into_iter().collect();
        }
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u64>().ok().and_then(|n| n.checked_add(1)) {
            Some(n) => n.to_string(),
            None => format!("{text}0"),
        };
    }
    if text.is_empty() {
        "other".to_owned()
    } else {
        format!("{text}-other")
    }
}

/// `swapped` (lower camel case) spelled as `original` is: PascalCase when it
/// starts with a capital, UPPER when it is all capitals.
fn with_casing_of(original: &str, swapped: &str) -> String {
    if original.len() > 1 && original.bytes().all(|b| !b.is_ascii_lowercase()) {
        return swapped.to_ascii_uppercase();
    }
    if original.starts_with(|c: char| c.is_ascii_uppercase()) {
        let mut chars = swapped.chars();
        return chars.next().map_or_else(String::new, |first| {
            first.to_ascii_uppercase().to_string() + chars.as_str()
        });
    }
    swapped.to_owned()
}

/// Where the first GUID (8-4-4-4-12 hex digits) in `text` starts.
fn guid_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(35)).find(|&start| {
        bytes[start..start + 36].iter().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
    })
}

/// The next hex digit (`f` wraps to `0`), in the same case; `-` stays.
fn next_hex_digit(c: char) -> char {
    match c {
        '0'..='8' | 'a'..='e' | 'A'..='E' => char::from(c as u8 + 1),
        '9' => 'a',
        'f' => '0',
        'F' => '0',
        other => other,
    }
}

fn next_decimal_digit(c: char) -> char {
    match c {
        '0'..='8' => char::from(c as u8 + 1),
        _ => '0',
    }
}

/// The configured mutation as the handlers ask it; nothing at all is parsed
/// or copied when no mutation is set.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mutating(Option<Arc<Mutation>>);

impl Mutating {
    pub(crate) fn new(mutation: Option<&Mutation>) -> Mutating {
        Mutating(mutation.cloned().map(Arc::new))
    }

    /// The mutation, when it alters documents of this kind.
    pub(crate) fn on(&self, document: Document) -> Option<&Mutation> {
        self.0.as_deref().filter(|m| m.document == document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mutation(text: &str) -> Mutation {
        text.parse().expect("the mutation parses")
    }

    fn applied(text: &str, mut value: Value) -> Value {
        mutation(text).apply(&mut value);
        value
    }

    #[test]
    fn text_round_trips() {
        for text in [
            "response:remove:$.clientContext",
            "operation:null:$.participants[*].identity.user.id",
            "terminal:wrong-type:$.resourceData['@odata.type']",
            "roster:other:$.resourceData[0].mediaStreams[*].serverMuted",
            "envelope:remove:$.value",
            "response:other:$['a name with \\' and \\\\']",
        ] {
            let parsed = mutation(text);
            assert_eq!(parsed.to_string(), text);
            assert_eq!(parsed.to_string().parse::<Mutation>(), Ok(parsed));
        }
        // Plain names print plainly, whichever form they came in.
        assert_eq!(
            mutation("response:null:$['clientContext']").to_string(),
            "response:null:$.clientContext"
        );
    }

    #[test]
    fn names_round_trip() {
        for document in Document::ALL {
            assert_eq!(document.to_string().parse::<Document>(), Ok(*document));
            assert!(!document.description().is_empty());
        }
        for change in Change::ALL {
            assert_eq!(change.to_string().parse::<Change>(), Ok(*change));
            assert!(!change.description().is_empty());
        }
    }

    #[test]
    fn bad_text_is_refused_with_a_reason() {
        for text in [
            "",
            "response",
            "response:remove",
            "nothing:remove:$.id",
            "response:shuffle:$.id",
            "response:remove:$",
            "response:remove:id",
            "response:remove:$.@odata.type",
            "response:remove:$['open",
            "response:remove:$[x]",
            "response:remove:$[1",
            "response:remove:$..id",
        ] {
            let error = text.parse::<Mutation>().expect_err(text);
            assert!(!error.0.is_empty(), "{text}");
        }
        let deep = format!("response:remove:${}", ".a".repeat(MAX_STEPS + 1));
        assert!(deep.parse::<Mutation>().is_err());
    }

    #[test]
    fn each_change_alters_exactly_the_member() {
        let doc = json!({"id": "a", "n": 1, "b": true, "list": [1, 2], "o": {"k": null}});
        assert_eq!(
            applied("response:remove:$.id", doc.clone()),
            json!({"n": 1, "b": true, "list": [1, 2], "o": {"k": null}})
        );
        assert_eq!(applied("response:null:$.n", doc.clone())["n"], Value::Null);
        assert_eq!(
            applied("response:wrong-type:$.id", doc.clone())["id"],
            json!(1)
        );
        assert_eq!(
            applied("response:wrong-type:$.n", doc.clone())["n"],
            json!("1")
        );
        assert_eq!(
            applied("response:wrong-type:$.b", doc.clone())["b"],
            json!("true")
        );
        assert_eq!(
            applied("response:wrong-type:$.list", doc.clone())["list"],
            json!({})
        );
        assert_eq!(
            applied("response:wrong-type:$.o", doc.clone())["o"],
            json!([])
        );
        assert_eq!(
            applied("response:wrong-type:$.o.k", doc.clone())["o"]["k"],
            json!(true)
        );
        assert_eq!(applied("response:other:$.n", doc.clone())["n"], json!(2));
        assert_eq!(
            applied("response:other:$.b", doc.clone())["b"],
            json!(false)
        );
        assert_eq!(
            applied("response:other:$.list", doc.clone())["list"],
            json!([])
        );
        assert_eq!(applied("response:other:$.o.k", doc.clone()), doc);
        assert_eq!(
            applied("response:remove:$.list[0]", doc.clone())["list"],
            json!([2])
        );
        assert_eq!(
            applied("response:remove:$.list[*]", doc.clone())["list"],
            json!([])
        );
        assert_eq!(
            applied("response:other:$.list[*]", doc.clone())["list"],
            json!([2, 3])
        );
        assert_eq!(
            applied("response:null:$.list[1]", doc.clone())["list"],
            json!([1, null])
        );
    }

    #[test]
    fn other_values_look_valid_and_differ() {
        let cases = [
            ("running", "completed"),
            ("Running", "Completed"),
            ("COMPLETED", "FAILED"),
            ("deleted", "updated"),
            ("updated", "deleted"),
            ("audio", "video"),
            ("sendReceive", "sendOnly"),
            ("default", "voicemail"),
            (
                "#microsoft.graph.inviteParticipantsOperation",
                "#microsoft.graph.addLargeGalleryViewOperation",
            ),
            ("#microsoft.graph.identity", "#microsoft.graph.identitySet"),
            ("#microsoft.graph.somethingElse", "#microsoft.graph.entity"),
            (
                "eec3812a-fdc3-4fb4-825c-a06c9f35414e",
                "ffd4923b-0ed4-50c5-936d-b17da046525f",
            ),
            (
                "/app/calls/ab6233a5-20b7-4c5e-bea2-ce56c9776429/participants",
                "/app/calls/bc7344b6-31c8-5d6f-cfb3-df67da88753a/participants",
            ),
            ("+12345678901", "+12345678902"),
            ("+19", "+10"),
            ("1", "2"),
            ("string", "string-other"),
            ("", "other"),
        ];
        for (from, to) in cases {
            assert_eq!(other_string(from), to, "{from}");
        }
    }

    #[test]
    fn nothing_panics_whatever_the_document() {
        let documents = [
            json!(null),
            json!([]),
            json!("text"),
            json!({"a": [1, {"b": [[]]}], "c": {"d": "x"}}),
            json!([[{"a": 1}], 2]),
        ];
        let paths = [
            "$.a",
            "$.a[0]",
            "$.a[9]",
            "$.a[*].b[*][*]",
            "$[0]",
            "$[*][*].a",
            "$.c.d.e",
            "$['']",
            "$[18446744073709551615]",
        ];
        for document in &documents {
            for path in paths {
                for change in Change::ALL {
                    let m = mutation(&format!("roster:{change}:{path}"));
                    let mut value = document.clone();
                    m.apply(&mut value);
                    let _ = m.apply_to_text(document.to_string());
                }
            }
        }
        let m = mutation("envelope:remove:$.value");
        assert_eq!(m.apply_to_text("not json".into()), "not json");
        let mut wrapper = json!({"n": i64::MAX});
        mutation("response:other:$.n").apply(&mut wrapper);
        assert_eq!(wrapper["n"], json!(i64::MAX - 1));
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            "[a-c]|@odata.type|it's|a\\\\b|\\[\\*\\]|\\PC{0,6}".prop_map(Step::Key),
            (0usize..3).prop_map(Step::Index),
            Just(Step::Each),
        ]
    }

    fn document() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            // Quarters: floats that print and parse back exactly.
            (-4000i32..4000).prop_map(|n| json!(f64::from(n) / 4.0)),
            "running|deleted|#microsoft.graph.identity|\\+1234|[0-9]{1,25}|\\PC{0,8}"
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]|@odata.type|it's", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Whatever the document and the mutation: its text round-trips,
        /// and applying it neither panics nor touches a document it names
        /// nothing in.
        #[test]
        fn any_mutation_round_trips_and_applies_without_panicking(
            document_kind in proptest::sample::select(Document::ALL),
            change in proptest::sample::select(Change::ALL),
            steps in proptest::collection::vec(step(), 1..6),
            value in document(),
        ) {
            let path = MemberPath::new(steps).expect("1 to 5 steps");
            let m = Mutation::new(document_kind, change, path);
            proptest::prop_assert_eq!(m.to_string().parse::<Mutation>(), Ok(m.clone()));
            let mut altered = value.clone();
            m.apply(&mut altered);
            let text = m.apply_to_text(value.to_string());
            proptest::prop_assert_eq!(serde_json::from_str::<Value>(&text).ok(), Some(altered.clone()));
            if !names_something(&value, m.path().steps()) {
                proptest::prop_assert_eq!(altered, value);
            }
        }
    }

    /// Whether `steps` lead to a member of `value`.
    fn names_something(value: &Value, steps: &[Step]) -> bool {
        let Some((step, rest)) = steps.split_first() else {
            return true;
        };
        match (step, value) {
            (Step::Key(name), Value::Object(members)) => {
                members.get(name).is_some_and(|v| names_something(v, rest))
            }
            (Step::Index(i), Value::Array(items)) => {
                items.get(*i).is_some_and(|v| names_something(v, rest))
            }
            (Step::Each, Value::Array(items)) => items.iter().any(|v| names_something(v, rest)),
            _ => false,
        }
    }

    #[test]
    fn mutating_answers_only_for_its_document() {
        let none = Mutating::new(None);
        let m = mutation("roster:remove:$.resource");
        let some = Mutating::new(Some(&m));
        for document in Document::ALL {
            assert!(none.on(*document).is_none());
            assert_eq!(some.on(*document).is_some(), *document == Document::Roster);
        }
    }
}
