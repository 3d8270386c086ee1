//! Offline trials: the suite's own data is sound before any target is asked.

use std::path::Path;

use serde_json::Value;

use crate::case::load_case;
use crate::contract::Contract;
use crate::discover::discover;
use crate::schema::Schemas;

/// Every case file parses, satisfies `case.schema.json`, and names only
/// schemas, invariants and fixtures that exist.
pub fn case_files(cases: &Path, schemas_dir: &Path, contract: &dyn Contract) -> Result<(), String> {
    let schemas = Schemas::load(schemas_dir).map_err(|e| e.to_string())?;
    let files = discover(cases)?;
    let mut problems = Vec::new();
    problems.extend(fixture_kinds(&schemas, contract));
    for file in &files {
        if let Some(p) = &file.problem {
            problems.push(p.clone());
            continue;
        }
        let loaded = match load_case(&file.path) {
            Ok(l) => l,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let shown = file.path.display();
        let raw: Value = std::fs::read_to_string(&file.path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        match schemas.validate("case.schema.json", &raw) {
            Ok(v) => problems.extend(
                v.iter()
                    .map(|v| format!("{shown}: {}: {}", v.instance_path, v.message)),
            ),
            Err(e) => problems.push(format!(
                "{e} (the case files cannot be checked without {}/case.schema.json)",
                schemas_dir.display()
            )),
        }
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
                    schemas_dir.display()
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
                if let Some(typo) = crate::runner::misspelled(&schemas, schema, pattern) {
                    problems.push(format!("{shown}: {at}: {typo}"));
                }
            }
        }
        if let Err(e) = crate::runner::invariants(contract, &case.expect.invariants) {
            problems.push(format!("{shown}: $.expect.invariants: {e}"));
        }
        if case
            .expect
            .notifications
            .iter()
            .any(|n| n.fixture.is_none())
            && !case.fixtures.contains_key(contract.default_fixture())
        {
            problems.push(format!(
                "{shown}: $.expect.notifications: an expectation names no fixture, and there is no fixture {:?} (the default) in $.fixtures",
                contract.default_fixture()
            ));
        }
        for (var, kind) in &case.fixtures {
            if !contract.fixture_kinds().contains(&kind.as_str()) {
                problems.push(format!(
                    "{shown}: fixture {var} has unknown kind {kind:?} (known: {})",
                    contract.fixture_kinds().join(", ")
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

/// The case schema lists the fixture kinds the contract has, no more, no
/// fewer: editors then complete and check what the contract accepts.
fn fixture_kinds(schemas: &Schemas, contract: &dyn Contract) -> Option<String> {
    let listed: Vec<&str> = schemas
        .document("case.schema.json")?
        .pointer("/properties/fixtures/additionalProperties/enum")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let known = contract.fixture_kinds();
    let missing: Vec<&&str> = known.iter().filter(|k| !listed.contains(k)).collect();
    let extra: Vec<&&str> = listed.iter().filter(|k| !known.contains(k)).collect();
    (!missing.is_empty() || !extra.is_empty()).then(|| {
        format!(
            "case.schema.json: $.properties.fixtures.additionalProperties.enum lists the fixture kinds {listed:?}, the contract has {known:?} (missing: {missing:?}, unknown: {extra:?})"
        )
    })
}

/// Every schema compiles with its references resolved, and the examples kept
/// beside them pass (`examples/valid/<stem>/`) or fail (`examples/invalid/<stem>/`).
pub fn schemas(dir: &Path) -> Result<(), String> {
    let schemas = Schemas::load(dir).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    let mut seen = 0;
    for (kind, want_valid) in [("valid", true), ("invalid", false)] {
        let root = dir.join("examples").join(kind);
        let Ok(stems) = std::fs::read_dir(&root) else {
            continue;
        };
        let mut stems: Vec<_> = stems.filter_map(Result::ok).map(|e| e.path()).collect();
        stems.sort();
        for stem_dir in stems {
            let stem = stem_dir
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let schema = format!("{stem}.json");
            let Ok(files) = std::fs::read_dir(&stem_dir) else {
                continue;
            };
            let mut files: Vec<_> = files.filter_map(Result::ok).map(|e| e.path()).collect();
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
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {seen} schema example(s) disagree with their schema:\n{}",
            problems.len(),
            problems.join("\n")
        ))
    }
}
