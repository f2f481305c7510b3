//! Talking to models: one stream of events from any provider, over one streaming transport; knows nothing of LSP or documents.
//!
//! The rest of the server builds an [`Endpoint`] (from the settings), a [`ModelClient`] on it,
//! and calls [`ModelClient::stream`]: what comes back is a stream of [`ModelEvent`]s that ends
//! after exactly one [`ModelEvent::Finished`] or [`ModelEvent::Error`] (an error of kind
//! [`ErrorKind::Cancelled`] when the caller cancelled). `ModelError`'s `Display` is the message
//! to show a user: it names the URL, what happened and what to do. Inline completion's
//! fill-in-the-middle requests ([`ModelClient::fim`], in [`fim`]) yield the same events.

mod anthropic;
mod decode;
mod error;
pub mod fim;
mod http;
mod meter;
mod ollama;
mod openai;
#[cfg(test)]
mod request_bodies;
mod responses;
mod secret;
pub mod tokens;
#[cfg(test)]
mod tool_streams;
mod tools;
mod transport;
#[cfg(test)]
mod usage_streams;

pub use http::is_loopback;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use decode::{DecodeError, Decoder};
pub use error::{ErrorKind, ModelError};
pub use fim::{FimRequest, FimWire};
pub use meter::{Meter, UsageTotals};
pub use secret::ApiKey;
pub use tools::{BadArguments, ToolCall, ToolSpec};
pub use transport::{Completion, ModelClient, ModelStream, RetryPolicy};

/// Which wire protocol the endpoint speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Provider {
    /// Chat Completions, also every OpenAI-compatible server (vLLM, llama.cpp, LM Studio, Ollama's `/v1`…).
    #[serde(rename = "openai")]
    OpenAi,
    /// The Responses API.
    #[serde(rename = "openai-responses")]
    OpenAiResponses,
    /// Anthropic's Messages API.
    #[serde(rename = "anthropic")]
    Anthropic,
    /// Ollama's native `/api/chat`.
    #[serde(rename = "ollama")]
    Ollama,
}

impl Provider {
    /// Every provider, in the order the settings document them.
    pub const ALL: [Provider; 4] = [
        Provider::OpenAi,
        Provider::OpenAiResponses,
        Provider::Anthropic,
        Provider::Ollama,
    ];

    /// The name used in the settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::OpenAiResponses => "openai-responses",
            Provider::Anthropic => "anthropic",
            Provider::Ollama => "ollama",
        }
    }

    /// The provider's own public endpoint, used when the settings name none.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Provider::OpenAi | Provider::OpenAiResponses => "https://api.openai.com/v1",
            Provider::Anthropic => "https://api.anthropic.com/v1",
            Provider::Ollama => "http://127.0.0.1:11434",
        }
    }

    /// The model used when the settings name none.
    pub fn default_model(self) -> &'static str {
        match self {
            Provider::OpenAi | Provider::OpenAiResponses => "gpt-4.1-mini",
            Provider::Anthropic => "claude-sonnet-4-5",
            Provider::Ollama => "qwen2.5-coder:7b",
        }
    }

    /// The environment variable that conventionally holds the key for the provider's own endpoint.
    pub fn default_api_key_env(self) -> Option<&'static str> {
        match self {
            Provider::OpenAi | Provider::OpenAiResponses => Some("OPENAI_API_KEY"),
            Provider::Anthropic => Some("ANTHROPIC_API_KEY"),
            Provider::Ollama => None,
        }
    }

    /// What a body of this provider's stream is framed as, for messages.
    pub fn wire_format(self) -> &'static str {
        match self {
            Provider::Ollama => "NDJSON",
            _ => "server-sent events",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!("unknown provider `{s}` (expected one of: openai, openai-responses, anthropic, ollama)")
            })
    }
}

/// Everything needed to reach one model. Its `Debug` never shows the key.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub provider: Provider,
    /// Base URL without the API path (`…/v1` for OpenAI-style APIs, the host for Ollama).
    pub base_url: String,
    /// The model's name at that endpoint.
    pub model: String,
    /// The key, read from the environment variable named in `api_key_env`.
    pub api_key: Option<ApiKey>,
    /// The environment variable the key comes from (named in errors, never its value).
    pub api_key_env: Option<String>,
    pub max_output_tokens: u32,
    /// Bounds the whole request, from the first connection attempt to the last byte.
    pub request_timeout: Duration,
    /// The longest silence allowed inside a stream.
    pub idle_timeout: Duration,
    pub retry: RetryPolicy,
    /// Whether a request's [`prediction`](ModelRequest::prediction) is sent.
    pub predicted_outputs: PredictedOutputs,
}

/// Whether a whole rewrite's request carries the region's current text as a prediction of the
/// answer (OpenAI's "Predicted Outputs": Chat Completions' `prediction`). Only Chat Completions
/// has the field: Anthropic, the Responses API and Ollama never get it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PredictedOutputs {
    /// Only to OpenAI's own endpoint, for the models that take it (the gpt-4o and gpt-4.1
    /// families); compatible servers (vLLM, llama.cpp) speculate on their own side, if at all,
    /// and are not sent the field.
    #[default]
    Auto,
    /// To any Chat Completions endpoint (a compatible server that takes the field).
    On,
    Off,
}

/// As the setting is written: `"auto"`, `true` or `false`.
impl Serialize for PredictedOutputs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PredictedOutputs::Auto => serializer.serialize_str("auto"),
            PredictedOutputs::On => serializer.serialize_bool(true),
            PredictedOutputs::Off => serializer.serialize_bool(false),
        }
    }
}

impl Endpoint {
    /// An endpoint with the provider's defaults and no key; tests and `doctor` adjust the fields.
    pub fn new(provider: Provider, base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Endpoint {
            provider,
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            api_key_env: None,
            max_output_tokens: 4096,
            request_timeout: Duration::from_millis(120_000),
            idle_timeout: Duration::from_millis(30_000),
            retry: RetryPolicy::default(),
            predicted_outputs: PredictedOutputs::default(),
        }
    }

    /// The URL of an API path under the base URL.
    pub(crate) fn url(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.base_url.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    /// The result of a tool call, sent back to the model (see [`Message::tool_result`]).
    Tool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: Role,
    /// The text; for a `Tool` message, the tool's output.
    pub content: String,
    /// The calls an assistant message made, in order (empty otherwise).
    pub tool_calls: Vec<ToolCall>,
    /// For a `Tool` message: the call it answers.
    pub answers: Option<ToolAnswer>,
    /// Where the part of `content` that stays the same from one request to the next ends (a
    /// byte offset): providers whose caches need a marker (Anthropic's `cache_control`) get
    /// one there; the others see `content` as it is, and cache its prefix on their own.
    pub cache_breakpoint: Option<usize>,
}

/// Which call a tool result answers, and whether the tool failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolAnswer {
    pub call_id: String,
    /// The tool's name (Ollama identifies a result by it).
    pub name: String,
    /// Anthropic marks failed results; the other APIs only see the text.
    pub is_error: bool,
}

impl Message {
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: Role::User,
            content: content.into(),
            tool_calls: Vec::new(),
            answers: None,
            cache_breakpoint: None,
        }
    }

    /// A user message made of a part that stays the same between requests (the context) and
    /// a part that changes (the target): `stable` then `changing`, with a cache breakpoint
    /// between them (none when either is empty).
    pub fn user_with_stable_prefix(stable: &str, changing: &str) -> Self {
        Message {
            cache_breakpoint: (!stable.is_empty() && !changing.is_empty()).then_some(stable.len()),
            ..Message::user(format!("{stable}{changing}"))
        }
    }

    /// The content cut at the cache breakpoint: the stable part and the rest, when there is a
    /// breakpoint inside it (a message edited since it was made may have lost it).
    pub(crate) fn cache_split(&self) -> Option<(&str, &str)> {
        let at = self.cache_breakpoint?;
        let (stable, changing) = self.content.split_at_checked(at)?;
        (!stable.is_empty() && !changing.is_empty()).then_some((stable, changing))
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Message {
            role: Role::Assistant,
            content: content.into(),
            tool_calls: Vec::new(),
            answers: None,
            cache_breakpoint: None,
        }
    }

    /// An assistant's turn that called tools, as it must be sent back before their results.
    pub fn assistant_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Message {
            tool_calls: calls,
            ..Message::assistant(content)
        }
    }

    /// The output of `call`, or what went wrong (`is_error`), for the model to read.
    pub fn tool_result(call: &ToolCall, output: impl Into<String>, is_error: bool) -> Self {
        Message {
            role: Role::Tool,
            content: output.into(),
            tool_calls: Vec::new(),
            answers: Some(ToolAnswer {
                call_id: call.id.clone(),
                name: call.name.clone(),
                is_error,
            }),
            cache_breakpoint: None,
        }
    }
}

/// One request: a system prompt and the conversation so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelRequest {
    pub system: Option<String>,
    pub messages: Vec<Message>,
    /// Overrides the endpoint's `max_output_tokens` (the doctor asks for one token).
    pub max_output_tokens: Option<u32>,
    /// The tools the model may call; none means the request is sent exactly as without tools.
    pub tools: Vec<ToolSpec>,
    /// What the answer will mostly be (a whole rewrite's region as it is now), sent as OpenAI
    /// chat's `prediction` where the endpoint takes it (see [`PredictedOutputs`]).
    pub prediction: Option<String>,
}

/// Token counts as the provider reported them, in OpenAI's terms whatever the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Every prompt token, the cached ones included (Anthropic counts its cache reads and
    /// writes apart from its `input_tokens`: they are added in).
    pub input_tokens: Option<u64>,
    /// The part of `input_tokens` read from the provider's prompt cache, when it says.
    pub cached_input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
}

/// Why the model stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// It finished its answer (or hit a stop sequence).
    Stop,
    /// It ran out of output tokens: the text is cut short.
    Length,
    /// The provider filtered the output.
    ContentFilter,
    /// It stopped to have its tool calls run (the wire said so, or, where the wire has no such
    /// reason, the answer made calls).
    ToolCalls,
    /// Anything else, as the provider named it.
    Other(String),
}

impl FinishReason {
    /// Maps the reasons the four APIs use onto ours.
    pub(crate) fn from_wire(reason: &str) -> Self {
        match reason {
            "stop" | "end_turn" | "stop_sequence" | "completed" | "eos" => FinishReason::Stop,
            "length" | "max_tokens" | "max_output_tokens" | "model_length" => FinishReason::Length,
            "content_filter" | "refusal" => FinishReason::ContentFilter,
            "tool_calls" | "tool_use" | "function_call" => FinishReason::ToolCalls,
            other => FinishReason::Other(other.to_owned()),
        }
    }
}

/// What a model stream yields. A stream ends after one `Finished` or one `Error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelEvent {
    TextDelta(String),
    /// One whole tool call, emitted when the wire says its arguments are complete.
    ToolCall(ToolCall),
    Usage(Usage),
    Finished {
        reason: FinishReason,
    },
    Error(ModelError),
}
