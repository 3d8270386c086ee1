//! The tenant profile (`--tenant FILE`): which identities of the user's
//! tenant stand in for each identity kind the cases and generators use,
//! how the contract creates its fixtures there, and the timeouts that fit.
//! Without one, the contract's sample identities (the docs' own ids) are
//! used: fine for a mock, but nobody real against a live service.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::template::Vars;

/// The prefix of the placeholders a case draws identities with:
/// `{{identity.user}}` (the first user), `{{identity.user.2}}` (the third).
pub const PLACEHOLDER_PREFIX: &str = "identity.";

/// The largest tenant profile read, in bytes: a profile lists a few dozen
/// identities, not megabytes.
const MAX_FILE: u64 = 1 << 20;

/// The profile a run draws its identities from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tenant {
    /// What the report and the console call it.
    pub name: String,
    /// The file it was read from (`None`: the contract's samples).
    pub file: Option<PathBuf>,
    /// Identity kind -> the tenant's identities of that kind, in order.
    pub identities: BTreeMap<String, Vec<String>>,
    /// The contract's own details of creating fixtures (a bot's application
    /// id, a meeting to join), as the file gives them; `Null` when absent.
    pub fixtures: Value,
    /// Deadlines that fit the tenant, used unless the options give their own.
    pub timeouts: Timeouts,
}

/// Deadlines a tenant profile may set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// As `--response-timeout-ms`.
    #[serde(default)]
    pub response_ms: Option<u64>,
    /// As `--notification-timeout-ms`.
    #[serde(default)]
    pub notification_ms: Option<u64>,
}

/// A tenant profile file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "$schema", default)]
    #[expect(dead_code, reason = "accepted so deny_unknown_fields lets it through")]
    schema_ref: Option<String>,
    name: String,
    /// What the profile is for, for whoever reads the file.
    #[serde(default)]
    #[expect(dead_code, reason = "read by people, not by the suite")]
    about: Option<String>,
    identities: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    fixtures: Value,
    #[serde(default)]
    timeouts: Timeouts,
}

/// Why a tenant profile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("failed to read the tenant profile {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read the tenant profile {path}: it is over {MAX_FILE} bytes")]
    TooLarge { path: PathBuf },
    #[error("failed to parse the tenant profile {path}: {json_path}: {message}")]
    Parse {
        path: PathBuf,
        json_path: String,
        message: String,
    },
    #[error("failed to understand the tenant profile {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Tenant {
    /// The contract's sample identities, under the name `samples`.
    pub fn samples(identities: &[(&str, &[&str])]) -> Self {
        Self {
            name: "samples".to_owned(),
            file: None,
            identities: identities
                .iter()
                .map(|(kind, ids)| {
                    (
                        (*kind).to_owned(),
                        ids.iter().map(|s| (*s).to_owned()).collect(),
                    )
                })
                .collect(),
            fixtures: Value::Null,
            timeouts: Timeouts::default(),
        }
    }

    /// Reads the profile at `path`; `kinds` are the identity kinds the
    /// contract knows (a kind it does not know is a typo).
    pub fn load(path: &Path, kinds: &[&str]) -> Result<Self, TenantError> {
        let read = |source| TenantError::Read {
            path: path.to_owned(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > MAX_FILE {
            return Err(TenantError::TooLarge {
                path: path.to_owned(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        let file: File = serde_path_to_error::deserialize(de).map_err(|e| TenantError::Parse {
            path: path.to_owned(),
            json_path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
        let invalid = |message: String| TenantError::Invalid {
            path: path.to_owned(),
            message,
        };
        let mut identities = BTreeMap::new();
        for (kind, ids) in file.identities {
            if !kinds.is_empty() && !kinds.contains(&kind.as_str()) {
                return Err(invalid(format!(
                    "identities.{kind}: this suite draws no identity of that kind (it knows {})",
                    kinds.join(", ")
                )));
            }
            if ids.iter().any(|id| id.trim().is_empty()) {
                return Err(invalid(format!("identities.{kind}: an identity is empty")));
            }
            identities.insert(kind, ids);
        }
        if file.name.trim().is_empty() {
            return Err(invalid("name is empty".to_owned()));
        }
        Ok(Self {
            name: file.name,
            file: Some(path.to_owned()),
            identities,
            fixtures: file.fixtures,
            timeouts: file.timeouts,
        })
    }

    /// The `index`th identity of `kind`, if the profile has that many.
    pub fn identity(&self, kind: &str, index: usize) -> Option<&str> {
        self.identities
            .get(kind)
            .and_then(|ids| ids.get(index))
            .map(String::as_str)
    }

    /// The identities of `kind`, drawn in turn: the `n`th draw of a
    /// generated input (`None` when the profile has none of that kind).
    pub fn draw(&self, kind: &str, n: usize) -> Option<&str> {
        let ids = self.identities.get(kind).filter(|ids| !ids.is_empty())?;
        ids.get(n % ids.len()).map(String::as_str)
    }

    /// The placeholders of the identities, as a case fills them:
    /// `identity.user` (the first) and `identity.user.0`, `identity.user.1`…
    pub fn vars(&self) -> Vars {
        let mut vars = Vars::new();
        for (kind, ids) in &self.identities {
            if let Some(first) = ids.first() {
                vars.insert(format!("{PLACEHOLDER_PREFIX}{kind}"), first.clone());
            }
            for (i, id) in ids.iter().enumerate() {
                vars.insert(format!("{PLACEHOLDER_PREFIX}{kind}.{i}"), id.clone());
            }
        }
        vars
    }

    /// How the console and the report name it: `samples (the contract's
    /// sample identities)` or `lab (tenant.json)`.
    pub fn describe(&self) -> String {
        match &self.file {
            Some(file) => format!("{} ({})", self.name, file.display()),
            None => format!("{} (the suite's sample identities: no --tenant)", self.name),
        }
    }
}

/// The identity placeholders in `text` that `vars` cannot fill: what a case
/// needs of the tenant profile that it does not have.
pub fn missing_identities(text: &str, vars: &Vars) -> Vec<String> {
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = &after[..end];
        if name.starts_with(PLACEHOLDER_PREFIX)
            && !vars.contains_key(name)
            && !missing.iter().any(|m| m == name)
        {
            missing.push(name.to_owned());
        }
        rest = &after[end + 2..];
    }
    missing
}

/// `value` with its identity placeholders filled from `vars` and every
/// other placeholder left as it is: a case as it was run, its fixtures
/// still templates.
pub fn fill_identities(value: &Value, vars: &Vars) -> Value {
    match value {
        Value::String(s) if s.contains("{{identity.") => {
            let mut text = s.clone();
            for (name, id) in vars.iter().rev() {
                // Longest names first (`identity.user.1` before
                // `identity.user`): the map is sorted, so reversed order does it.
                text = text.replace(&format!("{{{{{name}}}}}"), id);
            }
            Value::String(text)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| fill_identities(v, vars)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill_identities(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tenant-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_profile_maps_kinds_to_identities_and_its_placeholders_fill_cases() {
        let path = write(
            "lab.json",
            r#"{"name": "lab", "identities": {"user": ["u0", "u1"], "phone": ["+1425"]},
               "fixtures": {"bot": "b"}, "timeouts": {"notification_ms": 60000}}"#,
        );
        let tenant = Tenant::load(&path, &["user", "phone"]).unwrap();
        assert_eq!(tenant.name, "lab");
        assert_eq!(tenant.identity("user", 1), Some("u1"));
        assert_eq!(tenant.draw("user", 3), Some("u1"));
        assert_eq!(tenant.draw("guest", 0), None);
        assert_eq!(tenant.timeouts.notification_ms, Some(60000));
        let vars = tenant.vars();
        assert_eq!(vars["identity.user"], "u0");
        assert_eq!(vars["identity.user.1"], "u1");
        assert_eq!(vars["identity.phone"], "+1425");
        let body =
            serde_json::json!({"a": "{{identity.user.1}}", "b": ["{{identity.user}}", "{{call}}"]});
        assert_eq!(
            fill_identities(&body, &vars),
            serde_json::json!({"a": "u1", "b": ["u0", "{{call}}"]})
        );
        assert_eq!(
            missing_identities("{{identity.user.2}} {{identity.user}} {{call}}", &vars),
            ["identity.user.2"]
        );
    }

    #[test]
    fn a_kind_the_suite_does_not_draw_and_a_misspelled_member_are_refused() {
        let path = write(
            "typo.json",
            r#"{"name": "lab", "identities": {"usr": ["u0"]}}"#,
        );
        let e = Tenant::load(&path, &["user"]).unwrap_err().to_string();
        assert!(
            e.contains("identities.usr") && e.contains("it knows user"),
            "{e}"
        );
        let path = write("member.json", r#"{"name": "lab", "identitys": {}}"#);
        let e = Tenant::load(&path, &["user"]).unwrap_err().to_string();
        assert!(e.contains("unknown field `identitys`"), "{e}");
    }
}
