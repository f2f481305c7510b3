//! Scripted fill-in-the-middle answers in the three FIM wire formats, as the real servers stream them.
//!
//! The scripted server answers any path with the next queued reply, so FIM needs only its
//! rendering here; a test checks the path from the recorded request.

use std::time::Duration;

use serde_json::{Value, json};
use tandem::model::{Endpoint, FimWire};

use crate::model_server::{ModelServer, Reply, Step};

/// The path a FIM client of `wire` posts to.
pub fn path(wire: FimWire) -> &'static str {
    match wire {
        FimWire::OpenAiCompletions => "/v1/completions",
        FimWire::Ollama => "/api/generate",
        FimWire::LlamaCppInfill => "/infill",
    }
}

pub fn content_type(wire: FimWire) -> &'static str {
    match wire {
        FimWire::Ollama => "application/x-ndjson",
        FimWire::OpenAiCompletions | FimWire::LlamaCppInfill => "text/event-stream",
    }
}

/// A FIM endpoint on `server`: the base URL a user would configure (`…/v1` for the
/// OpenAI-compatible and llama.cpp servers, the host for Ollama), with fast retries.
pub fn endpoint(server: &ModelServer, wire: FimWire) -> Endpoint {
    let base = match wire {
        FimWire::Ollama => server.url(),
        FimWire::OpenAiCompletions | FimWire::LlamaCppInfill => format!("{}/v1", server.url()),
    };
    let mut endpoint = Endpoint::new(wire.provider(), base, "test-model");
    endpoint.retry.base_delay = Duration::from_millis(10);
    endpoint.retry.max_delay = Duration::from_millis(50);
    endpoint.request_timeout = Duration::from_secs(10);
    endpoint.idle_timeout = Duration::from_secs(5);
    endpoint
}

fn sse(data: &Value) -> Vec<u8> {
    format!("data: {data}\n\n").into_bytes()
}

/// A complete answer streaming `deltas`, one element per event (SSE) or line (NDJSON), the
/// first delta first (no preamble). `usage` is `(input, output)` tokens.
pub fn render(wire: FimWire, deltas: &[&str], usage: Option<(u64, u64)>) -> Vec<Vec<u8>> {
    let (input, output) = usage.unwrap_or((0, 0));
    let mut out = Vec::new();
    match wire {
        FimWire::OpenAiCompletions => {
            let chunk = |text: &str, finish: Value| {
                json!({"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
                    "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": finish}]})
            };
            for d in deltas {
                out.push(sse(&chunk(d, Value::Null)));
            }
            out.push(sse(&chunk("", json!("stop"))));
            if usage.is_some() {
                out.push(sse(&json!({"id": "cmpl-1", "object": "text_completion", "choices": [],
                    "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}})));
            }
            out.push(b"data: [DONE]\n\n".to_vec());
        }
        FimWire::Ollama => {
            for d in deltas {
                let line = json!({"model": "m", "created_at": "2026-01-01T00:00:00Z", "response": d, "done": false});
                out.push(format!("{line}\n").into_bytes());
            }
            let mut last = json!({"model": "m", "created_at": "2026-01-01T00:00:00Z", "response": "",
                "done": true, "done_reason": "stop"});
            if usage.is_some() {
                last["prompt_eval_count"] = json!(input);
                last["eval_count"] = json!(output);
            }
            out.push(format!("{last}\n").into_bytes());
        }
        FimWire::LlamaCppInfill => {
            for d in deltas {
                out.push(sse(
                    &json!({"index": 0, "content": d, "tokens": [], "stop": false, "id_slot": 0}),
                ));
            }
            let mut last = json!({"index": 0, "content": "", "tokens": [], "stop": true, "id_slot": 0,
                "stop_type": "eos", "model": "m", "truncated": false});
            if usage.is_some() {
                last["tokens_evaluated"] = json!(input);
                last["tokens_predicted"] = json!(output);
            }
            out.push(sse(&last));
        }
    }
    out
}

/// A chunk that is not valid for the format (its JSON is broken).
pub fn malformed(wire: FimWire) -> Vec<u8> {
    match wire {
        FimWire::OpenAiCompletions => b"data: {\"choices\": [{\"text\": oops\n\n".to_vec(),
        FimWire::Ollama => b"{\"response\": oops\n".to_vec(),
        FimWire::LlamaCppInfill => b"data: {\"content\": oops\n\n".to_vec(),
    }
}

impl Reply {
    /// A 200 streaming these FIM chunks.
    pub fn fim_stream(wire: FimWire, chunks: Vec<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".to_owned(), content_type(wire).to_owned())],
            steps: chunks.into_iter().map(Step::Chunk).collect(),
        }
    }

    /// A 200 streaming the middle `deltas` in `wire`'s format, with usage `(12, number of deltas)`.
    pub fn fim(wire: FimWire, deltas: &[&str]) -> Reply {
        Reply::fim_stream(wire, render(wire, deltas, Some((12, deltas.len() as u64))))
    }

    /// Sends a chunk that is not valid for `wire` after the first `n`.
    pub fn malformed_after_fim(mut self, wire: FimWire, n: usize) -> Reply {
        let mut seen = 0;
        let at = self
            .steps
            .iter()
            .position(|step| {
                let here = seen == n;
                seen += usize::from(matches!(step, Step::Chunk(_)));
                here
            })
            .unwrap_or(self.steps.len());
        self.steps.insert(at, Step::Chunk(malformed(wire)));
        self
    }
}
