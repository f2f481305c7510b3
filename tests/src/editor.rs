//! A simulated editor: spawns the real `tandem` binary and speaks LSP to it over stdio.
//!
//! It keeps every message the server sent, answers the server's requests (with a handler the
//! test can replace), and mirrors open documents so tests can send incremental changes the
//! way editors do.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// How long a test waits for any one thing the server should do.
pub const WAIT: Duration = Duration::from_secs(10);

/// The `tandem` binary of this build: next to the test executable's `deps` folder.
pub fn tandem_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("TANDEM_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .ancestors()
        .find(|dir| dir.join("tandem").is_file())
        .map(PathBuf::from);
    profile_dir
        .map(|dir| dir.join("tandem"))
        .expect("the tandem binary is built next to the tests (run `cargo build -p tandem`)")
}

/// How the server is started.
#[derive(Clone, Debug, Default)]
pub struct SpawnOptions {
    pub args: Vec<String>,
    /// Set after the defaults. Without `XDG_STATE_HOME` here, the server gets an empty folder
    /// of its own, deleted with the editor, so no test reads or writes a real state folder.
    pub env: Vec<(String, String)>,
}

/// A message from the server that the test has not consumed yet.
#[derive(Debug, Clone)]
pub enum Incoming {
    Notification {
        method: String,
        params: Value,
    },
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Response {
        id: Value,
        body: Value,
    },
}

type RequestHandler = Box<dyn FnMut(&str, &Value) -> Value + Send>;

/// How the simulated editor answers server requests unless a test says otherwise: no settings
/// for each `workspace/configuration` item, `null` for anything else.
pub fn default_answer(method: &str, params: &Value) -> Value {
    match method {
        "workspace/configuration" => {
            let items = params["items"].as_array().map_or(0, Vec::len);
            Value::Array(vec![Value::Null; items])
        }
        _ => Value::Null,
    }
}

/// A document as the simulated editor holds it.
#[derive(Clone, Debug)]
pub struct TrackedDoc {
    pub text: String,
    pub version: i32,
}

/// How the simulated editor treats `workspace/applyEdit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditBehavior {
    /// Answer with the request handler only (default `null`): the edit is not applied.
    Ignore,
    /// Like VS Code: apply an edit whose version matches, send its `didChange` at once, answer
    /// `applied: true`; refuse a stale one with `applied: false`.
    VsCode,
    /// Like Vim's ALE: apply the edit and send `didChange`, never answer.
    NeverAnswer,
    /// Like Neovim's stock client: a stale edit is dropped yet answered `applied: true`; an
    /// applied one is answered at once, and its `didChange` comes 150 ms later, as a minimal
    /// diff, with a version that jumps (changedtick).
    Neovim,
}

/// A `didChange` the simulated Neovim has not sent yet.
#[derive(Debug)]
struct PendingChange {
    due: tokio::time::Instant,
    uri: String,
    /// The text the server last heard of, and its version.
    reported_text: String,
}

pub struct Editor {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::UnboundedReceiver<Value>,
    /// Notifications and server requests seen while waiting for something else.
    backlog: VecDeque<Incoming>,
    next_id: i64,
    on_request: RequestHandler,
    /// Documents opened through this editor and their text as the editor holds it.
    docs: std::collections::HashMap<String, TrackedDoc>,
    /// The negotiated position encoding (`utf-16` until `initialize` says otherwise).
    encoding: String,
    pub edits: EditBehavior,
    /// Every `workspace/applyEdit` the server sent, in order.
    pub applied_edits: Vec<Value>,
    pending: Option<PendingChange>,
    /// Server requests left unanswered, as a hung client would.
    silenced: Vec<String>,
    /// Edits refused for a stale version (VS Code behaviour).
    pub refused_edits: usize,
    /// Messages read but not handled yet (see [`Editor::hold`]).
    held: VecDeque<Value>,
    /// The server's `XDG_STATE_HOME` when the test named none.
    _state_home: Option<tempfile::TempDir>,
}

impl Editor {
    pub async fn spawn(options: SpawnOptions) -> Result<Self> {
        let mut command = Command::new(tandem_bin());
        command
            .args(&options.args)
            .env("TANDEM_TEST_HOOKS", "1")
            .env("TANDEM_LOG", "debug")
            // Hermetic: no user settings file, no keys from the machine running the tests.
            .env("XDG_CONFIG_HOME", "/nonexistent/tandem-tests")
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let state_home = if options.env.iter().any(|(key, _)| key == "XDG_STATE_HOME") {
            None
        } else {
            let dir = tempfile::Builder::new()
                .prefix("tandem-state-")
                .tempdir()
                .context("a state folder for tandem")?;
            command.env("XDG_STATE_HOME", dir.path());
            Some(dir)
        };
        for (key, value) in &options.env {
            command.env(key, value);
        }
        let mut child = command.spawn().context("spawning tandem")?;
        let stdout = child.stdout.take().context("tandem's stdout")?;
        let stdin = child.stdin.take().context("tandem's stdin")?;
        let (tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(read_messages(BufReader::new(stdout), tx));
        Ok(Self {
            child,
            stdin: Some(stdin),
            incoming,
            backlog: VecDeque::new(),
            next_id: 1,
            on_request: Box::new(default_answer),
            docs: std::collections::HashMap::new(),
            encoding: "utf-16".into(),
            edits: EditBehavior::Ignore,
            applied_edits: Vec::new(),
            pending: None,
            silenced: Vec::new(),
            refused_edits: 0,
            held: VecDeque::new(),
            _state_home: state_home,
        })
    }

    /// Spawns and initializes with the given position encodings offered (empty: none offered).
    pub async fn start(encodings: &[&str]) -> Result<(Self, Value)> {
        let mut editor = Self::spawn(SpawnOptions::default()).await?;
        let result = editor.initialize(encodings).await?;
        Ok((editor, result))
    }

    pub async fn initialize(&mut self, encodings: &[&str]) -> Result<Value> {
        self.initialize_with(encodings, json!({})).await
    }

    /// Initializes with extra top-level `initialize` params (`initializationOptions`, `rootUri`,
    /// …) merged over the defaults.
    pub async fn initialize_with(&mut self, encodings: &[&str], extra: Value) -> Result<Value> {
        let mut general = json!({});
        if !encodings.is_empty() {
            general = json!({ "positionEncodings": encodings });
        }
        let mut params = json!({
            "processId": null,
            "rootUri": null,
            "capabilities": {
                "general": general,
                "textDocument": {
                    "publishDiagnostics": { "versionSupport": true },
                    "documentSymbol": { "hierarchicalDocumentSymbolSupport": true },
                    "hover": { "contentFormat": ["markdown", "plaintext"] },
                    "synchronization": { "dynamicRegistration": false }
                },
                "window": { "workDoneProgress": true },
                "workspace": { "applyEdit": true, "configuration": true }
            },
            "clientInfo": { "name": "tandem-tests" }
        });
        if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                params.insert(key.clone(), value.clone());
            }
        }
        let result = self
            .request("initialize", params)
            .await?
            .map_err(|e| anyhow!("initialize failed: {e}"))?;
        if let Some(encoding) = result["capabilities"]["positionEncoding"].as_str() {
            self.encoding = encoding.to_owned();
        }
        self.notify("initialized", json!({})).await?;
        Ok(result)
    }

    /// Replaces how the editor answers requests from the server (default: `null`).
    pub fn on_request(&mut self, handler: impl FnMut(&str, &Value) -> Value + Send + 'static) {
        self.on_request = Box::new(handler);
    }

    pub async fn send(&mut self, message: &Value) -> Result<()> {
        let body = serde_json::to_vec(message)?;
        let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        frame.extend_from_slice(&body);
        self.send_raw(&frame).await
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        let stdin = self.stdin.as_mut().context("stdin already closed")?;
        stdin.write_all(bytes).await?;
        stdin.flush().await?;
        Ok(())
    }

    pub async fn notify(&mut self, method: &str, params: Value) -> Result<()> {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await
    }

    /// Sends a request without waiting; returns its id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = json!(self.next_id);
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        Ok(id)
    }

    /// Sends a request and waits for its answer: `Ok(result)` or `Err(error object)`.
    pub async fn request(
        &mut self,
        method: &str,
        params: Value,
    ) -> Result<std::result::Result<Value, Value>> {
        let id = self.send_request(method, params).await?;
        self.response(&id).await
    }

    pub async fn response(&mut self, id: &Value) -> Result<std::result::Result<Value, Value>> {
        let body = self
            .wait_for(|m| match m {
                Incoming::Response { id: got, body } if got == id => Some(body.clone()),
                _ => None,
            })
            .await
            .with_context(|| format!("waiting for the answer to request {id}"))?;
        Ok(match body.get("error") {
            Some(error) => Err(error.clone()),
            None => Ok(body.get("result").cloned().unwrap_or(Value::Null)),
        })
    }

    /// Waits for a notification with this method whose params satisfy `accept`.
    pub async fn notification(
        &mut self,
        method: &str,
        accept: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        self.wait_for(|m| match m {
            Incoming::Notification {
                method: got,
                params,
            } if got == method && accept(params) => Some(params.clone()),
            _ => None,
        })
        .await
        .with_context(|| format!("waiting for {method}"))
    }

    /// Waits until `pick` accepts a message; messages it passes over stay in the backlog.
    pub async fn wait_for<T>(&mut self, pick: impl FnMut(&Incoming) -> Option<T>) -> Result<T> {
        self.wait_for_long(WAIT, pick).await
    }

    /// Waits for the server's next request with this method and keeps it unhandled (as an
    /// editor busy with something else would), along with everything read before it; the next
    /// wait handles them in order.
    pub async fn hold(&mut self, method: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let raw = tokio::time::timeout_at(deadline, self.incoming.recv())
                .await
                .map_err(|_| anyhow!("timed out waiting for {method}"))?
                .ok_or_else(|| anyhow!("the server closed its stdout"))?;
            let found = raw.get("method").and_then(Value::as_str) == Some(method)
                && raw.get("id").is_some();
            self.held.push_back(raw);
            if found {
                return Ok(());
            }
        }
    }

    /// [`Self::wait_for`] with a longer patience, for what the server only does after its own
    /// timeouts.
    pub async fn wait_for_long<T>(
        &mut self,
        wait: Duration,
        mut pick: impl FnMut(&Incoming) -> Option<T>,
    ) -> Result<T> {
        if let Some(i) = self.backlog.iter().position(|m| pick(m).is_some()) {
            let message = self.backlog.remove(i).context("backlog index")?;
            return pick(&message).context("picked twice");
        }
        while let Some(raw) = self.held.pop_front() {
            let message = self.classify(raw).await?;
            match pick(&message) {
                Some(found) => return Ok(found),
                None => self.backlog.push_back(message),
            }
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let wake = self
                .pending
                .as_ref()
                .map_or(deadline, |p| p.due.min(deadline));
            let raw = match tokio::time::timeout_at(wake, self.incoming.recv()).await {
                Ok(raw) => raw.ok_or_else(|| anyhow!("the server closed its stdout"))?,
                Err(_) if self.pending.is_some() && tokio::time::Instant::now() < deadline => {
                    self.flush_pending().await?;
                    continue;
                }
                Err(_) => bail!("timed out after {wait:?}"),
            };
            let message = self.classify(raw).await?;
            match pick(&message) {
                Some(found) => return Ok(found),
                None => self.backlog.push_back(message),
            }
        }
    }

    /// Turns a raw message into an `Incoming`, answering server requests as it goes.
    async fn classify(&mut self, raw: Value) -> Result<Incoming> {
        let method = raw
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string);
        let id = raw.get("id").cloned();
        let params = raw.get("params").cloned().unwrap_or(Value::Null);
        Ok(match (method, id) {
            (Some(method), Some(id))
                if method == "workspace/applyEdit" && self.edits != EditBehavior::Ignore =>
            {
                self.applied_edits.push(params.clone());
                let applied = self.apply_workspace_edit(&params).await?;
                if matches!(self.edits, EditBehavior::VsCode | EditBehavior::Neovim) {
                    self.send(&json!({"jsonrpc": "2.0", "id": id, "result": {"applied": applied}}))
                        .await?;
                }
                Incoming::Request { id, method, params }
            }
            (Some(method), Some(id)) if self.silenced.contains(&method) => {
                Incoming::Request { id, method, params }
            }
            (Some(method), Some(id)) => {
                let result = (self.on_request)(&method, &params);
                self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}))
                    .await?;
                Incoming::Request { id, method, params }
            }
            (Some(method), None) => Incoming::Notification { method, params },
            (None, Some(id)) => Incoming::Response { id, body: raw },
            (None, None) => bail!("server sent a message that is neither: {raw}"),
        })
    }

    /// All server requests with this method seen so far (consumed from the backlog); they were
    /// answered when they arrived.
    pub fn take_requests(&mut self, method: &str) -> Vec<Value> {
        self.take(|m| match m {
            Incoming::Request {
                method: got,
                params,
                ..
            } if got == method => Some(params.clone()),
            _ => None,
        })
    }

    /// All notifications with this method seen so far (consumed from the backlog).
    pub fn take_notifications(&mut self, method: &str) -> Vec<Value> {
        self.take(|m| match m {
            Incoming::Notification {
                method: got,
                params,
            } if got == method => Some(params.clone()),
            _ => None,
        })
    }

    /// Removes from the backlog the messages `pick` takes, returning what it took, in order.
    fn take(&mut self, pick: impl Fn(&Incoming) -> Option<Value>) -> Vec<Value> {
        let mut taken = Vec::new();
        self.backlog.retain(|m| match pick(m) {
            Some(value) => {
                taken.push(value);
                false
            }
            None => true,
        });
        taken
    }

    pub async fn open(
        &mut self,
        uri: &str,
        language_id: &str,
        version: i32,
        text: &str,
    ) -> Result<()> {
        self.docs.insert(
            uri.to_owned(),
            TrackedDoc {
                text: text.to_owned(),
                version,
            },
        );
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": language_id, "version": version, "text": text}}),
        )
        .await
    }

    /// Applies a server's `workspace/applyEdit` (versioned `documentChanges`) the way VS Code
    /// does: refused when its version is not the document's; else applied, and the change sent
    /// back as a `didChange` with the next version. Returns whether it was applied.
    async fn apply_workspace_edit(&mut self, params: &Value) -> Result<bool> {
        let Some(changes) = params["edit"]["documentChanges"].as_array() else {
            return Ok(false);
        };
        if self.edits == EditBehavior::Neovim {
            return self.apply_like_neovim(changes).await;
        }
        for change in changes {
            if change["kind"] == "create" {
                // A file operation: create the file on disk (unless it exists and may be kept).
                let path = file_path(change["uri"].as_str().unwrap_or_default())?;
                if !path.exists() {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(&path, "")?;
                }
                continue;
            }
            if change["kind"] == "delete" {
                // Deleted on disk; an open document of it is closed.
                let uri = change["uri"].as_str().unwrap_or_default();
                let path = file_path(uri)?;
                if path.exists() {
                    std::fs::remove_file(&path)?;
                }
                if self.docs.remove(uri).is_some() {
                    self.notify(
                        "textDocument/didClose",
                        json!({"textDocument": {"uri": uri}}),
                    )
                    .await?;
                }
                continue;
            }
            let uri = change["textDocument"]["uri"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if change["textDocument"]["version"].is_null() && !self.docs.contains_key(&uri) {
                // An edit of a file that is not open: the editor edits it on disk.
                let path = file_path(&uri)?;
                let mut text = std::fs::read_to_string(&path)?;
                apply_text_edits(&mut text, &change["edits"], &self.encoding);
                std::fs::write(&path, text)?;
                continue;
            }
            let Some(doc) = self.docs.get(&uri) else {
                return Ok(false);
            };
            if change["textDocument"]["version"].as_i64() != Some(i64::from(doc.version)) {
                self.refused_edits += 1;
                return Ok(false);
            }
            let version = doc.version + 1;
            let mut text = doc.text.clone();
            let content_changes = apply_text_edits(&mut text, &change["edits"], &self.encoding);
            self.docs.insert(uri.clone(), TrackedDoc { text, version });
            self.notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": content_changes}),
            )
            .await?;
        }
        Ok(true)
    }

    async fn apply_like_neovim(&mut self, changes: &[Value]) -> Result<bool> {
        for change in changes {
            let uri = change["textDocument"]["uri"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let Some(doc) = self.docs.get(&uri).cloned() else {
                continue;
            };
            // The version the server last heard of: the buffer's own may be ahead while a
            // didChange is pending, and then the edit is stale.
            let reported = self.reported_version(&uri, doc.version);
            if change["textDocument"]["version"].as_i64() != Some(i64::from(reported))
                || self.pending.is_some()
            {
                continue; // Dropped silently; the answer still says applied.
            }
            let mut text = doc.text.clone();
            apply_text_edits(&mut text, &change["edits"], &self.encoding);
            self.pending = Some(PendingChange {
                due: tokio::time::Instant::now() + std::time::Duration::from_millis(150),
                uri: uri.clone(),
                reported_text: doc.text.clone(),
            });
            // The buffer changes now; the changedtick jumps by more than one.
            self.docs.insert(
                uri,
                TrackedDoc {
                    text,
                    version: doc.version + 3,
                },
            );
        }
        Ok(true)
    }

    fn reported_version(&self, uri: &str, version: i32) -> i32 {
        match &self.pending {
            Some(p) if p.uri == uri => version - 3,
            _ => version,
        }
    }

    /// Sends the pending Neovim `didChange`: one minimal diff from what the server last heard
    /// to the buffer's text.
    async fn flush_pending(&mut self) -> Result<()> {
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        let Some(doc) = self.docs.get(&pending.uri).cloned() else {
            return Ok(());
        };
        let old = &pending.reported_text;
        let new = &doc.text;
        let prefix = old
            .chars()
            .zip(new.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a.len_utf8())
            .sum::<usize>();
        let suffix = old[prefix..]
            .chars()
            .rev()
            .zip(new[prefix..].chars().rev())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a.len_utf8())
            .sum::<usize>();
        let range = json!({"start": position(old, prefix, &self.encoding), "end": position(old, old.len() - suffix, &self.encoding)});
        let inserted = &new[prefix..new.len() - suffix];
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": pending.uri, "version": doc.version}, "contentChanges": [{"range": range, "text": inserted}]}),
        )
        .await
    }

    /// Applies a code action's `edit` (a `WorkspaceEdit`) as the client would, VS Code style.
    pub async fn apply_code_action_edit(&mut self, edit: &Value) -> Result<bool> {
        self.apply_workspace_edit(&json!({"edit": edit})).await
    }

    /// Leaves every server request with this method unanswered.
    pub fn silence(&mut self, method: &str) {
        self.silenced.push(method.to_owned());
    }

    /// The document as this editor holds it.
    pub fn doc(&self, uri: &str) -> Option<&TrackedDoc> {
        self.docs.get(uri)
    }

    /// Types like a user: replaces `[start, end)` (byte offsets in the editor's text) with
    /// `text` and sends the change with the next version.
    pub async fn type_at(&mut self, uri: &str, start: usize, end: usize, text: &str) -> Result<()> {
        // A change the editor has not reported yet goes first.
        self.flush_pending().await?;
        let doc = self
            .docs
            .get(uri)
            .context("type_at: the document is not open")?
            .clone();
        let range = json!({"start": position(&doc.text, start, &self.encoding), "end": position(&doc.text, end, &self.encoding)});
        let mut new_text = doc.text.clone();
        new_text.replace_range(start..end, text);
        let version = doc.version + 1;
        self.docs.insert(
            uri.to_owned(),
            TrackedDoc {
                text: new_text,
                version,
            },
        );
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"range": range, "text": text}]}),
        )
        .await
    }

    /// Sends one incremental change: replace `[start, end)` (line, character) with `text`.
    pub async fn change(
        &mut self,
        uri: &str,
        version: i32,
        start: (u32, u32),
        end: (u32, u32),
        text: &str,
    ) -> Result<()> {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{
                    "range": {"start": {"line": start.0, "character": start.1},
                              "end": {"line": end.0, "character": end.1}},
                    "text": text
                }]
            }),
        )
        .await
    }

    pub async fn change_full(&mut self, uri: &str, version: i32, text: &str) -> Result<()> {
        self.docs.insert(
            uri.to_owned(),
            TrackedDoc {
                text: text.to_owned(),
                version,
            },
        );
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        )
        .await
    }

    /// Waits for the diagnostics of `uri` at exactly `version`.
    pub async fn diagnostics(&mut self, uri: &str, version: i32) -> Result<Vec<Value>> {
        let params = self
            .notification("textDocument/publishDiagnostics", |p| {
                p["uri"] == uri && p["version"] == version
            })
            .await?;
        Ok(params["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Closes stdin (the editor went away).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends `shutdown` then `exit` and returns the exit code.
    pub async fn shutdown_and_exit(mut self) -> Result<i32> {
        let answer = self.request("shutdown", Value::Null).await?;
        if let Err(error) = answer {
            bail!("shutdown failed: {error}");
        }
        self.notify("exit", Value::Null).await?;
        self.wait_exit().await
    }

    /// Waits for the process to end and returns its exit code.
    pub async fn wait_exit(&mut self) -> Result<i32> {
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .map_err(|_| anyhow!("tandem did not exit within {WAIT:?}"))??;
        status.code().context("tandem was killed by a signal")
    }
}

async fn read_messages<R: tokio::io::AsyncRead + Unpin>(
    mut reader: BufReader<R>,
    tx: mpsc::UnboundedSender<Value>,
) {
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length:") {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let Some(length) = length else {
            panic!("tandem wrote a frame without Content-Length to stdout");
        };
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let value: Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("tandem wrote invalid JSON to stdout: {e}"));
        if tx.send(value).is_err() {
            return;
        }
    }
}

/// Applies one `TextDocumentEdit`'s edits to `text`. They all refer to the text before any of
/// them, so they go from the last to the first. Returns them as `didChange` content changes.
fn apply_text_edits(text: &mut String, edits: &Value, encoding: &str) -> Vec<Value> {
    let mut edits: Vec<&Value> = edits
        .as_array()
        .map(|e| e.iter().collect())
        .unwrap_or_default();
    edits.sort_by_key(|e| {
        std::cmp::Reverse((
            e["range"]["start"]["line"].as_u64(),
            e["range"]["start"]["character"].as_u64(),
        ))
    });
    let mut changes = Vec::new();
    for edit in edits {
        let start = offset(text, &edit["range"]["start"], encoding);
        let end = offset(text, &edit["range"]["end"], encoding);
        let new_text = edit["newText"].as_str().unwrap_or_default();
        text.replace_range(start..end, new_text);
        changes.push(json!({"range": edit["range"], "text": new_text}));
    }
    changes
}

/// The byte offset of an LSP position in `text`, counting columns in `encoding`.
pub fn offset(text: &str, position: &Value, encoding: &str) -> usize {
    let line = position["line"].as_u64().unwrap_or(0) as usize;
    let character = position["character"].as_u64().unwrap_or(0) as usize;
    let mut start = 0;
    for _ in 0..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let line_text = &text[start..];
    let line_end = line_text.find(['\r', '\n']).unwrap_or(line_text.len());
    let mut units = 0;
    for (i, c) in line_text[..line_end].char_indices() {
        if units >= character {
            return start + i;
        }
        units += match encoding {
            "utf-8" => c.len_utf8(),
            "utf-32" => 1,
            _ => c.len_utf16(),
        };
    }
    start + line_end
}

/// The LSP position of a byte offset in `text`, counting columns in `encoding`.
pub fn position(text: &str, offset: usize, encoding: &str) -> Value {
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column: usize = before[line_start..]
        .chars()
        .map(|c| match encoding {
            "utf-8" => c.len_utf8(),
            "utf-32" => 1,
            _ => c.len_utf16(),
        })
        .sum();
    json!({"line": line, "character": column})
}

/// The path of a `file://` URI (percent-encoding is not handled: test paths have none).
fn file_path(uri: &str) -> Result<PathBuf> {
    uri.strip_prefix("file://")
        .map(PathBuf::from)
        .context("not a file:// URI")
}
