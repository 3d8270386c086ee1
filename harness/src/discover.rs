//! Finding case files and naming their trials: `cases/rooms/post/x.json`
//! runs as `case::rooms::post::x`, and the name maps back to the file, so
//! `--exact` finds its case without walking the folder.

use std::path::{Path, PathBuf};

pub const CASE_PREFIX: &str = "case::";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFile {
    pub name: String,
    pub path: PathBuf,
    /// Why the file cannot be a case (a bad name); the trial fails with it.
    pub problem: Option<String>,
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The trial name of a case file, relative to the cases folder.
pub fn derive_name(relative: &Path) -> (String, Option<String>) {
    let mut segments: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(last) = segments.last_mut() {
        if let Some(stem) = last.strip_suffix(".json") {
            *last = stem.to_owned();
        }
    }
    let bad: Vec<&String> = segments.iter().filter(|s| !valid_segment(s)).collect();
    let problem = (!bad.is_empty()).then(|| {
        format!(
            "{} is not a valid case path: every folder and file stem must match [a-z0-9_]+ (bad: {})",
            relative.display(),
            bad.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
        )
    });
    let name = segments
        .iter()
        .map(|s| {
            s.chars()
                .map(|c| c.to_ascii_lowercase())
                .map(|c| {
                    if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("::");
    (format!("{CASE_PREFIX}{name}"), problem)
}

/// The file a trial name stands for, without reading the folder.
pub fn derive_path(cases: &Path, name: &str) -> Option<PathBuf> {
    let rest = name.strip_prefix(CASE_PREFIX)?;
    let segments: Vec<&str> = rest.split("::").collect();
    if !segments.iter().all(|s| valid_segment(s)) {
        return None;
    }
    let mut path = cases.to_path_buf();
    for s in &segments {
        path.push(s);
    }
    path.set_extension("json");
    Some(path)
}

/// Every `*.json` under `cases`, sorted by name. An empty folder is an error:
/// a run that finds nothing must not pass silently.
pub fn discover(cases: &Path) -> Result<Vec<CaseFile>, String> {
    // Self-tests set this to prove `--exact` never walks the folder.
    if std::env::var_os("CONFORMANCE_FORBID_SCAN").is_some() {
        return Err("scanning the cases folder is forbidden (CONFORMANCE_FORBID_SCAN)".to_owned());
    }
    let mut found = Vec::new();
    walk(cases, cases, &mut found)
        .map_err(|e| format!("failed to read the cases folder {}: {e}", cases.display()))?;
    if found.is_empty() {
        return Err(format!("no case files (*.json) under {}", cases.display()));
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<CaseFile>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if path.extension().and_then(|e| e.to_str()) == Some("json")
            && !path.to_string_lossy().ends_with(".actual.json")
        {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let (name, problem) = derive_name(relative);
            out.push(CaseFile {
                name,
                path,
                problem,
            });
        }
    }
    Ok(())
}

/// `--exact case::…`: the one file, if it exists.
pub fn exact(cases: &Path, name: &str) -> Option<CaseFile> {
    let path = derive_path(cases, name)?;
    path.is_file().then(|| CaseFile {
        name: name.to_owned(),
        path,
        problem: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_paths_and_back() {
        let (name, problem) = derive_name(Path::new("invite/group/invite_one_user.json"));
        assert_eq!(name, "case::invite::group::invite_one_user");
        assert_eq!(problem, None);
        assert_eq!(
            derive_path(Path::new("cases"), &name),
            Some(PathBuf::from("cases/invite/group/invite_one_user.json"))
        );
    }

    #[test]
    fn bad_names_are_reported_not_hidden() {
        let (name, problem) = derive_name(Path::new("invite/Bad Name.json"));
        assert_eq!(name, "case::invite::bad_name");
        assert!(problem.unwrap().contains("Bad Name"));
        assert_eq!(derive_path(Path::new("cases"), "case::../x"), None);
        assert_eq!(derive_path(Path::new("cases"), "lint::x"), None);
    }
}
