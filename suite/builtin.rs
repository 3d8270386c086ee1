//! The case files and schemas built into the installed program, laid out
//! on disk where the harness reads them: in a folder of the user's cache
//! named by the suite's version and the files' fingerprint, written once
//! and checked on every run (a file edited or removed there is restored),
//! so a failure's `case` line names a file that stays to be opened. With
//! `--cases DIR`, a folder of the run's own joins the built-in cases and
//! the user's by links, so both run as one tree; it is removed at exit.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use include_dir::{Dir, DirEntry};

/// Why the built-in files could not be laid out, or joined with the user's.
#[derive(Debug, thiserror::Error)]
pub enum BuiltinError {
    #[error("failed to write the built-in cases and schemas to {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read the cases folder {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} has the path of a built-in case ({relative}): rename it, or run only your own cases with --no-builtin-cases")]
    Collision { path: PathBuf, relative: String },
    #[error(
        "the cases folder {0} is nested deeper than 32 folders where it meets the built-in cases"
    )]
    TooDeep(PathBuf),
}

/// Folders of the user's cases are joined this deep at most (as deep as
/// the harness walks).
const MAX_DEPTH: usize = 32;

/// The built-in files as the program holds them.
pub struct Builtin<'a> {
    pub cases: &'a Dir<'a>,
    pub schemas: &'a Dir<'a>,
}

/// Where the built-in files are, once laid out.
#[derive(Debug, Clone)]
pub struct Laid {
    pub cases: PathBuf,
    pub schemas: PathBuf,
}

fn files<'a>(dir: &'a Dir<'a>, out: &mut Vec<&'a include_dir::File<'a>>) {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(d) => files(d, out),
            DirEntry::File(f) => out.push(f),
        }
    }
}

impl Builtin<'_> {
    /// Every file, with the folder it goes in (`cases` or `schemas`).
    fn all(&self) -> Vec<(&'static str, &include_dir::File<'_>)> {
        let mut out = Vec::new();
        for (folder, dir) in [("cases", self.cases), ("schemas", self.schemas)] {
            let mut of = Vec::new();
            files(dir, &mut of);
            out.extend(of.into_iter().map(|f| (folder, f)));
        }
        out.sort_by(|a, b| (a.0, a.1.path()).cmp(&(b.0, b.1.path())));
        out
    }

    /// A fingerprint of every file's path and content: a new build with
    /// other files gets a folder of its own.
    pub fn fingerprint(&self) -> String {
        let mut hasher = DefaultHasher::new();
        for (folder, file) in self.all() {
            (folder, file.path(), file.contents()).hash(&mut hasher);
        }
        format!("{:016x}", hasher.finish())
    }

    /// How many case files are built in.
    pub fn case_count(&self) -> usize {
        let mut of = Vec::new();
        files(self.cases, &mut of);
        of.iter()
            .filter(|f| f.path().extension().is_some_and(|e| e == "json"))
            .count()
    }

    /// Lays the files out under `root` (a folder named for this build),
    /// rewriting any that is missing or differs, and says where they are.
    pub fn lay_out(&self, root: &Path) -> Result<Laid, BuiltinError> {
        let write_error = |path: &Path| {
            let path = path.to_owned();
            move |source| BuiltinError::Write { path, source }
        };
        for (folder, file) in self.all() {
            let path = root.join(folder).join(file.path());
            if std::fs::read(&path).is_ok_and(|on_disk| on_disk == file.contents()) {
                continue;
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(write_error(dir))?;
            }
            // Written aside, then renamed: a run reading it meanwhile (two
            // runs at once) never reads half a file.
            let staged = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&staged, file.contents()).map_err(write_error(&staged))?;
            std::fs::rename(&staged, &path).map_err(write_error(&path))?;
        }
        Ok(Laid {
            cases: root.join("cases"),
            schemas: root.join("schemas"),
        })
    }
}

/// The folder of the user's cache where this build's files go:
/// `$XDG_CACHE_HOME` or `~/.cache` (`%LOCALAPPDATA%` on Windows), else the
/// temporary folder.
pub fn cache_root(version: &str, fingerprint: &str) -> PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .or_else(|| var("LOCALAPPDATA"))
        .unwrap_or_else(std::env::temp_dir);
    base.join("invite-conformance")
        .join(format!("{version}-{fingerprint}"))
}

/// A folder removed when dropped: the run's join of the built-in cases and
/// the user's.
#[derive(Debug)]
pub struct Joined {
    pub path: PathBuf,
}

impl Drop for Joined {
    fn drop(&mut self) {
        // Only links and folders of links: the files stay where they are.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The built-in cases and the user's `mine` as one tree of links: a
/// folder both have is joined entry by entry, a file both have is an error
/// (which one would run?).
pub fn join(builtin: &Path, mine: &Path) -> Result<Joined, BuiltinError> {
    let read = |path: &Path| {
        let path = path.to_owned();
        move |source| BuiltinError::Read { path, source }
    };
    if !mine.is_dir() {
        std::fs::read_dir(mine).map_err(read(mine))?;
    }
    let joined = Joined {
        path: std::env::temp_dir().join(format!(
            "invite-conformance-cases-{}",
            uuid::Uuid::new_v4().simple()
        )),
    };
    let mine = std::path::absolute(mine).map_err(read(mine))?;
    link_entries(builtin, &joined.path, None, 0)?;
    link_entries(&mine, &joined.path, Some(&mine), 0)?;
    Ok(joined)
}

/// Links every entry of `from` into `to`; with `user` (the user's root), an
/// entry `to` already holds is joined (folders) or refused (files).
fn link_entries(
    from: &Path,
    to: &Path,
    user: Option<&Path>,
    depth: usize,
) -> Result<(), BuiltinError> {
    if depth > MAX_DEPTH {
        return Err(BuiltinError::TooDeep(from.to_owned()));
    }
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| BuiltinError::Write { path, source }
    };
    std::fs::create_dir_all(to).map_err(write_error(to))?;
    let entries = std::fs::read_dir(from).map_err(|source| BuiltinError::Read {
        path: from.to_owned(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| BuiltinError::Read {
            path: from.to_owned(),
            source,
        })?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if target.symlink_metadata().is_ok() {
            let (Some(root), true, true) = (user, source.is_dir(), target.is_dir()) else {
                let relative = user
                    .and_then(|root| source.strip_prefix(root).ok())
                    .unwrap_or(&source)
                    .display()
                    .to_string();
                return Err(BuiltinError::Collision {
                    path: source,
                    relative,
                });
            };
            // Both have this folder: make it a folder of links to both.
            if target.symlink_metadata().is_ok_and(|m| m.is_symlink()) {
                let linked = std::fs::read_link(&target).map_err(write_error(&target))?;
                std::fs::remove_file(&target).map_err(write_error(&target))?;
                link_entries(&linked, &target, None, depth + 1)?;
            }
            link_entries(&source, &target, Some(root), depth + 1)?;
        } else {
            link(&source, &target).map_err(write_error(&target))?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn link(source: &Path, target: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(source, target)
}

#[cfg(windows)]
fn link(source: &Path, target: &Path) -> std::io::Result<()> {
    if source.is_dir() {
        std::os::windows::fs::symlink_dir(source, target)
    } else {
        std::fs::copy(source, target).map(|_| ())
    }
}
