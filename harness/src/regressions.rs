//! The seeds of generated inputs that failed, kept per target and replayed
//! first by the next run against the same target: never in the checkout
//! (they say something about one target, not about the suite), never
//! replayed against another target.
//!
//! They live in `<folder>/<origin>/<property>.txt`, the folder being
//! `--regressions DIR`, or `conformance-regressions/` in cargo's target
//! folder; `<origin>` is the target's scheme, host and port (`embedded` for
//! the embedded implementation).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::verdict::Check;

/// Where a run keeps its failing seeds: the target's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keeping {
    pub dir: PathBuf,
    /// The target's origin, as the file's header names it.
    pub origin: String,
}

impl Keeping {
    /// The folder for `target` under `dir` (`None`: the default folder);
    /// `None` when keeping is `off` (`PROPTEST_DISABLE_FAILURE_PERSISTENCE`,
    /// proptest's own switch, on the command line).
    pub fn for_target(dir: Option<&Path>, target: Option<&str>, off: bool) -> Option<Self> {
        if off {
            return None;
        }
        let origin = target.map_or_else(|| "embedded".to_owned(), origin);
        let base = dir.map_or_else(default_dir, Path::to_path_buf);
        Some(Self {
            dir: base.join(folder_name(&origin)),
            origin,
        })
    }
}

/// `conformance-regressions/` in the cargo target folder the suite's binary
/// was built in (`target/debug/deps/<binary>`), or `CARGO_TARGET_DIR`'s;
/// the system's temporary folder when neither is known.
fn default_dir() -> PathBuf {
    const NAME: &str = "conformance-regressions";
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join(NAME);
    }
    let built_in = std::env::current_exe().ok().and_then(|exe| {
        let deps = exe.parent()?;
        (deps.file_name()? == "deps").then(|| deps.parent()?.parent().map(Path::to_path_buf))?
    });
    built_in.unwrap_or_else(std::env::temp_dir).join(NAME)
}

/// `http://localhost:8080/v1.0` -> `http://localhost:8080`: what keys a
/// target (a path or a version segment does not make another server).
fn origin(target: &str) -> String {
    match reqwest::Url::parse(target) {
        Ok(url) => {
            let host = url.host_str().unwrap_or_default();
            match url.port_or_known_default() {
                Some(port) => format!("{}://{host}:{port}", url.scheme()),
                None => format!("{}://{host}", url.scheme()),
            }
        }
        Err(_) => target.to_owned(),
    }
}

/// An origin as a folder name: `http_localhost_8080`.
fn folder_name(origin: &str) -> String {
    origin
        .replace("://", "_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The seeds of one property's earlier failures against one target.
pub struct Regressions {
    path: Option<PathBuf>,
    origin: String,
}

impl Regressions {
    pub fn for_property(keeping: Option<&Keeping>, name: &str) -> Self {
        Self {
            path: keeping.map(|k| k.dir.join(format!("{}.txt", file_stem(name)))),
            origin: keeping.map(|k| k.origin.clone()).unwrap_or_default(),
        }
    }

    /// The file's text; `None` when there is none (or keeping is off).
    fn text(&self) -> std::io::Result<Option<String>> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `seed <u64>` lines (anything else is a comment), or why the file
    /// could not be read: kept failures that cannot be replayed would pass
    /// unseen, so the verdict says so.
    pub fn seeds(&self) -> Result<Vec<u64>, String> {
        match self.text() {
            Ok(text) => Ok(seeds_in(text.as_deref().unwrap_or_default())),
            Err(e) => Err(format!(
                "failed to read {} ({e}): its kept failures are not replayed",
                self.shown()
            )),
        }
    }

    fn shown(&self) -> String {
        self.path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// Keeps a failing input's seed, once; what to say about it.
    pub fn keep(&self, seed: u64, checks: &[Check]) -> String {
        let Some(path) = &self.path else {
            return String::new();
        };
        let mut text = match self.text() {
            Ok(Some(text)) => text,
            Ok(None) => format!(
                "# Seeds of generated inputs that failed against {}, replayed first by\n# the next run against it. Remove a line once its failure is fixed.\n",
                self.origin
            ),
            // Rewriting a file that could not be read would lose its seeds.
            Err(e) => return format!(" (could not keep it in {}: {e})", path.display()),
        };
        if seeds_in(&text).contains(&seed) {
            return format!(" (kept in {})", path.display());
        }
        let what = checks
            .iter()
            .filter(|c| c.failed())
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(text, "seed {seed} # failed: {what}");
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(path, text));
        match written {
            Ok(()) => format!(" (kept in {})", path.display()),
            Err(e) => format!(" (could not keep it in {}: {e})", path.display()),
        }
    }
}

/// The seeds of a regressions file's `seed <u64>` lines.
fn seeds_in(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| {
            l.strip_prefix("seed ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// `prop::rooms::accepts_any_text` -> `rooms__accepts_any_text`.
pub fn file_stem(name: &str) -> String {
    name.strip_prefix("prop::")
        .unwrap_or(name)
        .chars()
        .map(|c| if c == ':' { '_' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_keep_the_property_apart() {
        assert_eq!(
            file_stem("prop::invite::accepts_valid_bodies"),
            "invite__accepts_valid_bodies"
        );
    }

    #[test]
    fn each_origin_has_its_folder() {
        assert_eq!(
            origin("http://127.0.0.1:8080/v1.0"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            origin("https://graph.microsoft.com/v1.0"),
            "https://graph.microsoft.com:443"
        );
        assert_eq!(
            folder_name(&origin("http://127.0.0.1:8080/beta")),
            "http_127.0.0.1_8080"
        );
        assert_ne!(origin("http://h:1/v1.0"), origin("http://h:2/v1.0"));
    }

    #[test]
    fn a_regressions_file_that_cannot_be_read_is_left_as_it_is() {
        let dir = std::env::temp_dir().join(format!("regressions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.txt");
        // Not UTF-8: unreadable as text, yet it may hold seeds.
        let bytes = b"seed 7 # failed: x\n\xff\n".to_vec();
        std::fs::write(&path, &bytes).unwrap();
        let kept = Regressions {
            path: Some(path.clone()),
            origin: "http://h:1".to_owned(),
        };
        let said = kept.keep(9, &[]);
        assert!(said.contains("could not keep it"), "{said}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "the file is untouched"
        );

        std::fs::write(&path, "# x\nseed 7 # failed: x\n").unwrap();
        assert!(kept.keep(9, &[]).contains("kept in"));
        assert!(kept.keep(9, &[]).contains("kept in"), "once");
        assert_eq!(kept.seeds(), Ok(vec![7, 9]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
