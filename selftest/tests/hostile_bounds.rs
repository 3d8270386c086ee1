//! What a hostile target or a hostile case file controls stays bounded,
//! sanitised, free of the token and where the user pointed the suite: the
//! listener stays available (or says it was not), case files are read
//! within their limits, values are quoted as excerpts with their length,
//! escapes are shown escaped, the token is redacted in its transforms before
//! anything is cut, and requests never leave the target's base path or
//! origin unasked.
//!
//! Sizes are asserted as counts (bytes of output, KiB of peak memory,
//! requests and connections seen by a stub), never as time. Every run is
//! killed past a generous bound (a hang, not slowness), as in `hostile.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use conformance_selftest::stubs::{
    self, GraphConfig, InviteAnswer, Notifications, Stub, Transport,
};
use conformance_selftest::temp;
use conformance_selftest::watch::{watch, Trials, Watch, Watched, TOKEN};

/// The suite's program: these runs are watched as processes (memory, output).
const SUITE: &str = env!("CARGO_BIN_EXE_suite");

/// The case with a group call, an invite and notifications to await.
const INVITE_CASE: &str = "case::invite::examples::example_3_invite_to_existing_call";
/// The case that sends its invite first, to a call id no target knows.
const UNKNOWN_CALL_CASE: &str = "case::rejections::unknown_call";
/// The most a hostile run of one trial may print (stdout and stderr): a
/// failure quotes excerpts of what it saw, never the whole of it. Quoting
/// an 8 MiB value whole once would be 32 times this.
const OUTPUT_BOUND: usize = 256 << 10;
/// A body just under the 8 MiB the suite reads of a response.
const EIGHT_MIB_BODY: usize = (8 << 20) - 1024;

fn graph(config: GraphConfig) -> Stub {
    stubs::graph(config).expect("the stub starts")
}

fn transport(how: Transport) -> Stub {
    stubs::transport(how).expect("the stub starts")
}

fn correct() -> GraphConfig {
    GraphConfig::notifications(Notifications::Correct)
}

/// What every run here adds to `hostile.rs`'s checks: its output bounded.
fn assert_output_bounded(w: &Watched, bound: usize) {
    assert!(
        w.output_bytes <= bound,
        "{}: the suite printed {} bytes, over {bound}",
        w.what,
        w.output_bytes
    );
}

// ---- the listener -------------------------------------------------------------

/// The caps lowered for these runs, so that 40 connections show what 1,100
/// would against the defaults (1,024 in all, 512 per address).
const SMALL_CAPS: [&str; 4] = [
    "--listener-max-connections",
    "24",
    "--listener-max-per-address",
    "8",
];

/// A run of [`INVITE_CASE`] while 40 connections from `from` drip their
/// request heads a byte at a time (more than the 24 places in all), with
/// the caps lowered; the target notifies from 127.0.0.1.
fn under_slow_heads(what: &str, from: [u8; 4]) -> Watched {
    let stub = graph(GraphConfig::notifications(Notifications::SlowHeads {
        count: 40,
        from,
    }));
    Watch::hostile(SUITE, what, &stub.target())
        .args(&SMALL_CAPS)
        .trials(Trials::Exact(INVITE_CASE))
        .run()
}

#[test]
fn slow_heads_from_one_address_do_not_starve_the_targets_notifications() {
    let w = under_slow_heads("slow heads from another address", [127, 0, 0, 2]);
    // Every notification arrived: the trial passes, every check.
    w.assert_sane(0);
    w.assert_one_passed();
}

#[test]
fn a_saturated_listener_is_an_error_of_the_run_not_a_finding() {
    // The same flood from the target's own address: its notifications are
    // refused with the flood's connections, and the run says so. The call
    // the suite creates first to try the set-up hears nothing: the run stops
    // once (exit 2), blaming the listener, neither the target nor the
    // callback URL.
    let w = under_slow_heads("slow heads from the target's address", [127, 0, 0, 1]);
    w.assert_sane(2);
    let said = &w.run.stderr;
    for phrase in [
        "could not set up the run",
        "the callback listener was saturated",
        "connection(s) refused",
        "from 127.0.0.1",
        "the cap per address",
        "is another process flooding the listener?",
    ] {
        assert!(said.contains(phrase), "no {phrase:?} in:\n{said}");
    }
    assert!(
        !said.contains("is that URL reachable from the target?"),
        "the callback URL is not blamed:\n{said}"
    );
    assert!(
        w.run.failures.is_empty(),
        "no trial ran: {}",
        w.run.all_output()
    );
}

// ---- case files ------------------------------------------------------------------

/// A case file: a GET of `path` that expects `status`.
fn case(description: &str, path: &str, status: &str) -> String {
    serde_json::json!({
        "description": description,
        "spec": "issue 21",
        "request": {"method": "GET", "path": path},
        "expect": {"status": serde_json::from_str::<serde_json::Value>(status).expect("JSON")},
    })
    .to_string()
}

#[cfg(unix)]
fn hostile_cases() -> PathBuf {
    let dir = temp("hostile-cases");
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("written");
    write(
        "ok.json",
        &case(
            "a plain case",
            "/communications/calls/hostile-ok",
            "\"4xx\"",
        ),
    );
    // A description of 900 KB, within the size limit, on a failing case.
    write(
        "long.json",
        &case(
            &"d".repeat(900_000),
            "/communications/calls/hostile-long",
            "201",
        ),
    );
    // 5 KB that would expand to a gigabyte.
    let repeat = format!("{{{{repeat:{}:1000000}}}}", "a".repeat(1_000));
    let mut expanding: serde_json::Value =
        serde_json::from_str(&case("expands", "/communications/calls/x", "201")).expect("JSON");
    expanding["request"]["method"] = "POST".into();
    expanding["request"]["body"] = serde_json::json!({"x": repeat});
    write("repeat.json", &expanding.to_string());
    let big = std::fs::File::create(dir.join("big.json")).expect("created");
    big.set_len(2 << 20).expect("sized");
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.json")).expect("linked");
    let made = std::process::Command::new("mkfifo")
        .arg(dir.join("fifo.json"))
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo");
    // Two links to the folder itself.
    std::os::unix::fs::symlink(".", dir.join("loop")).expect("linked");
    std::os::unix::fs::symlink(".", dir.join("again")).expect("linked");
    dir
}

fn shown(dir: &Path) -> String {
    dir.display().to_string()
}

#[cfg(unix)]
#[test]
fn hostile_case_files_are_refused_each_with_its_limit() {
    let dir = hostile_cases();
    let stub = graph(correct());
    let cases = shown(&dir);

    // Listing reads no file: it returns, and names every case once.
    let list = Watch::default_run(SUITE, "list hostile cases", &stub.target())
        .args(&["--cases", &cases, "--list", "--format", "terse"])
        .run();
    assert!(!list.killed, "--list hung:\n{}", list.run.all_output());
    let listed: Vec<&str> = list
        .run
        .stdout
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .filter(|n| n.starts_with("case::"))
        .collect();
    assert_eq!(
        listed,
        [
            "case::again",
            "case::big",
            "case::fifo",
            "case::long",
            "case::loop",
            "case::ok",
            "case::repeat",
            "case::zero"
        ],
        "{}",
        list.run.all_output()
    );

    let w = Watch::hostile(SUITE, "hostile case files", &stub.target())
        .args(&["--cases", &cases])
        .trials(Trials::AllCases)
        .run();
    w.assert_sane(101);
    assert_output_bounded(&w, OUTPUT_BOUND);
    for (test, phrase) in [
        (
            "case::fifo",
            "it is a FIFO; a case file must be a regular file",
        ),
        ("case::zero", "it is a character device"),
        (
            "case::big",
            "its 2097152 bytes are over the limit of 1048576 bytes",
        ),
        ("case::loop", "already walked"),
        ("case::again", "already walked"),
        (
            "case::repeat",
            "larger than 16777216 bytes (the limit of a filled value)",
        ),
    ] {
        let text = w.failure(test);
        assert!(
            text.contains(phrase),
            "{test} does not say {phrase:?}:\n{text}"
        );
    }
    // The long description is shown as an excerpt that says its length.
    let long = w.failure("case::long");
    assert!(
        long.contains("(900000 bytes in all)"),
        "{}",
        &long[..long.len().min(3000)]
    );
    // The plain case ran once, under its one name, and passed.
    assert!(!w.run.failures.contains_key("case::ok"));
    let ran = stub
        .log()
        .requests()
        .iter()
        .filter(|r| r.ends_with("/hostile-ok"))
        .count();
    assert_eq!(ran, 1, "{:?}", stub.log().requests());

    // The lint reads no FIFO either, and names each limit.
    let lint = Watch::default_run(SUITE, "lint of hostile cases", &stub.target())
        .args(&["--cases", &cases, "--exact", "lint::case_files"])
        .run();
    assert!(!lint.killed, "the lint hung");
    let text = lint.failure("lint::case_files");
    for phrase in [
        "a FIFO",
        "a character device",
        "over the limit of 1048576 bytes",
        "$.request.body.x: its {{repeat:…}} would make 1000000000 bytes, over the limit of 16777216 bytes",
    ] {
        assert!(text.contains(phrase), "the lint does not say {phrase:?}:\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- what the target prints ---------------------------------------------------------

#[test]
fn an_8_mib_operation_id_is_quoted_as_an_excerpt() {
    let stub = graph(GraphConfig {
        answer_size: Some(EIGHT_MIB_BODY),
        ..correct()
    });
    let w = watch(
        SUITE,
        "8 MiB operation id",
        &stub,
        Trials::Exact(INVITE_CASE),
    );
    w.assert_sane(101);
    assert_output_bounded(&w, OUTPUT_BOUND);
    // Named with its length: the excerpt says what it is an excerpt of.
    w.assert_fail(INVITE_CASE, "invite.location", &["…\" (", " bytes)"]);
    w.assert_fail(INVITE_CASE, "invite.operation-get", &["id is string \""]);
}

/// Every escape sequence in `text`, and every other unsafe character.
fn unsafe_in(text: &str) -> Vec<String> {
    let palette = [
        "\u{1b}[0m",
        "\u{1b}[1;31m",
        "\u{1b}[1;33m",
        "\u{1b}[32m",
        "\u{1b}[2m",
        "\u{1b}[31m",
    ];
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(|c: char| {
        (c.is_control() && c != '\n' && c != '\t') || ('\u{202a}'..='\u{202e}').contains(&c)
    }) {
        let tail = &rest[at..];
        match palette.iter().find(|p| tail.starts_with(**p)) {
            Some(p) => rest = &tail[p.len()..],
            None => {
                found.push(tail.chars().take(12).collect());
                rest = &tail[tail.chars().next().map_or(1, char::len_utf8)..];
            }
        }
    }
    found
}

#[test]
fn terminal_escapes_from_a_target_are_shown_escaped_and_colour_is_the_suites() {
    // Escapes inside JSON values and keys (decoded by the parser), and raw
    // in a body that is not JSON at all.
    let in_json = br#"{"id": "\u001b[2J\u001b]0;pwned\u0007", "status": "\u001b]52;c;Y2xpcGJvYXJk\u0007", "clientContext": "\u009b31m\u202egnp.exe", "participants": [], "\u001b[5m": 1}"#;
    let escapes = graph(GraphConfig {
        invite: InviteAnswer::Body(in_json.to_vec()),
        ..correct()
    });
    let raw = transport(Transport::Fixed {
        status: 400,
        content_type: "application/json",
        body: b"\x1b[2J\x1b]0;pwned\x07 not JSON \xc2\x9b31m \xe2\x80\xae".to_vec(),
    });
    let reports = temp("hostile-escapes");
    for (what, stub, trials) in [
        ("escapes in JSON", &escapes, Trials::Exact(INVITE_CASE)),
        ("escapes raw", &raw, Trials::AllCases),
    ] {
        let dir = reports.join(what.replace(' ', "-"));
        let w = Watch::hostile(SUITE, what, &stub.target())
            .args(&["--color", "always", "--report", &shown(&dir)])
            .trials(trials)
            .run();
        w.assert_sane(101);
        // Coloured, and only by the suite's own styles.
        assert!(
            w.run.stdout.contains("\u{1b}[1;31mFAIL\u{1b}[0m")
                || w.run.stdout.contains("\u{1b}[1;31mERROR")
        );
        let leaked = unsafe_in(&w.run.all_output());
        assert!(leaked.is_empty(), "{what}: the console got {leaked:?}");
        let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
        let leaked = unsafe_in(&md);
        assert!(leaked.is_empty(), "{what}: report.md got {leaked:?}");
    }
    let _ = std::fs::remove_dir_all(&reports);
}

// ---- the token --------------------------------------------------------------------------

/// A token with characters that URL-encoding changes.
const CANARY: &str = "canary-SECRET+/=9f8e7d6c5b4a";

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The first window of `secret` of `width` characters found in `text`.
fn leak<'a>(text: &str, secret: &'a str, width: usize) -> Option<&'a str> {
    (0..=secret.len().saturating_sub(width))
        .map(|i| &secret[i..i + width])
        .find(|w| text.contains(w))
}

/// Every file under `dir`, as text.
fn files_text(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            text.push_str(&files_text(&path));
        } else {
            text.push_str(&String::from_utf8_lossy(
                &std::fs::read(&path).unwrap_or_default(),
            ));
        }
    }
    text
}

#[test]
fn the_token_echoed_across_a_cut_or_encoded_leaves_nothing_of_it() {
    let bearer = base64(format!("Bearer {CANARY}").as_bytes());
    let encoded = percent(CANARY);
    assert_ne!(encoded, CANARY);
    // The token where a 120-byte quote, a 200-byte note and a 300-byte body
    // excerpt are cut, then base64 of `Bearer <token>` and URL-encoded.
    let prefix = r#"{"error": {"code": "badRequest", "message": ""#;
    let mut message = format!("{}{CANARY} ", "m".repeat(110));
    message.push_str(&"n".repeat(290 - prefix.len() - message.len()));
    message.push_str(CANARY);
    let body = format!(
        r#"{prefix}{message}", "innerError": {{"auth": "{bearer}", "url": "https://x/?t={encoded}", "date": "2024-01-01T00:00:00"}}}}}}"#
    );
    serde_json::from_str::<serde_json::Value>(&body).expect("the body is JSON");
    let stub = transport(Transport::Fixed {
        status: 500,
        content_type: "application/json",
        body: body.into_bytes(),
    });
    let out = temp("hostile-token");
    let w = Watch::hostile(SUITE, "token echoed", &stub.target())
        .env("CONFORMANCE_TOKEN", CANARY)
        .args(&[
            "--report",
            &shown(&out.join("report")),
            "--save-failures",
            &shown(&out.join("saved")),
        ])
        .run();
    assert!(!w.killed);
    assert_eq!(w.run.code, Some(101), "{}", w.run.all_output());
    assert!(
        w.run.all_output().contains("<redacted>"),
        "the echo was shown, redacted:\n{}",
        w.run.all_output()
    );
    let written = files_text(&out);
    assert!(written.contains("report"), "the report was written");
    for (what, text) in [("the console", w.run.all_output()), ("the files", written)] {
        assert_eq!(
            leak(&text, CANARY, 10),
            None,
            "{what} holds part of the token"
        );
        assert_eq!(
            leak(&text, &encoded, 12),
            None,
            "{what} holds it URL-encoded"
        );
        let middle = &bearer[11..bearer.len() - 2];
        assert_eq!(leak(&text, middle, 12), None, "{what} holds it in base64");
    }
    let _ = std::fs::remove_dir_all(&out);
}

// ---- where requests go --------------------------------------------------------------------

#[test]
fn a_redirect_to_another_origin_is_the_targets_answer_and_never_followed() {
    let elsewhere = graph(correct());
    for status in [302, 307] {
        let redirecting = transport(Transport::Redirect {
            status,
            location: format!("{}/communications/calls", elsewhere.target()),
        });
        for follow in [false, true] {
            let what = format!("{status} elsewhere, following {follow}");
            let mut run = Watch::hostile(SUITE, &what, &redirecting.target());
            if follow {
                run = run.args(&["--follow-redirects"]);
            }
            let w = run.trials(Trials::Exact(UNKNOWN_CALL_CASE)).run();
            w.assert_sane(101);
            let text = w.failure(UNKNOWN_CALL_CASE);
            let request = text
                .lines()
                .find(|l| l.trim_start().starts_with("request"))
                .unwrap_or_default();
            // The invite's own answer, judged as such: not a 404 from
            // elsewhere presented as the target's.
            assert!(
                request.contains("POST /communications/calls/")
                    && request.contains(&format!("-> {status} ")),
                "{what}: {request}"
            );
            if follow {
                assert!(
                    request.contains("(redirect not followed: ")
                        && request.contains("another origin"),
                    "{what}: {request}"
                );
            }
        }
    }
    assert_eq!(
        elsewhere.log().requests(),
        Vec::<String>::new(),
        "a request (and the token) went to another origin"
    );
}

#[test]
fn a_redirect_on_the_targets_origin_is_followed_when_asked_each_hop_shown() {
    // Served as text/html so that a check fails and the request line shows.
    let stub = graph(GraphConfig {
        redirect_invites: true,
        invite: InviteAnswer::ContentType("text/html"),
        ..correct()
    });
    let judged = watch(
        SUITE,
        "a redirect, judged",
        &stub,
        Trials::Exact(INVITE_CASE),
    );
    judged.assert_sane(101);
    judged.assert_fail(INVITE_CASE, "status", &["got 307 Temporary Redirect"]);
    assert!(
        stub.log().requests().iter().all(|r| !r.contains("/moved/")),
        "followed unasked: {:?}",
        stub.log().requests()
    );
    let followed = Watch::hostile(SUITE, "a redirect, followed", &stub.target())
        .args(&["--follow-redirects"])
        .trials(Trials::Exact(INVITE_CASE))
        .run();
    followed.assert_sane(101);
    let text = followed.failure(INVITE_CASE);
    assert!(
        text.contains(
            "/participants/invite -> 307 Temporary Redirect -> POST /moved/communications/calls/"
        ) && text.contains("/participants/invite -> 200 OK in "),
        "{text}"
    );
    followed.assert_fail(INVITE_CASE, "invite.content-type", &["text/html"]);
    assert!(!text.contains("FAIL  status"), "{text}");
}

#[test]
fn a_path_that_leaves_the_base_path_is_refused_before_anything_is_sent() {
    let dir = temp("hostile-paths");
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).expect("written");
    write(
        "up.json",
        case("dot-dot", "/communications/../../admin/up", "200"),
    );
    write(
        "encoded.json",
        case(
            "encoded dot-dot",
            "/communications/%2e%2e/%2E%2E/admin/encoded",
            "200",
        ),
    );
    write(
        "resolved.json",
        case(
            "stays under the base",
            "/communications/calls/hostile-x/./y/../participants",
            "201",
        ),
    );
    let stub = graph(correct());
    let w = Watch::hostile(SUITE, "paths", &stub.target())
        .args(&["--cases", &shown(&dir)])
        .trials(Trials::AllCases)
        .run();
    w.assert_sane(101);
    for test in ["case::up", "case::encoded"] {
        w.assert_error(
            test,
            &["outside the target's base path /v1.0/", "nothing was sent"],
        );
    }
    let sent = stub.log().requests();
    assert!(sent.iter().all(|r| !r.contains("admin")), "sent: {sent:?}");
    // What was sent is what the request line shows: the path resolved.
    let text = w.failure("case::resolved");
    assert!(
        text.contains("request  GET /communications/calls/hostile-x/participants -> 404 Not Found"),
        "{text}"
    );
    assert!(
        sent.iter()
            .any(|r| r == "GET /v1.0/communications/calls/hostile-x/participants"),
        "{sent:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- a default run ---------------------------------------------------------------------------

/// A default run (every case and property, the default deadlines and
/// threads) against a target whose every answer is an 8 MiB body, the
/// invite's an operation whose id fills it: the figures of issue 21's
/// closing note, printed as `hostile: … peak … KiB, output … bytes`.
///
/// Its output is bounded like any other run's. Its memory is not per
/// mention but per exchange in flight: each holds its 8 MiB answer (parsed
/// once, its bytes let go), and a default run has up to 16 trials at once,
/// each property running its inputs 16 at a time. The bound below is that
/// (64 exchanges of 8 MiB, twice over), far under what quoting values whole
/// took (1.5 GB, and 285 MB of output).
#[test]
#[ignore = "a measurement: it moves gigabytes over loopback for half a minute; run it with --ignored --nocapture"]
fn a_default_run_against_8_mib_answers_stays_bounded() {
    let stub = graph(GraphConfig {
        answer_size: Some(EIGHT_MIB_BODY),
        ..correct()
    });
    let w = Watch::default_run(SUITE, "default run, 8 MiB answers", &stub.target())
        .kill_after(Duration::from_secs(600))
        .trials(Trials::Everything)
        .run();
    assert!(!w.killed, "the run hung");
    assert_eq!(w.run.code, Some(101), "{}", w.run.stderr);
    assert!(!w.run.all_output().contains(TOKEN), "the token was printed");
    assert_output_bounded(&w, 1 << 20);
    let peak = w.peak_kib.unwrap_or(u64::MAX);
    let bound_kib = 2 * 64 * 8 * 1024;
    assert!(peak <= bound_kib, "{peak} KiB, over {bound_kib} KiB");
}
