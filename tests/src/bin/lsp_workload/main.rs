//! The project's LSP workload benchmark: drives any stdio language server through three
//! workloads and prints medians, optionally for a second server run side by side.
//!
//! ```sh
//! cargo build --release -p tandem
//! cargo run --release -p tandem-tests --bin lsp_workload -- --server "target/release/tandem --stdio"
//! cargo run --release -p tandem-tests --bin lsp_workload -- \
//!     --server "target/release/tandem --stdio" --compare "other-server --stdio" --runs 5 --json
//! ```
//!
//! Each workload of each run starts a fresh server process in a process group of its own; runs
//! alternate between the servers (server, compare, server, ...) so drift on a shared machine
//! falls on both. Documents are generated Rust, never read from disk, and nothing is written to
//! the workspace folder (an empty temporary directory).
//!
//! - *start*: spawn to the `initialize` answer, and to idle after `initialized`.
//! - *typing*: open one file of `--lines` lines, then type `--edits` single-character
//!   `didChange` edits inside a function body at `--rate` edits per second; after every
//!   `--burst` edits, time one probe request (`textDocument/documentSymbol`, or `hover` when the
//!   server answers MethodNotFound). CPU is the server's from the open until idle after the last
//!   edit.
//! - *many documents*: open `--docs` files of `--doc-lines` lines each (with one probe on the
//!   first file once half are open), then CPU seconds and wall time until idle, then the latency
//!   of one probe on the last file.
//! - *hostile* (not in `all`): `documentSymbol` on hostile files, each in a fresh server, with
//!   the latency of a request sent every 50 ms meanwhile (see `hostile.rs`).
//!
//! CPU time is utime+stime from `/proc/PID/stat`, summed over every live process of the server's
//! process group. Idle means that sum grew by at most one clock tick over `--idle-ms` (polled
//! every 50 ms); the time to idle is the moment it last grew, not the end of the quiet window.
//! Peak memory is VmHWM of the server's main process. Every wait is bounded by `--timeout`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

mod hostile;

const USAGE: &str = "usage: lsp_workload --server \"CMD ARGS\" [--compare \"CMD ARGS\"] [--runs N]
  [--workload all|start|typing|docs|hostile] [--lines N] [--edits N] [--rate PER_S] [--burst N]
  [--docs N] [--doc-lines N] [--idle-ms MS] [--timeout S] [--json]";

const METHOD_NOT_FOUND: i64 = -32601;
const POLL: Duration = Duration::from_millis(50);

#[derive(Clone, Debug)]
struct Options {
    servers: Vec<(String, Vec<String>)>,
    runs: usize,
    workloads: Vec<&'static str>,
    lines: usize,
    edits: usize,
    rate: f64,
    burst: usize,
    docs: usize,
    doc_lines: usize,
    idle: Duration,
    timeout: Duration,
    json: bool,
}

fn parse_args() -> Result<Options> {
    let mut options = Options {
        servers: Vec::new(),
        runs: 3,
        workloads: vec!["start", "typing", "docs"],
        lines: 1_000,
        edits: 200,
        rate: 50.0,
        burst: 20,
        docs: 200,
        doc_lines: 200,
        idle: Duration::from_millis(1_000),
        timeout: Duration::from_secs(60),
        json: false,
    };
    let mut server = None;
    let mut compare = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--json" {
            options.json = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .ok_or_else(|| anyhow!("{flag} needs a value\n{USAGE}"))?;
        let number = |v: &str| -> Result<f64> {
            v.parse::<f64>()
                .ok()
                .filter(|n| *n > 0.0)
                .ok_or_else(|| anyhow!("{flag} takes a positive number, not {v:?}"))
        };
        match flag.as_str() {
            "--server" => server = Some(value),
            "--compare" => compare = Some(value),
            "--runs" => options.runs = number(&value)? as usize,
            "--lines" => options.lines = number(&value)? as usize,
            "--edits" => options.edits = number(&value)? as usize,
            "--rate" => options.rate = number(&value)?,
            "--burst" => options.burst = number(&value)? as usize,
            "--docs" => options.docs = number(&value)? as usize,
            "--doc-lines" => options.doc_lines = number(&value)? as usize,
            "--idle-ms" => options.idle = Duration::from_millis(number(&value)? as u64),
            "--timeout" => options.timeout = Duration::from_secs_f64(number(&value)?),
            "--workload" => {
                options.workloads = match value.as_str() {
                    "all" => vec!["start", "typing", "docs"],
                    "start" => vec!["start"],
                    "typing" => vec!["typing"],
                    "docs" => vec!["docs"],
                    "hostile" => vec!["hostile"],
                    other => {
                        bail!("unknown workload {other:?}: use all, start, typing, docs or hostile")
                    }
                }
            }
            other => bail!("unknown option {other:?}\n{USAGE}"),
        }
    }
    let server = server.ok_or_else(|| anyhow!("--server is required\n{USAGE}"))?;
    for command in [Some(server), compare].into_iter().flatten() {
        let words = split_command(&command)?;
        options.servers.push((command, words));
    }
    options.burst = options.burst.max(1);
    options.runs = options.runs.max(1);
    Ok(options)
}

/// Splits a command line on whitespace, honouring single and double quotes and backslashes.
fn split_command(line: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                word.extend(chars.next());
                in_word = true;
            }
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        bail!("unbalanced quote in server command {line:?}");
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        bail!("empty server command");
    }
    Ok(words)
}

// ---------------------------------------------------------------------------------------------
// /proc

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Fields of `/proc/PID/stat` after the command name: index 0 is field 3 (state).
fn stat_fields(pid: &str) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(
        rest.split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect(),
    )
}

/// CPU ticks (utime + stime) of every live process in process group `pgid`.
fn group_cpu_ticks(pgid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut ticks = 0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        // Field 5 is pgrp, 14 utime, 15 stime; the vector starts at field 3.
        if let Some(f) = stat_fields(pid)
            && f.len() > 12
            && f[2] == u64::from(pgid)
        {
            ticks += f[11] + f[12];
        }
    }
    ticks
}

/// VmHWM of one process, in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    status_mib(pid, "VmHWM:")
}

/// A memory field of `/proc/PID/status` (`VmHWM:`, `VmRSS:`), in MiB.
fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// A stdio server

type Pending = Arc<Mutex<HashMap<i64, oneshot::Sender<Value>>>>;

struct Server {
    child: Child,
    pid: u32,
    out: mpsc::UnboundedSender<Vec<u8>>,
    pending: Pending,
    next_id: i64,
    started: Instant,
    timeout: Duration,
    ticks_per_s: f64,
    idle: Duration,
    log: PathBuf,
}

fn frame(message: &Value) -> Vec<u8> {
    let body = message.to_string();
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

impl Server {
    fn spawn(words: &[String], options: &Options, ticks_per_s: f64, tag: &str) -> Result<Self> {
        let log =
            std::env::temp_dir().join(format!("lsp_workload-{}-{tag}.stderr", std::process::id()));
        let stderr = std::fs::File::create(&log)
            .with_context(|| format!("cannot create the server's stderr file {}", log.display()))?;
        let started = Instant::now();
        let mut child = Command::new(&words[0])
            .args(&words[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            // Tandem keeps a store per workspace: in a folder of the run's own, not the user's.
            .env("XDG_STATE_HOME", state_home())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start the server {:?}", words.join(" ")))?;
        let pid = child.id().context("the server exited at once")?;
        let mut stdin = child.stdin.take().context("server stdin")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let (out, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            while let Some(bytes) = out_rx.recv().await {
                if stdin.write_all(&bytes).await.is_err() || stdin.flush().await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let reader_pending = pending.clone();
        let reply = out.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout);
            while let Ok(Some(message)) = read_frame(&mut reader).await {
                answer(&message, &reply, &reader_pending);
            }
            // Output closed or unreadable: waiting requests fail now, not at their timeout.
            if let Ok(mut pending) = reader_pending.lock() {
                pending.clear();
            }
        });
        Ok(Self {
            child,
            pid,
            out,
            pending,
            next_id: 0,
            started,
            timeout: options.timeout,
            ticks_per_s,
            idle: options.idle,
            log,
        })
    }

    fn notify(&self, method: &str, params: Value) {
        let _ = self.out.send(frame(
            &json!({"jsonrpc": "2.0", "method": method, "params": params}),
        ));
    }

    /// Sends a request; its answer (the whole message) comes on the receiver.
    fn send(&mut self, method: &str, params: Value) -> Result<oneshot::Receiver<Value>> {
        self.next_id += 1;
        let id = self.next_id;
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .map_err(|_| anyhow!("poisoned"))?
            .insert(id, tx);
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let _ = self.out.send(frame(&message));
        Ok(rx)
    }

    /// Sends a request and waits (bounded) for its answer: the whole message.
    async fn request(&mut self, method: &str, params: Value) -> Result<Value> {
        let rx = self.send(method, params)?;
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => bail!(
                "the server closed its output before answering {method} (its stderr: {})",
                self.log.display()
            ),
            Err(_) => bail!("no answer to {method} within {:?}", self.timeout),
        }
    }

    fn cpu_s(&self) -> f64 {
        group_cpu_ticks(self.pid) as f64 / self.ticks_per_s
    }

    /// Waits until CPU stops growing; returns the instant it last grew.
    async fn wait_idle(&mut self) -> Result<Instant> {
        let deadline = Instant::now() + self.timeout;
        let mut last = group_cpu_ticks(self.pid);
        let mut last_change = Instant::now();
        loop {
            tokio::time::sleep(POLL).await;
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!(
                    "the server exited ({status}); its stderr: {}",
                    self.log.display()
                );
            }
            let now = group_cpu_ticks(self.pid);
            if now > last + 1 {
                last = now;
                last_change = Instant::now();
            } else if last_change.elapsed() >= self.idle {
                return Ok(last_change);
            }
            if Instant::now() > deadline {
                bail!("the server was still busy after {:?}", self.timeout);
            }
        }
    }

    async fn initialize(&mut self, root: &str) -> Result<Value> {
        let answer = self
            .request(
                "initialize",
                json!({
                    "processId": std::process::id(),
                    "clientInfo": {"name": "tandem lsp_workload", "version": "1"},
                    "rootUri": root,
                    "workspaceFolders": [{"uri": root, "name": "workload"}],
                    "capabilities": {
                        "general": {"positionEncodings": ["utf-16"]},
                        "textDocument": {
                            "synchronization": {"didSave": true},
                            "hover": {"contentFormat": ["markdown", "plaintext"]},
                            "documentSymbol": {"hierarchicalDocumentSymbolSupport": true}
                        },
                        "workspace": {"configuration": true, "applyEdit": true},
                        "window": {"workDoneProgress": true}
                    }
                }),
            )
            .await?;
        if let Some(error) = answer.get("error") {
            bail!("initialize failed: {error}");
        }
        if !answer["result"]["capabilities"].is_object() {
            bail!("the initialize answer has no capabilities: {answer}");
        }
        self.notify("initialized", json!({}));
        Ok(answer)
    }

    /// Asks politely, then kills the whole process group. The stderr file is kept when the
    /// workload failed, since the error names it.
    async fn stop(mut self, keep_log: bool) {
        let polite = async {
            let _ = self.request("shutdown", Value::Null).await;
            self.notify("exit", Value::Null);
            let _ = self.child.wait().await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), polite).await;
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.pid)])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill().await;
        if !keep_log {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// Routes an answer to its waiting request; answers the server's own requests.
fn answer(message: &Value, reply: &mpsc::UnboundedSender<Vec<u8>>, pending: &Pending) {
    let has_method = message.get("method").is_some();
    match (message.get("id"), has_method) {
        (Some(id), false) => {
            if let Some(tx) = id.as_i64().and_then(|id| pending.lock().ok()?.remove(&id)) {
                let _ = tx.send(message.clone());
            }
        }
        (Some(id), true) => {
            let result = match message["method"].as_str() {
                Some("workspace/configuration") => {
                    let n = message["params"]["items"].as_array().map_or(0, Vec::len);
                    Value::Array(vec![Value::Null; n])
                }
                Some("workspace/applyEdit") => json!({"applied": false}),
                _ => Value::Null,
            };
            let _ = reply.send(frame(
                &json!({"jsonrpc": "2.0", "id": id, "result": result}),
            ));
        }
        _ => {}
    }
}

async fn read_frame<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> Result<Option<Value>> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = Some(value.trim().parse::<usize>()?);
        }
    }
    let mut body = vec![0; length.context("a frame without Content-Length")?];
    reader.read_exact(&mut body).await?;
    Ok(Some(serde_json::from_slice(&body)?))
}

// ---------------------------------------------------------------------------------------------
// Generated Rust

/// `lines` lines of plausible Rust; also returns a line inside a function body, near the
/// middle, where typing can start.
fn generate_rust(lines: usize, seed: usize) -> (String, usize) {
    let mut out = Vec::with_capacity(lines + 16);
    let mut body_lines = Vec::new();
    out.push(format!("//! Generated module {seed}."));
    out.push("use std::collections::HashMap;".to_owned());
    let mut n = 0;
    while out.len() < lines {
        let k = seed * 100_003 + n;
        n += 1;
        match n % 4 {
            0 => {
                out.push(format!("pub struct Item{k} {{"));
                for f in 0..4 {
                    out.push(format!("    pub field_{f}: u{},", 8 << (f % 4)));
                }
                out.push("}".to_owned());
            }
            1 => {
                out.push(format!(
                    "pub fn compute_{k}(input: &[u32], scale: u32) -> u64 {{"
                ));
                out.push("    let mut total = 0u64;".to_owned());
                out.push("    for value in input {".to_owned());
                out.push(format!("        total += u64::from(*value * scale + {k});"));
                out.push("    }".to_owned());
                body_lines.push(out.len());
                out.push(format!("    let extra = total % {};", k + 7));
                out.push("    total + extra".to_owned());
                out.push("}".to_owned());
            }
            2 => {
                out.push(format!("pub enum Kind{k} {{"));
                out.push("    First,".to_owned());
                out.push("    Second(u32),".to_owned());
                out.push("    Third { name: String },".to_owned());
                out.push("}".to_owned());
            }
            _ => {
                out.push(format!("impl Item{} {{", k.saturating_sub(3)));
                out.push("    pub fn sum(&self) -> u64 {".to_owned());
                out.push("        let map: HashMap<u8, u64> = HashMap::new();".to_owned());
                out.push("        u64::from(self.field_0) + map.len() as u64".to_owned());
                out.push("    }".to_owned());
                out.push("}".to_owned());
            }
        }
        out.push(String::new());
    }
    out.truncate(lines.max(12));
    // A body line whose function is complete in the truncated text.
    let limit = out.len().saturating_sub(4);
    let candidates: Vec<usize> = body_lines.into_iter().filter(|l| *l < limit).collect();
    let at = candidates.get(candidates.len() / 2).copied().unwrap_or(1);
    (out.join("\n") + "\n", at)
}

// ---------------------------------------------------------------------------------------------
// Workloads

type Figures = BTreeMap<&'static str, f64>;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

struct Workspace {
    dir: PathBuf,
    uri: String,
}

impl Workspace {
    fn doc(&self, name: &str) -> String {
        format!("{}/{name}", self.uri)
    }
}

fn open(server: &Server, uri: &str, text: &str) {
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "rust", "version": 1, "text": text}}),
    );
}

fn is_method_not_found(answer: &Value) -> bool {
    answer["error"]["code"].as_i64() == Some(METHOD_NOT_FOUND)
}

/// Times one probe request: documentSymbol, else hover; None when the server has neither.
async fn probe(server: &mut Server, uri: &str, line: usize) -> Result<Option<Duration>> {
    let requests = [
        (
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": uri}}),
        ),
        (
            "textDocument/hover",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 4}}),
        ),
    ];
    for (method, params) in requests {
        let start = Instant::now();
        let answer = server.request(method, params).await?;
        let took = start.elapsed();
        if is_method_not_found(&answer) {
            continue;
        }
        if let Some(error) = answer.get("error") {
            bail!("{method} failed: {error}");
        }
        return Ok(Some(took));
    }
    Ok(None)
}

async fn start(words: &[String], options: &Options, ticks: f64, ws: &Workspace) -> Result<Figures> {
    let mut server = Server::spawn(words, options, ticks, "start")?;
    let result = async {
        server.initialize(&ws.uri).await?;
        let answered = server.started.elapsed();
        let idle = server.wait_idle().await?.duration_since(server.started);
        Ok(Figures::from([
            ("start: initialize answer ms", ms(answered)),
            ("start: idle ms", ms(idle)),
            ("start: cpu s", server.cpu_s()),
            ("start: peak rss MiB", peak_rss_mib(server.pid)),
        ]))
    }
    .await;
    server.stop(result.is_err()).await;
    result
}

async fn typing(
    words: &[String],
    options: &Options,
    ticks: f64,
    ws: &Workspace,
) -> Result<Figures> {
    let mut server = Server::spawn(words, options, ticks, "typing")?;
    let result = async {
        server.initialize(&ws.uri).await?;
        server.wait_idle().await?;
        let uri = ws.doc("typing.rs");
        let (text, at) = generate_rust(options.lines, 0);
        let cpu_before = server.cpu_s();
        let began = Instant::now();
        open(&server, &uri, &text);
        let mut line = at;
        let mut column = text.lines().nth(at).map_or(0, str::len);
        let typed: Vec<char> = "\n    let typed = total * 3 + extra;".chars().collect();
        let interval = Duration::from_secs_f64(1.0 / options.rate);
        let mut latencies = Vec::new();
        let mut probe_skipped = false;
        for i in 0..options.edits {
            let due = began + interval * i as u32;
            tokio::time::sleep_until(due.into()).await;
            let c = typed[i % typed.len()];
            server.notify(
                "textDocument/didChange",
                json!({
                    "textDocument": {"uri": uri, "version": i + 2},
                    "contentChanges": [{
                        "range": {
                            "start": {"line": line, "character": column},
                            "end": {"line": line, "character": column}
                        },
                        "text": c.to_string()
                    }]
                }),
            );
            if c == '\n' {
                line += 1;
                column = 0;
            } else {
                column += 1;
            }
            if (i + 1) % options.burst == 0 && !probe_skipped {
                match probe(&mut server, &uri, line).await? {
                    Some(took) => latencies.push(ms(took)),
                    None => probe_skipped = true,
                }
            }
        }
        let typed_for = began.elapsed();
        let idle = server.wait_idle().await?;
        let mut figures = Figures::from([
            ("typing: cpu s", server.cpu_s() - cpu_before),
            (
                "typing: wall s",
                idle.max(began + typed_for)
                    .duration_since(began)
                    .as_secs_f64(),
            ),
            (
                "typing: idle after last edit ms",
                ms(idle.saturating_duration_since(began + typed_for)),
            ),
            ("typing: peak rss MiB", peak_rss_mib(server.pid)),
        ]);
        if !latencies.is_empty() {
            figures.insert(
                "typing: probe max ms",
                latencies.iter().copied().fold(0.0, f64::max),
            );
            figures.insert("typing: probe median ms", median(&mut latencies));
        }
        Ok(figures)
    }
    .await;
    server.stop(result.is_err()).await;
    result
}

async fn many_docs(
    words: &[String],
    options: &Options,
    ticks: f64,
    ws: &Workspace,
) -> Result<Figures> {
    let mut server = Server::spawn(words, options, ticks, "docs")?;
    let result = async {
        server.initialize(&ws.uri).await?;
        server.wait_idle().await?;
        let docs: Vec<(String, String, usize)> = (0..options.docs)
            .map(|k| {
                let (text, at) = generate_rust(options.doc_lines, k + 1);
                (ws.doc(&format!("src/module_{k}.rs")), text, at)
            })
            .collect();
        let cpu_before = server.cpu_s();
        let began = Instant::now();
        // Halfway, a request on the first file (the one being edited) while the rest open.
        let half = docs.len() / 2;
        let mut during = None;
        for (k, (uri, text, _)) in docs.iter().enumerate() {
            open(&server, uri, text);
            if k + 1 == half
                && let Some((first, _, at)) = docs.first()
            {
                during = probe(&mut server, first, *at).await?;
            }
        }
        let idle = server.wait_idle().await?;
        let mut figures = Figures::from([
            ("docs: cpu s", server.cpu_s() - cpu_before),
            (
                "docs: to idle s",
                idle.saturating_duration_since(began).as_secs_f64(),
            ),
            ("docs: peak rss MiB", peak_rss_mib(server.pid)),
        ]);
        if let Some(took) = during {
            figures.insert("docs: probe on first, mid-opens ms", ms(took));
        }
        if let Some((uri, _, at)) = docs.last()
            && let Some(took) = probe(&mut server, uri, *at).await?
        {
            figures.insert("docs: probe on last ms", ms(took));
        }
        Ok(figures)
    }
    .await;
    server.stop(result.is_err()).await;
    result
}

/// The servers' `XDG_STATE_HOME`, removed with the workspace.
fn state_home() -> PathBuf {
    std::env::temp_dir().join(format!("lsp_workload-{}-state", std::process::id()))
}

// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> Result<()> {
    let options = parse_args()?;
    let ticks = clock_ticks();
    let dir = std::env::temp_dir().join(format!("lsp_workload-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the workspace folder {}", dir.display()))?;
    let ws = Workspace {
        uri: format!("file://{}", dir.display()),
        dir,
    };
    let outcome = run(&options, ticks, &ws).await;
    let _ = std::fs::remove_dir_all(&ws.dir);
    let _ = std::fs::remove_dir_all(state_home());
    let runs = outcome?;
    report(&options, &runs)
}

/// Per server, the figures of every run.
async fn run(options: &Options, ticks: f64, ws: &Workspace) -> Result<Vec<Vec<Figures>>> {
    let mut runs = vec![Vec::new(); options.servers.len()];
    for r in 0..options.runs {
        for (s, (command, words)) in options.servers.iter().enumerate() {
            if !options.json {
                eprintln!("run {}/{}: {command}", r + 1, options.runs);
            }
            let mut figures = Figures::new();
            for workload in &options.workloads {
                let got = match *workload {
                    "start" => start(words, options, ticks, ws).await,
                    "typing" => typing(words, options, ticks, ws).await,
                    "hostile" => hostile::hostile(words, options, ticks, ws).await,
                    _ => many_docs(words, options, ticks, ws).await,
                };
                figures.extend(got.with_context(|| format!("{workload} workload of {command:?}"))?);
            }
            runs[s].push(figures);
        }
    }
    Ok(runs)
}

fn medians(runs: &[Figures]) -> Figures {
    let keys: std::collections::BTreeSet<&'static str> =
        runs.iter().flat_map(|f| f.keys().copied()).collect();
    keys.into_iter()
        .map(|k| {
            let mut values: Vec<f64> = runs.iter().filter_map(|f| f.get(k).copied()).collect();
            (k, median(&mut values))
        })
        .collect()
}

fn report(options: &Options, runs: &[Vec<Figures>]) -> Result<()> {
    let summaries: Vec<Figures> = runs.iter().map(|r| medians(r)).collect();
    if options.json {
        let servers: Vec<Value> = options
            .servers
            .iter()
            .zip(runs)
            .zip(&summaries)
            .map(|(((command, _), runs), median)| {
                json!({"command": command, "runs": runs, "median": median})
            })
            .collect();
        let config = json!({
            "runs": options.runs, "lines": options.lines, "edits": options.edits,
            "rate": options.rate, "burst": options.burst, "docs": options.docs,
            "doc_lines": options.doc_lines, "idle_ms": ms(options.idle),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"config": config, "servers": servers}))?
        );
        return Ok(());
    }
    let mut keys: Vec<&'static str> = summaries.iter().flat_map(|f| f.keys().copied()).collect();
    let order = |k: &str| {
        ["start", "typing", "docs"]
            .iter()
            .position(|w| k.starts_with(w))
    };
    keys.sort_unstable_by_key(|k| (order(k), *k));
    keys.dedup();
    let width = keys.iter().map(|k| k.len()).max().unwrap_or(0);
    println!(
        "medians of {} run(s): {}-line file, {} edits at {}/s, {} documents of {} lines",
        options.runs, options.lines, options.edits, options.rate, options.docs, options.doc_lines
    );
    for (i, (command, _)) in options.servers.iter().enumerate() {
        println!("  [{}] {command}", i + 1);
    }
    let mut header = format!("{:width$}", "figure");
    for i in 0..options.servers.len() {
        header.push_str(&format!(" {:>12}", format!("[{}]", i + 1)));
    }
    println!("{header}");
    for key in keys {
        let mut row = format!("{key:width$}");
        for summary in &summaries {
            match summary.get(key) {
                Some(v) => row.push_str(&format!(" {v:>12.3}")),
                None => row.push_str(&format!(" {:>12}", "-")),
            }
        }
        println!("{row}");
    }
    Ok(())
}
