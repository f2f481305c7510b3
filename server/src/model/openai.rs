//! OpenAI Chat Completions (`/chat/completions`, SSE), which every OpenAI-compatible server also speaks.

use serde_json::{Value, json};

use super::decode::{Adapter, DecodeError, Frame, parse_json};
use std::collections::BTreeMap;

use super::tools::PendingCall;
use super::{
    Endpoint, FinishReason, Message, ModelEvent, ModelRequest, PredictedOutputs, ToolSpec, Usage,
};

pub(crate) const PATH: &str = "chat/completions";

/// How a chat API carries tool calls back: Chat Completions as a string with the call's id,
/// Ollama as an object, its results named by the tool.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChatFlavour {
    OpenAi,
    Ollama,
}

/// The chat messages, the system prompt first as a `system` message (Ollama's chat takes the
/// same list). A message without tool calls or results is exactly `{"role", "content"}`.
pub(crate) fn chat_messages(request: &ModelRequest, flavour: ChatFlavour) -> Vec<Value> {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.extend(request.messages.iter().map(|m| chat_message(m, flavour)));
    messages
}

fn chat_message(message: &Message, flavour: ChatFlavour) -> Value {
    let mut encoded = json!({"role": message.role, "content": message.content});
    if !message.tool_calls.is_empty() {
        let calls: Vec<Value> = message
            .tool_calls
            .iter()
            .map(|call| match flavour {
                ChatFlavour::OpenAi => json!({"id": call.id, "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_text()}}),
                ChatFlavour::Ollama => json!({"function": {"name": call.name,
                    "arguments": call.arguments_object()}}),
            })
            .collect();
        encoded["tool_calls"] = Value::Array(calls);
    }
    if let Some(answer) = &message.answers {
        match flavour {
            ChatFlavour::OpenAi => encoded["tool_call_id"] = json!(answer.call_id),
            ChatFlavour::Ollama => encoded["tool_name"] = json!(answer.name),
        }
    }
    encoded
}

/// The `tools` list of Chat Completions and Ollama's chat.
pub(crate) fn chat_tools(tools: &[ToolSpec]) -> Value {
    tools
        .iter()
        .map(|tool| {
            json!({"type": "function", "function": {"name": tool.name,
                "description": tool.description, "parameters": tool.parameters}})
        })
        .collect()
}

pub(crate) fn body(endpoint: &Endpoint, request: &ModelRequest) -> Value {
    let messages = chat_messages(request, ChatFlavour::OpenAi);
    let max = request
        .max_output_tokens
        .unwrap_or(endpoint.max_output_tokens);
    let mut body = json!({
        "model": endpoint.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let prediction = request
        .prediction
        .as_deref()
        .filter(|_| request.tools.is_empty() && takes_prediction(endpoint));
    // OpenAI's own API has renamed the limit and refuses the old name for newer models; the
    // compatible servers (vLLM, llama.cpp, LM Studio, Ollama) know `max_tokens`. OpenAI takes
    // no `max_completion_tokens` with a prediction: that request goes without a limit (its
    // answer is the region again, about the prediction's length).
    let limit = match (endpoint.base_url.contains("api.openai.com"), prediction) {
        (true, Some(_)) => None,
        (true, None) => Some("max_completion_tokens"),
        (false, _) => Some("max_tokens"),
    };
    if let Some(limit) = limit {
        body[limit] = json!(max);
    }
    if let Some(prediction) = prediction {
        body["prediction"] = json!({"type": "content", "content": prediction});
    }
    if !request.tools.is_empty() {
        body["tools"] = chat_tools(&request.tools);
    }
    body
}

/// Whether `endpoint` is sent a request's prediction (see [`PredictedOutputs`]). OpenAI takes
/// none with tools, and only for its gpt-4o and gpt-4.1 models.
pub(crate) fn takes_prediction(endpoint: &Endpoint) -> bool {
    match endpoint.predicted_outputs {
        PredictedOutputs::Off => false,
        PredictedOutputs::On => true,
        PredictedOutputs::Auto => {
            let own = reqwest::Url::parse(&endpoint.base_url)
                .is_ok_and(|url| url.host_str() == Some("api.openai.com"));
            let model = endpoint.model.to_ascii_lowercase();
            let family = model.starts_with("gpt-4o") || model.starts_with("gpt-4.1");
            // Those families' audio, realtime, search and speech models are not text chat.
            let special = ["audio", "realtime", "search", "transcribe", "tts"]
                .iter()
                .any(|word| model.contains(word));
            own && family && !special
        }
    }
}

/// Reads `chat.completion.chunk`s: deltas, a finish reason, an optional usage chunk, `[DONE]`.
/// Tool calls arrive in pieces under `delta.tool_calls`, keyed by `index`; they are whole when
/// the choice finishes.
#[derive(Default)]
pub(crate) struct ChatAdapter {
    finish: Option<FinishReason>,
    calls: BTreeMap<u64, PendingCall>,
    emitted: usize,
}

impl ChatAdapter {
    fn flush_calls(&mut self, out: &mut Vec<ModelEvent>) {
        for (_, call) in std::mem::take(&mut self.calls) {
            out.push(ModelEvent::ToolCall(call.finish(self.emitted)));
            self.emitted += 1;
        }
    }

    fn gather_calls(&mut self, deltas: &[Value]) {
        for delta in deltas {
            // Servers that stream one call at a time sometimes leave out the index.
            let index = delta
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(self.calls.len() as u64);
            let call = self.calls.entry(index).or_default();
            if let Some(id) = delta.get("id").and_then(Value::as_str) {
                call.id = Some(id.to_owned());
            }
            if let Some(name) = delta.pointer("/function/name").and_then(Value::as_str) {
                call.name.push_str(name);
            }
            if let Some(arguments) = delta.pointer("/function/arguments").and_then(Value::as_str) {
                call.arguments.push_str(arguments);
            }
        }
    }
}

impl Adapter for ChatAdapter {
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        let Frame::Sse { data, .. } = frame else {
            return Ok(());
        };
        if data.trim() == "[DONE]" {
            self.flush_calls(out);
            let reason = self.finish.take().unwrap_or(FinishReason::Stop);
            out.push(ModelEvent::Finished { reason });
            return Ok(());
        }
        let chunk = parse_json(&data)?;
        if let Some(error) = chunk.get("error") {
            return Err(DecodeError::Provider {
                message: error_message(error),
            });
        }
        if !chunk.is_object() {
            return Err(DecodeError::malformed(&data, "not a completion chunk"));
        }
        if let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) {
            if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str)
                && !text.is_empty()
            {
                out.push(ModelEvent::TextDelta(text.to_owned()));
            }
            if let Some(deltas) = choice
                .pointer("/delta/tool_calls")
                .and_then(Value::as_array)
            {
                self.gather_calls(deltas);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.flush_calls(out);
                self.finish = Some(FinishReason::from_wire(reason));
            }
        }
        push_usage(&chunk, out);
        Ok(())
    }

    fn on_end(&mut self, out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        finish(&mut self.finish, out)
    }
}

/// A chunk's `usage` (Chat Completions and the Completions API alike), when it has one.
pub(crate) fn push_usage(chunk: &Value, out: &mut Vec<ModelEvent>) {
    if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
        out.push(ModelEvent::Usage(Usage {
            input_tokens: usage.get("prompt_tokens").and_then(Value::as_u64),
            cached_input_tokens: usage
                .pointer("/prompt_tokens_details/cached_tokens")
                .and_then(Value::as_u64),
            output_tokens: usage.get("completion_tokens").and_then(Value::as_u64),
        }));
    }
}

/// The stream's end: its finish reason, if a chunk gave one. Some compatible servers end after
/// the chunk with a finish reason and never send `[DONE]`.
pub(crate) fn finish(
    reason: &mut Option<FinishReason>,
    out: &mut Vec<ModelEvent>,
) -> Result<(), DecodeError> {
    match reason.take() {
        Some(reason) => {
            out.push(ModelEvent::Finished { reason });
            Ok(())
        }
        None => Err(DecodeError::Incomplete {
            detail: "no finish reason and no [DONE]".to_owned(),
        }),
    }
}

/// The message of an OpenAI-style `{"error": …}` object (or string).
pub(crate) fn error_message(error: &Value) -> String {
    match error {
        Value::String(text) => text.clone(),
        _ => error
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| error.to_string()),
    }
}
