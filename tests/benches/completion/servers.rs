//! The three servers under the bench, each configured for the same scripted model endpoint on
//! loopback, with what it is asked and how its model answers on the wire:
//!
//! - Tandem: `textDocument/inlineCompletion` (LSP 3.18); `completion.provider = "openai"` with
//!   `baseUrl` the scripted server's `/v1` (so fill-in-the-middle on `/v1/completions`, streamed
//!   as OpenAI completions SSE), `debounceMs = 0`. Its context budget is 1,536 tokens before the
//!   cursor and 512 after.
//! - llm-ls: its own `llm-ls/getCompletions` request, which carries the backend settings:
//!   `backend = "openai"`, `url` the scripted server's `/v1` (llm-ls posts to
//!   `/v1/completions` with `stream: false` and reads one JSON answer), FIM on with StarCoder's
//!   tokens, `contextWindow = 8192` (bytes: no tokenizer, so no download).
//! - lsp-ai: `textDocument/completion` (this version has no `inlineCompletion`); a `file_store`
//!   memory and an `open_ai` model whose `completions_endpoint` is the scripted server's
//!   `/v1/completions` (non-streaming JSON), FIM with StarCoder's tokens, `max_context = 2048`
//!   tokens (8,192 characters at its 4 per token), and `max_requests_per_second = 1e6` (its
//!   default of 1 throttles requests to one a second: that is its debounce, set to nothing).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tandem::model::FimWire;
use tandem_tests::model_server::{ModelServer, Reply, Step};

use crate::client::Launch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tandem,
    LlmLs,
    LspAi,
}

/// A server to measure.
pub struct Server {
    pub kind: Kind,
    pub name: &'static str,
    pub program: PathBuf,
}

const FIM_TOKENS: (&str, &str, &str) = ("<fim_prefix>", "<fim_suffix>", "<fim_middle>");

impl Server {
    /// Whether it keeps suggestions to answer typing into one without the model.
    pub fn caches(&self) -> bool {
        self.kind == Kind::Tandem
    }

    /// How it is started: logs where its users' logs go by default (Tandem at info in a file,
    /// llm-ls at warn in `$HOME/.cache/llm_ls`, lsp-ai at error on stderr), with `home` as
    /// `HOME` and the XDG folders under it.
    pub fn launch(&self, home: &Path) -> Launch {
        let mut env = vec![
            ("HOME".to_owned(), home.display().to_string()),
            (
                "XDG_CONFIG_HOME".to_owned(),
                home.join("config").display().to_string(),
            ),
            (
                "XDG_STATE_HOME".to_owned(),
                home.join("state").display().to_string(),
            ),
            (
                "XDG_CACHE_HOME".to_owned(),
                home.join("cache").display().to_string(),
            ),
        ];
        let mut args = Vec::new();
        match self.kind {
            Kind::Tandem => {
                env.push(("TANDEM_LOG".to_owned(), "info".to_owned()));
                args.push("--log-file".to_owned());
                args.push(home.join("tandem.log").display().to_string());
            }
            Kind::LlmLs | Kind::LspAi => args.push("--stdio".to_owned()),
        }
        Launch {
            program: self.program.clone(),
            args,
            env,
            stderr: home.join("stderr.log"),
        }
    }

    /// Its `initializationOptions`.
    pub fn init_options(&self, model: &ModelServer) -> Value {
        let base = format!("{}/v1", model.url());
        match self.kind {
            Kind::Tandem => json!({
                "model": {"provider": "openai", "baseUrl": base, "name": "bench-model"},
                "completion": {
                    "provider": "openai", "baseUrl": base, "name": "bench-model", "debounceMs": 0
                },
            }),
            Kind::LlmLs => Value::Null,
            Kind::LspAi => json!({
                "memory": {"file_store": {}},
                "models": {"bench": {
                    "type": "open_ai",
                    "completions_endpoint": format!("{base}/completions"),
                    "model": "bench-model",
                    "auth_token": "none",
                    "max_requests_per_second": 1.0e6,
                }},
                "completion": {
                    "model": "bench",
                    "parameters": {
                        "max_context": 2048,
                        "max_tokens": 64,
                        "fim": {"start": FIM_TOKENS.0, "middle": FIM_TOKENS.1, "end": FIM_TOKENS.2},
                    },
                },
            }),
        }
    }

    /// The request that asks for a suggestion at `position` of `uri`.
    pub fn ask(&self, model: &ModelServer, uri: &str, position: Value) -> (&'static str, Value) {
        let at = json!({"textDocument": {"uri": uri}, "position": position});
        match self.kind {
            // Automatic, as editors ask while the user types.
            Kind::Tandem => (
                "textDocument/inlineCompletion",
                merge(at, json!({"context": {"triggerKind": 2}})),
            ),
            Kind::LlmLs => (
                "llm-ls/getCompletions",
                merge(
                    at,
                    json!({
                        "ide": "neovim",
                        "model": "bench-model",
                        "backend": "openai",
                        "url": format!("{}/v1", model.url()),
                        "apiToken": null,
                        "fim": {"enabled": true, "prefix": FIM_TOKENS.0,
                                "suffix": FIM_TOKENS.1, "middle": FIM_TOKENS.2},
                        "tokensToClear": ["<|endoftext|>"],
                        "tokenizerConfig": null,
                        "contextWindow": 8192,
                        "tlsSkipVerifyInsecure": false,
                        "requestBody": {"max_tokens": 64, "temperature": 0.2},
                        "disableUrlPathCompletion": false,
                    }),
                ),
            ),
            Kind::LspAi => (
                "textDocument/completion",
                merge(at, json!({"context": {"triggerKind": 1}})),
            ),
        }
    }

    /// The model's answer `text`, in the wire format this server reads, every chunk held
    /// until released when `gated`. Returns the reply and its number of chunks.
    pub fn reply(&self, text: &str, gated: bool) -> (Reply, usize) {
        let reply = match self.kind {
            // Streamed: two text deltas, the finish reason, usage, `[DONE]`.
            Kind::Tandem => {
                let split = text.len() / 2;
                let split = (split..text.len())
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(text.len());
                Reply::fim(
                    FimWire::OpenAiCompletions,
                    &[&text[..split], &text[split..]],
                )
            }
            // One JSON answer, written in two chunks: the text, then the rest of the object.
            Kind::LlmLs | Kind::LspAi => {
                let body = json!({"id": "cmpl-1", "object": "text_completion", "created": 1,
                    "model": "bench-model",
                    "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}})
                .to_string();
                let cut = body.find("\"logprobs\"").unwrap_or(body.len() / 2);
                Reply {
                    status: 200,
                    headers: vec![("content-type".to_owned(), "application/json".to_owned())],
                    steps: vec![
                        Step::Chunk(body.as_bytes()[..cut].to_vec()),
                        Step::Chunk(body.as_bytes()[cut..].to_vec()),
                    ],
                }
            }
        };
        let chunks = reply
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Chunk(_)))
            .count();
        (if gated { reply.gated() } else { reply }, chunks)
    }

    /// The suggestions in an answer.
    pub fn suggestions(&self, result: &Value) -> Vec<String> {
        let (list, field) = match self.kind {
            Kind::Tandem => (&result["items"], "/insertText"),
            Kind::LlmLs => (&result["completions"], "/generated_text"),
            Kind::LspAi => (&result["items"], "/textEdit/newText"),
        };
        list.as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.pointer(field).and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}
