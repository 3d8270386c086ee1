//! The installed program, as a user without a checkout gets it: `cargo
//! install` from the workspace into a root of its own (reusing the
//! workspace's build: `--debug`, the workspace's target folder, offline),
//! then `invite-conformance` run from an empty folder: the whole suite with
//! its built-in cases, `--version`, `--cases` adding to them, the JUnit file
//! and report.html of a failing run, and `ci/conformance.sh`, the README's
//! CI recipe as a script, against the reference server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use conformance_selftest::{run_binary_in, server, target_dir, temp, workspace_root, Run};
use invite_reference::Fault;

/// `cargo install --path <workspace> --root <root> --debug --locked
/// --offline`, into the workspace's target folder: the crates the tests
/// built are reused, only the program is linked.
fn install(root: &Path) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let out = Command::new(cargo)
        .args(["install", "--path"])
        .arg(workspace_root())
        .arg("--root")
        .arg(root)
        .args([
            "--debug",
            "--locked",
            "--offline",
            "--bin",
            "invite-conformance",
        ])
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo install failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "cargo install --debug (reusing the workspace's build): {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let program = root.join("bin").join("invite-conformance");
    assert!(program.is_file(), "{} was not installed", program.display());
    program
}

fn run(program: &Path, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_binary_in(program.to_str().expect("a UTF-8 path"), cwd, args, env).expect("runs")
}

#[test]
fn the_installed_program_runs_the_suite_from_an_empty_folder() {
    let base = temp("program");
    let program = install(&base.join("root"));
    let empty = base.join("empty");
    std::fs::create_dir_all(&empty).expect("a folder");
    // The built-in files go to this cache, not the user's.
    let cache = base.join("cache");
    let cache = cache.to_str().expect("a UTF-8 path");
    let env = [
        ("CONFORMANCE_TOKEN", "selftest-program-token"),
        ("XDG_CACHE_HOME", cache),
    ];

    let version = run(&program, &empty, &["--version"], &env);
    assert_eq!(version.code, Some(0), "{}", version.all_output());
    assert!(
        version.stdout.starts_with(&format!(
            "invite-conformance {}\nspec: ",
            env!("CARGO_PKG_VERSION")
        )) && version.stdout.contains("participant-invite.md"),
        "{}",
        version.stdout
    );

    // The whole suite, every built-in case, against a correct target.
    let correct = server(Vec::new());
    let whole = run(&program, &empty, &["--target", &correct.base_url()], &env);
    assert_eq!(whole.code, Some(0), "{}", whole.all_output());
    let cases = walk_json(&workspace_root().join("cases"));
    let summary = whole
        .stdout
        .lines()
        .find(|l| l.starts_with("test result: ok."))
        .unwrap_or_else(|| panic!("no summary:\n{}", whole.stdout));
    for case in &cases {
        assert!(
            whole.stdout.lines().any(
                |l| l.starts_with(&format!("test {case} ")) && l.trim_end().ends_with("... ok")
            ),
            "{case} did not run: {summary}\n{}",
            whole.stdout
        );
    }
    assert!(
        std::fs::read_dir(&empty).expect("listed").next().is_none(),
        "the run wrote into the folder it ran from"
    );

    // A failing target: the JUnit file and report.html say what failed.
    let faulty = server(vec![Fault::NoLocation]);
    let failing = run(
        &program,
        &empty,
        &[
            "--target",
            &faulty.base_url(),
            "--report",
            "out",
            "--junit",
            "out/junit.xml",
            "case::invite::examples",
        ],
        &env,
    );
    assert_eq!(failing.code, Some(101), "{}", failing.all_output());
    let junit = std::fs::read_to_string(empty.join("out/junit.xml")).expect("a JUnit file");
    let failure = junit
        .lines()
        .find(|l| l.contains("<failure message="))
        .unwrap_or_else(|| panic!("no failure element:\n{junit}"));
    assert!(
        failure.contains("invite.location") && failure.contains(r#"type="conformance""#),
        "{failure}"
    );
    assert!(
        junit.contains("rerun: CONFORMANCE_TOKEN=")
            && junit.contains("invite-conformance --exact case::invite::examples::")
            && !junit.contains("selftest-program-token"),
        "{junit}"
    );
    let html = std::fs::read_to_string(empty.join("out/report.html")).expect("report.html");
    assert!(
        html.contains("<b>FAIL</b>")
            && html.contains("<details><summary><code>case::invite::examples::"),
        "{html}"
    );

    // The members beyond the metadata a target sent reach the reports.
    let extra = invite_reference::start(invite_reference::Config {
        variants: vec![invite_reference::Variant::ExtraMembers],
        ..invite_reference::Config::default()
    })
    .expect("the reference server starts");
    let beyond = run(
        &program,
        &empty,
        &[
            "--target",
            &extra.base_url(),
            "--report",
            "beyond",
            "--exact",
            "case::invite::examples::example_1_invite_one_participant",
        ],
        &env,
    );
    assert_eq!(beyond.code, Some(0), "{}", beyond.all_output());
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(empty.join("beyond/report.json")).expect("report.json"),
    )
    .expect("JSON");
    assert!(
        report["undeclared"].as_array().is_some_and(|m| m
            .iter()
            .any(|m| m["member"] == "inviteParticipantsOperation.conformanceExtra")),
        "{report}"
    );
    let html = std::fs::read_to_string(empty.join("beyond/report.html")).expect("report.html");
    assert!(
        html.contains("Members beyond the metadata")
            && html.contains("inviteParticipantsOperation.conformanceExtra"),
        "{html}"
    );

    // --cases adds a team's cases to the built-in ones.
    let mine = base.join("mine");
    std::fs::create_dir_all(mine.join("ours")).expect("a folder");
    std::fs::copy(
        workspace_root().join("cases/rejections/no_authorization.json"),
        mine.join("ours/no_token_again.json"),
    )
    .expect("a case");
    let mine_arg = mine.to_str().expect("a UTF-8 path");
    let listed = run(&program, &empty, &["--cases", mine_arg, "--list"], &env);
    assert_eq!(listed.code, Some(0), "{}", listed.all_output());
    assert!(
        listed.stdout.contains("case::ours::no_token_again: test")
            && listed
                .stdout
                .contains("case::rejections::no_authorization: test"),
        "{}",
        listed.stdout
    );
    let only = run(
        &program,
        &empty,
        &[
            &format!("--cases={mine_arg}"),
            "--no-builtin-cases",
            "--list",
        ],
        &env,
    );
    assert!(
        only.stdout.contains("case::ours::no_token_again: test")
            && !only.stdout.contains("case::rejections::"),
        "{}",
        only.stdout
    );
    std::fs::create_dir_all(mine.join("rejections")).expect("a folder");
    std::fs::copy(
        workspace_root().join("cases/rejections/no_authorization.json"),
        mine.join("rejections/no_authorization.json"),
    )
    .expect("a case");
    let clash = run(&program, &empty, &["--cases", mine_arg, "--list"], &env);
    assert_eq!(clash.code, Some(2), "{}", clash.all_output());
    assert!(
        clash.stderr.contains("rejections/no_authorization.json")
            && clash.stderr.contains("--no-builtin-cases"),
        "{}",
        clash.stderr
    );

    // The README's CI recipe, as a script, with the installed program on PATH.
    let script_out = base.join("ci-out");
    let path = format!(
        "{}:{}",
        program.parent().expect("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut script = Command::new("bash");
    conformance_selftest::clean_env(&mut script);
    let ci = script
        .arg(workspace_root().join("ci/conformance.sh"))
        .arg("case::rejections")
        .current_dir(&empty)
        .env("PATH", path)
        .env("XDG_CACHE_HOME", cache)
        .env("NO_COLOR", "1")
        .env("CONFORMANCE_TARGET", faulty.base_url())
        .env("CONFORMANCE_TOKEN", "selftest-ci-token")
        .env("CONFORMANCE_OUT", &script_out)
        .output()
        .expect("bash runs");
    let stderr = String::from_utf8_lossy(&ci.stderr);
    assert_eq!(ci.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("conformance: exit 0"), "{stderr}");
    for file in ["report.json", "report.md", "report.html", "junit.xml"] {
        assert!(script_out.join(file).is_file(), "{file} missing: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&base);
}

/// The test names of the case files under `dir`.
fn walk_json(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let rel = path.strip_prefix(dir).expect("under").with_extension("");
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                names.push(format!("case::{}", parts.join("::")));
            }
        }
    }
    names.sort();
    assert!(!names.is_empty(), "no case files under {}", dir.display());
    names
}

fn tree(root: &Path, files: &[&str]) {
    for f in files {
        let path = root.join(f);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("folders");
        std::fs::write(path, "{}").expect("a file");
    }
}

fn listed(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("readable") {
            let p = e.expect("an entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).expect("under the root");
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// `--cases DIR` and the built-in cases, joined as one tree of links
/// (folder by folder), removed at the end of the run.
#[test]
fn the_users_cases_join_the_built_in_ones_folder_by_folder() {
    let base = std::env::temp_dir().join(format!("builtin-join-{}", uuid::Uuid::new_v4()));
    let (builtin, mine) = (base.join("builtin"), base.join("mine"));
    tree(
        &builtin,
        &["invite/a.json", "invite/deep/b.json", "rejections/c.json"],
    );
    tree(&mine, &["invite/deep/mine.json", "ours/d.json"]);
    let joined = invite_conformance::builtin::join(&builtin, &mine).expect("joined");
    assert_eq!(
        listed(&joined.path),
        [
            "invite/a.json",
            "invite/deep/b.json",
            "invite/deep/mine.json",
            "ours/d.json",
            "rejections/c.json"
        ]
    );
    let path = joined.path.clone();
    drop(joined);
    assert!(!path.exists(), "removed at the end of the run");
    assert!(builtin.join("invite/a.json").exists() && mine.join("ours/d.json").exists());

    tree(&mine, &["invite/a.json"]);
    let err = invite_conformance::builtin::join(&builtin, &mine).expect_err("a file both have");
    assert!(
        err.to_string().contains("invite/a.json") && err.to_string().contains("--no-builtin-cases"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&base);
}
