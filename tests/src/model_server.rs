//! The scripted model server: speaks the four wire formats on a loopback port, records every request, and plays scripted faults.
//!
//! It is a small hand-written HTTP/1.1 server rather than a framework so that a script controls
//! every byte: a stream can be cut inside a chunk, a chunk can be malformed, and the moment the
//! client closes its connection is observed directly on the socket.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The four wire formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// Chat Completions, SSE with `data: [DONE]`.
    OpenAi,
    /// The Responses API, named SSE events.
    Responses,
    /// Anthropic Messages, named SSE events.
    Anthropic,
    /// Ollama's native NDJSON.
    Ollama,
}

impl Wire {
    pub const ALL: [Wire; 4] = [Wire::OpenAi, Wire::Responses, Wire::Anthropic, Wire::Ollama];

    pub fn content_type(self) -> &'static str {
        match self {
            Wire::Ollama => "application/x-ndjson",
            _ => "text/event-stream",
        }
    }

    /// The provider name in Tandem's settings.
    pub fn provider(self) -> tandem::model::Provider {
        use tandem::model::Provider;
        match self {
            Wire::OpenAi => Provider::OpenAi,
            Wire::Responses => Provider::OpenAiResponses,
            Wire::Anthropic => Provider::Anthropic,
            Wire::Ollama => Provider::Ollama,
        }
    }

    /// The path a client of this format posts to, under the server's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Wire::OpenAi => "/v1/chat/completions",
            Wire::Responses => "/v1/responses",
            Wire::Anthropic => "/v1/messages",
            Wire::Ollama => "/api/chat",
        }
    }

    /// A complete stream answering `deltas`, one element per event (SSE) or line (NDJSON).
    /// `usage` is `(input, output)` tokens; `None` leaves usage out where the format allows.
    pub fn render(self, deltas: &[&str], usage: Option<(u64, u64)>) -> Vec<Vec<u8>> {
        let sse = |event: Option<&str>, data: Value| {
            let head = event.map(|e| format!("event: {e}\n")).unwrap_or_default();
            format!("{head}data: {data}\n\n").into_bytes()
        };
        let (input, output) = usage.unwrap_or((0, 0));
        let mut out = Vec::new();
        match self {
            Wire::OpenAi => {
                let chunk = |delta: Value, finish: Value| {
                    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
                };
                out.push(sse(
                    None,
                    chunk(json!({"role": "assistant", "content": ""}), Value::Null),
                ));
                for d in deltas {
                    out.push(sse(None, chunk(json!({"content": d}), Value::Null)));
                }
                out.push(sse(None, chunk(json!({}), json!("stop"))));
                if usage.is_some() {
                    out.push(sse(None, json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [],
                        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}})));
                }
                out.push(b"data: [DONE]\n\n".to_vec());
            }
            Wire::Responses => {
                let created = json!({"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}});
                out.push(sse(Some("response.created"), created));
                for d in deltas {
                    let delta = json!({"type": "response.output_text.delta", "item_id": "msg_1",
                        "output_index": 0, "content_index": 0, "delta": d});
                    out.push(sse(Some("response.output_text.delta"), delta));
                }
                let mut response = json!({"id": "resp_1", "status": "completed"});
                if usage.is_some() {
                    response["usage"] = json!({"input_tokens": input, "output_tokens": output, "total_tokens": input + output});
                }
                out.push(sse(
                    Some("response.completed"),
                    json!({"type": "response.completed", "response": response}),
                ));
            }
            Wire::Anthropic => {
                let start = json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
                    "role": "assistant", "content": [], "model": "m", "stop_reason": null,
                    "usage": {"input_tokens": input, "output_tokens": 1}}});
                out.push(sse(Some("message_start"), start));
                let block = json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}});
                out.push(sse(Some("content_block_start"), block));
                out.push(sse(Some("ping"), json!({"type": "ping"})));
                for d in deltas {
                    let delta = json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": d}});
                    out.push(sse(Some("content_block_delta"), delta));
                }
                out.push(sse(
                    Some("content_block_stop"),
                    json!({"type": "content_block_stop", "index": 0}),
                ));
                let delta = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                    "usage": {"output_tokens": output}});
                out.push(sse(Some("message_delta"), delta));
                out.push(sse(Some("message_stop"), json!({"type": "message_stop"})));
            }
            Wire::Ollama => {
                for d in deltas {
                    let line = json!({"model": "m", "created_at": "2026-01-01T00:00:00Z",
                        "message": {"role": "assistant", "content": d}, "done": false});
                    out.push(format!("{line}\n").into_bytes());
                }
                let mut last = json!({"model": "m", "created_at": "2026-01-01T00:00:00Z",
                    "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop"});
                if usage.is_some() {
                    last["prompt_eval_count"] = json!(input);
                    last["eval_count"] = json!(output);
                }
                out.push(format!("{last}\n").into_bytes());
            }
        }
        out
    }

    /// How many chunks [`Wire::render`] sends before the first delta.
    pub fn preamble_len(self) -> usize {
        match self {
            Wire::OpenAi | Wire::Responses => 1,
            Wire::Anthropic => 3,
            Wire::Ollama => 0,
        }
    }

    /// A chunk that is not valid for the format (its JSON is broken).
    pub fn malformed(self) -> Vec<u8> {
        match self {
            Wire::OpenAi => b"data: {\"choices\": [{\"delta\": oops\n\n".to_vec(),
            Wire::Responses => {
                b"event: response.output_text.delta\ndata: {\"delta\": oops\n\n".to_vec()
            }
            Wire::Anthropic => b"event: content_block_delta\ndata: {\"delta\": oops\n\n".to_vec(),
            Wire::Ollama => b"{\"message\": oops\n".to_vec(),
        }
    }
}

/// One step of a scripted reply body.
#[derive(Clone, Debug)]
pub enum Step {
    /// Send these bytes as one HTTP chunk.
    Chunk(Vec<u8>),
    /// Wait.
    Delay(Duration),
    /// Wait until the test calls [`ModelServer::release`].
    Gate,
    /// Close the connection here, without ending the body.
    Cut,
    /// Send nothing more, keeping the connection open until the client leaves.
    Stall,
}

/// What the server answers to one request.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub steps: Vec<Step>,
}

impl Reply {
    /// A 200 streaming these chunks.
    pub fn stream(wire: Wire, chunks: Vec<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".to_owned(), wire.content_type().to_owned())],
            steps: chunks.into_iter().map(Step::Chunk).collect(),
        }
    }

    /// A 200 streaming `deltas` with usage `(12, number of deltas)`.
    pub fn text(wire: Wire, deltas: &[&str]) -> Reply {
        Reply::stream(wire, wire.render(deltas, Some((12, deltas.len() as u64))))
    }

    /// A plain JSON answer.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            steps: vec![Step::Chunk(body.to_string().into_bytes())],
        }
    }

    /// An HTTP error with a body.
    pub fn error(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            steps: vec![Step::Chunk(body.as_bytes().to_vec())],
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Waits `delay` before every chunk.
    pub fn delay_each(self, delay: Duration) -> Reply {
        self.before_each(Step::Delay(delay))
    }

    /// Holds every chunk until the test releases it.
    pub fn gated(self) -> Reply {
        self.before_each(Step::Gate)
    }

    /// Sends the first `n` chunks, then closes the connection.
    pub fn cut_after(self, n: usize) -> Reply {
        self.after_chunks(n, Step::Cut)
    }

    /// Sends the first `n` chunks, then goes silent.
    pub fn stall_after(self, n: usize) -> Reply {
        self.after_chunks(n, Step::Stall)
    }

    /// Sends a malformed chunk after the first `n`.
    pub fn malformed_after(self, wire: Wire, n: usize) -> Reply {
        self.insert_after(n, Step::Chunk(wire.malformed()))
    }

    fn before_each(mut self, step: Step) -> Reply {
        self.steps = self
            .steps
            .into_iter()
            .flat_map(|s| match s {
                Step::Chunk(_) => vec![step.clone(), s],
                other => vec![other],
            })
            .collect();
        self
    }

    fn after_chunks(mut self, n: usize, step: Step) -> Reply {
        let at = self.index_after_chunks(n);
        self.steps.truncate(at);
        self.steps.push(step);
        self
    }

    fn insert_after(mut self, n: usize, step: Step) -> Reply {
        let at = self.index_after_chunks(n);
        self.steps.insert(at, step);
        self
    }

    fn index_after_chunks(&self, n: usize) -> usize {
        let mut seen = 0;
        for (i, step) in self.steps.iter().enumerate() {
            if seen == n {
                return i;
            }
            if matches!(step, Step::Chunk(_)) {
                seen += 1;
            }
        }
        self.steps.len()
    }
}

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    pub received_at: Instant,
    closed: watch::Receiver<bool>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client has closed this request's connection.
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves when the client closes this request's connection.
    pub async fn closed(&self) {
        let mut closed = self.closed.clone();
        let _ = closed.wait_for(|c| *c).await;
    }
}

pub(crate) struct Shared {
    pub(crate) replies: Mutex<VecDeque<Reply>>,
    pub(crate) requests: Mutex<Vec<RecordedRequest>>,
    request_arrived: Notify,
    pub(crate) gate: Semaphore,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The server. Dropping it stops it.
pub struct ModelServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl ModelServer {
    /// Starts on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<ModelServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            replies: Mutex::default(),
            requests: Mutex::default(),
            request_arrived: Notify::new(),
            gate: Semaphore::new(0),
        });
        let accepting = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&accepting)));
            }
        });
        Ok(ModelServer { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL a client of `wire` is configured with (`…/v1`, or the host for Ollama).
    pub fn base_url(&self, wire: Wire) -> String {
        match wire {
            Wire::Ollama => self.url(),
            _ => format!("{}/v1", self.url()),
        }
    }

    /// An endpoint for `wire` on this server, with fast retries so tests stay quick.
    pub fn endpoint(&self, wire: Wire) -> tandem::model::Endpoint {
        let mut endpoint =
            tandem::model::Endpoint::new(wire.provider(), self.base_url(wire), "test-model");
        endpoint.retry.base_delay = Duration::from_millis(10);
        endpoint.retry.max_delay = Duration::from_millis(50);
        endpoint.request_timeout = Duration::from_secs(10);
        endpoint.idle_timeout = Duration::from_secs(5);
        endpoint
    }

    /// Queues the reply to the next request. With none queued the server answers 500.
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.replies).push_back(reply);
    }

    /// Lets `n` more gated chunks through.
    pub fn release(&self, n: usize) {
        self.shared.gate.add_permits(n);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn wait_for_requests(&self, n: usize) -> Vec<RecordedRequest> {
        loop {
            let arrived = self.shared.request_arrived.notified();
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            arrived.await;
        }
    }

    /// How many requests have arrived, without copying them.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// Waits for request number `n` (from 0) and copies only that one: a bench that waits
    /// after each of many requests would otherwise copy every body so far each time, on the
    /// thread that also plays the model.
    pub async fn wait_for_request(&self, n: usize) -> RecordedRequest {
        loop {
            let arrived = self.shared.request_arrived.notified();
            if let Some(request) = lock(&self.shared.requests).get(n).cloned() {
                return request;
            }
            arrived.await;
        }
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let (mut reader, mut writer) = stream.into_split();
    let Some((method, path, headers, body)) = read_request(&mut reader).await else {
        return;
    };
    if path.starts_with(crate::model_control::PREFIX) {
        crate::model_control::handle(&path, &body, &shared, &mut writer).await;
        return;
    }
    let (closed_sender, closed) = watch::channel(false);
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let record = RecordedRequest {
        method,
        path,
        headers,
        body,
        received_at: Instant::now(),
        closed: closed.clone(),
    };
    lock(&shared.requests).push(record);
    shared.request_arrived.notify_waiters();

    // The rest of what the client sends is drained; its end is the connection closing.
    tokio::spawn(async move {
        let mut sink = [0u8; 1024];
        while let Ok(n) = reader.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
        closed_sender.send_replace(true);
    });

    let reply = lock(&shared.replies)
        .pop_front()
        .unwrap_or_else(|| Reply::error(500, "no scripted reply"));
    let _ = play(reply, &mut writer, &shared, closed).await;
}

async fn play(
    reply: Reply,
    writer: &mut OwnedWriteHalf,
    shared: &Shared,
    mut closed: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("transfer-encoding: chunked\r\nconnection: close\r\n\r\n");
    writer.write_all(head.as_bytes()).await?;
    writer.flush().await?;
    for step in reply.steps {
        match step {
            Step::Chunk(bytes) => {
                let mut frame = format!("{:x}\r\n", bytes.len()).into_bytes();
                frame.extend_from_slice(&bytes);
                frame.extend_from_slice(b"\r\n");
                writer.write_all(&frame).await?;
                writer.flush().await?;
            }
            Step::Delay(delay) => {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = closed.wait_for(|c| *c) => return Ok(()),
                }
            }
            Step::Gate => {
                tokio::select! {
                    permit = shared.gate.acquire() => { if let Ok(p) = permit { p.forget() } }
                    _ = closed.wait_for(|c| *c) => return Ok(()),
                }
            }
            Step::Cut => return Ok(()),
            Step::Stall => {
                let _ = closed.wait_for(|c| *c).await;
                return Ok(());
            }
        }
    }
    writer.write_all(b"0\r\n\r\n").await?;
    writer.shutdown().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

type Head = (String, String, Vec<(String, String)>, Vec<u8>);

async fn read_request(reader: &mut tokio::net::tcp::OwnedReadHalf) -> Option<Head> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = reader.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = reader.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some((method, path, headers, body))
}

/// Every event of a stream, up to its end. Gives up after 30 s so a broken stream fails the
/// test instead of hanging it.
pub async fn collect(stream: tandem::model::ModelStream) -> Vec<tandem::model::ModelEvent> {
    use futures::StreamExt;
    tokio::time::timeout(Duration::from_secs(30), stream.collect::<Vec<_>>())
        .await
        .unwrap_or_else(|_| panic!("the model stream did not end within 30 s"))
}

/// The text of a stream's deltas, concatenated.
pub fn text_of(events: &[tandem::model::ModelEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            tandem::model::ModelEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

/// Token counts a scripted reply reports, in OpenAI's terms: `prompt` counts the `cached`
/// tokens too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reported {
    pub prompt: u64,
    /// Read from the prompt cache; `None` leaves the wire's cache field out.
    pub cached: Option<u64>,
    pub output: u64,
}

impl Reply {
    /// A 200 streaming `deltas` and reporting `reported` as the wire says it (see
    /// [`render_reported`]).
    pub fn reporting(wire: Wire, deltas: &[&str], reported: Reported) -> Reply {
        Reply::stream(wire, render_reported(wire, deltas, reported))
    }
}

/// [`Wire::render`] with cached prompt tokens where the wire has them: Chat Completions'
/// `usage.prompt_tokens_details.cached_tokens`, the Responses API's
/// `usage.input_tokens_details.cached_tokens`, Anthropic's `cache_read_input_tokens` (its
/// `input_tokens` then being the rest of the prompt). Ollama reports no cache.
pub fn render_reported(wire: Wire, deltas: &[&str], reported: Reported) -> Vec<Vec<u8>> {
    let cached = reported.cached.unwrap_or(0);
    let input = match wire {
        Wire::Anthropic => reported.prompt - cached,
        _ => reported.prompt,
    };
    let chunks = wire.render(deltas, Some((input, reported.output)));
    let Some(cached) = reported.cached else {
        return chunks;
    };
    let patch = |event: &mut Value| match wire {
        Wire::OpenAi if event.get("usage").is_some_and(Value::is_object) => {
            event["usage"]["prompt_tokens_details"] = json!({"cached_tokens": cached});
        }
        Wire::Responses if event["type"] == "response.completed" => {
            event["response"]["usage"]["input_tokens_details"] = json!({"cached_tokens": cached});
        }
        Wire::Anthropic if event["type"] == "message_start" => {
            event["message"]["usage"]["cache_read_input_tokens"] = json!(cached);
        }
        _ => {}
    };
    chunks
        .into_iter()
        .map(|chunk| patch_sse_data(&chunk, patch))
        .collect()
}

/// The SSE chunk with the JSON of each `data:` line passed through `patch` (other lines, and
/// NDJSON, as they were).
fn patch_sse_data(chunk: &[u8], patch: impl Fn(&mut Value)) -> Vec<u8> {
    let text = String::from_utf8_lossy(chunk);
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let parsed = line
            .strip_prefix("data: ")
            .and_then(|data| serde_json::from_str::<Value>(data.trim_end()).ok());
        match parsed {
            Some(mut event) => {
                patch(&mut event);
                out.push_str(&format!("data: {event}\n"));
            }
            None => out.push_str(line),
        }
    }
    out.into_bytes()
}
