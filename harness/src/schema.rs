//! The schema registry: every file of `schemas/` registered by its `$id`, each
//! compiled once per process, local references only (nothing is fetched).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::SetupError;
use crate::json_path::JsonPath;
use crate::verdict::SchemaViolation;

/// The name the case schema has among the schemas.
pub const CASE_SCHEMA: &str = "case.schema.json";

/// At most this many violations are reported per document.
const MAX_VIOLATIONS: usize = 20;

pub struct Schemas {
    dir: PathBuf,
    validators: BTreeMap<String, jsonschema::Validator>,
    /// Each schema as written.
    documents: BTreeMap<String, Value>,
    /// The folder's own `case.schema.json`, when the run's case schema
    /// (composed by the harness) took its place.
    case_schema_file: Option<Value>,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemas")
            .field("dir", &self.dir)
            .field("files", &self.validators.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn schema_error(path: &Path, message: impl Into<String>) -> SetupError {
    SetupError::Schema {
        path: path.to_owned(),
        message: message.into(),
    }
}

impl Schemas {
    /// Loads and compiles every `*.json` file directly under `dir`.
    pub fn load(dir: &Path) -> Result<Self, SetupError> {
        let mut documents = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| schema_error(dir, e.to_string()))?;
        for entry in entries {
            let path = entry.map_err(|e| schema_error(dir, e.to_string()))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") || !path.is_file() {
                continue;
            }
            let text =
                std::fs::read_to_string(&path).map_err(|e| schema_error(&path, e.to_string()))?;
            let value: Value =
                serde_json::from_str(&text).map_err(|e| schema_error(&path, e.to_string()))?;
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            documents.push((name, path, value));
        }
        documents.sort_by(|a, b| a.0.cmp(&b.0));
        let mut builder = jsonschema::Registry::new();
        for (name, path, value) in &documents {
            let id = value
                .get("$id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("urn:conformance:schemas:{name}"), str::to_owned);
            builder = builder
                .add(id, value.clone())
                .map_err(|e| schema_error(path, e.to_string()))?;
        }
        let registry = builder
            .prepare()
            .map_err(|e| schema_error(dir, e.to_string()))?;
        let mut validators = BTreeMap::new();
        for (name, path, value) in &documents {
            let validator = jsonschema::options()
                .with_registry(&registry)
                .build(value)
                .map_err(|e| schema_error(path, e.to_string()))?;
            validators.insert(name.clone(), validator);
        }
        Ok(Self {
            dir: dir.to_owned(),
            validators,
            documents: documents
                .into_iter()
                .map(|(name, _, value)| (name, value))
                .collect(),
            case_schema_file: None,
        })
    }

    /// The same schemas, with `case_schema` (the harness's, with a
    /// contract's kinds: see `case_schema.rs`) as the case schema; a file
    /// of that name in the folder is kept apart, for the lint to compare.
    pub fn with_case_schema(mut self, case_schema: Value) -> Result<Self, SetupError> {
        let name = CASE_SCHEMA;
        let validator = jsonschema::options()
            .build(&case_schema)
            .map_err(|e| schema_error(Path::new(name), e.to_string()))?;
        self.validators.insert(name.to_owned(), validator);
        self.case_schema_file = self.documents.insert(name.to_owned(), case_schema);
        Ok(self)
    }

    /// The folder's own `case.schema.json`, if it has one (see
    /// [`Schemas::with_case_schema`]).
    pub fn case_schema_file(&self) -> Option<&Value> {
        self.case_schema_file.as_ref()
    }

    /// Schema `name` as written.
    pub fn document(&self, name: &str) -> Option<&Value> {
        self.documents.get(name)
    }

    /// The members schema `name` names at its top level (`properties`).
    pub fn members(&self, name: &str) -> Vec<&str> {
        self.document(name)
            .and_then(|d| d.get("properties"))
            .and_then(Value::as_object)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Members of `value` that schema `name` and the schemas it uses do not
    /// declare (annotations aside): accepted, and reported apart.
    pub fn undeclared(&self, name: &str, value: &Value) -> Vec<crate::undeclared::Undeclared> {
        crate::undeclared::find(&self.documents, name, value)
    }

    /// The folder the schemas were read from.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub fn has(&self, name: &str) -> bool {
        self.validators.contains_key(name)
    }

    /// The display path of a schema file, as a user would open it.
    pub fn display(&self, name: &str) -> String {
        format!("schemas/{name}")
    }

    /// Violations of `value` against the named schema (empty when valid).
    pub fn validate(&self, name: &str, value: &Value) -> Result<Vec<SchemaViolation>, String> {
        let validator = self
            .validators
            .get(name)
            .ok_or_else(|| format!("no schema named {name:?} in {}", self.dir.display()))?;
        Ok(validator
            .iter_errors(value)
            .take(MAX_VIOLATIONS)
            .map(|e| {
                let instance_path = JsonPath::from_pointer(&e.instance_path().to_string());
                let shown = crate::render::describe(instance_path.select(value).first().copied());
                SchemaViolation {
                    message: format!("{} (found {shown})", e.masked()),
                    instance_path,
                    schema_path: e.absolute_keyword_location().map_or_else(
                        || e.schema_path().to_string(),
                        |uri| {
                            // From `schemas/` on, as a user finds the file.
                            let uri = uri.to_string();
                            uri.find("schemas/")
                                .map_or_else(|| uri.clone(), |at| uri[at..].to_owned())
                        },
                    ),
                }
            })
            .collect())
    }
}
