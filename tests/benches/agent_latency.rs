//! Latency benchmarks of issue 4, end to end through the release `tandem` binary: a streamed
//! model chunk to its `workspace/applyEdit`, the first edit after the model's first token, and
//! `textDocument/codeAction` on a 10,000-line Rust file.
//!
//! Run it (from the repository root):
//!
//! ```sh
//! cargo build --release -p tandem
//! TANDEM_BIN=$PWD/target/release/tandem cargo bench -p tandem-tests --bench agent_latency
//! ```
//!
//! Without `TANDEM_BIN` the bench looks for `tandem` next to its own build folder (the
//! `target/release` of the same target dir). A debug binary works but measures the wrong thing.
//!
//! What the clocks see. Everything on the editor's side and the model's side runs in this
//! process on one thread: the simulated editor (`tandem_tests::editor`, applying edits the way
//! VS Code does) and the scripted model server (`tandem_tests::model_server`) on loopback.
//!
//! - *chunk → applyEdit*: from releasing one gated chunk (one complete line of code, one SSE
//!   event in one HTTP chunk) to the editor holding the server's `workspace/applyEdit`. It
//!   includes the model server's task waking to write the chunk, the loopback TCP hop, the
//!   server's HTTP/SSE parsing, fence extraction, the job's `$/progress` report, computing the
//!   edit, JSON over the stdio pipe, and the editor's framing. It also includes the editor
//!   applying the edit and writing its answer and `didChange` before it hands the message over
//!   (a few microseconds on these small documents). Chunks are paced: the next one is released
//!   [`PACE`] after the last edit arrived, so each chunk meets an idle pipeline instead of
//!   queueing behind the previous edit's round trip (one edit in flight per document).
//! - *first edit*: the same, for the first content chunk of a job (` ```rust\n` plus the first
//!   line, so the model's first token carries code), measured separately because it is the
//!   first edit of a fresh session.
//! - *command → model request*: from sending `tandem.edit` to the model server receiving the
//!   HTTP request (prompt building, context, HTTP client and connection); context for the two
//!   above. The first job is shown apart: it pays for whatever the server sets up once.
//! - *codeAction*: request to response over stdio, one at a time, at deterministic positions
//!   spread over the file, after the initial parse; and right after a one-character edit, so
//!   the answer waits for the incremental reparse like it does while the user types.
//!
//! - *long reply*: a rewrite answered at once with a long block of short lines, one line per
//!   SSE event (50 KB to 1 MB of code: a fast model, or a hostile endpoint), from `tandem.edit`
//!   to `tandem/jobFinished`, with the `workspace/applyEdit`s and `$/progress` reports it took.
//!   Each update of the region reads the whole code so far, so updating per line would be
//!   quadratic in the reply; updates are coalesced instead.
//!
//! Numbers are printed as a table; nothing here asserts on time (house style). The bench does
//! check that each chunk produced an edit, each job finished `done` with the right text, and
//! each code-action answer listed actions, and fails with the reason when not.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a bench binary reports on stdout and fails on stderr"
)]

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::json;
use tandem_tests::editor::{EditBehavior, Editor, Incoming, SpawnOptions};
use tandem_tests::model_server::{ModelServer, Reply, Wire};
use tokio::time::Instant;

/// Jobs run one after another, each in its own document.
const JOBS: usize = 20;
/// Lines of code each job's model answer streams, one gated chunk per line.
const LINES_PER_JOB: usize = 20;
/// Lines of the generated file for code actions.
const CODE_ACTION_FILE_LINES: usize = 10_000;
/// Code-action requests measured on the unchanged file (after [`CODE_ACTION_WARMUP`]).
const CODE_ACTION_REQUESTS: usize = 500;
const CODE_ACTION_WARMUP: usize = 20;
/// Code-action requests each sent right after a one-character edit.
const CODE_ACTION_AFTER_EDIT: usize = 100;
/// Quiet time between a chunk's edit arriving and the next chunk's release, during which the
/// editor keeps answering the server. Real models send a line every ~100 ms or more.
const PACE: Duration = Duration::from_millis(5);
/// Patience for any one thing the server should do.
const PATIENCE: Duration = Duration::from_secs(10);

fn main() -> Result<()> {
    tandem_tests::bench::run("agent_latency", run)
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

    let streaming = bench_streaming(&logs.path().join("stream.log")).await?;
    let actions = bench_code_actions(&logs.path().join("code-actions.log")).await?;
    let long = bench_long_replies(&logs.path().join("long.log")).await?;

    println!(
        "{:<52} {:>5} {:>9} {:>9} {:>9} {:>9}",
        "measurement", "n", "median", "p99", "min", "max"
    );
    for (name, samples) in streaming.iter().chain(actions.iter()) {
        print_row(name, samples);
    }
    println!();
    println!(
        "{:<52} {:>9} {:>11} {:>11}",
        "long reply, one line per event", "to done", "applyEdits", "progress"
    );
    for row in &long {
        println!(
            "{:<52} {:>7.0}ms {:>11} {:>11}",
            row.name,
            row.took.as_secs_f64() * 1000.0,
            row.edits,
            row.reports
        );
    }
    println!();
    println!(
        "{JOBS} jobs x {LINES_PER_JOB} lines, pace {PACE:?}; code actions on {CODE_ACTION_FILE_LINES} lines; total {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

type Rows = Vec<(String, Vec<Duration>)>;

/// Spawns the server with its log at info level in a file (stderr stays quiet) and the
/// scripted model as its endpoint.
async fn spawn(log_file: &std::path::Path, model: Option<&ModelServer>) -> Result<Editor> {
    let mut editor = Editor::spawn(SpawnOptions {
        args: vec!["--log-file".into(), log_file.display().to_string()],
        env: vec![("TANDEM_LOG".into(), "info".into())],
    })
    .await?;
    editor.edits = EditBehavior::VsCode;
    let options = match model {
        Some(server) => json!({"initializationOptions": {"model": {
            "provider": "openai", "baseUrl": server.base_url(Wire::OpenAi), "name": "test-model"}}}),
        None => json!({}),
    };
    editor.initialize_with(&[], options).await?;
    Ok(editor)
}

/// A small Rust document with a function whose body line 2 the job rewrites.
fn job_document(job: usize) -> String {
    let mut text = format!("//! Bench document {job}.\n\nfn work() -> u32 {{\n    let old = 0;\n");
    text.push_str("    old\n}\n");
    for i in 0..40 {
        text.push_str(&format!(
            "\nfn helper_{i}(x: u32) -> u32 {{\n    x + {i}\n}}\n"
        ));
    }
    text
}

/// The line the job writes as its `k`th line.
fn job_line(k: usize) -> String {
    format!("    let v{k} = old + {k};\n")
}

async fn bench_streaming(log_file: &std::path::Path) -> Result<Rows> {
    let model = ModelServer::start()
        .await
        .context("starting the model server")?;
    let mut editor = spawn(log_file, Some(&model)).await?;
    let mut chunk_to_edit = Vec::new();
    let mut first_edit = Vec::new();
    let mut to_request = Vec::new();

    for job in 0..JOBS {
        let uri = format!("file:///bench/src/job_{job}.rs");
        let text = job_document(job);
        editor.open(&uri, "rust", 1, &text).await?;

        // The model's answer: the fence and the first line in the first token, then a line
        // per chunk, then the closing fence. Every chunk (the role preamble, each delta, the
        // finish, usage and `[DONE]` events) waits for a release.
        let lines: Vec<String> = (0..LINES_PER_JOB).map(job_line).collect();
        let mut deltas = vec![format!("```rust\n{}", lines[0])];
        deltas.extend(lines[1..].iter().cloned());
        deltas.push("```\n".into());
        let delta_refs: Vec<&str> = deltas.iter().map(String::as_str).collect();
        model.push(Reply::text(Wire::OpenAi, &delta_refs).gated());

        let sent = Instant::now();
        let job_id = start_edit(&mut editor, &uri).await?;
        let request = tokio::time::timeout(PATIENCE, model.wait_for_requests(job + 1))
            .await
            .context("the job never asked the model")?;
        let arrived = request
            .last()
            .context("a request was recorded")?
            .received_at;
        to_request.push(arrived.saturating_duration_since(sent));

        // The role preamble carries no text; let it through and settle.
        model.release(1);
        idle(&mut editor, PACE).await?;

        for k in 0..LINES_PER_JOB {
            let released = Instant::now();
            model.release(1);
            editor
                .wait_for_long(PATIENCE, |m| match m {
                    Incoming::Request { method, .. } if method == "workspace/applyEdit" => Some(()),
                    _ => None,
                })
                .await
                .with_context(|| format!("job {job}: no applyEdit for line {k}"))?;
            let took = released.elapsed();
            if k == 0 {
                first_edit.push(took);
            } else {
                chunk_to_edit.push(took);
            }
            idle(&mut editor, PACE).await?;
        }

        // The closing fence, the finish, usage and `[DONE]`.
        model.release(4);
        let expected_job = job_id.clone();
        let done = editor
            .wait_for_long(PATIENCE, |m| match m {
                Incoming::Notification { method, params }
                    if method == "tandem/jobFinished" && params["jobId"] == expected_job =>
                {
                    Some(params.clone())
                }
                _ => None,
            })
            .await
            .with_context(|| format!("job {job} did not finish"))?;
        ensure!(done["status"] == "done", "job {job} ended: {done}");
        let want = text.replacen("    let old = 0;\n", &lines.concat(), 1);
        let got = editor.doc(&uri).map(|d| d.text.clone()).unwrap_or_default();
        ensure!(
            got == want,
            "job {job} left the wrong text:\n{got}\n--- expected ---\n{want}"
        );
        // Keep the backlog short: progress and diagnostics are not measured.
        editor.take_notifications("$/progress");
        editor.take_notifications("textDocument/publishDiagnostics");
        editor.take_requests("workspace/applyEdit");
        editor.take_requests("window/workDoneProgress/create");
    }
    editor.shutdown_and_exit().await?;

    Ok(vec![
        (
            "chunk -> applyEdit (lines 2..n of each job)".into(),
            chunk_to_edit,
        ),
        ("first token -> first applyEdit".into(), first_edit),
        (
            "tandem.edit sent -> model request (first job)".into(),
            to_request[..1].to_vec(),
        ),
        (
            "tandem.edit sent -> model request (later jobs)".into(),
            to_request[1..].to_vec(),
        ),
    ])
}

/// Runs `tandem.edit` on line 4 of `uri` (the body line of [`job_document`]); its job's id.
async fn start_edit(editor: &mut Editor, uri: &str) -> Result<serde_json::Value> {
    let reply = editor
        .request(
            "workspace/executeCommand",
            json!({"command": "tandem.edit", "arguments": [{
                "uri": uri,
                "range": {"start": {"line": 3, "character": 0}, "end": {"line": 4, "character": 0}},
                "instruction": "write the lines"
            }]}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("tandem.edit was refused: {e}"))?;
    let job_id = reply["jobId"].clone();
    ensure!(
        !job_id.is_null(),
        "tandem.edit answered without a jobId: {reply}"
    );
    Ok(job_id)
}

/// One long reply's figures.
struct LongReply {
    name: String,
    took: Duration,
    edits: usize,
    reports: usize,
}

/// Code sizes of the long replies.
const LONG_REPLIES: [usize; 3] = [50_000, 200_000, 1_000_000];

async fn bench_long_replies(log_file: &std::path::Path) -> Result<Vec<LongReply>> {
    let model = ModelServer::start()
        .await
        .context("starting the model server")?;
    let mut editor = spawn(log_file, Some(&model)).await?;
    let mut rows = Vec::new();
    for (n, size) in LONG_REPLIES.into_iter().enumerate() {
        let uri = format!("file:///bench/src/long_{n}.rs");
        let text = job_document(n);
        editor.open(&uri, "rust", 1, &text).await?;
        let mut lines = Vec::new();
        let mut bytes = 0;
        while bytes < size {
            let line = job_line(lines.len());
            bytes += line.len();
            lines.push(line);
        }
        let mut deltas = vec!["```rust\n".to_owned()];
        deltas.extend(lines.iter().cloned());
        deltas.push("```\n".into());
        let delta_refs: Vec<&str> = deltas.iter().map(String::as_str).collect();
        model.push(Reply::text(Wire::OpenAi, &delta_refs));
        editor.take_requests("workspace/applyEdit");
        editor.take_notifications("$/progress");

        let sent = Instant::now();
        let job_id = start_edit(&mut editor, &uri).await?;
        let done = editor
            .wait_for_long(PATIENCE * 10, |m| match m {
                Incoming::Notification { method, params }
                    if method == "tandem/jobFinished" && params["jobId"] == job_id =>
                {
                    Some(params.clone())
                }
                _ => None,
            })
            .await
            .with_context(|| format!("the {size}-byte reply's job did not finish"))?;
        let took = sent.elapsed();
        ensure!(
            done["status"] == "done",
            "the {size}-byte job ended: {done}"
        );
        let want = text.replacen("    let old = 0;\n", &lines.concat(), 1);
        let got = editor.doc(&uri).map(|d| d.text.clone()).unwrap_or_default();
        ensure!(got == want, "the {size}-byte job left the wrong text");
        rows.push(LongReply {
            name: format!("{} KB, {} lines", size / 1000, lines.len()),
            took,
            edits: editor.take_requests("workspace/applyEdit").len(),
            reports: editor
                .take_notifications("$/progress")
                .iter()
                .filter(|p| p["value"]["kind"] == "report")
                .count(),
        });
        editor.take_notifications("textDocument/publishDiagnostics");
        editor.take_requests("window/workDoneProgress/create");
    }
    editor.shutdown_and_exit().await?;
    Ok(rows)
}

/// Lets `wait` pass while the editor keeps reading (and answering) what the server sends.
async fn idle(editor: &mut Editor, wait: Duration) -> Result<()> {
    match editor.wait_for_long(wait, |_| None::<()>).await {
        Ok(()) => Ok(()),
        Err(error) if error.to_string().starts_with("timed out") => Ok(()),
        Err(error) => Err(error),
    }
}

/// A deterministic 10,000-line Rust file: modules of documented and undocumented functions,
/// structs with impl blocks, and some unfinished bodies (`todo!()`), so every kind of offer
/// appears somewhere.
fn big_rust_file(lines: usize) -> String {
    let mut out = String::from(
        "//! Generated for the code-action bench.\n\nuse std::collections::HashMap;\n\n",
    );
    let mut i = 0;
    while out.lines().count() + 20 < lines {
        match i % 4 {
            0 => out.push_str(&format!(
                "/// Adds {i} to `x`.\npub fn add_{i}(x: u64) -> u64 {{\n    let y = x + {i};\n    let z = y * 2;\n    z - y\n}}\n\n"
            )),
            1 => out.push_str(&format!(
                "fn lookup_{i}(map: &HashMap<String, u64>, key: &str) -> Option<u64> {{\n    // Looks the key up.\n    map.get(key).copied()\n}}\n\n"
            )),
            2 => out.push_str(&format!(
                "#[derive(Debug, Default)]\npub struct Item{i} {{\n    pub id: u64,\n    pub name: String,\n}}\n\nimpl Item{i} {{\n    pub fn new(id: u64) -> Self {{\n        Self {{ id, name: String::new() }}\n    }}\n\n    pub fn rename(&mut self, name: &str) {{\n        todo!()\n    }}\n}}\n\n"
            )),
            _ => out.push_str(&format!(
                "fn unfinished_{i}(values: &[u64]) -> u64 {{\n    todo!()\n}}\n\n"
            )),
        }
        i += 1;
    }
    while out.lines().count() < lines {
        out.push_str("// padding\n");
    }
    out
}

async fn code_action(
    editor: &mut Editor,
    uri: &str,
    line: usize,
    character: usize,
) -> Result<Duration> {
    let position = json!({"line": line, "character": character});
    let sent = Instant::now();
    let answer = editor
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": {"start": position, "end": position},
                   "context": {"diagnostics": []}}),
        )
        .await?
        .map_err(|e| anyhow::anyhow!("codeAction at {line}:{character} failed: {e}"))?;
    let took = sent.elapsed();
    let listed = answer.as_array().map_or(0, Vec::len);
    ensure!(
        listed > 0,
        "codeAction at {line}:{character} listed nothing: {answer}"
    );
    Ok(took)
}

async fn bench_code_actions(log_file: &std::path::Path) -> Result<Rows> {
    let mut editor = spawn(log_file, None).await?;
    let uri = "file:///bench/src/big.rs";
    let text = big_rust_file(CODE_ACTION_FILE_LINES);
    let lines = text.lines().count();
    if lines != CODE_ACTION_FILE_LINES {
        bail!("the generated file has {lines} lines, not {CODE_ACTION_FILE_LINES}");
    }
    editor.open(uri, "rust", 1, &text).await?;
    // The first answer waits for the initial parse of the whole file.
    let first = code_action(&mut editor, uri, lines / 2, 4).await?;
    for i in 0..CODE_ACTION_WARMUP {
        code_action(&mut editor, uri, (i * 37) % lines, 0).await?;
    }
    let mut steady = Vec::with_capacity(CODE_ACTION_REQUESTS);
    for i in 0..CODE_ACTION_REQUESTS {
        // A fixed pseudo-random walk over the file (7919 is prime, so it visits distinct
        // lines), at columns 0..20 (clamped by the server on short lines).
        let line = (i * 7919 + 13) % lines;
        steady.push(code_action(&mut editor, uri, line, (i * 7) % 20).await?);
    }
    editor.take_notifications("textDocument/publishDiagnostics");

    // Typing then asking: insert a character in a comment, then list the actions there.
    let mut after_edit = Vec::with_capacity(CODE_ACTION_AFTER_EDIT);
    for i in 0..CODE_ACTION_AFTER_EDIT {
        let doc = editor.doc(uri).context("the big file is open")?;
        let line = (i * 7919 + 101) % lines;
        let line_start = nth_line_start(&doc.text, line);
        editor.type_at(uri, line_start, line_start, " ").await?;
        after_edit.push(code_action(&mut editor, uri, line, 1).await?);
        editor.take_notifications("textDocument/publishDiagnostics");
    }
    editor.shutdown_and_exit().await?;

    Ok(vec![
        (
            format!("codeAction, {lines}-line file, first (initial parse)"),
            vec![first],
        ),
        (format!("codeAction, {lines}-line file"), steady),
        (
            format!("codeAction, {lines}-line file, right after an edit"),
            after_edit,
        ),
    ])
}

fn nth_line_start(text: &str, line: usize) -> usize {
    if line == 0 {
        return 0;
    }
    text.match_indices('\n')
        .nth(line - 1)
        .map_or(text.len(), |(i, _)| i + 1)
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
    let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1e3);
    println!(
        "{:<52} {:>5} {:>9} {:>9} {:>9} {:>9}",
        name,
        sorted.len(),
        ms(percentile(&sorted, 50.0)),
        ms(percentile(&sorted, 99.0)),
        ms(sorted.first().copied().unwrap_or_default()),
        ms(sorted.last().copied().unwrap_or_default()),
    );
}
