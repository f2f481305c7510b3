//! `run_check`: the user's `agent.checkCommand` run for a task in a scratch copy of the workspace
//! as the editor and the task see it (unsaved buffers and the task's edits written over it), in a
//! process group of its own, within a time limit and with its output capped. The user's files are
//! never touched by it.
//!
//! The copy holds the files the ignore files (`.gitignore`, `.tandemignore`) let through, `.git`
//! left out. Build caches are shared by a symbolic link, not copied, so that a check builds on the
//! user's last build: ignored folders named in [`SHARED_FOLDERS`], and any folder tagged as a
//! cache by a `CACHEDIR.TAG` (Cargo tags `target/`). Sharing `target/` has a price: a check that
//! builds an unsaved buffer leaves artifacts newer than the user's sources, and Cargo, which
//! judges freshness by times, may reuse them in the user's next build until the file is saved.

use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

use crate::agent::secrets::redact;
use scratch::make_scratch;

mod scratch;

/// `agent.checkTimeoutMs` when unset: the copy and the command together.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(120_000);
/// Output kept for the model when unset: its head and its tail, half each.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 16 * 1024;
/// Ignored folders with these names are shared into the copy, at any depth: they hold installed
/// packages or build artifacts, which a check reads and may add to, and no source. Not `build/`:
/// a CMake `build/` points at the user's sources by absolute paths, so a check run there would
/// build the user's files instead of the copy.
pub const SHARED_FOLDERS: &[&str] = &["target", "node_modules", ".venv", "venv"];
/// A copy larger than this is refused rather than filling the temporary folder.
pub const MAX_SCRATCH_FILES: usize = 200_000;
pub const MAX_SCRATCH_BYTES: u64 = 4 << 30;
/// After the process group is killed, how long its output may take to end and its leader to be
/// reaped: only a process that left the group can hold a pipe open longer.
const GRACE: Duration = Duration::from_secs(1);
/// The scratch copies' names in the temporary folder.
const SCRATCH_PREFIX: &str = "tandem-check-";
/// The first bytes of a `CACHEDIR.TAG` (<https://bford.info/cachedir/>).
const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

/// What to run and within which limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSpec {
    /// The program and its arguments (`agent.checkCommand`), run in the copy's root.
    pub command: Vec<String>,
    /// The copy and the command together, at most (`agent.checkTimeoutMs`).
    pub timeout: Duration,
    /// Output kept, at most; the rest is cut from the middle and counted.
    pub max_output_bytes: usize,
}

impl Default for CheckSpec {
    fn default() -> Self {
        Self {
            command: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
        }
    }
}

/// One file as the editor and the task see it: its absolute path inside the root, and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlay {
    pub path: PathBuf,
    pub text: String,
}

/// What making the scratch copy took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScratchStats {
    /// Files copied from the disk, and their bytes.
    pub files: usize,
    pub bytes: u64,
    /// Symbolic links found in the workspace and made again in the copy.
    pub links: usize,
    /// Folders shared by a link instead of copied, relative to the root.
    pub shared: Vec<PathBuf>,
    /// Overlays written over the copy (those equal to the copied file are left alone).
    pub overlays: usize,
    pub took: Duration,
}

/// How a check ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckOutcome {
    /// The command's exit code; `None` when it did not exit by itself.
    pub exit_code: Option<i32>,
    /// The signal that ended it, on Unix (9 after a time-out or a cancel).
    pub signal: Option<i32>,
    /// Standard output and error as they came, capped, with a line saying what was cut.
    pub output: String,
    pub timed_out: bool,
    pub cancelled: bool,
    /// False when the time ran out or the check was cancelled while the copy was being made.
    pub started: bool,
    pub scratch: ScratchStats,
    pub took: Duration,
}

/// Runs `spec.command` in a scratch copy of `root` with `overlays` written over it, and removes
/// the copy. `Err` when the check could not start at all, in words for the model and the user.
pub async fn run_check(
    root: &Path,
    overlays: &[Overlay],
    spec: &CheckSpec,
    cancel: &CancellationToken,
) -> Result<CheckOutcome, String> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let Some((program, args)) = spec.command.split_first().filter(|(p, _)| !p.is_empty()) else {
        return Err(
            "agent.checkCommand is not set: set it to the command that checks the \
            workspace, e.g. [\"cargo\", \"check\"] or [\"pytest\", \"-x\", \"-q\"]"
                .to_owned(),
        );
    };
    if !root.is_dir() {
        return Err(format!(
            "the workspace folder {} is not a folder",
            root.display()
        ));
    }
    // Walking and copying a big tree takes a while: on a blocking thread, told to stop on time.
    let stop = Arc::new(AtomicBool::new(false));
    let mut copy = tokio::task::spawn_blocking({
        let (root, overlays, stop) = (root.to_path_buf(), overlays.to_vec(), Arc::clone(&stop));
        move || make_scratch(&root, &overlays, &stop)
    });
    let copied = tokio::select! {
        biased;
        () = cancel.cancelled() => Err(Ended::Cancelled),
        () = until(deadline) => Err(Ended::TimedOut),
        made = &mut copy => Ok(made.map_err(|e| format!("making the check's copy failed: {e}"))??),
    };
    let (scratch, stats) = match copied {
        Ok(copied) => copied,
        Err(ended) => {
            stop.store(true, Ordering::Relaxed);
            // The copy stops at its next file and removes itself; one just made is removed here.
            if let Ok(Ok((scratch, _))) = copy.await {
                let _ = tokio::task::spawn_blocking(move || drop(scratch)).await;
            }
            let (timed_out, cancelled) = (ended == Ended::TimedOut, ended == Ended::Cancelled);
            let took = started.elapsed();
            return Ok(CheckOutcome {
                timed_out,
                cancelled,
                took,
                ..Default::default()
            });
        }
    };
    let run = run_command(scratch.path(), program, args, spec, deadline, cancel).await;
    // Removing a big tree is blocking work too. `remove_dir_all` does not follow the links to
    // shared folders: their contents stay.
    let path = scratch.path().to_path_buf();
    if let Ok(Err(error)) = tokio::task::spawn_blocking(move || scratch.close()).await {
        tracing::warn!(
            "could not remove the check's scratch copy {}: {error}",
            path.display()
        );
    }
    let (ended, status, output) = run?;
    Ok(CheckOutcome {
        exit_code: status.and_then(|s| s.code()),
        signal: status.and_then(exit_signal),
        output,
        timed_out: ended == Ended::TimedOut,
        cancelled: ended == Ended::Cancelled,
        started: true,
        scratch: stats,
        took: started.elapsed(),
    })
}

/// What the model reads: how the check ended, then its output.
pub fn describe(outcome: &CheckOutcome) -> String {
    let took = format!("{:.1} s", outcome.took.as_secs_f64());
    let stopped = "the check's processes were stopped";
    let mut out = match (outcome.exit_code, outcome.signal) {
        _ if outcome.cancelled => format!("cancelled after {took}; {stopped}"),
        _ if outcome.timed_out => {
            format!("timed out after {took} (agent.checkTimeoutMs); {stopped}")
        }
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "ended without an exit code".to_owned(),
    };
    if !outcome.started {
        out.push_str(" while the workspace was being copied: the command did not start");
        return out;
    }
    let output = match outcome.output.as_str() {
        "" => "(no output)",
        output => output,
    };
    out = format!("{out}\n{output}");
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// How the copy or the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    Exited,
    TimedOut,
    Cancelled,
}

/// Ends at the deadline, at once when it is past (a timer rounds up to its next tick).
async fn until(deadline: tokio::time::Instant) {
    if tokio::time::Instant::now() < deadline {
        tokio::time::sleep_until(deadline).await;
    }
}

#[cfg(unix)]
fn exit_signal(status: ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(&status)
}

#[cfg(not(unix))]
fn exit_signal(_status: ExitStatus) -> Option<i32> {
    None
}

/// Runs the command in `dir` until it exits, the deadline passes or `cancel` fires; then kills
/// its process group in every case, so that nothing it started in the background lives on.
async fn run_command(
    dir: &Path,
    program: &str,
    args: &[String],
    spec: &CheckSpec,
    deadline: tokio::time::Instant,
    cancel: &CancellationToken,
) -> Result<(Ended, Option<ExitStatus>, String), String> {
    // A relative path to a script (`./check.sh`) means the copy's script, not the user's.
    let path = if Path::new(program).components().count() > 1 {
        dir.join(program)
    } else {
        PathBuf::from(program)
    };
    let mut command = tokio::process::Command::new(path);
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command.spawn().map_err(|error| match error.kind() {
        io::ErrorKind::NotFound => format!(
            "the check command `{program}` was not found: is it installed and on the PATH the \
             server sees? Set agent.checkCommand to change it"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "the check command `{program}` could not be run: permission denied (is it executable?)"
        ),
        _ => format!("the check command `{program}` could not be started: {error}"),
    })?;
    // The group's id is the leader's pid, known only until the leader is reaped.
    let group = child.id();
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err("the check command's output could not be read".to_owned());
    };
    let mut capture = Capture::new(spec.max_output_bytes);
    let mut reading = Box::pin(read_both(stdout, stderr, &mut capture));
    let mut read_all = false;
    let (ended, exited) = loop {
        tokio::select! {
            () = &mut reading, if !read_all => read_all = true,
            status = child.wait() => break (Ended::Exited, status.ok()),
            () = cancel.cancelled() => break (Ended::Cancelled, None),
            () = until(deadline) => break (Ended::TimedOut, None),
        }
    };
    kill_group(group);
    let status = match exited {
        Some(status) => Some(status),
        None => {
            let _ = child.start_kill();
            tokio::time::timeout(GRACE, child.wait())
                .await
                .ok()
                .and_then(Result::ok)
        }
    };
    if !read_all {
        let _ = tokio::time::timeout(GRACE, &mut reading).await;
    }
    drop(reading);
    Ok((ended, status, capture.finish()))
}

/// SIGKILL to the whole process group: the command and whatever it started. After a clean exit
/// the group is usually empty already (ESRCH): nothing to do then. Elsewhere than on Unix only
/// the command itself is killed, by the caller.
fn kill_group(group: Option<u32>) {
    #[cfg(unix)]
    {
        use rustix::process::{Pid, Signal, kill_process_group};
        let pid = group.and_then(|id| Pid::from_raw(i32::try_from(id).ok()?));
        // `kill(-1)` would reach every process we may signal: never.
        if let Some(pid) = pid.filter(|pid| !pid.is_init()) {
            let _ = kill_process_group(pid, Signal::KILL);
        }
    }
    #[cfg(not(unix))]
    let _ = group;
}

/// Reads both pipes as their bytes come, until both end.
async fn read_both(
    mut stdout: impl AsyncRead + Unpin,
    mut stderr: impl AsyncRead + Unpin,
    capture: &mut Capture,
) {
    let (mut out_buf, mut err_buf) = ([0u8; 8192], [0u8; 8192]);
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            read = stdout.read(&mut out_buf), if out_open => match read {
                Ok(n) if n > 0 => capture.push(&out_buf[..n]),
                _ => out_open = false,
            },
            read = stderr.read(&mut err_buf), if err_open => match read {
                Ok(n) if n > 0 => capture.push(&err_buf[..n]),
                _ => err_open = false,
            },
        }
    }
}

/// Output kept within a cap: the head (where compilers put the first error) and the tail (where
/// test runners put their summary), the middle dropped and counted. All of it is read, so that
/// the command never blocks on a full pipe.
struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_cap: usize,
    tail_cap: usize,
    total: u64,
}

impl Capture {
    fn new(cap: usize) -> Self {
        Self {
            head: Vec::new(),
            tail: VecDeque::new(),
            head_cap: cap / 2,
            tail_cap: cap - cap / 2,
            total: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let (head, rest) = bytes.split_at(bytes.len().min(self.head_cap - self.head.len()));
        self.head.extend_from_slice(head);
        let keep = &rest[rest.len().saturating_sub(self.tail_cap)..];
        let overflow = (self.tail.len() + keep.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..overflow);
        self.tail.extend(keep);
    }

    /// The text kept, valid UTF-8, secrets redacted; when something was cut, it is cut at line
    /// ends where a line end is near, and a line in the middle says how many bytes went.
    fn finish(self) -> String {
        let tail: Vec<u8> = self.tail.into();
        if (self.head.len() + tail.len()) as u64 == self.total {
            return redact(&String::from_utf8_lossy(&[self.head, tail].concat())).into_owned();
        }
        let head = match self.head.iter().rposition(|&b| b == b'\n') {
            Some(at) if at >= self.head.len() / 2 => &self.head[..=at],
            _ => &self.head[..],
        };
        let tail = match tail.iter().position(|&b| b == b'\n') {
            Some(at) if at < tail.len() / 2 => &tail[at + 1..],
            _ => &tail[..],
        };
        let cut = self.total - (head.len() + tail.len()) as u64;
        let mut out = redact(&String::from_utf8_lossy(head)).into_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("[… {cut} bytes of output cut here …]\n"));
        out.push_str(&redact(&String::from_utf8_lossy(tail)));
        out
    }
}

#[cfg(test)]
mod tests;
