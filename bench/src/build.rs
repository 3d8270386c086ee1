//! Cargo: building the conformance binary and finding it; section 5, the
//! clean build of what `cargo test` needs, duplicate crates and build
//! scripts.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use conformance_harness::render::truncate;
use serde_json::{json, Value};

use crate::child;
use crate::figures::{items, secs, strings};

/// The cargo that runs the bench (`cargo run` sets `CARGO`), else `cargo`.
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Release,
    Dev,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Dev => "dev",
        }
    }
}

/// The conformance binary of one profile, and how it was obtained.
#[derive(Debug, Clone)]
pub struct Suite {
    pub profile: Profile,
    pub binary: PathBuf,
    /// Time `cargo test --no-run` took (an incremental build: usually just
    /// the up-to-date check).
    pub build_time: Option<Duration>,
    /// What to know of it (given with `--suite-bin`, say).
    pub warning: Option<String>,
}

impl Suite {
    /// The binary, as the report records it.
    pub fn to_json(&self) -> Value {
        json!({
            "profile": self.profile.name(),
            "path": self.binary.display().to_string(),
            "incremental_build_seconds": self.build_time.map(|d| d.as_secs_f64()),
            "warning": self.warning,
        })
    }
}

/// `cargo test [--release] --test conformance --no-run --message-format=json`,
/// the executable taken from cargo's JSON. A build that fails is an error:
/// `--suite-bin PATH` measures a binary built otherwise.
pub fn build_suite(root: &Path, profile: Profile) -> Result<Suite, String> {
    let mut command = Command::new(cargo());
    command
        .args([
            "test",
            "--test",
            "conformance",
            "--no-run",
            "--message-format=json",
        ])
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if profile == Profile::Release {
        command.arg("--release");
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", cargo().display()))?;
    let executable = match child.stdout.take() {
        Some(stdout) => suite_executable(BufReader::new(stdout))?,
        None => None,
    };
    let status = child
        .wait()
        .map_err(|e| format!("waiting for cargo: {e}"))?;
    let build_time = started.elapsed();
    match (status.success(), executable) {
        (true, Some(binary)) => Ok(Suite {
            profile,
            binary,
            build_time: Some(build_time),
            warning: None,
        }),
        (true, None) => Err("cargo built no `conformance` executable".to_owned()),
        (false, _) => Err(format!(
            "the {} build failed ({status}); --suite-bin PATH measures a binary built otherwise",
            profile.name()
        )),
    }
}

/// The `conformance` executable that cargo's JSON messages name, if any.
fn suite_executable(messages: impl BufRead) -> Result<Option<PathBuf>, String> {
    let mut executable = None;
    for line in messages.lines() {
        let line = line.map_err(|e| format!("reading cargo's output: {e}"))?;
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if message.get("reason").and_then(Value::as_str) != Some("compiler-artifact") {
            continue;
        }
        let is_suite =
            message.pointer("/target/name").and_then(Value::as_str) == Some("conformance");
        if let (true, Some(exe)) = (is_suite, message.get("executable").and_then(Value::as_str)) {
            executable = Some(PathBuf::from(exe));
        }
    }
    Ok(executable)
}

/// Times and prints the clean builds of `cargo test --no-run` and `cargo
/// test --workspace --no-run` in `target`; their part of the report.
pub fn clean_builds_section(root: &Path, target: &Path) -> Value {
    let mut rows = Vec::new();
    for args in [
        &["test", "--no-run"][..],
        &["test", "--workspace", "--no-run"][..],
    ] {
        eprintln!(
            "clean build: cargo {} in {}…",
            args.join(" "),
            target.display()
        );
        match clean_build(root, target, args) {
            Ok(b) => {
                b.print();
                rows.push(b.to_json());
            }
            Err(e) => {
                println!("   clean `cargo {}` not measured: {e}", args.join(" "));
                rows.push(json!({"command": format!("cargo {}", args.join(" ")), "error": e}));
            }
        }
    }
    json!({"target_dir": target.display().to_string(), "rows": rows})
}

/// One timed clean build.
#[derive(Debug, Clone)]
pub struct CleanBuild {
    pub command: String,
    pub wall: Duration,
    pub ok: bool,
    /// The slowest compilation units, from `--timings`: (unit, seconds).
    pub slowest: Vec<(String, f64)>,
    /// Compilation units built.
    pub units: usize,
}

impl CleanBuild {
    fn print(&self) {
        println!(
            "   clean `{}`: {} ({} units){}",
            self.command,
            secs(self.wall.as_secs_f64()),
            self.units,
            if self.ok { "" } else { " FAILED" }
        );
        if !self.slowest.is_empty() {
            let top: Vec<String> = self
                .slowest
                .iter()
                .take(8)
                .map(|(u, s)| format!("{u} {s:.1}s"))
                .collect();
            println!("     slowest units: {}", top.join(", "));
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "command": self.command,
            "wall_seconds": self.wall.as_secs_f64(),
            "ok": self.ok,
            "units": self.units,
            "slowest_units": self.slowest.iter().map(|(u, s)| json!({"unit": u, "seconds": s})).collect::<Vec<_>>(),
        })
    }
}

/// `cargo clean` then `cargo <args> --timings` in `target`, timed.
fn clean_build(root: &Path, target: &Path, args: &[&str]) -> Result<CleanBuild, String> {
    let status = Command::new(cargo())
        .args(["clean", "--quiet"])
        .env("CARGO_TARGET_DIR", target)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cargo clean: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo clean in {} failed ({status})",
            target.display()
        ));
    }
    let started = Instant::now();
    let status = Command::new(cargo())
        .args(args)
        .arg("--timings")
        .env("CARGO_TARGET_DIR", target)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cargo {}: {e}", args.join(" ")))?;
    let wall = started.elapsed();
    let (slowest, units) = timings(&target.join("cargo-timings").join("cargo-timing.html"));
    Ok(CleanBuild {
        command: format!("cargo {}", args.join(" ")),
        wall,
        ok: status.success(),
        slowest,
        units,
    })
}

/// The slowest units of a `--timings` report: its HTML embeds the units as
/// `const UNIT_DATA = [...];`. An unreadable report gives nothing.
fn timings(html: &Path) -> (Vec<(String, f64)>, usize) {
    let Ok(text) = std::fs::read_to_string(html) else {
        return (Vec::new(), 0);
    };
    let Some(start) = text.find("UNIT_DATA = ").map(|i| i + "UNIT_DATA = ".len()) else {
        return (Vec::new(), 0);
    };
    let Some(len) = text[start..].find(";\n") else {
        return (Vec::new(), 0);
    };
    let Ok(Value::Array(units)) = serde_json::from_str::<Value>(&text[start..start + len]) else {
        return (Vec::new(), 0);
    };
    let mut rows: Vec<(String, f64)> = units
        .iter()
        .filter_map(|u| {
            let name = u.get("name")?.as_str()?;
            let version = u.get("version").and_then(Value::as_str).unwrap_or("");
            let target = u.get("target").and_then(Value::as_str).unwrap_or("");
            let duration = u.get("duration")?.as_f64()?;
            Some((format!("{name} {version}{target}"), duration))
        })
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let count = rows.len();
    rows.truncate(12);
    (rows, count)
}

/// Lists and prints the duplicate crates and the build scripts; their part
/// of the report.
pub fn dependencies_section(root: &Path) -> Value {
    match dependency_report(root) {
        Ok(d) => {
            println!(
                "   packages in the graph: {}",
                d["packages_in_graph"].as_u64().unwrap_or(0)
            );
            for dup in items(d.get("duplicates")) {
                let by = match dup["error"].as_str() {
                    Some(e) => {
                        let one_line = e.split_whitespace().collect::<Vec<_>>().join(" ");
                        format!("? ({})", truncate(&one_line, 200))
                    }
                    None => strings(&dup["pulled_in_by"]).join(", "),
                };
                println!(
                    "   duplicate {:<20} ← {by}",
                    dup["crate"].as_str().unwrap_or("?"),
                );
            }
            let scripts = strings(&d["build_scripts"]);
            println!(
                "   build scripts ({}): {}",
                scripts.len(),
                scripts.join(", ")
            );
            d
        }
        Err(e) => {
            println!("   dependencies not listed: {e}");
            json!({"error": e})
        }
    }
}

/// Duplicate crates (`cargo tree -d`), each with what pulls each version in,
/// and the packages with build scripts, over everything `cargo test
/// --workspace` builds for this host.
fn dependency_report(root: &Path) -> Result<Value, String> {
    let duplicates = duplicates(root)?;
    let (packages, build_scripts) = build_scripts(root)?;
    Ok(json!({
        "packages_in_graph": packages,
        "duplicates": duplicates,
        "build_scripts": build_scripts,
    }))
}

/// The dependency kinds the graph follows: what `cargo test` builds.
const EDGES: &str = "normal,build,dev";

/// What `cargo args` prints, run in `root`; its error output if it fails.
fn cargo_output(root: &Path, args: &[&str]) -> Result<String, String> {
    child::stdout_of(cargo(), args, root)
}

/// `name version` of each line of a `cargo tree --prefix none` listing.
fn tree_packages<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    lines
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('['))
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

/// Each crate built in more than one version, with the packages that pull
/// each version in (`cargo tree -d`, then `cargo tree -i`).
fn duplicates(root: &Path) -> Result<Vec<Value>, String> {
    let listed = cargo_output(
        root,
        &[
            "tree",
            "--workspace",
            "-d",
            "-e",
            EDGES,
            "--depth",
            "0",
            "--prefix",
            "none",
        ],
    )?;
    let mut duplicates = tree_packages(listed.lines());
    duplicates.sort();
    duplicates.dedup();
    Ok(duplicates
        .iter()
        .map(|dup| {
            let spec = dup.replacen(" v", "@", 1);
            let dependents = cargo_output(
                root,
                &[
                    "tree",
                    "--workspace",
                    "-i",
                    &spec,
                    "-e",
                    EDGES,
                    "--depth",
                    "1",
                    "--prefix",
                    "none",
                ],
            );
            match dependents {
                Ok(text) => {
                    json!({"crate": dup, "pulled_in_by": tree_packages(text.lines().skip(1))})
                }
                Err(e) => json!({"crate": dup, "pulled_in_by": null, "error": e}),
            }
        })
        .collect())
}

/// How many packages the host's graph holds, and those of them with a build
/// script (`name version`, sorted).
fn build_scripts(root: &Path) -> Result<(usize, Vec<String>), String> {
    let host = rustc_host(root)?;
    let metadata = cargo_output(
        root,
        &[
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            &host,
        ],
    )?;
    let metadata: Value =
        serde_json::from_str(&metadata).map_err(|e| format!("cargo metadata: {e}"))?;
    let in_graph: std::collections::HashSet<&str> = items(metadata.pointer("/resolve/nodes"))
        .filter_map(|n| n.get("id").and_then(Value::as_str))
        .collect();
    let has_build_script = |p: &Value| {
        items(p.get("targets"))
            .any(|t| items(t.get("kind")).any(|k| k.as_str() == Some("custom-build")))
    };
    let mut scripts: Vec<String> = items(metadata.get("packages"))
        .filter(|p| {
            p.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| in_graph.contains(id))
        })
        .filter(|p| has_build_script(p))
        .filter_map(|p| {
            Some(format!(
                "{} {}",
                p.get("name")?.as_str()?,
                p.get("version")?.as_str()?
            ))
        })
        .collect();
    scripts.sort();
    Ok((in_graph.len(), scripts))
}

/// The host triple, from `rustc -vV` run in `root`.
fn rustc_host(root: &Path) -> Result<String, String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    child::stdout_of(rustc, &["-vV"], root)?
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| "rustc -vV names no host".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_suite_executable_in_cargo_messages() {
        let messages = r#"not json
{"reason":"compiler-artifact","target":{"name":"conformance_harness"},"executable":null}
{"reason":"compiler-artifact","target":{"name":"conformance"},"executable":"/t/release/deps/conformance-1"}
{"reason":"build-finished","success":true}
"#;
        assert_eq!(
            suite_executable(messages.as_bytes()).expect("readable"),
            Some(PathBuf::from("/t/release/deps/conformance-1"))
        );
        assert_eq!(suite_executable(&b""[..]).expect("readable"), None);
    }

    #[test]
    fn lists_packages_of_a_tree_without_headers() {
        let text = "serde v1.0.0\n\n[dev-dependencies]\nfoo v0.2.1 (*)\n";
        assert_eq!(tree_packages(text.lines()), ["serde v1.0.0", "foo v0.2.1"]);
    }
}
