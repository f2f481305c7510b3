//! Throughput and latency of the task loop (`tandem.task`), end to end through the release
//! `tandem` binary: how many tool steps a second the loop runs when the model answers at once,
//! how long an `edit_file` call takes to leave as a `workspace/applyEdit`, and how long a task
//! takes to ask the model the first time.
//!
//! Run it (from the repository root):
//!
//! ```sh
//! cargo build --release -p tandem
//! TANDEM_BIN=$PWD/target/release/tandem cargo bench -p tandem-tests --bench task_loop
//! ```
//!
//! `TANDEM_BIN` must be absolute: cargo runs a bench from its package's folder (`tests/`).
//! Without `TANDEM_BIN` the bench looks for `tandem` next to its own build folder (the
//! `target/release` of the same target dir). A debug binary works but measures the wrong thing.
//!
//! What the clocks see. Everything on the editor's side and the model's side runs in this
//! process on one thread: the simulated editor (`tandem_tests::editor`, applying edits the way
//! VS Code does) and the scripted model server (`tandem_tests::model_server`) on loopback. The
//! server gets a temporary workspace with `src/lib.rs` (a 40-line Rust file) and
//! `src/data.txt` (lines `line 1` to `line 300`).
//!
//! - *steps per second*: a task whose model answers every turn at once with one tool call,
//!   [`STEPS`] turns, then a summary; the clock runs from sending `tandem.task` to the editor
//!   holding `tandem/jobFinished`, and steps/s is [`STEPS`] over it. Each step is a whole
//!   model turn: the server building the request (the whole conversation so far, fitted to its
//!   token budget), a new HTTP connection (the scripted server closes each one, where real
//!   providers keep it alive), the scripted stream (about 20 SSE events for a call), the
//!   tool, and `tandem/jobStep`. Three loops: `read_file` of `src/lib.rs` (the conversation
//!   grows by the file each step); `edit_file` of `src/data.txt` while it is not
//!   open (each call upper-cases a line of its own: a `workspace/applyEdit` the editor applies
//!   on disk and answers); and the same with `src/data.txt` open in the editor (a versioned
//!   edit the editor applies, answers and reports back as `didChange`, and the step waits for
//!   that report). [`RUNS`] tasks per loop on one server (the odd ones put the lines back; each
//!   task is accepted before the next), the median shown. The step gaps (one model request to
//!   the next, as the model server saw them) of the median run are shown early and late in the
//!   task, to show whether a step gets slower as the conversation grows.
//! - *edit_file → applyEdit*: one task on `src/data.txt` open in the editor, each turn's reply
//!   gated chunk by chunk (a reply is ~20 SSE events: role, the call's name, its arguments in
//!   5-character pieces, the finish, usage, `[DONE]`). The next turn's reply is queued before
//!   the release, and every turn starts once the model server holds the turn's request. Two
//!   clocks, on alternate turns: *whole reply* runs from releasing every chunk of the reply at
//!   once to the editor holding the server's `workspace/applyEdit` (it includes streaming the
//!   reply over loopback); *last chunk* releases all but the last chunk (`[DONE]`), lets
//!   [`PACE`] pass, and runs from releasing `[DONE]`. Both include the server's parsing, the
//!   tool planning the change, the converging edit, JSON over the stdio pipe and the editor's
//!   framing, and the editor applying the edit and writing its answer and `didChange` before
//!   it hands the message over (microseconds here). The first [`WARMUP_TURNS`] are not counted.
//! - *command → model request*: from sending `tandem.task` to the model server receiving the
//!   task's first HTTP request (the first prompt, `AGENTS.md`/rules lookup, the tools' specs,
//!   the HTTP client and connection), for the tasks of the steps-per-second runs; a server's
//!   first task is shown apart: it pays for whatever the server sets up once.
//!
//! The model server's request log is read only outside the clocks (for the first figure, once
//! at the end): `ModelServer::requests` copies every request body, megabytes of JSON after
//! 200 steps. glibc merges the small blocks of a freed copy at a later large allocation,
//! which put 20-40 ms of the bench's own work in the next clock until the bench made it
//! happen at once ([`tidy_heap`]).
//!
//! Numbers are printed as tables; nothing here asserts on time (house style). The bench does
//! check that each task finished `done` without a message after exactly the steps it was
//! given, that no tool call failed, and that the files hold the edits, and fails with the
//! reason when not.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a bench binary reports on stdout and fails on stderr"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use tandem_tests::editor::{EditBehavior, Editor, Incoming, SpawnOptions};
use tandem_tests::model_server::{ModelServer, Reply, Step, Wire};
use tandem_tests::model_tools::ScriptedCall;
use tokio::time::Instant;

/// Tool turns of each steps-per-second task.
const STEPS: usize = 200;
/// Tasks per loop in the steps-per-second figure.
const RUNS: usize = 3;
/// Lines of `src/data.txt`.
const DATA_LINES: usize = 300;
/// Samples of each edit-latency clock.
const EDIT_SAMPLES: usize = 50;
/// Turns of the edit-latency task before the clocks start.
const WARMUP_TURNS: usize = 3;
/// Quiet time between releasing all but a reply's last chunk and releasing the last.
const PACE: Duration = Duration::from_millis(5);
/// Patience for any one thing the server should do.
const PATIENCE: Duration = Duration::from_secs(10);
/// Patience for a whole steps-per-second task.
const TASK_PATIENCE: Duration = Duration::from_secs(300);

fn main() -> Result<()> {
    tandem_tests::bench::run("task_loop", run)
}

async fn run(bin: PathBuf) -> Result<()> {
    let started = Instant::now();
    let logs = tempfile::tempdir().context("a temporary folder for the server's log")?;
    println!("tandem: {}", bin.display());
    println!(
        "server log (level info, as users run it): {}",
        logs.path().display()
    );
    println!();

    let mut loops = Vec::new();
    for kind in [Loop::Read, Loop::EditClosed, Loop::EditOpen] {
        let log = logs.path().join(format!("{}.log", kind.file_name()));
        let runs = bench_loop(kind, &log)
            .await
            .with_context(|| format!("the {} loop", kind.label()))?;
        loops.push((kind, runs));
    }
    let (whole, last) = bench_edit_latency(&logs.path().join("edit-latency.log"))
        .await
        .context("the edit-latency task")?;

    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>9}",
        format!("steps/s ({STEPS} tool turns, instant model)"),
        "run 1",
        "run 2",
        "run 3",
        "median"
    );
    for (kind, runs) in &loops {
        let rates: Vec<f64> = runs.iter().map(LoopRun::steps_per_second).collect();
        let cells: Vec<String> = rates.iter().map(|r| format!("{r:.1}")).collect();
        println!(
            "{:<44} {:>9} {:>9} {:>9} {:>9.1}",
            kind.label(),
            cells.first().map_or("", String::as_str),
            cells.get(1).map_or("", String::as_str),
            cells.get(2).map_or("", String::as_str),
            median_f64(&rates),
        );
    }
    println!();

    println!(
        "{:<56} {:>5} {:>9} {:>9} {:>9}",
        "latency", "n", "median", "p90", "max"
    );
    print_row("edit_file: whole reply released -> applyEdit", &whole);
    print_row(
        "edit_file: last chunk ([DONE]) released -> applyEdit",
        &last,
    );
    let firsts: Vec<Duration> = loops.iter().map(|(_, runs)| runs[0].to_request).collect();
    let laters: Vec<Duration> = loops
        .iter()
        .flat_map(|(_, runs)| runs[1..].iter().map(|r| r.to_request))
        .collect();
    print_row("tandem.task sent -> model request (first task)", &firsts);
    print_row("tandem.task sent -> model request (later tasks)", &laters);
    println!();

    println!(
        "{:<34} {:>14} {:>14} {:>14} {:>16}",
        "median run of each loop", "steps 1-20", "steps 181-200", "last request", "applyEdit text"
    );
    for (kind, runs) in &loops {
        let run = median_run(runs);
        let early = median(&run.gaps[..20.min(run.gaps.len())]);
        let late = median(&run.gaps[run.gaps.len().saturating_sub(20)..]);
        let edits = match run.edits {
            (0, _, _) => "-".to_owned(),
            (count, total, max) => format!("{}/{} B", total / count, max),
        };
        println!(
            "{:<34} {:>14} {:>14} {:>14} {:>16}",
            kind.label(),
            format!("{:.3} ms", ms(early)),
            format!("{:.3} ms", ms(late)),
            format!("{} KiB", run.last_body_bytes / 1024),
            edits,
        );
    }
    println!(
        "(steps: median gap between the model requests of consecutive turns; last request: its \
         JSON body; applyEdit text: mean/max bytes of newText per applyEdit)"
    );
    println!();
    println!(
        "{RUNS} runs x {STEPS} steps per loop; {EDIT_SAMPLES} edits per latency clock after \
         {WARMUP_TURNS} warm-up turns, pace {PACE:?}; total {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A temporary workspace: `src/lib.rs` and `src/data.txt`.
struct Workspace {
    root: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Result<Self> {
        let root = tempfile::tempdir().context("a temporary workspace")?;
        std::fs::create_dir_all(root.path().join("src"))?;
        std::fs::write(root.path().join("src/lib.rs"), lib_text())?;
        std::fs::write(root.path().join("src/data.txt"), data_text(0))?;
        Ok(Workspace { root })
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    fn uri(&self, relative: &str) -> String {
        format!("file://{}", self.path(relative).display())
    }
}

/// A 40-line Rust file for `read_file`.
fn lib_text() -> String {
    let mut text = String::from("//! Arithmetic helpers.\n\n");
    for i in 0..6 {
        text.push_str(&format!(
            "/// Adds {i}.\npub fn add_{i}(x: u32) -> u32 {{\n    x.saturating_add({i})\n}}\n\n"
        ));
    }
    text.push_str("pub const LIMIT: u32 = 1000;\n");
    text
}

/// `src/data.txt` with lines 1 to `upper` upper-cased.
fn data_text(upper: usize) -> String {
    (1..=DATA_LINES)
        .map(|k| {
            if k <= upper {
                format!("LINE {k}\n")
            } else {
                format!("line {k}\n")
            }
        })
        .collect()
}

/// The call that changes line `k` of `src/data.txt`: upper-cases it, or puts it back.
fn edit_line(k: usize, upper: bool) -> ScriptedCall {
    let (old, new) = (format!("line {k}\n"), format!("LINE {k}\n"));
    let (old, new) = if upper { (old, new) } else { (new, old) };
    let arguments = json!({"path": "src/data.txt", "old": old, "new": new});
    ScriptedCall::new(&format!("c{k}"), "edit_file", &arguments.to_string())
}

fn read_lib(k: usize) -> ScriptedCall {
    let arguments = json!({"path": "src/lib.rs"});
    ScriptedCall::new(&format!("c{k}"), "read_file", &arguments.to_string())
}

fn one_call(call: ScriptedCall) -> Reply {
    Reply::tool_calls(Wire::OpenAi, &[], &[call])
}

/// Spawns the server on `workspace` with its log at info level in a file (stderr stays quiet),
/// the scripted model as its endpoint, and room for `max_steps` tool turns.
async fn spawn(
    log_file: &Path,
    model: &ModelServer,
    workspace: &Workspace,
    max_steps: usize,
) -> Result<Editor> {
    let mut editor = Editor::spawn(SpawnOptions {
        args: vec!["--log-file".into(), log_file.display().to_string()],
        env: vec![("TANDEM_LOG".into(), "info".into())],
    })
    .await?;
    editor.edits = EditBehavior::VsCode;
    let options = json!({
        "model": {"provider": "openai", "baseUrl": model.base_url(Wire::OpenAi), "name": "test-model"},
        "agent": {"maxSteps": max_steps},
    });
    editor
        .initialize_with(
            &[],
            json!({"rootUri": workspace.uri(""), "initializationOptions": options}),
        )
        .await?;
    Ok(editor)
}

async fn command(editor: &mut Editor, name: &str, argument: Value) -> Result<Value> {
    editor
        .request(
            "workspace/executeCommand",
            json!({"command": name, "arguments": [argument]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{name} was refused: {e}"))
}

/// Waits (up to `wait`) for the end of task `job`, answering the server meanwhile.
async fn finished(editor: &mut Editor, job: &Value, wait: Duration) -> Result<Value> {
    let job = job.clone();
    editor
        .wait_for_long(wait, |m| match m {
            Incoming::Notification { method, params }
                if method == "tandem/jobFinished" && params["jobId"] == job =>
            {
                Some(params.clone())
            }
            _ => None,
        })
        .await
        .with_context(|| format!("task {job} did not finish"))
}

/// Lets `wait` pass while the editor keeps reading (and answering) what the server sends.
async fn idle(editor: &mut Editor, wait: Duration) -> Result<()> {
    match editor.wait_for_long(wait, |_| None::<()>).await {
        Ok(()) => Ok(()),
        Err(error) if error.to_string().starts_with("timed out") => Ok(()),
        Err(error) => Err(error),
    }
}

/// Keeps the editor answering until the model server has received `n` requests. The two are
/// never awaited together: a wait for the editor cut short could cut a frame it is writing.
/// Each try copies the model server's whole request log: not for inside a clock, and
/// [`tidy_heap`] after it.
async fn until_requests(editor: &mut Editor, model: &ModelServer, n: usize) -> Result<()> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let arrived = tokio::time::timeout(Duration::from_millis(2), model.wait_for_requests(n));
        if arrived.await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the model server never got request {n}");
        }
        idle(editor, Duration::from_millis(1)).await?;
    }
}

/// Has the allocator tidy up now rather than inside the next clock. glibc keeps small freed
/// blocks aside and merges them at the next large allocation; after a copy of the model
/// server's request log (megabytes of JSON in small blocks) was freed, that took 20-40 ms.
fn tidy_heap() {
    drop(std::hint::black_box(Vec::<u8>::with_capacity(1 << 16)));
}

/// Leaves only messages the bench waits for in the editor's backlog.
fn drop_progress(editor: &mut Editor) {
    editor.take_notifications("$/progress");
    editor.take_notifications("tandem/jobStep");
    editor.take_notifications("window/showMessage");
    editor.take_notifications("textDocument/publishDiagnostics");
    editor.take_requests("window/workDoneProgress/create");
    editor.take_requests("workspace/applyEdit");
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loop {
    Read,
    EditClosed,
    EditOpen,
}

impl Loop {
    fn label(self) -> &'static str {
        match self {
            Loop::Read => "read_file src/lib.rs",
            Loop::EditClosed => "edit_file, file not open",
            Loop::EditOpen => "edit_file, open document",
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            Loop::Read => "read",
            Loop::EditClosed => "edit-closed",
            Loop::EditOpen => "edit-open",
        }
    }
}

/// One steps-per-second task.
struct LoopRun {
    sent: Instant,
    elapsed: Duration,
    /// `tandem.task` sent to the first model request.
    to_request: Duration,
    /// Between consecutive model requests of the task.
    gaps: Vec<Duration>,
    last_body_bytes: usize,
    /// applyEdits: how many, the bytes of their new text in all, the most in one.
    edits: (usize, usize, usize),
}

impl LoopRun {
    fn steps_per_second(&self) -> f64 {
        STEPS as f64 / self.elapsed.as_secs_f64()
    }
}

fn median_run(runs: &[LoopRun]) -> &LoopRun {
    let mut sorted: Vec<&LoopRun> = runs.iter().collect();
    sorted.sort_by_key(|r| r.elapsed);
    sorted[sorted.len() / 2]
}

async fn bench_loop(kind: Loop, log_file: &Path) -> Result<Vec<LoopRun>> {
    let workspace = Workspace::new()?;
    let model = ModelServer::start()
        .await
        .context("starting the model server")?;
    let mut editor = spawn(log_file, &model, &workspace, STEPS + 5).await?;
    let data = workspace.uri("src/data.txt");
    if kind == Loop::EditOpen {
        editor.open(&data, "plaintext", 1, &data_text(0)).await?;
    }
    let mut runs: Vec<LoopRun> = Vec::with_capacity(RUNS);
    for run in 0..RUNS {
        // Even runs upper-case lines 1..=STEPS, odd runs put them back.
        let upper = run % 2 == 0;
        for k in 1..=STEPS {
            model.push(one_call(match kind {
                Loop::Read => read_lib(k),
                Loop::EditClosed | Loop::EditOpen => edit_line(k, upper),
            }));
        }
        model.push(Reply::text(Wire::OpenAi, &["Done."]));
        let mut argument = json!({"instruction": "work through the file"});
        if kind == Loop::EditOpen {
            argument["uri"] = json!(data);
        }

        let sent = Instant::now();
        let started = command(&mut editor, "tandem.task", argument).await?;
        let job = started["jobId"].clone();
        ensure!(
            !job.is_null(),
            "tandem.task answered without a jobId: {started}"
        );
        let report = finished(&mut editor, &job, TASK_PATIENCE).await?;
        let elapsed = sent.elapsed();

        ensure!(
            report["status"] == "done" && report["message"].is_null(),
            "run {run}: the task ended {report}"
        );
        let steps = editor.take_notifications("tandem/jobStep");
        ensure!(
            steps.len() == STEPS,
            "run {run}: {} steps announced, not {STEPS}",
            steps.len()
        );
        if let Some(failed) = steps.iter().find(|s| {
            s["summary"]
                .as_str()
                .is_none_or(|summary| summary.starts_with("failed"))
        }) {
            bail!("run {run}: a step failed: {failed}");
        }
        let want = data_text(if upper { STEPS } else { 0 });
        let got = match kind {
            Loop::Read => want.clone(),
            Loop::EditClosed => std::fs::read_to_string(workspace.path("src/data.txt"))?,
            Loop::EditOpen => editor
                .doc(&data)
                .map(|d| d.text.clone())
                .unwrap_or_default(),
        };
        ensure!(got == want, "run {run}: data.txt holds\n{got}");

        let edits = editor
            .take_requests("workspace/applyEdit")
            .iter()
            .map(new_text_bytes)
            .fold((0, 0, 0), |(n, total, most), bytes| {
                (n + 1, total + bytes, most.max(bytes))
            });
        runs.push(LoopRun {
            sent,
            elapsed,
            to_request: Duration::ZERO,
            gaps: Vec::new(),
            last_body_bytes: 0,
            edits,
        });
        drop_progress(&mut editor);
        command(&mut editor, "tandem.accept", json!({"jobId": job})).await?;
    }
    editor.shutdown_and_exit().await?;

    // What the model server saw, read once at the end (see the header: copying the request
    // log between tasks would put the cost of freeing the copy in the next task's clock).
    let requests = model.requests();
    let per_task = STEPS + 1;
    ensure!(
        requests.len() == RUNS * per_task,
        "the model was asked {} times, not {}",
        requests.len(),
        RUNS * per_task
    );
    for (run, task) in runs.iter_mut().zip(requests.chunks(per_task)) {
        run.to_request = task[0].received_at.saturating_duration_since(run.sent);
        run.gaps = task
            .windows(2)
            .map(|w| w[1].received_at.saturating_duration_since(w[0].received_at))
            .collect();
        run.last_body_bytes = task.last().map_or(0, |r| r.body.to_string().len());
    }
    drop(requests);
    tidy_heap();
    Ok(runs)
}

/// The bytes of new text an `applyEdit` carries.
fn new_text_bytes(params: &Value) -> usize {
    params["edit"]["documentChanges"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|change| change["edits"].as_array().into_iter().flatten())
        .filter_map(|edit| edit["newText"].as_str())
        .map(str::len)
        .sum()
}

/// The line where an `applyEdit`'s first text edit starts.
fn first_line(params: &Value) -> Option<usize> {
    let line =
        params["edit"]["documentChanges"][0]["edits"][0]["range"]["start"]["line"].as_u64()?;
    usize::try_from(line).ok()
}

/// The two edit-latency clocks: whole reply released, last chunk released.
async fn bench_edit_latency(log_file: &Path) -> Result<(Vec<Duration>, Vec<Duration>)> {
    let workspace = Workspace::new()?;
    let model = ModelServer::start()
        .await
        .context("starting the model server")?;
    let turns = WARMUP_TURNS + 2 * EDIT_SAMPLES;
    let mut editor = spawn(log_file, &model, &workspace, turns + 5).await?;
    let data = workspace.uri("src/data.txt");
    editor.open(&data, "plaintext", 1, &data_text(0)).await?;
    let reply = |k: usize| one_call(edit_line(k, true)).gated();

    model.push(reply(1));
    let started = command(
        &mut editor,
        "tandem.task",
        json!({"instruction": "upper-case the lines", "uri": data}),
    )
    .await?;
    let job = started["jobId"].clone();
    ensure!(
        !job.is_null(),
        "tandem.task answered without a jobId: {started}"
    );
    until_requests(&mut editor, &model, 1).await?;

    let mut whole = Vec::with_capacity(EDIT_SAMPLES);
    let mut last = Vec::with_capacity(EDIT_SAMPLES);
    for k in 1..=turns {
        // Turn k's request is in and its reply waits at its first gate. Exactly its chunks are
        // released: a spare permit would let the next reply through ungated.
        let gates = reply(k)
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Gate))
            .count();
        if k < turns {
            model.push(reply(k + 1));
        } else {
            model.push(Reply::text(Wire::OpenAi, &["Done."]));
        }
        drop_progress(&mut editor);
        let whole_reply = k <= WARMUP_TURNS || (k - WARMUP_TURNS) % 2 == 1;
        if !whole_reply {
            model.release(gates - 1);
            idle(&mut editor, PACE).await?;
        }
        let released = Instant::now();
        model.release(if whole_reply { gates } else { 1 });
        // The edit of turn k starts on line k (0-based: k - 1).
        editor
            .wait_for_long(PATIENCE, |m| match m {
                Incoming::Request { method, params, .. }
                    if method == "workspace/applyEdit" && first_line(params) == Some(k - 1) =>
                {
                    Some(())
                }
                _ => None,
            })
            .await
            .with_context(|| format!("turn {k}: no applyEdit"))?;
        let took = released.elapsed();
        if k > WARMUP_TURNS {
            if whole_reply {
                whole.push(took);
            } else {
                last.push(took);
            }
        }
        if k < turns {
            until_requests(&mut editor, &model, k + 1).await?;
            tidy_heap();
        }
    }
    let report = finished(&mut editor, &job, PATIENCE).await?;
    ensure!(
        report["status"] == "done" && report["message"].is_null(),
        "the task ended {report}"
    );
    let got = editor
        .doc(&data)
        .map(|d| d.text.clone())
        .unwrap_or_default();
    ensure!(got == data_text(turns), "data.txt holds\n{got}");
    editor.shutdown_and_exit().await?;
    Ok((whole, last))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    percentile(&sorted, 50.0)
}

fn median_f64(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn print_row(name: &str, samples: &[Duration]) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let cell = |d: Duration| format!("{:.3} ms", ms(d));
    println!(
        "{:<56} {:>5} {:>9} {:>9} {:>9}",
        name,
        sorted.len(),
        cell(percentile(&sorted, 50.0)),
        cell(percentile(&sorted, 90.0)),
        cell(sorted.last().copied().unwrap_or_default()),
    );
}
