//! Cargo: building the conformance binary and finding it, the clean build
//! of what `cargo test` needs, duplicate crates and build scripts.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

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

    fn folder(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Dev => "debug",
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
    /// Set when the build failed and an older binary is used instead.
    pub warning: Option<String>,
}

/// `cargo test [--release] --test conformance --no-run --message-format=json`,
/// the executable taken from cargo's JSON; when the build fails, the newest
/// `conformance-*` in the target folder (as selftest's `suite_binary` does),
/// with a warning that it may be stale.
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
    let mut executable = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading cargo's output: {e}"))?;
            let Ok(message) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if message.get("reason").and_then(Value::as_str) != Some("compiler-artifact") {
                continue;
            }
            let is_suite =
                message.pointer("/target/name").and_then(Value::as_str) == Some("conformance");
            if let (true, Some(exe)) = (is_suite, message.get("executable").and_then(Value::as_str))
            {
                executable = Some(PathBuf::from(exe));
            }
        }
    }
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
        (success, _) => {
            let why = if success {
                "cargo built no `conformance` executable".to_owned()
            } else {
                format!("the {} build failed ({status})", profile.name())
            };
            let binary = conformance_selftest::newest_binary(profile.folder())
                .map_err(|e| format!("{why}, and {e}"))?;
            Ok(Suite {
                profile,
                warning: Some(format!(
                    "{why}: measuring the newest existing binary {}, which may be older than the sources",
                    binary.display()
                )),
                binary,
                build_time: None,
            })
        }
    }
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

/// `cargo clean` then `cargo <args> --timings` in `target`, timed.
pub fn clean_build(root: &Path, target: &Path, args: &[&str]) -> Result<CleanBuild, String> {
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

/// Duplicate crates (`cargo tree -d`), each with what pulls each version in,
/// and the packages with build scripts, over everything `cargo test
/// --workspace` builds for this host.
pub fn dependency_report(root: &Path) -> Result<Value, String> {
    let run = |args: &[&str]| -> Result<String, String> {
        let output = Command::new(cargo())
            .args(args)
            .current_dir(root)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cargo {}: {e}", args.join(" ")))?;
        if !output.status.success() {
            return Err(format!(
                "cargo {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        String::from_utf8(output.stdout)
            .map_err(|e| format!("cargo {}: output not UTF-8: {e}", args.join(" ")))
    };
    let edges = "normal,build,dev";
    let duplicates_text = run(&[
        "tree",
        "--workspace",
        "-d",
        "-e",
        edges,
        "--depth",
        "0",
        "--prefix",
        "none",
    ])?;
    let mut duplicates: Vec<String> = duplicates_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    duplicates.sort();
    duplicates.dedup();
    let mut duplicate_rows = Vec::new();
    for dup in &duplicates {
        let spec = dup.replacen(" v", "@", 1);
        let dependents = run(&[
            "tree",
            "--workspace",
            "-i",
            &spec,
            "-e",
            edges,
            "--depth",
            "1",
            "--prefix",
            "none",
        ])
        .unwrap_or_default();
        let by: Vec<String> = dependents
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('['))
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .collect();
        duplicate_rows.push(json!({"crate": dup, "pulled_in_by": by}));
    }

    let host = run_rustc_host()?;
    let metadata = run(&[
        "metadata",
        "--format-version",
        "1",
        "--filter-platform",
        &host,
    ])?;
    let metadata: Value =
        serde_json::from_str(&metadata).map_err(|e| format!("cargo metadata: {e}"))?;
    let in_graph: std::collections::HashSet<&str> = metadata
        .pointer("/resolve/nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|n| n.get("id").and_then(Value::as_str))
        .collect();
    let mut build_scripts: Vec<String> = metadata
        .get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| {
            p.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| in_graph.contains(id))
        })
        .filter(|p| {
            p.get("targets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|t| {
                    t.get("kind")
                        .and_then(Value::as_array)
                        .is_some_and(|k| k.iter().any(|k| k.as_str() == Some("custom-build")))
                })
        })
        .filter_map(|p| {
            Some(format!(
                "{} {}",
                p.get("name")?.as_str()?,
                p.get("version")?.as_str()?
            ))
        })
        .collect();
    build_scripts.sort();
    let packages = in_graph.len();
    Ok(json!({
        "packages_in_graph": packages,
        "duplicates": duplicate_rows,
        "build_scripts": build_scripts,
    }))
}

fn run_rustc_host() -> Result<String, String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .arg("-vV")
        .output()
        .map_err(|e| format!("rustc -vV: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| "rustc -vV names no host".to_owned())
}
