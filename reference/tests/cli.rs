//! The `invite-reference` binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use invite_reference::{Change, Document, Fault, Variant};

const BINARY: &str = env!("CARGO_BIN_EXE_invite-reference");

/// The output of a run that is expected to end at once.
fn run(args: &[&str]) -> std::process::Output {
    Command::new(BINARY).args(args).output().expect("run")
}

/// What a run with a `--list-*` flag prints; it must succeed.
fn listing(flag: &str) -> String {
    let output = run(&[flag]);
    assert!(output.status.success());
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// The listing's entries: each starts with an unindented line, and goes on
/// with indented ones.
fn entries(listing: &str) -> Vec<Vec<&str>> {
    let mut entries: Vec<Vec<&str>> = Vec::new();
    for line in listing.lines() {
        match entries.last_mut() {
            Some(entry) if line.starts_with(' ') => entry.push(line.trim()),
            _ => entries.push(vec![line]),
        }
    }
    entries
}

#[test]
fn list_faults_prints_every_fault_with_its_description_and_trigger() {
    let text = listing("--list-faults");
    let entries = entries(&text);
    assert_eq!(entries.len(), Fault::ALL.len());
    for (entry, fault) in entries.iter().zip(Fault::ALL) {
        let first = entry[0];
        assert!(first.starts_with(fault.name()), "{first}");
        assert!(first.ends_with(fault.description()), "{first}");
        match fault.trigger() {
            Some(trigger) => assert_eq!(entry[1..], [format!("only on: {trigger}")]),
            None => assert_eq!(entry.len(), 1, "{entry:?}"),
        }
    }
    assert!(text.contains("server-error-on-phone"));
    assert!(text.contains("only on: an invite with a phone identity"));
}

#[test]
fn list_variants_prints_every_variant_with_its_description_and_source() {
    let text = listing("--list-variants");
    let entries = entries(&text);
    assert_eq!(entries.len(), Variant::ALL.len());
    for (entry, variant) in entries.iter().zip(Variant::ALL) {
        let first = entry[0];
        assert!(first.starts_with(variant.name()), "{first}");
        assert!(first.ends_with(variant.description()), "{first}");
        assert_eq!(entry[1], format!("allowed: {}", variant.source()));
        let conflicts: Vec<&str> = Variant::ALL
            .iter()
            .filter(|other| variant.conflicts_with(**other))
            .map(|other| other.name())
            .collect();
        if conflicts.is_empty() {
            assert_eq!(entry.len(), 2, "{entry:?}");
        } else {
            assert_eq!(
                entry[2..],
                [format!("conflicts with: {}", conflicts.join(", "))]
            );
        }
    }
}

#[test]
fn unknown_or_conflicting_variants_are_usage_errors() {
    let unknown = run(&["--listen", "127.0.0.1:0", "--variant", "no-such-variant"]);
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("unknown variant \"no-such-variant\""),
        "{stderr}"
    );
    assert!(stderr.contains("--list-variants"), "{stderr}");

    let conflicting = run(&[
        "--listen",
        "127.0.0.1:0",
        "--variant",
        "location-absolute",
        "--variant",
        "opaque-ids",
        "--variant",
        "location-path-only",
    ]);
    assert_eq!(conflicting.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&conflicting.stderr);
    assert!(
        stderr.contains("the variants location-absolute and location-path-only cannot both be on"),
        "{stderr}"
    );
    assert!(conflicting.stdout.is_empty(), "nothing was served");
}

#[test]
fn list_mutations_names_every_document_and_change() {
    let output = run(&["--list-mutations"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for name in Document::ALL
        .iter()
        .map(|d| d.name())
        .chain(Change::ALL.iter().map(|c| c.name()))
    {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(name)),
            "{name} in {text}"
        );
    }
}

#[test]
fn a_mutation_that_does_not_parse_is_a_usage_error() {
    for spec in [
        "response",
        "reply:remove:$.id",
        "response:drop:$.id",
        "response:remove:id",
    ] {
        let refused = run(&["--listen", "127.0.0.1:0", "--mutate", spec]);
        assert_eq!(refused.status.code(), Some(2), "{spec}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("--mutate"), "{spec}: {stderr}");
        assert!(refused.stdout.is_empty(), "nothing was served");
    }
}

#[test]
fn help_names_the_options_and_unknown_faults_are_refused() {
    let help = Command::new(BINARY).arg("--help").output().expect("run");
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for option in [
        "--listen",
        "--fault",
        "--variant",
        "--operation-delay-ms",
        "--list-faults",
        "--list-variants",
        "--mutate",
        "--list-mutations",
        "--quiet",
        "--body-limit",
        "--max-header-bytes",
        "--max-connections",
        "--max-calls-per-client",
        "--header-timeout-ms",
        "--body-timeout-ms",
        "--write-timeout-ms",
    ] {
        assert!(text.contains(option), "{option} in {text}");
    }
    // A limit of zero would refuse everyone; it is refused instead.
    for zero in [
        "--max-connections",
        "--max-calls-per-client",
        "--max-header-bytes",
        "--header-timeout-ms",
        "--body-timeout-ms",
        "--write-timeout-ms",
    ] {
        let refused = Command::new(BINARY)
            .args([zero, "0"])
            .output()
            .expect("run");
        assert!(!refused.status.success(), "{zero} 0 is refused");
    }
    let refused = Command::new(BINARY)
        .args(["--fault", "no-such-fault"])
        .output()
        .expect("run");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no-such-fault"));
}

#[test]
fn the_server_prints_its_base_url_and_logs_each_request() {
    let mut child = Command::new(BINARY)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--fault",
            "no-location",
            "--variant",
            "opaque-ids",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (sender, first_line) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let base = first_line
        .recv_timeout(Duration::from_secs(10))
        .expect("the base URL is printed");
    let base = base.trim();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with("/v1.0"),
        "{base}"
    );
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches("/v1.0")
        .to_owned();

    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .write_all(b"GET /v1.0/communications/calls/none HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");

    child.kill().expect("stop the server");
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr);
    let _ = child.wait();
    assert!(stderr.contains("faults: no-location"), "{stderr}");
    assert!(stderr.contains("variants: opaque-ids"), "{stderr}");
    assert!(
        stderr.contains("GET /v1.0/communications/calls/none 404"),
        "{stderr}"
    );
}
