//! Running one child process and measuring it: wall time, exit code, peak
//! resident memory (`VmHWM`) and threads, sampled from `/proc/<pid>` while it
//! runs, its CPU time, taken when it is reaped, and what libtest printed at
//! the end.

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often `/proc/<pid>/status` is read. `VmHWM` is a high-water mark, so
/// a sample only misses growth in the last period before the process exits.
const SAMPLE_PERIOD: Duration = Duration::from_millis(5);

/// Environment variables of the bench's own environment that would change
/// what the suite does; no child inherits them.
const SCRUBBED_PREFIXES: &[&str] = &["PROPTEST_", "CONFORMANCE_", "NEXTEST"];

/// What a child run came to.
#[derive(Debug, Clone)]
pub struct Measured {
    pub wall: Duration,
    /// `None` when the child was ended by a signal.
    pub code: Option<i32>,
    /// Peak resident set (`VmHWM`) in KiB, when it could be read.
    pub peak_kib: Option<u64>,
    /// Most threads seen at once.
    pub peak_threads: Option<u64>,
    /// User + system CPU seconds of the whole process, to its end: the growth
    /// of the bench's `cutime + cstime` (its reaped children's CPU) while it
    /// was waited for. Only this child's when no other child of the bench is
    /// reaped meanwhile: children run at once are measured together instead
    /// ([`reaped_children_cpu_secs`] around all of them).
    pub cpu_secs: Option<f64>,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    /// libtest's `test result:` line, parsed.
    pub summary: Option<Summary>,
    /// The first line reporting an error or a failed check, if any.
    pub first_problem: Option<String>,
}

impl Measured {
    pub fn passed(&self) -> bool {
        self.code == Some(0) && self.summary.as_ref().is_some_and(|s| s.failed == 0)
    }

    /// `ok`, or why not, in a few words.
    pub fn outcome(&self) -> String {
        if self.passed() {
            return "ok".to_owned();
        }
        let code = self
            .code
            .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"));
        match &self.first_problem {
            Some(p) => format!("FAILED ({code}): {p}"),
            None => format!("FAILED ({code}); see {}", self.stdout_path.display()),
        }
    }

    /// `[stdout, stderr]`: where the run's output was kept.
    pub fn logs_json(&self) -> serde_json::Value {
        serde_json::json!([
            self.stdout_path.display().to_string(),
            self.stderr_path.display().to_string()
        ])
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    pub filtered_out: u64,
}

impl Summary {
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "passed": self.passed, "failed": self.failed,
            "ignored": self.ignored, "filtered_out": self.filtered_out,
        })
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Sample {
    peak_kib: Option<u64>,
    peak_threads: Option<u64>,
}

/// One child to run: program, arguments, extra environment, working folder,
/// and where its output goes (`<log>.out`, `<log>.err`).
pub struct Spec<'a> {
    pub program: &'a Path,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: &'a Path,
    pub log: PathBuf,
}

/// Runs the child to its end and measures it.
pub fn run(spec: &Spec<'_>, clock_ticks: u64) -> Result<Measured, String> {
    let stdout_path = spec.log.with_extension("out");
    let stderr_path = spec.log.with_extension("err");
    let create = |path: &Path| {
        File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
    };
    let mut command = Command::new(spec.program);
    command
        .args(&spec.args)
        .current_dir(spec.cwd)
        .stdin(Stdio::null())
        .stdout(create(&stdout_path)?)
        .stderr(create(&stderr_path)?);
    set_env(&mut command, &spec.env);

    let reaped_before = reaped_children_cpu_secs(clock_ticks);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", spec.program.display()))?;
    let pid = child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut sample = Sample::default();
            while !stop.load(Ordering::Relaxed) {
                read_proc(pid, &mut sample);
                std::thread::sleep(SAMPLE_PERIOD);
            }
            sample
        })
    };
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {}: {e}", spec.program.display()));
    let wall = started.elapsed();
    let cpu_secs = reaped_children_cpu_secs(clock_ticks)
        .zip(reaped_before)
        .map(|(after, before)| after - before);
    stop.store(true, Ordering::Relaxed);
    let sample = sampler
        .join()
        .map_err(|_| "the memory sampler thread panicked".to_owned())?;
    let status = status?;

    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    Ok(Measured {
        wall,
        code: status.code(),
        peak_kib: sample.peak_kib,
        peak_threads: sample.peak_threads,
        cpu_secs,
        summary: parse_summary(&stdout),
        first_problem: first_problem(&stdout).or_else(|| first_problem(&stderr)),
        stdout_path,
        stderr_path,
    })
}

/// The child's environment: the bench's own, without the variables that
/// would change what the suite does ([`SCRUBBED_PREFIXES`]), plus `env`.
pub fn set_env(command: &mut Command, env: &[(String, String)]) {
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if SCRUBBED_PREFIXES.iter().any(|p| name.starts_with(p)) {
            command.env_remove(&key);
        }
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
}

/// Updates the sample from `/proc/<pid>/status`; a process already gone (or
/// a zombie, whose memory lines are gone) leaves it as it was.
fn read_proc(pid: u32, sample: &mut Sample) {
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        if let Some(kib) = status_field(&status, "VmHWM:") {
            sample.peak_kib = Some(sample.peak_kib.map_or(kib, |p| p.max(kib)));
        }
        if let Some(n) = status_field(&status, "Threads:") {
            sample.peak_threads = Some(sample.peak_threads.map_or(n, |p| p.max(n)));
        }
    }
}

/// The number of a `/proc/<pid>/status` line (`VmHWM:   1234 kB`).
fn status_field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `utime + stime` (fields 14 and 15) of `/proc/<pid>/stat`, in clock ticks.
fn cpu_ticks(stat: &str) -> Option<u64> {
    stat_sum(stat, 14, 15)
}

/// `cutime + cstime` (fields 16 and 17) of `/proc/<pid>/stat`, in clock
/// ticks: the CPU of the process's children that it has waited for.
fn reaped_children_ticks(stat: &str) -> Option<u64> {
    stat_sum(stat, 16, 17)
}

/// The sum of two numeric fields of `/proc/<pid>/stat`, numbered as in
/// proc(5). The command name (field 2) may hold spaces and parentheses:
/// fields are counted after its last `)`.
fn stat_sum(stat: &str, a: usize, b: usize) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0].
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(field(a)? + field(b)?)
}

/// `test result: ok. 39 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; …`
pub fn parse_summary(stdout: &str) -> Option<Summary> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("test result:"))?;
    let count = |what: &str| -> u64 {
        line.split(';')
            .find_map(|part| {
                let part = part.trim();
                let part = part.rsplit(". ").next().unwrap_or(part);
                part.strip_suffix(what)
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
            .unwrap_or(0)
    };
    Some(Summary {
        passed: count("passed"),
        failed: count("failed"),
        ignored: count("ignored"),
        filtered_out: count("filtered out"),
    })
}

/// The first line of a rendered failure that says what went wrong.
fn first_problem(text: &str) -> Option<String> {
    let lines = || text.lines().map(str::trim);
    let line = lines()
        .find(|l| l.starts_with("ERROR ") || l.starts_with("FAIL ") || l.starts_with("error:"))
        .or_else(|| lines().find(|l| l.contains(": ERROR") || l.contains("panicked")))?;
    Some(conformance_harness::render::truncate(line, 240))
}

/// User + system CPU seconds this process (the bench) has used so far: the
/// in-process reference server's share of a run is the difference.
pub fn own_cpu_secs(clock_ticks: u64) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    cpu_ticks(&stat).map(|t| t as f64 / clock_ticks.max(1) as f64)
}

/// User + system CPU seconds of the bench's children that have ended and
/// been waited for: a child's CPU is the growth of this around its wait.
pub fn reaped_children_cpu_secs(clock_ticks: u64) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    reaped_children_ticks(&stat).map(|t| t as f64 / clock_ticks.max(1) as f64)
}

/// The bench's own CPU seconds since `before` (an [`own_cpu_secs`]): the
/// in-process reference server's share of what ran meanwhile.
pub fn own_cpu_since(before: Option<f64>, clock_ticks: u64) -> Option<f64> {
    Some(own_cpu_secs(clock_ticks)? - before?)
}

/// This process's resident set now (`VmRSS`), in KiB: with the in-process
/// reference server, the growth over a run is the server's.
pub fn own_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_field(&status, "VmRSS:")
}

/// What `program args` prints on stdout, run in `cwd`; its error output if
/// it cannot start or fails.
pub fn stdout_of<S: AsRef<OsStr>>(
    program: impl AsRef<OsStr>,
    args: &[S],
    cwd: &Path,
) -> Result<String, String> {
    let program = program.as_ref();
    let shown = || {
        std::iter::once(program)
            .chain(args.iter().map(AsRef::as_ref))
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let output = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", shown()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            shown(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `getconf CLK_TCK`, the unit of `/proc/<pid>/stat` times (100 almost everywhere).
pub fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_libtest_summary() {
        let s = parse_summary(
            "x\ntest result: FAILED. 38 passed; 1 failed; 2 ignored; 0 measured; 3 filtered out; finished in 0.15s\n",
        )
        .expect("a summary");
        assert_eq!(
            (s.passed, s.failed, s.ignored, s.filtered_out),
            (38, 1, 2, 3)
        );
    }

    #[test]
    fn reads_cpu_ticks_past_a_command_with_spaces() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 5 6 20 0 1 0";
        assert_eq!(cpu_ticks(stat), Some(10));
        assert_eq!(reaped_children_ticks(stat), Some(11));
    }

    #[test]
    fn reads_status_fields() {
        let status = "Name:\tx\nVmHWM:\t   1234 kB\nThreads:\t7\n";
        assert_eq!(status_field(status, "VmHWM:"), Some(1234));
        assert_eq!(status_field(status, "Threads:"), Some(7));
    }
}
