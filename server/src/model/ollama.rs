//! Ollama's native `/api/chat`: one JSON object a line, the last with `"done": true`.

use serde_json::{Value, json};

use super::decode::{Adapter, DecodeError, Frame, parse_json};
use super::openai::{ChatFlavour, chat_messages, chat_tools, error_message};
use super::tools::{ToolCall, parse_arguments};
use super::{Endpoint, FinishReason, ModelEvent, ModelRequest, Usage};

pub(crate) const PATH: &str = "api/chat";

/// The token counts of a last (`"done": true`) line, `/api/chat`'s and `/api/generate`'s alike.
/// Ollama says nothing of a prompt cache.
pub(crate) fn push_done_usage(chunk: &Value, out: &mut Vec<ModelEvent>) {
    let usage = Usage {
        input_tokens: chunk.get("prompt_eval_count").and_then(Value::as_u64),
        cached_input_tokens: None,
        output_tokens: chunk.get("eval_count").and_then(Value::as_u64),
    };
    if usage != Usage::default() {
        out.push(ModelEvent::Usage(usage));
    }
}

/// Why a last line says the answer stopped (`stop` when it does not say).
pub(crate) fn done_reason(chunk: &Value) -> FinishReason {
    chunk
        .get("done_reason")
        .and_then(Value::as_str)
        .map_or(FinishReason::Stop, FinishReason::from_wire)
}

pub(crate) fn body(endpoint: &Endpoint, request: &ModelRequest) -> Value {
    let messages = chat_messages(request, ChatFlavour::Ollama);
    let mut body = json!({
        "model": endpoint.model,
        "messages": messages,
        "stream": true,
        "options": {"num_predict": request.max_output_tokens.unwrap_or(endpoint.max_output_tokens)},
    });
    if !request.tools.is_empty() {
        body["tools"] = chat_tools(&request.tools);
    }
    body
}

/// One call as Ollama sends it: whole, its arguments an object (a string is parsed, for
/// compatible servers that send one).
fn tool_call(call: &Value, ordinal: usize) -> ToolCall {
    let arguments = match call.pointer("/function/arguments") {
        None | Some(Value::Null) => Ok(json!({})),
        Some(Value::String(text)) => parse_arguments(text),
        Some(value) => Ok(value.clone()),
    };
    ToolCall {
        id: call
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map_or_else(|| format!("call_{ordinal}"), str::to_owned),
        name: call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        arguments,
    }
}

/// Reads the lines; tool calls arrive whole in a line's `message.tool_calls`.
#[derive(Default)]
pub(crate) struct ChatAdapter {
    calls: usize,
}

impl Adapter for ChatAdapter {
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        let Frame::Line(line) = frame else {
            return Ok(());
        };
        let chunk = parse_json(&line)?;
        if let Some(error) = chunk.get("error") {
            return Err(DecodeError::Provider {
                message: error_message(error),
            });
        }
        let done = chunk
            .get("done")
            .and_then(Value::as_bool)
            .ok_or_else(|| DecodeError::malformed(&line, "no `done` field"))?;
        if let Some(text) = chunk.pointer("/message/content").and_then(Value::as_str)
            && !text.is_empty()
        {
            out.push(ModelEvent::TextDelta(text.to_owned()));
        }
        if let Some(calls) = chunk
            .pointer("/message/tool_calls")
            .and_then(Value::as_array)
        {
            for call in calls {
                out.push(ModelEvent::ToolCall(tool_call(call, self.calls)));
                self.calls += 1;
            }
        }
        if done {
            push_done_usage(&chunk, out);
            let reason = done_reason(&chunk);
            // Ollama says `stop` after calls; the answer is waiting for their results.
            let reason = match reason {
                FinishReason::Stop if self.calls > 0 => FinishReason::ToolCalls,
                other => other,
            };
            out.push(ModelEvent::Finished { reason });
        }
        Ok(())
    }

    fn on_end(&mut self, _out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        Err(DecodeError::Incomplete {
            detail: "no line with \"done\": true".to_owned(),
        })
    }
}
