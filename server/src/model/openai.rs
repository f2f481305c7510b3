//! OpenAI Chat Completions (`/chat/completions`, SSE), which every OpenAI-compatible server also speaks.

use serde_json::{Value, json};

use super::decode::{Adapter, DecodeError, Frame, parse_json};
use super::{Endpoint, FinishReason, ModelEvent, ModelRequest, Usage};

pub(crate) const PATH: &str = "chat/completions";

/// The chat messages, the system prompt first as a `system` message (Ollama's chat takes the
/// same list).
pub(crate) fn chat_messages(request: &ModelRequest) -> Vec<Value> {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    messages.extend(
        request
            .messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content})),
    );
    messages
}

pub(crate) fn body(endpoint: &Endpoint, request: &ModelRequest) -> Value {
    let messages = chat_messages(request);
    let max = request
        .max_output_tokens
        .unwrap_or(endpoint.max_output_tokens);
    let mut body = json!({
        "model": endpoint.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    // OpenAI's own API has renamed the limit and refuses the old name for newer models; the
    // compatible servers (vLLM, llama.cpp, LM Studio, Ollama) know `max_tokens`.
    let limit = if endpoint.base_url.contains("api.openai.com") {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    body[limit] = json!(max);
    body
}

/// Reads `chat.completion.chunk`s: deltas, a finish reason, an optional usage chunk, `[DONE]`.
#[derive(Default)]
pub(crate) struct ChatAdapter {
    finish: Option<FinishReason>,
}

impl Adapter for ChatAdapter {
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        let Frame::Sse { data, .. } = frame else {
            return Ok(());
        };
        if data.trim() == "[DONE]" {
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
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish = Some(FinishReason::from_wire(reason));
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            out.push(ModelEvent::Usage(Usage {
                input_tokens: usage.get("prompt_tokens").and_then(Value::as_u64),
                output_tokens: usage.get("completion_tokens").and_then(Value::as_u64),
            }));
        }
        Ok(())
    }

    fn on_end(&mut self, out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        // Some compatible servers end after the chunk with a finish reason and never send `[DONE]`.
        match self.finish.take() {
            Some(reason) => {
                out.push(ModelEvent::Finished { reason });
                Ok(())
            }
            None => Err(DecodeError::Incomplete {
                detail: "no finish reason and no [DONE]".to_owned(),
            }),
        }
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
