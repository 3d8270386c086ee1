//! The model of a case file: one JSON document per case, read inside its trial.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::CaseError;
use crate::json_path::JsonPath;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Where editors find the case schema; the lint validates the file itself.
    #[serde(rename = "$schema", default)]
    #[expect(dead_code, reason = "accepted so deny_unknown_fields lets it through")]
    pub schema_ref: Option<String>,
    /// One sentence, printed at the top of a failure.
    pub description: String,
    /// The sentence or example of the spec page the case comes from.
    pub spec: String,
    /// `SHOULD` when the rule comes from elsewhere than the spec page (the
    /// behaviour of one implementation, a newer revision): every check of the case then warns
    /// instead of failing, and fails under `--strict`. Default `MUST`.
    #[serde(default)]
    pub level: Option<crate::verdict::Level>,
    /// Profile name -> the case's level under it, in place of `level`; it
    /// is also the level of `status.preferred` (`{"graph": "MUST"}`: the
    /// status the case recommends is the one the service answers).
    #[serde(default)]
    pub profiles: BTreeMap<String, crate::verdict::Level>,
    /// Present when the case is ignored: the reason.
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "read cheaply at discovery, before the case is parsed whole"
    )]
    pub ignore: Option<String>,
    /// Placeholder name → fixture kind (`{"room": "open"}` makes `{{room}}`).
    #[serde(default)]
    pub fixtures: BTreeMap<String, String>,
    pub request: Request,
    pub expect: Expect,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default = "default_method")]
    pub method: String,
    pub path: String,
    /// Send `Authorization: Bearer <token>` (the default).
    #[serde(default = "default_true")]
    pub auth: bool,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (placeholders are filled in string values).
    #[serde(default)]
    pub body: Option<Value>,
    /// Bytes sent as they are, for malformed input (UTF-8 text).
    #[serde(default)]
    pub raw: Option<String>,
    /// Bytes sent as they are, written in hex (for invalid UTF-8).
    #[serde(default)]
    pub raw_hex: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `200`, `"4xx"`, a list of either, or `{"must": "4xx", "should": 400}`:
    /// what is required, and the exact answer that is only recommended.
    pub status: Value,
    /// Header name → expectation.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderExpect>,
    /// Schema file (under `schemas/`) the response body must satisfy.
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub body: Option<BodyExpect>,
    /// Paths whose values are ignored when comparing bodies.
    #[serde(default)]
    pub redact: Vec<String>,
    /// Name → path in the response body, usable later as `{{name}}`.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Ids of the contract's invariants that must hold for this exchange,
    /// or `@preset` names of lists of them.
    #[serde(default)]
    pub invariants: Vec<String>,
    #[serde(default)]
    pub notifications: Vec<NotificationExpect>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderExpect {
    #[serde(default)]
    pub present: Option<bool>,
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub starts_with: Option<String>,
    #[serde(default)]
    pub ends_with: Option<String>,
    #[serde(default)]
    pub contains: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    Subset,
    Exact,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyExpect {
    #[serde(rename = "match")]
    pub mode: MatchMode,
    pub value: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationExpect {
    /// What this notification is, for the failure text.
    pub about: String,
    /// The fixture whose callback receives it (the contract's default
    /// fixture when absent).
    #[serde(default)]
    pub fixture: Option<String>,
    /// Schema (under `schemas/`) each matching notification must satisfy.
    #[serde(default)]
    pub schema: Option<String>,
    /// A subset that a single `commsNotification` must contain.
    #[serde(rename = "match")]
    pub pattern: Value,
    /// Exactly this many matching notifications (default: at least one).
    #[serde(default)]
    pub count: Option<usize>,
    /// Deadline, overriding the run's notification deadline.
    #[serde(default)]
    pub within_ms: Option<u64>,
    /// The response itself may stand in for this notification: when the
    /// response body's value at `path` is one of `in` (ignoring ASCII case),
    /// no such notification is due (an operation already ended in the response).
    #[serde(default)]
    pub unless_response: Option<ResponseCondition>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseCondition {
    /// A path into the response body (`$.status`).
    pub path: String,
    /// The values that make the notification unnecessary.
    #[serde(rename = "in")]
    pub values: Vec<String>,
}

impl ResponseCondition {
    /// The value that met the condition, if one did.
    pub fn met_by<'a>(&self, body: Option<&'a Value>) -> Option<&'a str> {
        let path = JsonPath::parse(&self.path).ok()?;
        let found = path.select(body?).first().copied()?.as_str()?;
        self.values
            .iter()
            .any(|v| v.eq_ignore_ascii_case(found))
            .then_some(found)
    }
}

fn default_method() -> String {
    "POST".to_owned()
}
fn default_true() -> bool {
    true
}

/// The status expectation, checked once when the case is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusExpect {
    Code(u16),
    /// `4xx` is `Class(4)`.
    Class(u16),
}

impl StatusExpect {
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            Self::Code(c) => *c == status,
            Self::Class(c) => status / 100 == *c,
        }
    }

    /// Whether every status `other` accepts, this accepts too.
    pub fn covers(&self, other: &StatusExpect) -> bool {
        match (self, other) {
            (Self::Class(c), Self::Class(o)) => c == o,
            (_, Self::Code(o)) => self.accepts(*o),
            (Self::Code(_), Self::Class(_)) => false,
        }
    }
}

impl std::fmt::Display for StatusExpect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Code(c) => write!(f, "{c}"),
            Self::Class(c) => write!(f, "{c}xx"),
        }
    }
}

/// A case with its checked parts, ready to run.
#[derive(Debug, Clone)]
pub struct LoadedCase {
    pub case: Case,
    /// The statuses that pass (MUST); empty when any status does.
    pub statuses: Vec<StatusExpect>,
    /// The statuses recommended among those (SHOULD); empty when the case pins none.
    pub preferred: Vec<StatusExpect>,
    pub redact: Vec<JsonPath>,
    pub capture: Vec<(String, JsonPath)>,
    pub raw_bytes: Option<Vec<u8>>,
}

pub fn load_case(path: &Path) -> Result<LoadedCase, CaseError> {
    let text = crate::case_file::read(path)?;
    parse_case(path, &text)
}

pub fn parse_case(path: &Path, text: &str) -> Result<LoadedCase, CaseError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let case = serde_path_to_error::deserialize(de).map_err(|e| parse_error(path, e))?;
    check_case(path, case)
}

/// A case already held as JSON (a generated one): read without printing and
/// parsing it again.
pub fn case_from_value(path: &Path, value: &Value) -> Result<LoadedCase, CaseError> {
    // Tracking the path of every field costs; it is only needed to say where
    // a broken case is broken, so it is paid only then.
    if let Ok(case) = Case::deserialize(value) {
        return check_case(path, case);
    }
    let case = serde_path_to_error::deserialize(value).map_err(|e| parse_error(path, e))?;
    check_case(path, case)
}

/// Where in the case a deserialization error is, as a JSON path.
fn parse_error<E: std::fmt::Display>(path: &Path, e: serde_path_to_error::Error<E>) -> CaseError {
    let json_path = pointer_like_to_json_path(&e.path().to_string());
    CaseError::Parse {
        path: path.to_owned(),
        json_path,
        message: e.into_inner().to_string(),
    }
}

fn check_case(path: &Path, case: Case) -> Result<LoadedCase, CaseError> {
    let invalid = |json_path: &str, message: String| CaseError::Invalid {
        path: path.to_owned(),
        json_path: json_path.to_owned(),
        message,
    };
    let (statuses, preferred) =
        parse_status_expectation(&case.expect.status).map_err(|m| invalid("$.expect.status", m))?;
    let redact = case
        .expect
        .redact
        .iter()
        .enumerate()
        .map(|(i, p)| JsonPath::parse(p).map_err(|m| invalid(&format!("$.expect.redact[{i}]"), m)))
        .collect::<Result<Vec<_>, _>>()?;
    let capture = case
        .expect
        .capture
        .iter()
        .map(|(name, p)| {
            JsonPath::parse(p)
                .map(|jp| (name.clone(), jp))
                .map_err(|m| invalid(&format!("$.expect.capture.{name}"), m))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let body_kinds = [
        case.request.body.is_some(),
        case.request.raw.is_some(),
        case.request.raw_hex.is_some(),
    ];
    if body_kinds.iter().filter(|b| **b).count() > 1 {
        return Err(invalid(
            "$.request",
            "give at most one of body, raw and raw_hex".to_owned(),
        ));
    }
    let raw_bytes = match (&case.request.raw, &case.request.raw_hex) {
        (Some(raw), _) => Some(raw.as_bytes().to_vec()),
        (None, Some(hex)) => Some(decode_hex(hex).map_err(|m| invalid("$.request.raw_hex", m))?),
        (None, None) => None,
    };
    if !case.request.path.starts_with('/') {
        return Err(invalid(
            "$.request.path",
            "the path must start with '/' (it is appended to the target URL)".to_owned(),
        ));
    }
    for (i, n) in case.expect.notifications.iter().enumerate() {
        if let Some(fixture) = n
            .fixture
            .as_ref()
            .filter(|f| !case.fixtures.contains_key(*f))
        {
            return Err(invalid(
                &format!("$.expect.notifications[{i}].fixture"),
                format!("no fixture named {fixture:?} in $.fixtures"),
            ));
        }
        if let Some(unless) = &n.unless_response {
            JsonPath::parse(&unless.path).map_err(|m| {
                invalid(
                    &format!("$.expect.notifications[{i}].unless_response.path"),
                    m,
                )
            })?;
        }
    }
    Ok(LoadedCase {
        case,
        statuses,
        preferred,
        redact,
        capture,
        raw_bytes,
    })
}

/// The statuses that pass, and those of them that are only recommended.
fn parse_status_expectation(
    value: &Value,
) -> Result<(Vec<StatusExpect>, Vec<StatusExpect>), String> {
    let Value::Object(parts) = value else {
        return Ok((parse_statuses(value)?, Vec::new()));
    };
    if let Some(other) = parts.keys().find(|k| *k != "must" && *k != "should") {
        return Err(format!(
            "unknown member {other:?} (a status object has \"must\" and \"should\")"
        ));
    }
    // No "must": any status passes (the page pins none), and only the
    // recommendation is checked.
    let must = match parts.get("must") {
        Some(v) => parse_statuses(v)?,
        None => Vec::new(),
    };
    let should = match parts.get("should") {
        Some(v) => parse_statuses(v)?,
        None => Vec::new(),
    };
    if should.is_empty() && must.is_empty() {
        return Err("a status object needs \"must\", \"should\" or both".to_owned());
    }
    if let Some(s) = should
        .iter()
        .find(|s| !must.is_empty() && !must.iter().any(|m| m.covers(s)))
    {
        return Err(format!(
            "\"should\" {s} is not among the statuses \"must\" allows"
        ));
    }
    Ok((must, should))
}

fn parse_statuses(value: &Value) -> Result<Vec<StatusExpect>, String> {
    let one = |v: &Value| -> Result<StatusExpect, String> {
        match v {
            Value::Number(n) => n
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (100..600).contains(c))
                .map(StatusExpect::Code)
                .ok_or_else(|| format!("{n} is not an HTTP status code")),
            Value::String(s) => {
                let b = s.as_bytes();
                if b.len() == 3 && (b'1'..=b'5').contains(&b[0]) && &s[1..] == "xx" {
                    Ok(StatusExpect::Class(u16::from(b[0] - b'0')))
                } else {
                    Err(format!("{s:?} is not a status class like \"4xx\""))
                }
            }
            other => Err(format!("expected a status code or class, found {other}")),
        }
    };
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().map(one).collect(),
        Value::Array(_) => Err("the list of statuses is empty".to_owned()),
        v => Ok(vec![one(v)?]),
    }
}

fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err("an odd number of hex digits".to_owned());
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
            u8::from_str_radix(s, 16).map_err(|_| format!("{s:?} is not a hex byte"))
        })
        .collect()
}

/// serde_path_to_error prints `expect.notifications[0].match`; we print `$.…`.
fn pointer_like_to_json_path(path: &str) -> String {
    if path == "." || path.is_empty() {
        "$".to_owned()
    } else {
        format!("$.{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_names_the_file_and_the_path() {
        let text = r#"{"description": "d", "spec": "s",
            "request": {"path": "/x"},
            "expect": {"status": 200, "notifications": [{"about": "a", "match": {}, "cuont": 1}]}}"#;
        let err = parse_case(Path::new("cases/x.json"), text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cases/x.json"), "{err}");
        assert!(err.contains("$.expect.notifications[0]"), "{err}");
        assert!(err.contains("cuont"), "{err}");
    }

    #[test]
    fn a_broken_case_held_as_json_names_the_path_too() {
        let text = r#"{"description": "d", "spec": "s",
            "request": {"path": "/x"},
            "expect": {"status": 200, "notifications": [{"about": "a", "match": {}, "cuont": 1}]}}"#;
        let value: Value = serde_json::from_str(text).expect("JSON");
        let err = case_from_value(Path::new("<generated>"), &value)
            .unwrap_err()
            .to_string();
        assert!(err.contains("$.expect.notifications[0]"), "{err}");
        assert!(err.contains("cuont"), "{err}");
        let ok: Value = serde_json::from_str(
            r#"{"description": "d", "spec": "s", "request": {"path": "/x"}, "expect": {"status": 200}}"#,
        )
        .expect("JSON");
        assert!(case_from_value(Path::new("<generated>"), &ok).is_ok());
    }

    #[test]
    fn statuses_accept_codes_classes_and_lists() {
        assert_eq!(
            parse_statuses(&serde_json::json!(200)),
            Ok(vec![StatusExpect::Code(200)])
        );
        assert_eq!(
            parse_statuses(&serde_json::json!("4xx")),
            Ok(vec![StatusExpect::Class(4)])
        );
        assert!(parse_statuses(&serde_json::json!("4x")).is_err());
        assert!(parse_statuses(&serde_json::json!(99)).is_err());
        assert!(parse_statuses(&serde_json::json!([])).is_err());
        assert!(StatusExpect::Class(4).accepts(404));
        assert!(!StatusExpect::Class(4).accepts(500));
    }

    #[test]
    fn a_status_object_splits_what_is_required_from_what_is_recommended() {
        let (must, should) =
            parse_status_expectation(&serde_json::json!({"must": "4xx", "should": 400}))
                .expect("valid");
        assert_eq!(must, vec![StatusExpect::Class(4)]);
        assert_eq!(should, vec![StatusExpect::Code(400)]);
        let (must, should) = parse_status_expectation(&serde_json::json!(200)).expect("valid");
        assert_eq!((must, should), (vec![StatusExpect::Code(200)], vec![]));
        let (must, should) =
            parse_status_expectation(&serde_json::json!({"should": 404})).expect("valid");
        assert_eq!((must, should), (vec![], vec![StatusExpect::Code(404)]));
        for bad in [
            serde_json::json!({}),
            serde_json::json!({"must": "4xx", "should": 500}),
            serde_json::json!({"must": 400, "should": "4xx"}),
            serde_json::json!({"must": "4xx", "shuold": 400}),
        ] {
            assert!(parse_status_expectation(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_response_condition_ignores_case_and_names_what_met_it() {
        let condition = ResponseCondition {
            path: "$.status".into(),
            values: vec!["completed".into(), "failed".into()],
        };
        let body = serde_json::json!({"status": "Completed"});
        assert_eq!(condition.met_by(Some(&body)), Some("Completed"));
        let body = serde_json::json!({"status": "running"});
        assert_eq!(condition.met_by(Some(&body)), None);
        assert_eq!(condition.met_by(None), None);
    }

    #[test]
    fn hex_bodies_decode() {
        assert_eq!(decode_hex("ff 7b"), Ok(vec![0xff, 0x7b]));
        assert!(decode_hex("f").is_err());
        assert!(decode_hex("zz").is_err());
    }
}
