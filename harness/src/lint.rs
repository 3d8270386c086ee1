//! Offline trials: the suite's own data is sound before any target is asked.

use std::path::Path;

use serde_json::Value;

use crate::case::parse_case;
use crate::contract::Contract;
use crate::discover::discover;
use crate::schema::Schemas;

/// Every case file parses, satisfies `case.schema.json`, and names only
/// schemas, invariants and fixtures that exist.
pub fn case_files(
    cases: &Path,
    forbid_scan: bool,
    schemas: &Schemas,
    contract: &dyn Contract,
) -> Result<(), String> {
    let files = discover(cases, forbid_scan)?;
    let mut problems = Vec::new();
    let description = contract.description();
    for file in &files {
        if let Some(p) = &file.problem {
            problems.push(p.clone());
            continue;
        }
        // Read once: the case as the harness reads it, and as JSON for the
        // case schema and the contract's lint.
        let read = crate::case_file::read(&file.path)
            .and_then(|text| Ok((parse_case(&file.path, &text)?, text)));
        let (loaded, raw) = match read {
            Ok((loaded, text)) => match serde_json::from_str::<Value>(&text) {
                Ok(raw) => (loaded, raw),
                Err(e) => {
                    problems.push(format!("{}: {e}", file.path.display()));
                    continue;
                }
            },
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let shown = file.path.display();
        match schemas.validate("case.schema.json", &raw) {
            Ok(v) => problems.extend(
                v.iter()
                    .map(|v| format!("{shown}: {}: {}", v.instance_path, v.message)),
            ),
            Err(e) => problems.push(e),
        }
        problems.extend(
            crate::template::repeat_problems(&raw, &crate::json_path::JsonPath::root())
                .into_iter()
                .map(|p| format!("{shown}: {p}")),
        );
        problems.extend(
            contract
                .lint_case(&raw)
                .into_iter()
                .map(|(path, problem)| format!("{shown}: {path}: {problem}")),
        );
        let case = &loaded.case;
        let named_schemas = case.expect.schema.iter().chain(
            case.expect
                .notifications
                .iter()
                .filter_map(|n| n.schema.as_ref()),
        );
        for s in named_schemas {
            if !schemas.has(s) {
                problems.push(format!(
                    "{shown}: names schema {s:?}, which is not in {}",
                    schemas.dir().display()
                ));
            }
        }
        let expectations = case
            .expect
            .notifications
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                Some((
                    format!("$.expect.notifications[{i}].match"),
                    n.schema.as_ref()?,
                    &n.pattern,
                ))
            })
            .chain(
                case.expect
                    .schema
                    .as_ref()
                    .zip(case.expect.body.as_ref())
                    .map(|(schema, body)| ("$.expect.body.value".to_owned(), schema, &body.value)),
            );
        for (at, schema, pattern) in expectations {
            if schemas.has(schema) {
                if let Some(typo) = crate::runner::misspelled(schemas, schema, pattern) {
                    problems.push(format!("{shown}: {at}: {typo}"));
                }
            }
        }
        if let Err(e) = crate::runner::invariants(description, &case.expect.invariants) {
            problems.push(format!("{shown}: $.expect.invariants: {e}"));
        }
        if case
            .expect
            .notifications
            .iter()
            .any(|n| n.fixture.is_none())
            && !case.fixtures.contains_key(description.default_fixture)
        {
            problems.push(format!(
                "{shown}: $.expect.notifications: an expectation names no fixture, and there is no fixture {:?} (the default) in $.fixtures",
                description.default_fixture
            ));
        }
        let profiles = &description.profiles;
        for name in case.profiles.keys() {
            if !profiles.iter().any(|p| p.name == name) {
                problems.push(format!(
                    "{shown}: $.profiles: no profile {name:?} (the suite's: {})",
                    profiles
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        for (var, kind) in &case.fixtures {
            if description.kind(kind).is_none() {
                problems.push(format!(
                    "{shown}: fixture {var} has unknown kind {kind:?} (known: {})",
                    description.kind_names().join(", ")
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} problem(s) in {} case file(s):\n{}",
            problems.len(),
            files.len(),
            problems.join("\n")
        ))
    }
}

/// Every schema compiles with its references resolved, and the examples kept
/// beside them pass (`examples/valid/<stem>/`) or fail (`examples/invalid/<stem>/`).
pub fn schemas(schemas: &Schemas) -> Result<(), String> {
    let dir = schemas.dir();
    let mut problems = Vec::new();
    let generated = case_schema_file(schemas);
    let mut seen = 0;
    for (kind, want_valid) in [("valid", true), ("invalid", false)] {
        let root = dir.join("examples").join(kind);
        // No folder of examples: nothing to check (a contract may keep none).
        if !root.exists() {
            continue;
        }
        let mut stems = match folder(&root) {
            Ok(stems) => stems,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        stems.sort();
        for stem_dir in stems {
            let stem = stem_dir
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let schema = format!("{stem}.json");
            // An unreadable folder would leave its examples unchecked, unseen.
            let mut files = match folder(&stem_dir) {
                Ok(files) => files,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            files.sort();
            for file in files {
                seen += 1;
                let value: Value = match std::fs::read_to_string(&file)
                    .map_err(|e| e.to_string())
                    .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
                {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(format!("{}: {e}", file.display()));
                        continue;
                    }
                };
                match schemas.validate(&schema, &value) {
                    Ok(v) if v.is_empty() == want_valid => {}
                    Ok(v) if want_valid => problems.push(format!(
                        "{} should satisfy schemas/{schema} but: {}",
                        file.display(),
                        v.iter()
                            .map(|v| format!("{}: {}", v.instance_path, v.message))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )),
                    Ok(_) => problems.push(format!(
                        "{} should violate schemas/{schema} but satisfies it",
                        file.display()
                    )),
                    Err(e) => problems.push(format!("{}: {e}", file.display())),
                }
            }
        }
    }
    let mut said: Vec<String> = generated.into_iter().collect();
    if !problems.is_empty() {
        said.push(format!(
            "{} of {seen} schema example(s) disagree with their schema:\n{}",
            problems.len(),
            problems.join("\n")
        ));
    }
    if said.is_empty() {
        Ok(())
    } else {
        Err(said.join("\n"))
    }
}

/// A `case.schema.json` in the schemas folder is what editors check case
/// files with: it must be the case schema the lint checks them with (the
/// harness's, with the contract's fixture kinds and profiles), generated.
fn case_schema_file(schemas: &Schemas) -> Option<String> {
    let name = crate::schema::CASE_SCHEMA;
    let file = schemas.case_schema_file()?;
    let used = schemas.document(name)?;
    (file != used).then(|| {
        let differences = crate::matching::compare(used, file, crate::case::MatchMode::Exact, &[]);
        let first: Vec<String> = differences
            .iter()
            .take(5)
            .map(|d| d.path.to_string())
            .collect();
        format!(
            "{}/{name} is not the case schema the suite checks case files with (the harness's, with this suite's fixture kinds and profiles); it is generated, never edited: regenerate it (CONTRIBUTING.md says how). It differs at {}",
            schemas.dir().display(),
            first.join(", ")
        )
    })
}

/// The paths in a folder, or why they cannot be listed.
fn folder(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let unreadable = |e: std::io::Error| {
        format!(
            "{}: cannot be read as a folder of examples ({e})",
            dir.display()
        )
    };
    std::fs::read_dir(dir)
        .map_err(unreadable)?
        .map(|entry| entry.map(|e| e.path()).map_err(unreadable))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_that_cannot_be_listed_are_a_problem_not_a_pass() {
        let dir = std::env::temp_dir().join(format!("lint-examples-{}", std::process::id()));
        let valid = dir.join("examples").join("valid");
        std::fs::create_dir_all(valid.join("x")).unwrap();
        std::fs::write(dir.join("x.json"), r#"{"type": "object"}"#).unwrap();
        std::fs::write(valid.join("x").join("one.json"), "{}").unwrap();
        let loaded = Schemas::load(&dir).unwrap();
        assert_eq!(schemas(&loaded), Ok(()));

        // A file where a folder of examples belongs.
        std::fs::write(valid.join("y"), "{}").unwrap();
        let said = schemas(&loaded).unwrap_err();
        assert!(
            said.contains("cannot be read as a folder of examples"),
            "{said}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
