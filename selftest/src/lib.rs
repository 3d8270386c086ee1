//! Running the built conformance binary as a user would, and reading what it
//! printed: the failing tests, and in each the checks that failed.

pub mod capture;
pub mod stubs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root, where `cases/` and `schemas/` are.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// Where cargo builds: `CARGO_TARGET_DIR`, or the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// The newest `conformance-*` executable under `target/<profile>/deps`.
pub fn newest_binary(profile: &str) -> Result<PathBuf, String> {
    let deps = target_dir().join(profile).join("deps");
    let entries = std::fs::read_dir(&deps).map_err(|e| format!("{}: {e}", deps.display()))?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with("conformance-") && p.extension().is_none() && is_executable(p)
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .ok_or_else(|| format!("there is no conformance binary in {}", deps.display()))
}

/// The conformance test binary cargo built for this run: `CONFORMANCE_BIN`, or
/// the newest debug one, refused when older than the suite's sources.
pub fn suite_binary() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("CONFORMANCE_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let bin = newest_binary("debug")
        .map_err(|e| format!("{e}: run the self-tests with `cargo test --workspace`"))?;
    // `cargo test -p conformance-selftest` alone does not rebuild the
    // suite: refuse a binary older than its sources rather than test it.
    let built = bin.metadata().and_then(|m| m.modified()).ok();
    let root = workspace_root();
    let newest = ["harness/src", "suite"]
        .iter()
        .filter_map(|dir| newest_file(&root.join(dir)))
        .max();
    match (built, newest) {
        (Some(b), Some(n)) if n > b => Err(format!(
            "{} is older than the suite's sources: run `cargo test --workspace` (it rebuilds the suite first)",
            bin.display()
        )),
        _ => Ok(bin),
    }
}

fn newest_file(dir: &Path) -> Option<std::time::SystemTime> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let p = e.path();
            if p.is_dir() {
                newest_file(&p)
            } else {
                p.metadata().and_then(|m| m.modified()).ok()
            }
        })
        .max()
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// What one run of the suite printed.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Failing test name -> its rendered failure.
    pub failures: BTreeMap<String, String>,
}

impl Run {
    /// `(test, check id)` for every check that failed, over all failing tests.
    pub fn failed_checks(&self) -> Vec<(String, String)> {
        self.failures
            .iter()
            .flat_map(|(test, text)| {
                failed_check_ids(text)
                    .into_iter()
                    .map(move |id| (test.clone(), id))
            })
            .collect()
    }

    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the suite binary from the workspace root with `args` and extra environment.
pub fn run_suite(args: &[&str], env: &[(&str, &str)]) -> Result<Run, String> {
    let bin = suite_binary()?;
    let mut cmd = Command::new(&bin);
    cmd.current_dir(workspace_root())
        .args(args)
        .stdin(Stdio::null())
        .env("NO_COLOR", "1");
    for var in [
        "CONFORMANCE_TARGET",
        "CONFORMANCE_TOKEN",
        "CONFORMANCE_GROUP_CALL_ID",
        "CONFORMANCE_P2P_CALL_ID",
        "CONFORMANCE_STRICT",
        "NEXTEST",
    ] {
        cmd.env_remove(var);
    }
    // Runs against broken targets must not leave proptest seeds in the repository.
    cmd.env("PROPTEST_DISABLE_FAILURE_PERSISTENCE", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("failed to run {}: {e}", bin.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    Ok(Run {
        code: out.status.code(),
        failures: parse_failures(&stdout),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout,
    })
}

/// The `---- NAME ----` blocks libtest prints under `failures:`.
pub fn parse_failures(stdout: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in stdout.lines() {
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" ----"))
        {
            if let Some((n, body)) = current.take() {
                out.insert(n, body.join("\n"));
            }
            current = Some((name.to_owned(), Vec::new()));
        } else if line == "failures:" || line.starts_with("test result:") {
            if let Some((n, body)) = current.take() {
                out.insert(n, body.join("\n"));
            }
        } else if let Some((_, body)) = current.as_mut() {
            body.push(line);
        }
    }
    if let Some((n, body)) = current {
        out.insert(n, body.join("\n"));
    }
    out
}

/// Ids of the checks a rendered failure marks `FAIL` (`ERROR` for no verdict).
pub fn failed_check_ids(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("FAIL  ") {
            if let Some((id, _)) = rest.split_once(':') {
                ids.push(family(id).to_owned());
            }
        } else if trimmed.starts_with("ERROR ") && !ids.iter().any(|i| i == "ERROR") {
            ids.push("ERROR".to_owned());
        }
    }
    ids
}

/// `(test, check id)` for every check a run's stderr shows as `WARN`: the
/// warnings of passing trials, which the suite prints there.
pub fn warned_check_ids(stderr: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut test = String::new();
    for line in stderr.lines() {
        if let Some((name, _)) = line.split_once(": ") {
            if !name.starts_with(' ') && name.contains("::") && !name.contains(' ') {
                name.clone_into(&mut test);
                continue;
            }
        }
        if let Some(rest) = line.trim_start().strip_prefix("WARN  ") {
            if let Some((id, _)) = rest.split_once(':') {
                out.push((test.clone(), family(id).to_owned()));
            }
        }
    }
    out
}

/// `header.location` -> `header`, `notification[1]` -> `notification`,
/// `capture.op` -> `capture`; invariant ids (`notification.schema`) stay whole.
pub fn family(id: &str) -> &str {
    for (head, sep) in [("header", '.'), ("capture", '.'), ("notification", '[')] {
        if id
            .strip_prefix(head)
            .is_some_and(|rest| rest.starts_with(sep))
        {
            return head;
        }
    }
    id
}

/// Replaces what changes between runs (ids, ports, timings) with placeholders.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if let Some(len) = guid_at(&chars[i..]) {
            out.push_str("<guid>");
            i += len;
            continue;
        }
        let starts_run = i == 0 || !chars[i - 1].is_ascii_hexdigit();
        let run = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        if starts_run && run == 32 {
            // A callback path token.
            out.push_str("<token>");
            i += run;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    let out = replace_numbers_between(&out, " in ", " ms");
    let out = replace_numbers_between(&out, "127.0.0.1:", "/");
    replace_numbers_between(&out, "within ", " ms")
}

fn guid_at(chars: &[char]) -> Option<usize> {
    let groups = [8, 4, 4, 4, 12];
    let mut i = 0;
    for (g, len) in groups.iter().enumerate() {
        for _ in 0..*len {
            if !chars.get(i)?.is_ascii_hexdigit() {
                return None;
            }
            i += 1;
        }
        if g < 4 {
            if *chars.get(i)? != '-' {
                return None;
            }
            i += 1;
        }
    }
    // A GUID inside a longer hex run is not a GUID.
    match chars.get(i) {
        Some(c) if c.is_ascii_hexdigit() => None,
        _ => Some(i),
    }
}

fn replace_numbers_between(text: &str, before: &str, after: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(before) {
        let start = pos + before.len();
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && tail[digits..].starts_with(after) {
            out.push_str("<n>");
            rest = &tail[digits..];
        } else {
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_split_per_test() {
        let stdout = "test a ... FAILED\n\nfailures:\n\n---- case::a ----\nline 1\n  FAIL  invite.location: x\n  ok    status: is 200\n\n---- case::b ----\n  FAIL  notification[1]: roster\n  ERROR boom\n\nfailures:\n    case::a\n\ntest result: FAILED.";
        let f = parse_failures(stdout);
        assert_eq!(f.len(), 2);
        assert_eq!(failed_check_ids(&f["case::a"]), ["invite.location"]);
        assert_eq!(failed_check_ids(&f["case::b"]), ["notification", "ERROR"]);
        assert_eq!(family("notification.schema"), "notification.schema");
        assert_eq!(family("header.location"), "header");
        assert_eq!(family("capture.op"), "capture");
    }

    #[test]
    fn warnings_are_read_per_test() {
        let stderr = "note: x\ncase::a: 3 of 4 checks passed, 1 warning\n  ok    status: is 200\n  WARN  error.inner-error: y\nprop::b::c: all 2 checks passed\n  WARN  header.location: z\n";
        assert_eq!(
            warned_check_ids(stderr),
            [
                ("case::a".to_owned(), "error.inner-error".to_owned()),
                ("prop::b::c".to_owned(), "header".to_owned())
            ]
        );
    }

    #[test]
    fn normalize_hides_volatile_values() {
        let text = "call 7531d31f-d10d-44de-802f-c569dbca451c -> 200 OK in 12 ms at http://127.0.0.1:4312/v1.0";
        assert_eq!(
            normalize(text),
            "call <guid> -> 200 OK in <n> ms at http://127.0.0.1:<n>/v1.0"
        );
        assert_eq!(
            normalize("abc7531d31f-d10d-44de-802f-c569dbca451cff"),
            "abc7531d31f-d10d-44de-802f-c569dbca451cff"
        );
    }
}
