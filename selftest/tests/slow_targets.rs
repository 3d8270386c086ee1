//! Against slow and failing targets: the properties' inputs run at once up
//! to `--max-in-flight` and never past it, and a failure comes back without
//! a shrinking that would cost more than it tells (a missed deadline, a
//! property the register knows), or with the shrunk input kept and replayed
//! by a one-seed rerun. Nothing here measures time: each test reads what
//! the target saw or what the verdict says.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use conformance_selftest::{run_suite, temp};
use invite_reference::{Config, Fault, ServerHandle};

const TOKEN: &str = "selftest-slow-token-7d2e";
const VALID: &str = "prop::invite::accepts_valid_bodies";

fn reference(faults: Vec<Fault>, latency: Duration) -> ServerHandle {
    invite_reference::start(Config {
        faults,
        answer_latency: latency,
        ..Config::default()
    })
    .expect("the reference server starts")
}

/// Requests in flight through a [`Counter`], now and at most.
#[derive(Default)]
struct Counts {
    now: AtomicUsize,
    most: AtomicUsize,
    requests: AtomicUsize,
}

/// A TCP relay in front of a target that counts the requests it has
/// relayed and not yet seen answered. The suite speaks HTTP/1.1 without
/// pipelining, so a connection holds one request at a time: it is busy
/// from its first bytes up to the first bytes of the answer.
struct Counter {
    addr: SocketAddr,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
}

impl Counter {
    fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let addr = listener.local_addr().expect("has an address");
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (Arc::clone(&counts), Arc::clone(&stop));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                relay(client, server, Arc::clone(&c));
            }
        });
        Self { addr, counts, stop }
    }

    fn target(&self) -> String {
        format!("http://{}/v1.0", self.addr)
    }

    fn most(&self) -> usize {
        self.counts.most.load(Ordering::SeqCst)
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Copies both ways between one client connection and its upstream one.
fn relay(client: TcpStream, server: TcpStream, counts: Arc<Counts>) {
    let busy = Arc::new(AtomicBool::new(false));
    let (Ok(client_back), Ok(server_back)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let (c, b) = (Arc::clone(&counts), Arc::clone(&busy));
    std::thread::spawn(move || {
        pump(client, server, |_| {
            if !b.swap(true, Ordering::SeqCst) {
                let now = c.now.fetch_add(1, Ordering::SeqCst) + 1;
                c.most.fetch_max(now, Ordering::SeqCst);
                c.requests.fetch_add(1, Ordering::SeqCst);
            }
        });
    });
    std::thread::spawn(move || {
        pump(server_back, client_back, |_| {
            if busy.swap(false, Ordering::SeqCst) {
                counts.now.fetch_sub(1, Ordering::SeqCst);
            }
        });
    });
}

/// Copies `from` to `to` until either end closes, calling `seen` on each
/// chunk before it is passed on.
fn pump(mut from: TcpStream, mut to: TcpStream, seen: impl Fn(usize)) {
    let mut buffer = [0u8; 16 << 10];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                seen(n);
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn env(cases: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("CONFORMANCE_TOKEN", TOKEN),
        ("PROPTEST_RNG_SEED", "20261207"),
        ("PROPTEST_CASES", cases),
    ]
}

#[test]
fn generated_inputs_widen_on_a_slow_target_and_never_pass_max_in_flight() {
    // Every answer takes 100 ms: an invite with its call, operation and
    // notifications takes well over the 250 ms that say "slow".
    let slow = reference(Vec::new(), Duration::from_millis(100));
    let counter = Counter::start(slow.addr());
    let target = counter.target();
    // One worker to start with (--test-threads 1): more than one request
    // at once can only come from the property widening.
    let run = run_suite(
        &[
            "--target",
            &target,
            "--exact",
            VALID,
            "--test-threads",
            "1",
            "--max-in-flight",
            "3",
        ],
        &env("12"),
    )
    .expect("the suite runs");
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    let most = counter.most();
    assert!(
        counter.counts.requests.load(Ordering::SeqCst) > 12,
        "the inputs went through the counter"
    );
    assert!(
        most <= 3,
        "at most --max-in-flight 3 requests at once, saw {most}"
    );
    assert!(
        most >= 2,
        "a slow target widens the property past its one worker, saw {most} at most"
    );
}

#[test]
fn a_failure_that_misses_the_deadline_is_not_shrunk() {
    let faulty = reference(vec![Fault::NoTerminalNotification], Duration::ZERO);
    let target = faulty.base_url();
    let run = run_suite(
        &[
            "--target",
            &target,
            "--exact",
            VALID,
            "--notification-timeout-ms",
            "300",
        ],
        &env("4"),
    )
    .expect("the suite runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    let text = &run.failures[VALID];
    assert!(
        text.contains("not shrunk: the input took")
            && text.contains("the notification deadline (300 ms) or longer"),
        "{text}"
    );
    assert!(!text.contains(" steps, to the case file"), "{text}");
}

/// A run of the phone fault's failing property, with `args` more.
fn phone_failure(args: &[&str], env: &[(&'static str, &'static str)]) -> String {
    let faulty = reference(vec![Fault::ServerErrorOnPhone], Duration::ZERO);
    failure_of(&faulty, args, env)
}

/// A run of the failing property against `faulty`, with `args` more.
fn failure_of(
    faulty: &ServerHandle,
    args: &[&str],
    env: &[(&'static str, &'static str)],
) -> String {
    let target = faulty.base_url();
    let mut all = vec!["--target", &target, "--exact", VALID];
    all.extend_from_slice(args);
    let run = run_suite(&all, env).expect("the suite runs");
    assert_eq!(run.code, Some(101), "{}", run.all_output());
    run.failures[VALID].clone()
}

#[test]
fn a_property_the_register_names_is_not_shrunk() {
    // Without the register the same failure is shrunk: the test can fail.
    let shrunk = phone_failure(&[], &env("32"));
    assert!(shrunk.contains(" steps, to the case file"), "{shrunk}");

    let dir = temp("slow-known");
    let register = dir.join("known.json");
    // It names the property and one of the checks its input fails, so the
    // property still fails on the others and would be shrunk.
    std::fs::write(
        &register,
        serde_json::json!({"known": [{
            "test": VALID,
            "check": "status",
            "reason": "phone identities answer 500 (tracked elsewhere)",
        }]})
        .to_string(),
    )
    .expect("writes the register");
    let register = register.to_string_lossy().into_owned();
    let text = phone_failure(&["--known-failures", &register], &env("32"));
    assert!(
        text.contains("not shrunk: the known-failures register names this property"),
        "{text}"
    );
}

#[test]
fn a_one_seed_rerun_replays_the_kept_shrunk_input() {
    let dir = temp("slow-rerun");
    let kept = dir.join("kept").to_string_lossy().into_owned();
    let mut keep = env("32");
    keep.push(("PROPTEST_DISABLE_FAILURE_PERSISTENCE", ""));
    // Kept seeds are the target's: both runs are against the same one.
    let faulty = reference(vec![Fault::ServerErrorOnPhone], Duration::ZERO);
    let first = failure_of(&faulty, &["--regressions", &kept], &keep);
    assert!(first.contains(" steps, to the case file"), "{first}");
    let seed = first
        .split("the input that failed has seed ")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .filter(|s| !s.is_empty())
        .expect("the failing input's seed is printed")
        .to_owned();
    let file = std::fs::read_dir(dir.join("kept"))
        .expect("the target's folder")
        .filter_map(Result::ok)
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten())
        .filter_map(Result::ok)
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    assert!(
        file.contains(&format!("seed {seed} shrink ")),
        "the steps to the shrunk input are kept:\n{file}"
    );

    // The rerun line's variables: the failing seed alone.
    let seed: &'static str = Box::leak(seed.into_boxed_str());
    let rerun = vec![
        ("CONFORMANCE_TOKEN", TOKEN),
        ("PROPTEST_RNG_SEED", seed),
        ("PROPTEST_CASES", "1"),
        ("PROPTEST_DISABLE_FAILURE_PERSISTENCE", ""),
    ];
    let again = failure_of(&faulty, &["--regressions", &kept], &rerun);
    assert!(again.contains("replayed (not shrunk again)"), "{again}");
    let case = |text: &str| {
        text.split("--- the input as a case file")
            .nth(1)
            .map(str::to_owned)
            .unwrap_or_default()
    };
    assert!(!case(&first).is_empty(), "{first}");
    assert_eq!(case(&again), case(&first), "the same shrunk input");
}
