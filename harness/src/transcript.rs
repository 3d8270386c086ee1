//! The transcript of one trial as it is written to disk: JSON a person can
//! read, one file per trial, named after it (`case::invite::x` is
//! `case/invite/x.json` under the recording's folder), and the trial's
//! notifications beside it (`x.notifications.jsonl`), which
//! `--notifications-file` reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a transcript file says it is; a reader refuses other formats.
pub const FORMAT: &str = "conformance-transcript/1";
/// The index of a recording, at the top of its folder.
pub const INDEX: &str = "recording.json";
/// Every notification of the recording, one delivered body a line.
pub const ALL_NOTIFICATIONS: &str = "notifications.jsonl";
/// The largest transcript read back, in bytes.
const MAX_FILE: u64 = 64 << 20;

/// One trial, as it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transcript {
    pub format: String,
    pub trial: String,
    /// The run it was recorded in.
    pub recorded: Provenance,
    /// One step per case run: a case trial has one, a property one per
    /// generated input it ran (shrinking included), in the order they ended.
    pub steps: Vec<Step>,
}

/// Where and how a recording was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The suite and its version.
    pub suite: String,
    /// The target as the user named it (`embedded` for the suite's own).
    pub target: String,
    /// The tenant profile whose identities the requests carry.
    pub tenant: String,
}

/// One case run: its inputs, every exchange, the notifications, the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The case as it was run: its fixtures and captures still placeholders
    /// (`{{call}}`), its identities those of the tenant profile.
    pub case: Value,
    /// The case's template variables beside their recorded values (ids as
    /// placeholders: `"call": "<call>"`).
    pub vars: BTreeMap<String, String>,
    /// Fixture variable -> kind.
    pub fixtures: BTreeMap<String, String>,
    /// Every request of the step, in the order sent.
    pub exchanges: Vec<Exchange>,
    /// The fixtures whose notifications reached the suite (a lent call's
    /// go to its own callback): only theirs are compared.
    pub listened: Vec<String>,
    /// Every notification received on the step's fixtures, in arrival order.
    pub notifications: Vec<Notification>,
    pub verdict: RecordedVerdict,
}

/// What a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Before the case's request: setting its fixtures up.
    Setup,
    /// The case's own request.
    Case,
    /// After it: what the contract's checks asked to judge it.
    FollowUp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    pub role: Role,
    /// Milliseconds from the step's start to the request (to the
    /// microsecond: what came before it and what after is told apart).
    pub at_ms: f64,
    pub request: Request,
    /// What came back; `None` when nothing did (see `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    /// Why no response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: String,
    /// As sent, ids as placeholders.
    pub path: String,
    /// The case's path with its template variables (the case's own request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Whether the bearer token went with it (its value never does).
    pub auth: bool,
    pub headers: BTreeMap<String, String>,
    /// The body: JSON, or `{"text": …}` / `{"hex": …}` when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    pub elapsed_ms: u64,
}

/// A body: JSON when it parses, else its text, else its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    Json(Value),
    Text(String),
    Hex(String),
}

impl Body {
    pub fn of(bytes: &[u8], json: Option<&Value>) -> Option<Self> {
        if let Some(json) = json {
            return Some(Self::Json(json.clone()));
        }
        if bytes.is_empty() {
            return None;
        }
        if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
            return Some(Self::Json(v));
        }
        Some(match std::str::from_utf8(bytes) {
            Ok(text) => Self::Text(text.to_owned()),
            Err(_) => Self::Hex(bytes.iter().map(|b| format!("{b:02x}")).collect()),
        })
    }

    pub fn json(&self) -> Option<&Value> {
        match self {
            Self::Json(v) => Some(v),
            _ => None,
        }
    }
}

/// One delivery to a fixture's callback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notification {
    /// The fixture variable whose callback received it.
    pub fixture: String,
    /// Milliseconds from the step's start to its arrival (to the microsecond).
    pub at_ms: f64,
    pub body: Body,
}

/// The verdict the suite gave the step as it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedVerdict {
    /// `passed`, `failed`, `error`, `skipped`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Check id -> `pass`, `fail` or `not run`.
    pub checks: Vec<(String, String)>,
}

/// Why a recording cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("failed to write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read {path}: over {MAX_FILE} bytes")]
    TooLarge { path: PathBuf },
    #[error("failed to parse {path}: {json_path}: {message}")]
    Parse {
        path: PathBuf,
        json_path: String,
        message: String,
    },
    #[error("failed to read {path}: it is {found:?}, not a {FORMAT} transcript")]
    Format { path: PathBuf, found: String },
}

/// The file of trial `name` under `dir`: `case::invite::x` ->
/// `dir/case/invite/x.json`. Names are `::`-separated `[a-z0-9_]` segments,
/// so the mapping is reversible and stays inside `dir`.
pub fn path_of(dir: &Path, name: &str) -> PathBuf {
    let mut path = dir.to_owned();
    for segment in name.split("::") {
        // A segment that could climb out of the folder is spelled out.
        let safe: String = segment
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        path.push(safe);
    }
    path.set_extension("json");
    path
}

/// The notifications file beside a transcript.
pub fn notifications_path(transcript: &Path) -> PathBuf {
    transcript.with_extension("notifications.jsonl")
}

/// Writes `text` to `path`, its folders made first.
pub fn write_file(path: &Path, text: &str) -> Result<(), RecordingError> {
    let write = |source| RecordingError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(write)?;
    }
    std::fs::write(path, text).map_err(write)
}

impl Transcript {
    /// Writes the transcript and its notifications file under `dir`.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, RecordingError> {
        let path = path_of(dir, &self.trial);
        let text = serde_json::to_string_pretty(self).map_err(|e| RecordingError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_file(&path, &(text + "\n"))?;
        write_file(&notifications_path(&path), &self.notification_lines())?;
        Ok(path)
    }

    /// Every delivered notification body, one JSON document a line.
    pub fn notification_lines(&self) -> String {
        self.steps
            .iter()
            .flat_map(|s| &s.notifications)
            .map(|n| match &n.body {
                Body::Json(v) => v.to_string(),
                Body::Text(t) => t.replace('\n', " "),
                Body::Hex(h) => h.clone(),
            })
            .map(|line| line + "\n")
            .collect()
    }

    /// The transcript of trial `name` under `dir`; `Ok(None)` when the
    /// recording has none.
    pub fn read(dir: &Path, name: &str) -> Result<Option<Self>, RecordingError> {
        let path = path_of(dir, name);
        let read = |source| RecordingError::Read {
            path: path.clone(),
            source,
        };
        let size = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(read(e)),
        };
        if size > MAX_FILE {
            return Err(RecordingError::TooLarge { path });
        }
        let text = std::fs::read_to_string(&path).map_err(read)?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        let transcript: Self =
            serde_path_to_error::deserialize(de).map_err(|e| RecordingError::Parse {
                path: path.clone(),
                json_path: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        if transcript.format != FORMAT {
            return Err(RecordingError::Format {
                path,
                found: transcript.format,
            });
        }
        Ok(Some(transcript))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trial_name_maps_to_a_file_inside_the_folder() {
        let dir = Path::new("rec");
        assert_eq!(
            path_of(dir, "case::invite::examples::x"),
            Path::new("rec/case/invite/examples/x.json")
        );
        assert_eq!(path_of(dir, "case::..::x"), Path::new("rec/case/__/x.json"));
        assert_eq!(
            notifications_path(Path::new("rec/case/x.json")),
            Path::new("rec/case/x.notifications.jsonl")
        );
    }

    #[test]
    fn a_body_is_json_when_it_parses_and_text_or_hex_when_not() {
        assert_eq!(
            Body::of(b"{\"a\":1}", None),
            Some(Body::Json(serde_json::json!({"a": 1})))
        );
        assert_eq!(Body::of(b"oops", None), Some(Body::Text("oops".into())));
        assert_eq!(
            Body::of(&[0xff, 0x00], None),
            Some(Body::Hex("ff00".into()))
        );
        assert_eq!(Body::of(b"", None), None);
    }
}
