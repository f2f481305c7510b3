//! Inline completion latency, measured from outside the process: the release `tandem` binary,
//! and the same requests to llm-ls and lsp-ai when their binaries are there, each pointed at
//! the same scripted model server on loopback, in a 10,000-line Rust file.
//!
//! Run it (from the repository root):
//!
//! ```sh
//! cargo build --release -p tandem
//! TANDEM_BIN=$PWD/target/release/tandem cargo bench -p tandem-tests --bench completion
//! ```
//!
//! llm-ls and lsp-ai are found at `LLM_LS_BIN` and `LSP_AI_BIN`, else at
//! `/tmp/llm-ls/target/release/llm-ls` and `/tmp/lsp-ai/target/release/lsp-ai`; a server that
//! is not there is skipped with a note. `COMPLETION_BENCH_SERVERS=tandem,llm-ls` runs only
//! those. How each is configured, and what it is asked, is in `completion/servers.rs`:
//! Tandem with `completion.debounceMs = 0`, lsp-ai with its rate limit lifted.
//!
//! The file is `lsp_workload.py`'s generated Rust (ported in `completion/rust_file.rs`),
//! opened with `didOpen` in a workspace folder that holds it. The cursor is at the end of one
//! of the ASCII statement lines nearest the middle (line 5,000); each request of a measurement
//! goes to the next such line ([`WARMUP`] + [`SAMPLES`] lines, lines 4,277 to 5,732), and
//! after the first measurement a character is typed there first, so that no request finds
//! the text around its cursor as an earlier one had it (only the second request of *typing
//! into a suggestion* is meant to be answered from a cache).
//!
//! What the clocks see (all in this process, on one thread: the client, the scripted model
//! server):
//!
//! - *request → model request*: from just before the LSP request's frame is written to the
//!   scripted server having read the whole HTTP request (`RecordedRequest::received_at`). It
//!   includes the server's reading of the request, its context and prompt, the HTTP client
//!   and a new loopback connection (the scripted server closes each one after its answer).
//!   *The first* request of a server is shown apart: it pays for what the server sets up on
//!   first use, and may wait for the file's first parse.
//! - the same *after a keystroke*: one `didChange` (a character typed at the cursor) written
//!   just before the request, as editors do; the request may wait for the edit's processing.
//! - *last chunk → answer*: every chunk of the model's answer is held; all but the last are
//!   let through, then after [`SETTLE`] the last one, and the clock runs from releasing it to
//!   the LSP answer's frame having been read. For Tandem the last chunk is `data: [DONE]` of an
//!   SSE stream; llm-ls and lsp-ai ask for one non-streamed JSON answer, sent in two chunks,
//!   the last completing the JSON.
//! - *typing into a suggestion*: a suggestion was shown at the cursor; its first [`TYPED`]
//!   characters are typed (one `didChange` each) and the server asked again at the new cursor;
//!   request to answer. Tandem answers from its cache, and the bench checks that it made no
//!   model request and answered the rest of the suggestion. llm-ls and lsp-ai keep no
//!   suggestions: they ask the model again, which answers at once (not comparable; shown for
//!   what the user waits).
//!
//! Nothing asserts on time (house style). The bench checks that each request reached the model
//! when it should, and each answer carried a suggestion, and fails with the reason when not.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a bench binary reports on stdout and fails on stderr"
)]

#[path = "completion/client.rs"]
mod client;
#[path = "completion/rust_file.rs"]
mod rust_file;
#[path = "completion/servers.rs"]
mod servers;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use tandem_tests::model_server::ModelServer;
use tokio::time::Instant;

use client::Client;
use servers::{Kind, Server};

/// Lines of the generated file.
const LINES: usize = 10_000;
/// The generator's seed (`lsp_workload.py` uses 12345 for its typing file).
const SEED: u64 = 12_345;
/// Requests measured per measurement and server, after [`WARMUP`] that are not.
const SAMPLES: usize = 200;
const WARMUP: usize = 20;
/// Quiet time before the last chunk is released, so that the chunks before it are read.
const SETTLE: Duration = Duration::from_millis(5);
/// What the model suggests, at the end of a statement line.
const SUGGESTION: &str = " // the total is checked below";
/// Characters of a suggestion typed before asking again.
const TYPED: usize = 3;
/// Patience for the model request.
const PATIENCE: Duration = Duration::from_secs(20);

const FIRST: &str = "request -> model request, the first";
const TO_MODEL: &str = "request -> model request";
const TO_MODEL_AFTER_EDIT: &str = "request -> model request, after a keystroke";
const LAST_CHUNK: &str = "last model chunk -> answer";
const CACHE: &str = "typing into a suggestion: request -> answer";
const MEASUREMENTS: [&str; 5] = [FIRST, TO_MODEL, TO_MODEL_AFTER_EDIT, LAST_CHUNK, CACHE];

fn main() -> Result<()> {
    tandem_tests::bench::run("completion", run)
}

async fn run(bin: PathBuf) -> Result<()> {
    let started = Instant::now();
    let servers = servers(bin);
    let (lines, statements) = rust_file::generate(LINES, SEED);
    let cursors = cursor_lines(&lines, &statements, WARMUP + SAMPLES)?;
    println!(
        "{LINES}-line file, cursor at the end of {} statement lines between lines {} and {}; \
         {WARMUP} warm-up + {SAMPLES} samples per row",
        cursors.len(),
        cursors.iter().min().map_or(0, |l| l + 1),
        cursors.iter().max().map_or(0, |l| l + 1),
    );
    println!("load average at the start: {}", load_average());
    let mut rows: Vec<(&str, &str, Vec<Duration>)> = Vec::new();
    for server in &servers {
        println!("{}: {}", server.name, server.program.display());
        let figures = measure(server, &lines, &cursors)
            .await
            .with_context(|| format!("measuring {}", server.name))?;
        for (measurement, samples) in figures {
            rows.push((measurement, server.name, samples));
        }
    }
    println!();
    println!(
        "{:<46} {:<7} {:>4} {:>10} {:>10} {:>10} {:>10}",
        "measurement", "server", "n", "median", "p90", "min", "max"
    );
    for measurement in MEASUREMENTS {
        for (_, name, samples) in rows.iter().filter(|(m, ..)| *m == measurement) {
            print_row(measurement, name, samples);
        }
    }
    println!();
    println!(
        "Tandem: completion.debounceMs = 0. lsp-ai: max_requests_per_second = 1e6. \
         llm-ls and lsp-ai keep no suggestions: their \"typing into a suggestion\" row is a \
         model call answered at once. Load average at the end: {}. Total {:.1} s",
        load_average(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Tandem, then llm-ls and lsp-ai when their binaries are there (a note when not).
fn servers(tandem: PathBuf) -> Vec<Server> {
    let only = std::env::var("COMPLETION_BENCH_SERVERS").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|list| list.split(',').any(|n| n.trim() == name))
    };
    let mut servers = Vec::new();
    if wanted("tandem") {
        servers.push(Server {
            kind: Kind::Tandem,
            name: "tandem",
            program: tandem,
        });
    }
    for (kind, name, variable, default) in [
        (
            Kind::LlmLs,
            "llm-ls",
            "LLM_LS_BIN",
            "/tmp/llm-ls/target/release/llm-ls",
        ),
        (
            Kind::LspAi,
            "lsp-ai",
            "LSP_AI_BIN",
            "/tmp/lsp-ai/target/release/lsp-ai",
        ),
    ] {
        if !wanted(name) {
            continue;
        }
        let program =
            std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
        if program.is_file() {
            servers.push(Server {
                kind,
                name,
                program,
            });
        } else {
            println!(
                "note: {name} skipped: no binary at {} (set {variable})",
                program.display()
            );
        }
    }
    servers
}

/// The `n` statement lines nearest the middle that are ASCII (UTF-16 columns, chars and bytes
/// agree there, whatever each server counts), in order of distance from the middle.
fn cursor_lines(lines: &[String], statements: &[usize], n: usize) -> Result<Vec<usize>> {
    let middle = lines.len() / 2;
    let mut picked: Vec<usize> = statements
        .iter()
        .copied()
        .filter(|&i| lines[i].is_ascii() && lines[i].ends_with(';'))
        .collect();
    picked.sort_by_key(|&i| i.abs_diff(middle));
    picked.truncate(n);
    ensure!(
        picked.len() == n,
        "only {} statement lines to put the cursor on",
        picked.len()
    );
    Ok(picked)
}

/// The document as the client holds it.
struct Doc {
    uri: String,
    lines: Vec<String>,
    version: i32,
}

impl Doc {
    fn text(&self) -> String {
        let mut text = self.lines.join("\n");
        text.push('\n');
        text
    }

    /// The end of line `line`.
    fn end(&self, line: usize) -> Value {
        json!({"line": line, "character": self.lines[line].encode_utf16().count()})
    }

    /// Types `text` at the end of `line`: the `didChange` params.
    fn type_at_end(&mut self, line: usize, text: &str) -> Value {
        let at = self.end(line);
        self.lines[line].push_str(text);
        self.version += 1;
        json!({
            "textDocument": {"uri": self.uri, "version": self.version},
            "contentChanges": [{"range": {"start": at, "end": at}, "text": text}],
        })
    }
}

type Figures = Vec<(&'static str, Vec<Duration>)>;

/// One server through the measurements, in a fresh process, home and workspace. Its home (its
/// logs, its stderr) is kept when it fails.
async fn measure(server: &Server, lines: &[String], cursors: &[usize]) -> Result<Figures> {
    let home = tempfile::Builder::new()
        .prefix("completion-bench-home-")
        .tempdir()?;
    match measure_in(server, lines, cursors, home.path()).await {
        Ok(figures) => Ok(figures),
        Err(error) => {
            let kept = home.keep();
            Err(error.context(format!("its logs and stderr: {}", kept.display())))
        }
    }
}

async fn measure_in(
    server: &Server,
    lines: &[String],
    cursors: &[usize],
    home: &std::path::Path,
) -> Result<Figures> {
    let workspace = tempfile::Builder::new()
        .prefix("completion-bench-ws-")
        .tempdir()?;
    let path = workspace.path().join("src/big.rs");
    std::fs::create_dir_all(workspace.path().join("src"))?;
    let mut doc = Doc {
        uri: format!("file://{}", path.display()),
        lines: lines.to_vec(),
        version: 1,
    };
    std::fs::write(&path, doc.text())?;

    let model = ModelServer::start().await?;
    let launch = server.launch(home);
    let mut client = Client::spawn(&launch)?;
    client
        .initialize(workspace.path(), server.init_options(&model))
        .await?;
    client
        .notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": doc.uri, "languageId": "rust", "version": 1,
                   "text": doc.text()}}),
        )
        .await?;

    let mut bench = Bench {
        server,
        model: &model,
        client: &mut client,
    };
    let mut figures = Vec::new();
    let mut samples = Vec::new();
    for &line in cursors {
        let position = doc.end(line);
        samples.push(bench.until_model(&doc, position).await?);
    }
    // The first pays for what the server sets up on first use (and the file's first parse).
    figures.push((FIRST, samples[..1].to_vec()));
    figures.push((TO_MODEL, samples.split_off(WARMUP)));

    // From here on a character is typed at the cursor before the first request at each line,
    // so that no request is at a text around the cursor that an earlier one had: only the
    // typing measurement's second request may be answered from a cache.
    let mut samples = Vec::new();
    for &line in cursors {
        bench.type_at_end(&mut doc, line, "x").await?;
        let position = doc.end(line);
        samples.push(bench.until_model(&doc, position).await?);
    }
    figures.push((TO_MODEL_AFTER_EDIT, samples.split_off(WARMUP)));

    let mut samples = Vec::new();
    for &line in cursors {
        bench.type_at_end(&mut doc, line, "y").await?;
        let position = doc.end(line);
        samples.push(bench.last_chunk(&doc, position).await?);
    }
    figures.push((LAST_CHUNK, samples.split_off(WARMUP)));

    let mut samples = Vec::new();
    for &line in cursors {
        bench.type_at_end(&mut doc, line, "z").await?;
        samples.push(bench.typing_into(&mut doc, line).await?);
    }
    figures.push((CACHE, samples.split_off(WARMUP)));

    // What the model was asked, from the first measured request.
    let request = model.wait_for_request(WARMUP).await;
    let length = |field: &str| request.body[field].as_str().map_or(0, str::len);
    println!(
        "  {} model requests, POST {}; the prompt {} bytes, the suffix {} bytes",
        model.request_count(),
        request.path,
        length("prompt"),
        length("suffix"),
    );
    client.stop().await;
    Ok(figures)
}

struct Bench<'a> {
    server: &'a Server,
    model: &'a ModelServer,
    client: &'a mut Client,
}

impl Bench<'_> {
    /// Types `text` at the end of `line` and tells the server.
    async fn type_at_end(&mut self, doc: &mut Doc, line: usize, text: &str) -> Result<()> {
        let change = doc.type_at_end(line, text);
        self.client.notify("textDocument/didChange", change).await
    }

    /// Writes the request for a suggestion at `position`; returns its id, the instant it was
    /// written and the number of model requests before it.
    async fn ask(&mut self, doc: &Doc, position: Value) -> Result<(i64, Instant, usize)> {
        let before = self.model.request_count();
        let (method, params) = self.server.ask(self.model, &doc.uri, position);
        let (id, sent) = self.client.send(method, params).await?;
        Ok((id, sent, before))
    }

    /// The model request that must follow request number `before`.
    async fn model_request(&self, before: usize, what: &Value) -> Result<Instant> {
        let request = tokio::time::timeout(PATIENCE, self.model.wait_for_request(before))
            .await
            .with_context(|| format!("no model request for the request at {what}"))?;
        Ok(request.received_at)
    }

    /// The one suggestion of an answer, or the reason there is none.
    fn suggestion(&self, result: Result<Value>, what: &Value) -> Result<String> {
        let result = result.with_context(|| format!("the request at {what}"))?;
        let mut suggestions = self.server.suggestions(&result);
        ensure!(
            !suggestions.is_empty() && !suggestions[0].trim().is_empty(),
            "no suggestion at {what}: {result}"
        );
        Ok(suggestions.swap_remove(0))
    }

    /// Request to model request at `position` (the model answers at once).
    async fn until_model(&mut self, doc: &Doc, position: Value) -> Result<Duration> {
        self.model.push(self.server.reply(SUGGESTION, false).0);
        let (id, sent, before) = self.ask(doc, position.clone()).await?;
        let received = self.model_request(before, &position).await?;
        let answer = self.client.answer(id, sent).await?;
        self.suggestion(answer.result, &position)?;
        Ok(received.saturating_duration_since(sent))
    }

    /// Releasing the model's last chunk to the answer, at `position`.
    async fn last_chunk(&mut self, doc: &Doc, position: Value) -> Result<Duration> {
        let (reply, chunks) = self.server.reply(SUGGESTION, true);
        self.model.push(reply);
        let (id, sent, before) = self.ask(doc, position.clone()).await?;
        self.model_request(before, &position).await?;
        self.model.release(chunks - 1);
        tokio::time::sleep(SETTLE).await;
        let released = Instant::now();
        self.model.release(1);
        let answer = self.client.answer(id, sent).await?;
        ensure!(
            answer.answered >= released,
            "{} answered at {position} before the model's last chunk",
            self.server.name
        );
        self.suggestion(answer.result, &position)?;
        Ok(answer.answered - released)
    }

    /// Shows a suggestion at the end of `line`, types its first characters, and times asking
    /// again.
    async fn typing_into(&mut self, doc: &mut Doc, line: usize) -> Result<Duration> {
        let position = doc.end(line);
        self.model.push(self.server.reply(SUGGESTION, false).0);
        let (id, sent, before) = self.ask(doc, position.clone()).await?;
        let answer = self.client.answer(id, sent).await?;
        let shown = self.suggestion(answer.result, &position)?;
        ensure!(
            self.model.request_count() == before + 1,
            "no model request for the first suggestion at {position}"
        );
        let typed: String = shown.chars().take(TYPED).collect();
        let rest = &shown[typed.len()..];
        for c in typed.chars() {
            self.type_at_end(doc, line, &c.to_string()).await?;
        }
        if !self.server.caches() {
            self.model.push(self.server.reply(rest, false).0);
        }
        let position = doc.end(line);
        let (id, sent, before) = self.ask(doc, position.clone()).await?;
        let answer = self.client.answer(id, sent).await?;
        let took = answer.took();
        let again = self.suggestion(answer.result, &position)?;
        let asked = self.model.request_count() - before;
        if self.server.caches() {
            ensure!(
                asked == 0,
                "{} asked the model after {typed:?} was typed into {shown:?} at {position}",
                self.server.name
            );
            ensure!(
                again == rest,
                "after {typed:?} of {shown:?} at {position}: {again:?}, not {rest:?}"
            );
        } else if asked != 1 {
            bail!(
                "{} made {asked} model requests for the second ask at {position}",
                self.server.name
            );
        }
        Ok(took)
    }
}

/// `/proc/loadavg`'s first three figures, to judge whether the machine was quiet.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn print_row(measurement: &str, server: &str, samples: &[Duration]) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1e3);
    println!(
        "{:<46} {:<7} {:>4} {:>10} {:>10} {:>10} {:>10}",
        measurement,
        server,
        sorted.len(),
        ms(percentile(&sorted, 50.0)),
        ms(percentile(&sorted, 90.0)),
        ms(sorted.first().copied().unwrap_or_default()),
        ms(sorted.last().copied().unwrap_or_default()),
    );
}
