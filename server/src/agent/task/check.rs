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

use std::collections::{BTreeSet, VecDeque};
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::sync::CancellationToken;

use crate::agent::secrets::redact;
use crate::agent::workspace_files::TANDEM_IGNORE;

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

/// Makes the scratch copy: the walk's folders and files (files copied with their times, so that
/// build tools see unchanged files as unchanged), links made again, shared folders linked, then
/// the overlays written over it.
fn make_scratch(
    root: &Path,
    overlays: &[Overlay],
    stop: &AtomicBool,
) -> Result<(tempfile::TempDir, ScratchStats), String> {
    let started = Instant::now();
    let scratch = tempfile::Builder::new().prefix(SCRATCH_PREFIX).tempdir();
    let scratch = scratch.map_err(|e| format!("could not make a folder for the check: {e}"))?;
    let to = scratch.path();
    let failed = |what: &Path, e: io::Error| {
        format!(
            "could not copy {} into the check's folder {}: {e}",
            what.display(),
            to.display()
        )
    };
    // Folders tagged as caches are not walked but shared: the filter notes them. A workspace that
    // holds the temporary folder must not copy the copies.
    let tagged = Arc::new(Mutex::new(Vec::new()));
    let note_tagged = Arc::clone(&tagged);
    let temp = std::env::temp_dir();
    let is_scratch = move |entry: &ignore::DirEntry| {
        entry.path().parent() == Some(temp.as_path())
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with(SCRATCH_PREFIX)
    };
    let walk = ignore::WalkBuilder::new(root)
        .hidden(false)
        .git_global(false)
        .require_git(false)
        .parents(false)
        .add_custom_ignore_filename(TANDEM_IGNORE)
        .filter_entry(move |entry| {
            let dir = entry.depth() > 0 && entry.file_type().is_some_and(|t| t.is_dir());
            let cache = dir && is_tagged_cache(entry.path());
            if cache && let Ok(mut tagged) = note_tagged.lock() {
                tagged.push(entry.path().to_path_buf());
            }
            entry.file_name() != ".git" && !cache && !is_scratch(entry)
        })
        .build();
    let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut stats = ScratchStats::default();
    let mut named = Vec::new();
    // Files are copied, never hard-linked: a check that rewrites a file in place (a formatter)
    // would write through a hard link into the user's file. `fs::copy` clones the file instead
    // where the file system can (APFS, and Btrfs or XFS through `copy_file_range`).
    for entry in walk.flatten() {
        if stop.load(Ordering::Relaxed) {
            return Err("the check was stopped while its scratch copy was being made".to_owned());
        }
        let (Ok(relative), Some(kind)) = (entry.path().strip_prefix(root), entry.file_type())
        else {
            continue;
        };
        let (from, at) = (entry.path(), to.join(relative));
        if kind.is_dir() {
            if entry.depth() > 0 {
                fs::create_dir(&at).map_err(|e| failed(from, e))?;
            }
            named.extend(
                SHARED_FOLDERS
                    .iter()
                    .map(|name| from.join(name))
                    .filter(|f| f.is_dir()),
            );
        } else if kind.is_symlink() {
            let target = fs::read_link(from).map_err(|e| failed(from, e))?;
            let resolved = lexical(&from.parent().unwrap_or(root).join(target));
            // A link into the workspace points into the copy, so that nothing writes through it
            // into the user's files; a link out of it stays as it was.
            let inside = [root, canonical.as_path()]
                .into_iter()
                .find_map(|r| resolved.strip_prefix(r).ok());
            let target = inside.map_or_else(|| resolved.clone(), |inside| to.join(inside));
            link(&target, &at, resolved.is_dir()).map_err(|e| failed(from, e))?;
            stats.links += 1;
        } else if kind.is_file() {
            match fs::copy(from, &at) {
                Ok(bytes) => stats.bytes += bytes,
                // Deleted since the walk saw it: as if it had never been there.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(failed(from, e)),
            }
            // Best effort: a file with a new time only costs a build tool a rebuild.
            if let Ok(modified) = fs::metadata(from).and_then(|m| m.modified()) {
                let _ = fs::File::open(&at).and_then(|f| f.set_modified(modified));
            }
            stats.files += 1;
            if stats.files > MAX_SCRATCH_FILES || stats.bytes > MAX_SCRATCH_BYTES {
                return Err(format!(
                    "the workspace is too big to copy for a check (more than {MAX_SCRATCH_FILES} \
                     files or {} GiB outside ignored folders): add folders of generated or \
                     vendored files to .gitignore or .tandemignore",
                    MAX_SCRATCH_BYTES >> 30
                ));
            }
        }
    }
    let tagged = tagged.lock().map(|t| t.clone()).unwrap_or_default();
    // A named folder that the walk copied is source, not ignored: it is in the copy already.
    for folder in named.into_iter().chain(tagged).collect::<BTreeSet<_>>() {
        let Ok(relative) = folder.strip_prefix(root) else {
            continue;
        };
        if fs::symlink_metadata(to.join(relative)).is_err() {
            link(&folder, &to.join(relative), true).map_err(|e| failed(&folder, e))?;
            stats.shared.push(relative.to_path_buf());
        }
    }
    for overlay in overlays {
        let written = write_overlay(root, to, overlay).map_err(|e| failed(&overlay.path, e))?;
        stats.overlays += usize::from(written);
    }
    stats.took = started.elapsed();
    Ok((scratch, stats))
}

/// Writes one overlay into the copy; `false` when it is left out: outside the workspace, in
/// `.git`, under a link (a shared folder or a link out: writing there would reach the user's
/// files), or equal to the file copied.
fn write_overlay(root: &Path, to: &Path, overlay: &Overlay) -> io::Result<bool> {
    let Ok(relative) = overlay.path.strip_prefix(root) else {
        return Ok(false);
    };
    let parts: Vec<_> = relative.components().collect();
    let plain = parts.iter().all(|c| matches!(c, Component::Normal(_)));
    let Some((name, folders)) = parts.split_last().filter(|_| plain) else {
        return Ok(false);
    };
    if parts[0].as_os_str() == ".git" {
        return Ok(false);
    }
    let mut at = to.to_path_buf();
    for folder in folders {
        at.push(folder);
        match fs::symlink_metadata(&at) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(&at)?,
            Err(e) => return Err(e),
        }
    }
    at.push(name);
    let text = overlay.text.as_bytes();
    match fs::symlink_metadata(&at) {
        Ok(meta) if meta.is_dir() => return Ok(false),
        Ok(meta) if meta.is_symlink() => fs::remove_file(&at)?,
        // An unchanged buffer keeps the copied file's time: a build tool sees nothing new.
        Ok(meta) if meta.len() == text.len() as u64 && fs::read(&at)? == text => return Ok(false),
        _ => {}
    }
    fs::write(&at, text)?;
    Ok(true)
}

fn is_tagged_cache(dir: &Path) -> bool {
    let mut start = [0u8; CACHEDIR_SIGNATURE.len()];
    let read = fs::File::open(dir.join("CACHEDIR.TAG")).and_then(|mut f| f.read_exact(&mut start));
    read.is_ok() && start == CACHEDIR_SIGNATURE
}

/// `path` with `.` and `..` resolved without touching the disk.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => _ = out.pop(),
            other => out.push(other),
        }
    }
    out
}

#[cfg(unix)]
fn link(target: &Path, at: &Path, _is_dir: bool) -> io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(windows)]
fn link(target: &Path, at: &Path, is_dir: bool) -> io::Result<()> {
    use std::os::windows::fs::{symlink_dir, symlink_file};
    if is_dir {
        symlink_dir(target, at)
    } else {
        symlink_file(target, at)
    }
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
