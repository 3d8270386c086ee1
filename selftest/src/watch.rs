//! Running the built suite watched, as the hostile self-tests do: its peak
//! memory sampled while it runs, its output counted (and kept up to a
//! bound), killed if it has not ended after a generous bound (a hang, not
//! slowness), and what it printed read back as verdicts.
//!
//! How long a run takes is never judged: a loaded machine makes any run slow.

use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::stubs::Stub;
use crate::{binary_command, parse_failures, run_binary, workspace_root, Run};

/// A token the suite must never print.
pub const TOKEN: &str = "hostile-secret-token-5c4b3a";
pub const RESPONSE_MS: u64 = 1000;
pub const NOTIFICATION_MS: u64 = 1000;
/// Past this a run is killed and its test fails: a hang, not slowness.
pub const KILL_AFTER: Duration = Duration::from_secs(45);
/// The suite's peak resident memory must stay under this. Against a correct
/// target it peaks near 32 MiB; each response it reads is capped at 8 MiB
/// and each callback mailbox at a few MiB. A 100 MB body, or a flood of
/// notifications, kept whole would exceed this bound (the flood test peaked
/// at 438 MiB before the listener bounded its mailboxes by bytes).
pub const MEMORY_BOUND_KIB: u64 = 160 * 1024;
/// How often the suite's memory is sampled while it runs.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);
/// Bytes of each output pipe kept for reading back; the rest is counted.
const KEEP_BYTES: usize = 16 << 20;

/// One run of the suite, watched.
#[derive(Debug)]
pub struct Watched {
    /// The program that ran.
    pub binary: &'static str,
    pub what: String,
    pub run: Run,
    /// The highest `VmHWM` read while the suite ran, in KiB.
    pub peak_kib: Option<u64>,
    pub killed: bool,
    /// Bytes the suite wrote to stdout and stderr, all of them (what `run`
    /// holds stops at 16 MiB a pipe).
    pub output_bytes: usize,
}

/// What selects the trials of a run.
#[derive(Debug, Clone, Copy)]
pub enum Trials {
    /// Every case of `cases/`.
    AllCases,
    Exact(&'static str),
    /// No filter: every trial, as plain `cargo test` runs them.
    Everything,
}

/// A run to watch: the suite's program, from the workspace root, with the
/// token in its environment.
#[derive(Debug, Clone)]
pub struct Watch {
    /// The program: the test's `env!("CARGO_BIN_EXE_suite")`.
    binary: &'static str,
    what: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    kill_after: Duration,
}

impl Watch {
    /// A run against `target` as the hostile tests make it: short deadlines
    /// (1 s), no `Retry-After` budget, every trial at once
    /// (`--test-threads 64`, so none waits for another) and `--strict`
    /// (what a hostile target breaks is often only a SHOULD).
    pub fn hostile(binary: &'static str, what: &str, target: &str) -> Self {
        Self::default_run(binary, what, target).args(&[
            "--response-timeout-ms",
            &RESPONSE_MS.to_string(),
            "--notification-timeout-ms",
            &NOTIFICATION_MS.to_string(),
            "--retry-budget-secs",
            "0",
            "--test-threads",
            "64",
            "--strict",
        ])
    }

    /// A run against `target` with nothing but the defaults.
    pub fn default_run(binary: &'static str, what: &str, target: &str) -> Self {
        Self {
            binary,
            what: what.to_owned(),
            args: vec!["--target".to_owned(), target.to_owned()],
            env: vec![("CONFORMANCE_TOKEN".to_owned(), TOKEN.to_owned())],
            cwd: workspace_root(),
            kill_after: KILL_AFTER,
        }
    }

    #[must_use]
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    #[must_use]
    pub fn env(mut self, var: &str, value: &str) -> Self {
        self.env.push((var.to_owned(), value.to_owned()));
        self
    }

    #[must_use]
    pub fn kill_after(mut self, bound: Duration) -> Self {
        self.kill_after = bound;
        self
    }

    #[must_use]
    pub fn trials(self, trials: Trials) -> Self {
        match trials {
            Trials::AllCases => self.args(&["case::"]),
            Trials::Exact(name) => self.args(&["--exact", name]),
            Trials::Everything => self,
        }
    }

    /// Runs the suite spawned rather than awaited: killed past its bound,
    /// its peak memory read from `/proc/<pid>/status` while it runs.
    ///
    /// `VmHWM` is the kernel's high-water mark of the process's resident
    /// memory: it never decreases, so a sample misses no spike that came
    /// before it. What it can miss is growth in the last [`SAMPLE_EVERY`]
    /// before the process exits, since a process that has exited no longer
    /// reports it; the growth a hostile target causes (reading a body,
    /// storing notifications) happens while trials run, long before that.
    /// The end of the run is noticed as its output pipes closing, not by
    /// polling.
    pub fn run(self) -> Watched {
        let mut cmd = binary_command(self.binary, &self.cwd);
        cmd.args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (var, value) in &self.env {
            cmd.env(var, value);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().expect("the suite binary starts");
        let pid = child.id();
        let (closed, pipes_closed) = mpsc::channel();
        let readers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .map(|pipe| {
            let closed = closed.clone();
            std::thread::spawn(move || {
                let read = pipe.map(read_bounded).unwrap_or_default();
                let _ = closed.send(());
                read
            })
        })
        .collect();
        drop(closed);
        let mut peak_kib = None;
        let mut open = readers.len();
        let mut killed = false;
        while open > 0 {
            if let Some(kib) = vm_hwm_kib(pid) {
                peak_kib = peak_kib.max(Some(kib));
            }
            match pipes_closed.recv_timeout(SAMPLE_EVERY) {
                Ok(()) => open -= 1,
                Err(mpsc::RecvTimeoutError::Timeout) if started.elapsed() > self.kill_after => {
                    let _ = child.kill();
                    killed = true;
                    break;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = child.wait().expect("the suite process can be waited for");
        let wall = started.elapsed();
        let mut output = readers
            .into_iter()
            .map(|r| r.join().expect("a pipe reader ends"));
        let (stdout, out_bytes) = output.next().unwrap_or_default();
        let (stderr, err_bytes) = output.next().unwrap_or_default();
        eprintln!(
            "hostile: {}: exit {:?} in {} ms, peak {} KiB, output {} bytes",
            self.what,
            status.code(),
            wall.as_millis(),
            peak_kib.unwrap_or(0),
            out_bytes + err_bytes
        );
        if std::env::var_os("HOSTILE_SHOW_OUTPUT").is_some() {
            eprintln!("{stdout}\n{stderr}");
        }
        Watched {
            binary: self.binary,
            what: self.what,
            run: Run {
                code: status.code(),
                failures: parse_failures(&stdout),
                stdout,
                stderr,
                outcome: None,
            },
            peak_kib,
            killed,
            output_bytes: out_bytes + err_bytes,
        }
    }
}

/// A pipe read to its end: its first [`KEEP_BYTES`] as text, and how many
/// bytes came in all.
fn read_bounded(mut pipe: Box<dyn Read + Send>) -> (String, usize) {
    let mut kept = Vec::new();
    let mut total = 0;
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                total += n;
                let room = KEEP_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
    (String::from_utf8_lossy(&kept).into_owned(), total)
}

/// A hostile run against `stub` (see [`Watch::hostile`]).
pub fn watch(binary: &'static str, what: &str, stub: &Stub, trials: Trials) -> Watched {
    Watch::hostile(binary, what, &stub.target())
        .trials(trials)
        .run()
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs several watched runs at once, each against its own stub.
pub fn watch_all(binary: &'static str, runs: &[(&str, &Stub, Trials)]) -> Vec<Watched> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .map(|(what, stub, trials)| scope.spawn(move || watch(binary, what, stub, *trials)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a watched run ends"))
            .collect()
    })
}

impl Watched {
    /// What every hostile run must show: it ended by itself (every wait is
    /// bounded by a deadline; a run still going at [`KILL_AFTER`] hangs),
    /// failed (101) or passed as `code` says, panicked nowhere, kept the
    /// token secret and its memory bounded. How long it took is not judged:
    /// a loaded machine makes any run slow.
    pub fn assert_sane(&self, code: i32) {
        let all = self.run.all_output();
        assert!(
            !self.killed,
            "{}: the run did not end within {} s and was killed\n{all}",
            self.what,
            KILL_AFTER.as_secs()
        );
        assert_eq!(self.run.code, Some(code), "{}: exit code\n{all}", self.what);
        assert!(
            !all.contains("panicked"),
            "{}: something panicked\n{all}",
            self.what
        );
        assert!(!all.contains(TOKEN), "{}: the token was printed", self.what);
        let peak = self.peak_kib.expect("the suite's memory could be read");
        assert!(
            peak <= MEMORY_BOUND_KIB,
            "{}: the suite's resident memory peaked at {peak} KiB, over {MEMORY_BOUND_KIB} KiB",
            self.what
        );
    }

    /// The run's one trial passed, every check of it.
    pub fn assert_one_passed(&self) {
        assert!(self.run.failures.is_empty(), "{}", self.run.all_output());
        assert!(
            self.run.stdout.contains(" 1 passed;"),
            "{}",
            self.run.all_output()
        );
    }

    pub fn failure(&self, test: &str) -> &str {
        self.run.failures.get(test).map_or_else(
            || {
                panic!(
                    "{}: {test} did not fail; failures: {:?}\n{}",
                    self.what,
                    self.run.failures.keys().collect::<Vec<_>>(),
                    self.run.all_output()
                )
            },
            String::as_str,
        )
    }

    /// `test` ended in an `ERROR` whose message holds every one of `phrases`.
    pub fn assert_error(&self, test: &str, phrases: &[&str]) {
        let text = self.failure(test);
        let errors: Vec<&str> = text
            .lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with("ERROR "))
            .collect();
        let message = errors.join("\n");
        for phrase in phrases {
            assert!(
                message.contains(phrase),
                "{}: {test}: the ERROR does not say {phrase:?}:\n{text}",
                self.what
            );
        }
    }

    /// Check `id` of `test` failed, and what it printed holds every one of `phrases`.
    pub fn assert_fail(&self, test: &str, id: &str, phrases: &[&str]) {
        let text = self.failure(test);
        let block = check_block(text, id)
            .unwrap_or_else(|| panic!("{}: {test}: check {id} did not FAIL:\n{text}", self.what));
        for phrase in phrases {
            assert!(
                block.contains(phrase),
                "{}: {test}: FAIL {id} does not say {phrase:?}:\n{text}",
                self.what
            );
        }
    }

    /// Every case trial ended in an `ERROR` holding every one of `phrases`.
    pub fn assert_every_case_errors(&self, phrases: &[&str]) {
        let cases = case_names(self.binary);
        assert!(!cases.is_empty());
        for case in cases {
            // libtest pads names into a column: `test NAME   ... ignored`.
            let ignored = self.run.stdout.lines().any(|l| {
                l.strip_prefix("test ")
                    .and_then(|l| l.strip_prefix(case.as_str()))
                    .is_some_and(|rest| {
                        rest.starts_with(' ') && rest.trim_end().ends_with("... ignored")
                    })
            });
            if ignored {
                continue;
            }
            self.assert_error(case, phrases);
        }
    }
}

/// The lines a failed check printed: its `FAIL` line and the details under it.
pub fn check_block(text: &str, id: &str) -> Option<String> {
    let start = format!("FAIL  {id}:");
    let mut lines = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with(&start));
    let first = lines.next()?;
    let mut block = vec![first];
    for line in lines {
        let trimmed = line.trim_start();
        let next_check = ["ok    ", "FAIL  ", "WARN  ", "skip  ", "rerun:"]
            .iter()
            .any(|w| trimmed.starts_with(w));
        if next_check {
            break;
        }
        block.push(line);
    }
    Some(block.join("\n"))
}

/// Every case trial the suite's program `binary` lists.
pub fn case_names(binary: &str) -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let run =
            run_binary(binary, &["--list", "--format", "terse"], &[]).expect("the suite lists");
        run.stdout
            .lines()
            .filter_map(|l| l.strip_suffix(": test"))
            .filter(|n| n.starts_with("case::"))
            .map(str::to_owned)
            .collect()
    })
}
