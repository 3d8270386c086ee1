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

/// Folders deeper than this under the cases folder are not walked.
pub const MAX_DEPTH: usize = 32;
/// More case files than this end the walk with an error.
pub const MAX_FILES: usize = 100_000;

/// Every `*.json` under `cases`, sorted by name. An empty folder is an error:
/// a run that finds nothing must not pass silently.
///
/// A symbolic link to a folder is followed once: a folder already walked
/// (a link to `.`, a loop, a second link to one folder) is not walked
/// again but reported, as a trial of its own that fails with what it is.
/// Only the status of each entry is read, so a FIFO or a device among the
/// case files is reported, never opened.
pub fn discover(cases: &Path, forbid_scan: bool) -> Result<Vec<CaseFile>, String> {
    // Self-tests forbid it to prove `--exact` never walks the folder.
    if forbid_scan {
        return Err("scanning the cases folder is forbidden (FORBID_SCAN)".to_owned());
    }
    let mut walk = Walk {
        root: cases,
        found: Vec::new(),
        walked: std::collections::HashSet::new(),
    };
    let read =
        |e: std::io::Error| format!("failed to read the cases folder {}: {e}", cases.display());
    let root = cases.canonicalize().map_err(read)?;
    walk.walked.insert(root);
    walk.dir(cases, 0).map_err(read)?;
    if walk.found.len() > MAX_FILES {
        return Err(format!(
            "more than {MAX_FILES} case files under {} (the limit of a walk)",
            cases.display()
        ));
    }
    let mut found = walk.found;
    if found.is_empty() {
        return Err(format!("no case files (*.json) under {}", cases.display()));
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

struct Walk<'a> {
    root: &'a Path,
    found: Vec<CaseFile>,
    /// Every folder walked, by its canonical path.
    walked: std::collections::HashSet<PathBuf>,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, depth: usize) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            if self.found.len() > MAX_FILES {
                return Ok(());
            }
            let entry = entry?;
            let path = entry.path();
            let is_json = path.extension().and_then(|e| e.to_str()) == Some("json")
                && !path.to_string_lossy().ends_with(".actual.json");
            // The link's own type first: a link is judged by what it points to.
            let link = entry.file_type()?.is_symlink();
            let is_dir = std::fs::metadata(&path).is_ok_and(|m| m.is_dir());
            if is_dir {
                let problem = if depth + 1 > MAX_DEPTH {
                    Some(format!(
                        "not walked: deeper than {MAX_DEPTH} folders (the limit of a walk)"
                    ))
                } else {
                    match path.canonicalize() {
                        Ok(real) if !self.walked.insert(real.clone()) => Some(format!(
                            "not walked: {} is {} (a loop, or a second way to one folder); a linked folder is walked once",
                            if link { "a symbolic link to a folder already walked" } else { "a folder already walked" },
                            real.display()
                        )),
                        Ok(_) => None,
                        Err(e) => Some(format!("not walked: {e}")),
                    }
                };
                match problem {
                    Some(problem) => self.report(&path, problem),
                    None => self.dir(&path, depth + 1)?,
                }
            } else if is_json {
                let relative = path.strip_prefix(self.root).unwrap_or(&path);
                let (name, bad_name) = derive_name(relative);
                let problem = bad_name
                    .or_else(|| crate::case_file::problem(&path).map(|e| crate::error::chain(&e)));
                self.found.push(CaseFile {
                    name,
                    path,
                    problem,
                });
            }
        }
        Ok(())
    }

    /// A folder that is not walked, as a trial that fails saying why.
    fn report(&mut self, path: &Path, why: String) {
        let relative = path.strip_prefix(self.root).unwrap_or(path);
        let (name, _) = derive_name(relative);
        self.found.push(CaseFile {
            name,
            path: path.to_owned(),
            problem: Some(format!("{}: {why}", path.display())),
        });
    }
}

/// `--exact case::…`: the one file, if it exists.
pub fn exact(cases: &Path, name: &str) -> Option<CaseFile> {
    let path = derive_path(cases, name)?;
    // What is there but cannot be a case file (a FIFO, a device) is the
    // trial's to report; its status is read, the file is not opened.
    std::fs::metadata(&path).ok().filter(|m| !m.is_dir())?;
    let problem = crate::case_file::problem(&path).map(|e| crate::error::chain(&e));
    Some(CaseFile {
        name: name.to_owned(),
        path,
        problem,
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

    #[cfg(unix)]
    #[test]
    fn a_linked_folder_is_walked_once_and_a_loop_is_reported() {
        let root =
            std::env::temp_dir().join(format!("discover-loops-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(root.join("inner")).expect("folders");
        std::fs::write(root.join("a.json"), "{}").expect("a case");
        std::fs::write(root.join("inner/b.json"), "{}").expect("a case");
        // Two links to the folder itself: walked blindly, each level of the
        // walk doubles (the names grow until the path is too long).
        std::os::unix::fs::symlink(".", root.join("loop")).expect("linked");
        std::os::unix::fs::symlink(".", root.join("again")).expect("linked");
        std::os::unix::fs::symlink("..", root.join("inner/up")).expect("linked");
        let found = discover(&root, false).expect("discovered");
        let names: Vec<&str> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "case::a",
                "case::again",
                "case::inner::b",
                "case::inner::up",
                "case::loop"
            ]
        );
        for f in found
            .iter()
            .filter(|f| !f.name.ends_with("::a") && !f.name.ends_with("::b"))
        {
            let problem = f.problem.as_deref().expect("a loop is a problem");
            assert!(problem.contains("already walked"), "{problem}");
        }
        let _ = std::fs::remove_dir_all(&root);
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
