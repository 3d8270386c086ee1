//! The seeds of generated inputs that failed, kept per target and replayed
//! first by the next run against the same target: never in the checkout
//! (they say something about one target, not about the suite), never
//! replayed against another target.
//!
//! They live in `<folder>/<origin>/<property>.txt`, the folder being
//! `--regressions DIR`, or `conformance-regressions/` in cargo's target
//! folder; `<origin>` is the target's scheme, host and port (`embedded` for
//! the embedded implementation).
//!
//! A line is `seed <u64>`, then, once the input was shrunk, `shrink
//! <steps>`: the simplify (`s`) and complicate (`c`) calls that took the
//! input's value tree from its seed to the shrunk input, run-length
//! encoded (`3s1c2s`). Replaying them makes no request, so the next run
//! (a one-seed rerun among them) tries the shrunk input at once instead of
//! shrinking again.

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

    /// The kept inputs, from `seed <u64>` lines (anything else is a
    /// comment), or why the file could not be read: kept failures that
    /// cannot be replayed would pass unseen, so the verdict says so.
    pub fn entries(&self) -> Result<Vec<Kept>, String> {
        match self.text() {
            Ok(text) => Ok(entries_in(text.as_deref().unwrap_or_default())),
            Err(e) => Err(format!(
                "failed to read {} ({e}): its kept failures are not replayed",
                self.shown()
            )),
        }
    }

    /// Where the kept inputs are, as the verdict names it.
    pub fn shown(&self) -> String {
        self.path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// Keeps a failing input's seed and the steps to its shrunk input,
    /// once (a line for the same seed is replaced); what to say about it.
    pub fn keep(&self, seed: u64, shrink: &[Step], checks: &[Check]) -> String {
        let Some(path) = &self.path else {
            return String::new();
        };
        let text = match self.text() {
            Ok(Some(text)) => text,
            Ok(None) => format!(
                "# Seeds of generated inputs that failed against {}, replayed first by\n# the next run against it. Remove a line once its failure is fixed.\n",
                self.origin
            ),
            // Rewriting a file that could not be read would lose its seeds.
            Err(e) => return format!(" (could not keep it in {}: {e})", path.display()),
        };
        let steps = encode(shrink);
        if entries_in(&text)
            .iter()
            .any(|k| k.seed == seed && encode(&k.shrink) == steps)
        {
            return format!(" (kept in {})", path.display());
        }
        // The same seed kept before, unshrunk or shrunk otherwise: replaced.
        let mut text: String = text
            .lines()
            .filter(|l| entry_in(l).is_none_or(|k| k.seed != seed))
            .map(|l| format!("{l}\n"))
            .collect();
        let what = checks
            .iter()
            .filter(|c| c.failed())
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let shrunk = if steps.is_empty() {
            String::new()
        } else {
            format!(" shrink {steps}")
        };
        let _ = writeln!(text, "seed {seed}{shrunk} # failed: {what}");
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

/// One call on a value tree while shrinking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Simplify,
    Complicate,
}

/// A kept input: its seed, and the steps from it to its shrunk input
/// (none: the input as generated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub seed: u64,
    pub shrink: Vec<Step>,
}

/// The kept inputs of a regressions file's `seed <u64> [shrink <steps>]`
/// lines.
fn entries_in(text: &str) -> Vec<Kept> {
    text.lines().filter_map(entry_in).collect()
}

fn entry_in(line: &str) -> Option<Kept> {
    let mut words = line.strip_prefix("seed ")?.split_whitespace();
    let seed = words.next()?.parse().ok()?;
    let shrink = match (words.next(), words.next()) {
        // Steps that do not read are no steps: the input as generated,
        // which fails too.
        (Some("shrink"), Some(steps)) => decode(steps).unwrap_or_default(),
        _ => Vec::new(),
    };
    Some(Kept { seed, shrink })
}

/// Steps as `3s1c2s`: each run of one kind of call, its length first.
pub fn encode(steps: &[Step]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < steps.len() {
        let run = steps[i..].iter().take_while(|s| **s == steps[i]).count();
        let letter = match steps[i] {
            Step::Simplify => 's',
            Step::Complicate => 'c',
        };
        let _ = write!(out, "{run}{letter}");
        i += run;
    }
    out
}

/// The steps of `3s1c2s`; `None` when it does not read.
pub fn decode(text: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut count = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            count.push(c);
            continue;
        }
        let step = match c {
            's' => Step::Simplify,
            'c' => Step::Complicate,
            _ => return None,
        };
        let n: usize = count.parse().ok()?;
        // A kept file is edited by hand: a run past any shrinking budget is
        // no run of steps the suite wrote.
        if n > 1_000_000 {
            return None;
        }
        steps.extend(std::iter::repeat_n(step, n));
        count.clear();
    }
    count.is_empty().then_some(steps)
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
    fn shrink_steps_read_back_as_written() {
        use Step::{Complicate as C, Simplify as S};
        let steps = vec![S, S, S, C, S, S, C, C];
        assert_eq!(encode(&steps), "3s1c2s2c");
        assert_eq!(decode("3s1c2s2c"), Some(steps));
        assert_eq!(decode(""), Some(Vec::new()));
        assert_eq!(decode("3x"), None);
        assert_eq!(decode("3"), None);
        assert_eq!(decode("99999999999s"), None);
        assert_eq!(
            entry_in("seed 5 shrink 2s1c # failed: x"),
            Some(Kept {
                seed: 5,
                shrink: vec![S, S, C]
            })
        );
        assert_eq!(
            entry_in("seed 5 # failed: x"),
            Some(Kept {
                seed: 5,
                shrink: Vec::new()
            })
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
        let said = kept.keep(9, &[], &[]);
        assert!(said.contains("could not keep it"), "{said}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "the file is untouched"
        );

        std::fs::write(&path, "# x\nseed 7 # failed: x\n").unwrap();
        assert!(kept.keep(9, &[], &[]).contains("kept in"));
        assert!(kept.keep(9, &[], &[]).contains("kept in"), "once");
        let seeds = |k: &Regressions| {
            k.entries()
                .unwrap()
                .iter()
                .map(|e| e.seed)
                .collect::<Vec<_>>()
        };
        assert_eq!(seeds(&kept), vec![7, 9]);
        // Shrunk later: the seed's line is replaced, its steps kept.
        let steps = [Step::Simplify, Step::Simplify, Step::Complicate];
        assert!(kept.keep(7, &steps, &[]).contains("kept in"));
        assert_eq!(seeds(&kept), vec![9, 7]);
        assert_eq!(kept.entries().unwrap()[1].shrink, steps.to_vec());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
