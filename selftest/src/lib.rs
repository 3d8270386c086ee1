//! Running the suite as the self-tests do: in this process, its verdicts
//! as data ([`run_suite`]), where a test judges what the suite decided; or
//! as a program ([`run_binary`]: the `suite` binary cargo builds for this
//! package, a test naming it with `env!("CARGO_BIN_EXE_suite")`), where a
//! test judges what a user sees: the console, exit codes, nextest, memory.

pub mod capture;
pub mod glob;
pub mod http;
pub mod page_text;
pub mod stubs;
pub mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};

use conformance_harness::{Generation, RunOutcome, Status};

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

/// The reference server with `faults` injected (none: the correct one), on
/// loopback until the handle is dropped.
pub fn server(faults: Vec<invite_reference::Fault>) -> invite_reference::ServerHandle {
    invite_reference::start(invite_reference::Config {
        faults,
        ..invite_reference::Config::default()
    })
    .expect("the reference server starts")
}

/// An empty folder `conformance-NAME-PID` under the system's temporary
/// folder (what a run of this process left there is removed first).
pub fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("conformance-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// One request to a target at `addr` (paths under `/v1.0`), as
/// [`http::send`] sends it (connect, read and write bounded): the status
/// and the body as JSON (`Null` when there is none).
pub fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let base = format!("http://{addr}/v1.0");
    let answer = http::send(&base, method, path, body)
        .unwrap_or_else(|e| panic!("{method} {base}{path}: {e}"));
    (
        answer.status,
        answer.json().unwrap_or(serde_json::Value::Null),
    )
}

/// Creates a group (or peer-to-peer) call on a target at `addr`, as a user
/// would before lending it to the suite (with the suite's own body); its
/// notifications go nowhere.
pub fn create_call(addr: std::net::SocketAddr, group: bool) -> String {
    let body = invite_conformance::create_call_body(group, "http://127.0.0.1:9/nobody-listens");
    let (status, call) = request(addr, "POST", "/communications/calls", Some(&body));
    assert_eq!(status, 201, "{call}");
    call["id"].as_str().expect("a call id").to_owned()
}

/// What one run of the suite came to: in this process, its outcome as data
/// (and what the console would have said); spawned, what it printed.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: Option<i32>,
    /// What it printed on stdout (nothing, in this process: the trials'
    /// statuses are in `outcome`).
    pub stdout: String,
    /// What it said on stderr: in this process, the notes, the warnings of
    /// passing trials and the error, as the console says them.
    pub stderr: String,
    /// Failing test name -> its rendered failure.
    pub failures: BTreeMap<String, String>,
    /// The run as data, when it ran in this process.
    pub outcome: Option<RunOutcome>,
}

impl Run {
    fn of(outcome: RunOutcome) -> Self {
        let failures = outcome
            .failed()
            .map(|t| (t.name.clone(), outcome.text(&t.name).unwrap_or_default()))
            .collect();
        let mut said = outcome.notes.clone();
        said.extend(
            outcome
                .trials
                .iter()
                .filter(|t| t.warned && t.status == Status::Passed)
                .filter_map(|t| outcome.text(&t.name)),
        );
        said.extend(outcome.exit.message.clone());
        Self {
            code: Some(i32::from(outcome.code())),
            stdout: String::new(),
            stderr: said.join("\n"),
            failures,
            outcome: Some(outcome),
        }
    }

    /// `(test, check id)` for every check that failed, over all failing
    /// tests: from the verdicts, or (spawned) from what was printed.
    pub fn failed_checks(&self) -> Vec<(String, String)> {
        if let Some(outcome) = &self.outcome {
            return outcome.failed_checks();
        }
        self.failures
            .iter()
            .flat_map(|(test, text)| {
                failed_check_ids(text)
                    .into_iter()
                    .map(move |id| (test.clone(), id))
            })
            .collect()
    }

    /// `(test, check id)` for every check that only warned, in passing trials.
    pub fn warned_checks(&self) -> Vec<(String, String)> {
        match &self.outcome {
            Some(outcome) => outcome.warned_checks(),
            None => warned_check_ids(&self.stderr),
        }
    }

    /// How trial `name` ended, when it ran in this process.
    pub fn status(&self, name: &str) -> Option<&Status> {
        Some(&self.outcome.as_ref()?.trial(name)?.status)
    }

    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the suite in this process, from the workspace root's `cases/` and
/// `schemas/`, with `args` and the values of `env`: the token
/// (`CONFORMANCE_TOKEN`) and proptest's settings (`PROPTEST_*`), the only
/// variables the suite reads for itself; every other option is a flag.
/// Failing seeds are not kept unless the test gives
/// `PROPTEST_DISABLE_FAILURE_PERSISTENCE` an empty value.
pub fn run_suite(args: &[&str], env: &[(&str, &str)]) -> Result<Run, String> {
    for (name, _) in env {
        assert!(
            *name == "CONFORMANCE_TOKEN" || name.starts_with("PROPTEST_"),
            "{name} is not read in this process: give the option as a flag"
        );
    }
    let value = |name: &str| {
        env.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let settings = invite_conformance::settings_in(&workspace_root());
    let argv: Vec<&str> = std::iter::once("conformance")
        .chain(args.iter().copied())
        .collect();
    let ran = invite_conformance::run(&settings, &argv, |options| {
        options.token = value("CONFORMANCE_TOKEN").filter(|t| !t.is_empty());
        options.generation =
            Generation::from_variables(|name| value(name).filter(|v| !v.is_empty()));
        // Runs against broken targets must not keep seeds, unless the test
        // takes the switch away (an empty value) to see them kept.
        options.generation.forget_failures =
            value("PROPTEST_DISABLE_FAILURE_PERSISTENCE").is_none_or(|v| !v.is_empty());
    });
    Ok(match ran {
        Ok(outcome) => Run::of(outcome),
        // Options that do not parse: what the program says and exits with.
        Err(e) => Run {
            code: Some(if e.use_stderr() { 2 } else { 0 }),
            stdout: String::new(),
            stderr: e.to_string(),
            failures: BTreeMap::new(),
            outcome: None,
        },
    })
}

/// Runs the suite's program `binary` from the workspace root with `args`
/// and extra environment (an empty value removes a variable).
pub fn run_binary(binary: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Run, String> {
    run_binary_in(binary, &workspace_root(), args, env)
}

/// [`run_binary`] from another working directory (where relative paths land).
pub fn run_binary_in(
    binary: &str,
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Run, String> {
    let mut cmd = binary_command(binary, cwd);
    cmd.args(args);
    // An empty value takes the variable away (`PROPTEST_DISABLE_FAILURE_PERSISTENCE`
    // counts by its presence).
    for (k, v) in env {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let out = cmd
        .output()
        .map_err(|e| format!("failed to run {binary}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    Ok(Run {
        code: out.status.code(),
        failures: parse_failures(&stdout),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        stdout,
        outcome: None,
    })
}

/// The suite's program as every self-test spawns it: from `cwd`, stdin
/// closed, no colour, the shell's suite variables taken away
/// ([`clean_env`]) and failure persistence off. Arguments and the test's
/// own variables are the caller's to add.
pub fn binary_command(binary: &str, cwd: &Path) -> Command {
    let mut cmd = Command::new(binary);
    cmd.current_dir(cwd)
        .stdin(Stdio::null())
        .env("NO_COLOR", "1");
    clean_env(&mut cmd);
    // Runs against broken targets must not leave proptest seeds in the repository.
    cmd.env("PROPTEST_DISABLE_FAILURE_PERSISTENCE", "1");
    cmd
}

/// The `invite-conformance` program as cargo builds it from the checkout
/// (`cargo build --bin invite-conformance`, its path from cargo's messages):
/// the binary a user installs, not a test's.
pub fn built_program() -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--package",
            "invite-conformance",
            "--bin",
            "invite-conformance",
            "--message-format=json",
        ])
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("failed to run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build --bin invite-conformance failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact" && m["target"]["name"] == "invite-conformance"
        })
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo built no invite-conformance executable".to_owned())
}

/// Takes away every `CONFORMANCE_*` and `PROPTEST_*` variable of this
/// process's environment, and `NEXTEST`: only what the test says reaches the
/// suite, nothing of the shell's. Call it before setting the test's own.
pub fn clean_env(cmd: &mut Command) {
    for (var, _) in std::env::vars_os() {
        let name = var.to_string_lossy();
        if name.starts_with("CONFORMANCE_") || name.starts_with("PROPTEST_") || name == "NEXTEST" {
            cmd.env_remove(&var);
        }
    }
}

/// A check as `--list-checks` prints it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub level: String,
    pub source: String,
    pub summary: String,
    pub rule: String,
    /// Profile -> the check's level under it.
    pub profiles: BTreeMap<String, String>,
}

/// The checks the suite can run, with their levels under the default
/// profile and under each (what `--list-checks` prints); never none.
pub fn listed_checks() -> Vec<Listed> {
    listed_checks_under(None)
}

/// [`listed_checks`] with the levels under the profile `profile`.
pub fn listed_checks_under(profile: Option<&str>) -> Vec<Listed> {
    use conformance_harness::Contract as _;
    let contract =
        invite_conformance::InviteContract::new(invite_conformance::CallOptions::default());
    let description = contract.description();
    let chosen = description
        .profiles
        .iter()
        .find(|p| profile.is_none_or(|name| p.name == name))
        .copied()
        .expect("the suite has the profile");
    let checks: Vec<Listed> = conformance_harness::checks(description, &chosen)
        .into_iter()
        .map(|c| Listed {
            id: c.id,
            level: c.level.as_str().to_owned(),
            source: c.source,
            summary: c.summary,
            rule: c.spec,
            profiles: c
                .levels
                .iter()
                .map(|(name, level)| ((*name).to_owned(), level.as_str().to_owned()))
                .collect(),
        })
        .collect();
    assert!(!checks.is_empty(), "the suite lists no check");
    checks
}

/// A generated document: `generated` must be what `path` holds. When it is
/// not, `update_var` set rewrites the file; unset, the test panics with
/// `out_of_date(current)` (say how to regenerate it).
pub fn check_generated(
    path: &Path,
    generated: &str,
    update_var: &str,
    out_of_date: impl FnOnce(&str) -> String,
) {
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current == generated {
        return;
    }
    if std::env::var_os(update_var).is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("{} can be created: {e}", dir.display()));
        }
        std::fs::write(path, generated)
            .unwrap_or_else(|e| panic!("{} can be written: {e}", path.display()));
    } else {
        panic!("{}", out_of_date(&current));
    }
}

/// `f` over every item on `workers` threads at once, taking the items in
/// order; the results in the items' order.
pub fn in_parallel<T: Send, R: Send>(
    items: Vec<T>,
    workers: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let count = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());
    let results = Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| loop {
                let Some((i, item)) = lock(&queue).next() else {
                    break;
                };
                let result = f(item);
                lock(&results).push((i, result));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// The guard of `mutex`, poisoned or not (a panicking test thread must not
/// take the others down with it).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where `needle` first starts in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Runs a rerun line the suite printed, as a user would paste it, with the
/// suite's program `binary` in place of cargo: `VAR=value … cargo test
/// [--features tls] -- ARGS` runs it with ARGS; `VAR=value … cargo nextest
/// run -E 'test(=NAME)'` runs it as nextest does (`--exact NAME
/// --nocapture`). `"$VAR"` takes VAR from `shell`, the variables of the
/// user's shell.
pub fn run_rerun_line(binary: &str, line: &str, shell: &[(&str, &str)]) -> Result<Run, String> {
    let words = shell_words(line, shell)?;
    let mut env: Vec<(String, String)> = Vec::new();
    let mut rest = words.as_slice();
    while let Some((first, tail)) = rest.split_first() {
        match first.split_once('=') {
            Some((k, v))
                if !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') =>
            {
                env.push((k.to_owned(), v.to_owned()));
                rest = tail;
            }
            _ => break,
        }
    }
    let args: Vec<String> = match rest {
        [cargo, test, tail @ ..] if cargo == "cargo" && test == "test" => {
            let at = tail
                .iter()
                .position(|w| w == "--")
                .ok_or_else(|| format!("no `--` in {line:?}"))?;
            tail[at + 1..].to_vec()
        }
        [cargo, nextest, run, tail @ ..]
            if cargo == "cargo" && nextest == "nextest" && run == "run" =>
        {
            let at = tail
                .iter()
                .position(|w| w == "-E")
                .ok_or_else(|| format!("no -E in {line:?}"))?;
            let expr = tail.get(at + 1).ok_or("-E without an expression")?;
            let name = expr
                .strip_prefix("test(=")
                .and_then(|e| e.strip_suffix(')'))
                .ok_or_else(|| format!("not an exact test filter: {expr:?}"))?;
            vec!["--exact".into(), name.to_owned(), "--nocapture".into()]
        }
        _ => return Err(format!("not a cargo test or nextest line: {line:?}")),
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run_binary(binary, &args, &env)
}

/// The words of a shell line: `'…'` literal, `"…"` with `$VAR` from
/// `shell`, `\\x` an escaped character, bare words split on spaces.
fn shell_words(line: &str, shell: &[(&str, &str)]) -> Result<Vec<String>, String> {
    let lookup = |name: &str| {
        shell
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
            .unwrap_or_default()
    };
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(format!("unclosed ' in {line:?}")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('$') if chars.peek() == Some(&'{') => {
                            // `${NAME}`, or `${NAME:?message}`: the shell
                            // stops with the message when NAME is empty.
                            chars.next();
                            let mut inside = String::new();
                            loop {
                                match chars.next() {
                                    Some('}') => break,
                                    Some(c) => inside.push(c),
                                    None => return Err(format!("unclosed ${{ in {line:?}")),
                                }
                            }
                            let (name, message) = match inside.split_once(":?") {
                                Some((name, message)) => (name.to_owned(), Some(message)),
                                None => (inside.clone(), None),
                            };
                            let value = lookup(&name);
                            if let (true, Some(message)) = (value.is_empty(), message) {
                                return Err(format!("{name}: {message}"));
                            }
                            w.push_str(&value);
                        }
                        Some('$') => {
                            let mut name = String::new();
                            while let Some(c) = chars
                                .peek()
                                .filter(|c| c.is_ascii_alphanumeric() || **c == '_')
                            {
                                name.push(*c);
                                chars.next();
                            }
                            w.push_str(&lookup(&name));
                        }
                        Some(c) => w.push(c),
                        None => return Err(format!("unclosed \" in {line:?}")),
                    }
                }
            }
            '\\' => {
                let escaped = chars
                    .next()
                    .ok_or_else(|| format!("a trailing \\ in {line:?}"))?;
                word.get_or_insert_with(String::new).push(escaped);
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = word {
        words.push(w);
    }
    Ok(words)
}

/// The rerun lines of a rendered failure: the `rerun:` line, then `or:`.
pub fn rerun_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            l.strip_prefix("rerun: ").or_else(|| l.strip_prefix("or: "))
        })
        .map(str::to_owned)
        .collect()
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
    fn shell_words_unquote_and_expand() {
        let words = shell_words(
            r#"A=1 T="$T" cargo test -- --exact x --target 'http://h/v1.0' --cases 'it'\''s'"#,
            &[("T", "secret")],
        )
        .expect("parses");
        assert_eq!(
            words,
            [
                "A=1",
                "T=secret",
                "cargo",
                "test",
                "--",
                "--exact",
                "x",
                "--target",
                "http://h/v1.0",
                "--cases",
                "it's"
            ]
        );
    }

    #[test]
    fn a_variable_that_must_be_set_stops_the_line_when_it_is_not() {
        let line = r#"T="${T:?set it}" cargo test -- --exact x"#;
        assert_eq!(shell_words(line, &[("T", "v")]).expect("parses")[0], "T=v");
        assert_eq!(shell_words(line, &[]), Err("T: set it".to_owned()));
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
