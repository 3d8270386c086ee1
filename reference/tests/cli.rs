//! The `invite-reference` binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use invite_reference::Fault;

const BINARY: &str = env!("CARGO_BIN_EXE_invite-reference");

#[test]
fn list_faults_prints_every_fault_with_its_description() {
    let output = Command::new(BINARY)
        .arg("--list-faults")
        .output()
        .expect("run");
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    assert_eq!(text.lines().count(), Fault::ALL.len());
    for (line, fault) in text.lines().zip(Fault::ALL) {
        assert!(line.starts_with(fault.name()), "{line}");
        assert!(line.ends_with(fault.description()), "{line}");
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
        "--operation-delay-ms",
        "--list-faults",
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
        .args(["--listen", "127.0.0.1:0", "--fault", "no-location"])
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
    assert!(
        stderr.contains("GET /v1.0/communications/calls/none 404"),
        "{stderr}"
    );
}
