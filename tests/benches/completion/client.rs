//! A plain LSP client over stdio that drives any of the three servers the same way: it writes
//! a request's frame in one write and notes the instant just before, and a reader task notes
//! the instant each answer's frame was read. The servers' own requests are answered at once
//! (`null`, or no settings for `workspace/configuration`); their notifications are dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

/// Patience for any one answer.
const PATIENCE: Duration = Duration::from_secs(20);

/// How a server is started.
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Set on top of the bench's own environment, after the API keys are removed.
    pub env: Vec<(String, String)>,
    /// Where its stderr goes.
    pub stderr: PathBuf,
}

pub struct Client {
    child: Child,
    stdin: Arc<Mutex<ChildStdin>>,
    /// Answers to this client's requests: the message and when its frame was read.
    answers: mpsc::UnboundedReceiver<(Value, Instant)>,
    next_id: i64,
    stderr: PathBuf,
}

/// A request's answer and its two instants.
pub struct Answered {
    /// `result`, or an error carrying the answer's `error`.
    pub result: Result<Value>,
    pub sent: Instant,
    pub answered: Instant,
}

impl Answered {
    pub fn took(&self) -> Duration {
        self.answered.saturating_duration_since(self.sent)
    }
}

fn frame(message: &Value) -> Vec<u8> {
    let body = message.to_string();
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

impl Client {
    pub fn spawn(launch: &Launch) -> Result<Client> {
        let stderr = std::fs::File::create(&launch.stderr)
            .with_context(|| format!("creating {}", launch.stderr.display()))?;
        let mut command = Command::new(&launch.program);
        command
            .args(&launch.args)
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("HF_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        for (key, value) in &launch.env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", launch.program.display()))?;
        let stdin = Arc::new(Mutex::new(
            child.stdin.take().context("the server's stdin")?,
        ));
        let stdout = child.stdout.take().context("the server's stdout")?;
        let (tx, answers) = mpsc::unbounded_channel();
        tokio::spawn(read(BufReader::new(stdout), stdin.clone(), tx));
        Ok(Client {
            child,
            stdin,
            answers,
            next_id: 0,
            stderr: launch.stderr.clone(),
        })
    }

    async fn write(&self, message: &Value) -> Result<()> {
        let bytes = frame(message);
        let mut stdin = self.stdin.lock().await;
        stdin.write_all(&bytes).await?;
        stdin.flush().await?;
        Ok(())
    }

    pub async fn notify(&self, method: &str, params: Value) -> Result<()> {
        self.write(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await
    }

    /// Writes a request; returns its id and the instant just before the write.
    pub async fn send(&mut self, method: &str, params: Value) -> Result<(i64, Instant)> {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let sent = Instant::now();
        self.write(&message).await?;
        Ok((id, sent))
    }

    /// Waits for the answer to request `id`, sent at `sent`.
    pub async fn answer(&mut self, id: i64, sent: Instant) -> Result<Answered> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let (message, answered) = tokio::time::timeout_at(deadline, self.answers.recv())
                .await
                .map_err(|_| anyhow!("no answer to request {id} within {PATIENCE:?}"))?
                .ok_or_else(|| {
                    anyhow!(
                        "the server closed its stdout (its stderr: {})",
                        self.stderr.display()
                    )
                })?;
            if message["id"] != json!(id) {
                continue;
            }
            let result = match message.get("error") {
                Some(error) => Err(anyhow!("error answer: {error}")),
                None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
            };
            return Ok(Answered {
                result,
                sent,
                answered,
            });
        }
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Result<Answered> {
        let (id, sent) = self.send(method, params).await?;
        self.answer(id, sent).await
    }

    /// `initialize` (UTF-16 positions, the workspace at `root`) then `initialized`.
    pub async fn initialize(&mut self, root: &Path, options: Value) -> Result<Value> {
        let uri = format!("file://{}", root.display());
        let params = json!({
            "processId": std::process::id(),
            "clientInfo": {"name": "tandem completion bench", "version": "1"},
            "rootUri": uri,
            "rootPath": root.display().to_string(),
            "workspaceFolders": [{"uri": uri, "name": "bench"}],
            "capabilities": {
                "general": {"positionEncodings": ["utf-16"]},
                "textDocument": {
                    "synchronization": {"dynamicRegistration": false, "didSave": true},
                    "completion": {"completionItem": {"snippetSupport": false}},
                    "inlineCompletion": {"dynamicRegistration": false}
                },
                "workspace": {"configuration": true, "applyEdit": true, "workspaceFolders": true},
                "window": {"workDoneProgress": false}
            },
            "initializationOptions": options,
        });
        let result = self
            .request("initialize", params)
            .await?
            .result
            .context("initialize")?;
        self.notify("initialized", json!({})).await?;
        Ok(result)
    }

    /// `shutdown` and `exit`, then kills the process if it is still there after a second.
    pub async fn stop(mut self) {
        let polite = async {
            let _ = self.request("shutdown", Value::Null).await;
            let _ = self.notify("exit", Value::Null).await;
            let _ = self.child.wait().await;
        };
        if tokio::time::timeout(Duration::from_secs(2), polite)
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Reads frames until the server's stdout closes: answers go to `answers`, the server's own
/// requests are answered here.
async fn read<R: tokio::io::AsyncRead + Unpin>(
    mut reader: BufReader<R>,
    stdin: Arc<Mutex<ChildStdin>>,
    answers: mpsc::UnboundedSender<(Value, Instant)>,
) {
    while let Ok(Some(message)) = read_frame(&mut reader).await {
        let now = Instant::now();
        let id = message.get("id").cloned();
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match (id, method) {
            (Some(id), Some(method)) => {
                let result = match method.as_str() {
                    "workspace/configuration" => {
                        let n = message["params"]["items"].as_array().map_or(0, Vec::len);
                        Value::Array(vec![Value::Null; n])
                    }
                    "workspace/workspaceFolders" => json!([]),
                    _ => Value::Null,
                };
                let bytes = frame(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
                let mut stdin = stdin.lock().await;
                if stdin.write_all(&bytes).await.is_err() || stdin.flush().await.is_err() {
                    return;
                }
            }
            (Some(_), None) if answers.send((message, now)).is_err() => return,
            _ => {}
        }
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
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = Some(value.trim().parse::<usize>()?);
        }
    }
    let Some(length) = length else {
        bail!("a frame without Content-Length");
    };
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(Some(serde_json::from_slice(&body)?))
}
