//! Fill-in-the-middle: the code between a prefix and a suffix, streamed from an endpoint's own FIM API, or asked of a chat model.
//!
//! Three wires serve FIM natively (see [`FimWire`]); each takes the text before and after the
//! cursor and streams back only the middle. [`ModelClient::fim`] sends a [`FimRequest`] over one
//! of them through the same transport as chat streams (retries before the first token, request
//! and idle timeouts, cancellation that drops the connection), and yields the same
//! [`ModelEvent`](super::ModelEvent)s: `TextDelta`s, perhaps a `Usage`, then one `Finished` or
//! `Error`. Where no FIM API exists, [`chat_request`] asks a chat model for the middle and
//! [`chat_answer`] takes it out of the reply.

mod adapters;
mod chat;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::decode::Decoder;
use super::error::ErrorKind;
use super::{Endpoint, ModelClient, ModelStream, Provider};

pub use chat::{CURSOR, chat_answer, chat_request};

/// An endpoint's fill-in-the-middle API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FimWire {
    /// OpenAI's legacy Completions API with `suffix`, as the llama.cpp server and vLLM serve it:
    /// `POST {baseUrl}/completions` (`baseUrl` ends in `/v1`), answered with server-sent
    /// events whose `choices[0].text` are the deltas, ended by `data: [DONE]`.
    OpenAiCompletions,
    /// Ollama's `POST {baseUrl}/api/generate` with `prompt` and `suffix`, answered with NDJSON
    /// lines whose `response` are the deltas, the last one with `"done": true`.
    Ollama,
    /// The llama.cpp server's own `POST {server root}/infill` (`input_prefix`, `input_suffix`),
    /// answered with server-sent events whose `content` are the deltas, the last one with
    /// `"stop": true`.
    LlamaCppInfill,
}

impl FimWire {
    pub const ALL: [FimWire; 3] = [
        FimWire::OpenAiCompletions,
        FimWire::Ollama,
        FimWire::LlamaCppInfill,
    ];

    /// The name of the provider in the `completion.provider` setting.
    pub fn as_str(self) -> &'static str {
        match self {
            FimWire::OpenAiCompletions => "openai",
            FimWire::Ollama => "ollama",
            FimWire::LlamaCppInfill => "llamacpp",
        }
    }

    /// The chat provider whose key header and error advice fit this wire's servers: an
    /// [`Endpoint`] for FIM names it.
    pub fn provider(self) -> Provider {
        match self {
            FimWire::Ollama => Provider::Ollama,
            FimWire::OpenAiCompletions | FimWire::LlamaCppInfill => Provider::OpenAi,
        }
    }

    /// The FIM wire of a chat provider's servers, if they have one.
    pub fn for_provider(provider: Provider) -> Option<FimWire> {
        match provider {
            Provider::OpenAi => Some(FimWire::OpenAiCompletions),
            Provider::Ollama => Some(FimWire::Ollama),
            Provider::OpenAiResponses | Provider::Anthropic => None,
        }
    }

    /// The URL a request goes to, under an endpoint's base URL.
    pub fn url(self, endpoint: &Endpoint) -> String {
        match self {
            FimWire::OpenAiCompletions => endpoint.url("completions"),
            FimWire::Ollama => endpoint.url("api/generate"),
            // `/infill` lives at the server's root, beside `/v1`; a base URL shared with the
            // chat settings ends in `/v1`, so that is taken off.
            FimWire::LlamaCppInfill => {
                let base = endpoint.base_url.trim_end_matches('/');
                let root = base.strip_suffix("/v1").unwrap_or(base);
                format!("{root}/infill")
            }
        }
    }
}

impl fmt::Display for FimWire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FimWire {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FimWire::ALL
            .into_iter()
            .find(|w| w.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown completion provider `{s}` (expected one of: openai, ollama, llamacpp)"
                )
            })
    }
}

/// One fill-in-the-middle request: what comes before the cursor, what comes after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FimRequest {
    pub prefix: String,
    pub suffix: String,
    /// The middle's token limit (the endpoint's `max_output_tokens` does not apply).
    pub max_tokens: u32,
    /// Where the model stops (e.g. `"\n"` for one line); the stop text is not part of the answer.
    pub stop: Vec<String>,
    /// The language's name, for the chat prompt only (FIM models read the code as it is).
    pub language: Option<String>,
}

impl Default for FimRequest {
    /// Empty text, the contract's `completion.maxTokens` default (128), no stop sequence.
    fn default() -> Self {
        FimRequest {
            prefix: String::new(),
            suffix: String::new(),
            max_tokens: 128,
            stop: Vec::new(),
            language: None,
        }
    }
}

impl ModelClient {
    /// Streams the middle between `request.prefix` and `request.suffix` from the endpoint's
    /// fill-in-the-middle API `wire`. Like [`ModelClient::stream`], the stream ends after one
    /// `Finished` or `Error`, and cancelling `cancel` (or dropping the stream) drops the
    /// connection at once.
    pub fn fim(
        &self,
        wire: FimWire,
        request: &FimRequest,
        cancel: CancellationToken,
    ) -> ModelStream {
        let endpoint = self.endpoint();
        let body = body(wire, endpoint, request);
        self.start(wire.url(endpoint), body, Some(wire), cancel)
    }
}

impl Decoder {
    /// A decoder for the answers of a fill-in-the-middle wire.
    pub fn fim(wire: FimWire) -> Self {
        adapters::decoder(wire)
    }
}

/// The request body. Every wire is asked to stream, at temperature 0 (a suggestion should be
/// the model's best guess, and the same guess when asked twice), and for at most
/// `max_tokens`. An empty `stop` list is left out rather than sent empty.
pub(crate) fn body(wire: FimWire, endpoint: &Endpoint, request: &FimRequest) -> Value {
    let mut body = match wire {
        // The Completions API takes `suffix` beside `prompt`; the server builds the model's FIM
        // prompt from them. `stream_options` asks for a usage chunk (servers that do not know
        // it ignore it, as for chat).
        FimWire::OpenAiCompletions => json!({
            "model": endpoint.model,
            "prompt": request.prefix,
            "suffix": request.suffix,
            "max_tokens": request.max_tokens,
            "temperature": 0,
            "stream": true,
            "stream_options": {"include_usage": true},
        }),
        // With a suffix Ollama fills the model's own FIM template (its `.Suffix` branch), which
        // only happens when `raw` is false: a raw prompt skips the template, and the suffix with
        // it. With no suffix (the cursor at the end of the file) that template would instead
        // wrap the prefix as a chat message, so the prefix is sent raw, to be continued as text.
        FimWire::Ollama if request.suffix.is_empty() => json!({
            "model": endpoint.model,
            "prompt": request.prefix,
            "raw": true,
            "stream": true,
            "options": {"num_predict": request.max_tokens, "temperature": 0},
        }),
        FimWire::Ollama => json!({
            "model": endpoint.model,
            "prompt": request.prefix,
            "suffix": request.suffix,
            "raw": false,
            "stream": true,
            "options": {"num_predict": request.max_tokens, "temperature": 0},
        }),
        // llama.cpp builds the FIM prompt from the model's own FIM tokens; `model` is read only
        // by routers in front of several servers (llama-swap, router mode).
        FimWire::LlamaCppInfill => json!({
            "model": endpoint.model,
            "input_prefix": request.prefix,
            "input_suffix": request.suffix,
            "n_predict": request.max_tokens,
            "temperature": 0,
            "stream": true,
        }),
    };
    if !request.stop.is_empty() {
        let stop = json!(request.stop);
        match wire {
            FimWire::Ollama => body["options"]["stop"] = stop,
            FimWire::OpenAiCompletions | FimWire::LlamaCppInfill => body["stop"] = stop,
        }
    }
    body
}

/// An HTTP failure of a FIM request that means "no FIM here": the path does not exist (an
/// OpenAI-compatible server without `/completions`, a server that is not llama.cpp), or the
/// model has no FIM (Ollama: "does not support insert"; llama.cpp: 501 "not supported").
/// Other failures keep their kind.
pub(crate) fn unsupported(kind: ErrorKind) -> ErrorKind {
    match kind {
        ErrorKind::Http { status, body, .. } if says_unsupported(status, &body) => {
            ErrorKind::FimUnsupported { status, body }
        }
        other => other,
    }
}

fn says_unsupported(status: u16, body: &str) -> bool {
    let body = body.to_lowercase();
    match status {
        404 | 405 | 501 => true,
        400 | 500 => ["insert", "infill", "suffix", "fim", "not supported"]
            .iter()
            .any(|word| body.contains(word)),
        _ => false,
    }
}
