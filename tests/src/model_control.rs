//! The scripted model server's control routes, for tests driven from outside Rust (an editor's
//! Lua, Emacs Lisp or a Playwright script): queue a reply, release gated chunks, read requests.
//!
//! They live under `/__scripted/` and are never recorded as model requests:
//! - `POST /__scripted/push` `{"wire": "openai", "deltas": ["…"], "gated": false, "delayMs": 0}`
//!   queues a streamed reply (`wire` is `openai`, `responses`, `anthropic` or `ollama`), or
//!   `{"status": 500, "body": "…"}` an error;
//! - `POST /__scripted/release` `{"n": 1}` lets `n` gated chunks through;
//! - `GET /__scripted/requests` answers `[{method, path, body}]`, the model requests so far.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;

use crate::model_server::{Reply, Shared, Wire, lock};

pub(crate) const PREFIX: &str = "/__scripted/";

/// Answers one control request.
pub(crate) async fn handle(path: &str, body: &[u8], shared: &Shared, writer: &mut OwnedWriteHalf) {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let (status, answer) = match path.trim_start_matches(PREFIX) {
        "push" => match reply_from(&body) {
            Ok(reply) => {
                let mut replies = lock(&shared.replies);
                replies.push_back(reply);
                (200, json!({"queued": replies.len()}))
            }
            Err(message) => (400, json!({"error": message})),
        },
        "release" => {
            let n = body.get("n").and_then(Value::as_u64).unwrap_or(1);
            shared.gate.add_permits(usize::try_from(n).unwrap_or(1));
            (200, json!({"released": n}))
        }
        "requests" => {
            let requests: Vec<Value> = lock(&shared.requests)
                .iter()
                .map(|r| json!({"method": r.method, "path": r.path, "body": r.body}))
                .collect();
            (200, Value::Array(requests))
        }
        other => (404, json!({"error": format!("no control route {other:?}")})),
    };
    let body = answer.to_string();
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        if status == 200 { "OK" } else { "Error" },
        body.len()
    );
    let _ = writer.write_all(head.as_bytes()).await;
    let _ = writer.write_all(body.as_bytes()).await;
    let _ = writer.shutdown().await;
}

fn reply_from(body: &Value) -> Result<Reply, String> {
    if let Some(status) = body.get("status").and_then(Value::as_u64) {
        let status = u16::try_from(status).map_err(|_| "status out of range".to_owned())?;
        let text = body
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or("scripted error");
        return Ok(Reply::error(status, text));
    }
    let wire = match body.get("wire").and_then(Value::as_str).unwrap_or("openai") {
        "openai" => Wire::OpenAi,
        "responses" => Wire::Responses,
        "anthropic" => Wire::Anthropic,
        "ollama" => Wire::Ollama,
        other => return Err(format!("unknown wire {other:?}")),
    };
    let deltas: Vec<&str> = body
        .get("deltas")
        .and_then(Value::as_array)
        .ok_or("`deltas` (an array of strings) is required")?
        .iter()
        .map(|d| d.as_str().ok_or("every delta must be a string"))
        .collect::<Result<_, _>>()?;
    let mut reply = Reply::text(wire, &deltas);
    if let Some(ms) = body
        .get("delayMs")
        .and_then(Value::as_u64)
        .filter(|ms| *ms > 0)
    {
        reply = reply.delay_each(Duration::from_millis(ms));
    }
    if body.get("gated").and_then(Value::as_bool) == Some(true) {
        reply = reply.gated();
    }
    Ok(reply)
}
