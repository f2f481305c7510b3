//! Anthropic Messages API (`/messages`, SSE with `message_start` … `message_stop`).

use serde_json::{Value, json};

use super::decode::{Adapter, DecodeError, Frame, parse_json};
use super::openai::error_message;
use super::tools::{PendingCall, ToolCall};
use super::{Endpoint, FinishReason, Message, ModelEvent, ModelRequest, Role, Usage};

pub(crate) const PATH: &str = "messages";
pub(crate) const VERSION: &str = "2023-06-01";

/// A cache breakpoint (`cache_control`) of the default lifetime.
fn ephemeral() -> Value {
    json!({"type": "ephemeral"})
}

pub(crate) fn body(endpoint: &Endpoint, request: &ModelRequest) -> Value {
    let messages = messages(&request.messages);
    let mut body = json!({
        "model": endpoint.model,
        "messages": messages,
        "max_tokens": request.max_output_tokens.unwrap_or(endpoint.max_output_tokens),
        "stream": true,
    });
    // Cache breakpoints: the system prompt (with the tools before it), and the end of the
    // stable part of a message that marks one. Anthropic caches the prefix up to each.
    if let Some(system) = &request.system {
        body["system"] = json!([{"type": "text", "text": system, "cache_control": ephemeral()}]);
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({"name": tool.name, "description": tool.description,
                    "input_schema": tool.parameters})
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

/// The messages: a plain one is `{"role", "content": text}`; an assistant's calls are
/// `tool_use` blocks after its text; results are `tool_result` blocks of a user message, the
/// results of one turn together in one message.
fn messages(messages: &[Message]) -> Vec<Value> {
    let mut encoded: Vec<Value> = Vec::with_capacity(messages.len());
    let mut results_open = false;
    for message in messages {
        if let (Role::Tool, Some(answer)) = (message.role, &message.answers) {
            let mut block = json!({"type": "tool_result", "tool_use_id": answer.call_id,
                "content": message.content});
            if answer.is_error {
                block["is_error"] = json!(true);
            }
            match encoded.last_mut() {
                Some(last) if results_open => {
                    if let Some(blocks) = last["content"].as_array_mut() {
                        blocks.push(block);
                    }
                }
                _ => encoded.push(json!({"role": "user", "content": [block]})),
            }
            results_open = true;
            continue;
        }
        results_open = false;
        if let Some((stable, changing)) = message.cache_split() {
            let mut blocks = vec![
                json!({"type": "text", "text": stable, "cache_control": ephemeral()}),
                json!({"type": "text", "text": changing}),
            ];
            blocks.extend(message.tool_calls.iter().map(tool_use));
            encoded.push(json!({"role": message.role, "content": blocks}));
            continue;
        }
        if message.tool_calls.is_empty() {
            encoded.push(json!({"role": message.role, "content": message.content}));
            continue;
        }
        let mut blocks = Vec::with_capacity(1 + message.tool_calls.len());
        if !message.content.is_empty() {
            blocks.push(json!({"type": "text", "text": message.content}));
        }
        blocks.extend(message.tool_calls.iter().map(tool_use));
        encoded.push(json!({"role": message.role, "content": blocks}));
    }
    encoded
}

fn tool_use(call: &ToolCall) -> Value {
    json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments_object()})
}

/// Reads the events. A tool call is a `tool_use` content block: opened with its id and name,
/// its input streamed as `input_json_delta`s, whole at `content_block_stop`.
#[derive(Default)]
pub(crate) struct MessagesAdapter {
    usage: Reported,
    stop_reason: Option<FinishReason>,
    /// The open `tool_use` blocks, by index, with the input their start carried.
    calls: Vec<(u64, PendingCall, Value)>,
    emitted: usize,
}

/// Usage as Anthropic counts it: `input_tokens` leaves out the prompt tokens read from the
/// cache and those written to it.
#[derive(Default, PartialEq, Eq)]
struct Reported {
    input: Option<u64>,
    cache_read: Option<u64>,
    cache_creation: Option<u64>,
    output: Option<u64>,
}

impl Reported {
    /// Takes the counts a `usage` object carries: `message_start`'s, then `message_delta`'s
    /// (cumulative, and often only `output_tokens`).
    fn read(&mut self, usage: &Value) {
        let fields = [
            ("input_tokens", &mut self.input),
            ("cache_read_input_tokens", &mut self.cache_read),
            ("cache_creation_input_tokens", &mut self.cache_creation),
            ("output_tokens", &mut self.output),
        ];
        for (name, slot) in fields {
            if let Some(count) = usage.get(name).and_then(Value::as_u64) {
                *slot = Some(count);
            }
        }
    }

    /// In OpenAI's terms: every prompt token in `input_tokens`, the cache reads as the cached part.
    fn usage(&self) -> Option<Usage> {
        if *self == Reported::default() {
            return None;
        }
        let parts = [self.input, self.cache_read, self.cache_creation];
        let input = parts
            .iter()
            .any(Option::is_some)
            .then(|| parts.iter().flatten().sum());
        Some(Usage {
            input_tokens: input,
            cached_input_tokens: self.cache_read,
            output_tokens: self.output,
        })
    }
}

impl MessagesAdapter {
    /// Emits a whole call. A call with no streamed input keeps the input its block started with.
    fn emit(&mut self, call: PendingCall, input: Value, out: &mut Vec<ModelEvent>) {
        let streamed = !call.arguments.trim().is_empty();
        let mut call = call.finish(self.emitted);
        if !streamed && input.is_object() {
            call.arguments = Ok(input);
        }
        out.push(ModelEvent::ToolCall(call));
        self.emitted += 1;
    }
}

impl Adapter for MessagesAdapter {
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        let Frame::Sse { event, data } = frame else {
            return Ok(());
        };
        let payload = parse_json(&data)?;
        let kind = payload
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(&event);
        match kind {
            "message_start" => {
                if let Some(usage) = payload.pointer("/message/usage") {
                    self.usage.read(usage);
                }
            }
            "content_block_delta"
                if payload.pointer("/delta/type").and_then(Value::as_str) == Some("text_delta") =>
            {
                let text = payload
                    .pointer("/delta/text")
                    .and_then(Value::as_str)
                    .ok_or_else(|| DecodeError::malformed(&data, "text_delta without text"))?;
                if !text.is_empty() {
                    out.push(ModelEvent::TextDelta(text.to_owned()));
                }
            }
            "content_block_start"
                if payload
                    .pointer("/content_block/type")
                    .and_then(Value::as_str)
                    == Some("tool_use") =>
            {
                let block = &payload["content_block"];
                let call = PendingCall {
                    id: block.get("id").and_then(Value::as_str).map(str::to_owned),
                    name: block
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    arguments: String::new(),
                };
                let index = payload.get("index").and_then(Value::as_u64).unwrap_or(0);
                let input = block.get("input").cloned().unwrap_or(Value::Null);
                self.calls.push((index, call, input));
            }
            "content_block_delta"
                if payload.pointer("/delta/type").and_then(Value::as_str)
                    == Some("input_json_delta") =>
            {
                let partial = payload
                    .pointer("/delta/partial_json")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        DecodeError::malformed(&data, "input_json_delta without partial_json")
                    })?;
                let index = payload.get("index").and_then(Value::as_u64);
                if let Some((_, call, _)) = self.calls.iter_mut().find(|c| Some(c.0) == index) {
                    call.arguments.push_str(partial);
                }
            }
            "content_block_stop" => {
                let index = payload.get("index").and_then(Value::as_u64);
                if let Some(at) = self.calls.iter().position(|c| Some(c.0) == index) {
                    let (_, call, input) = self.calls.remove(at);
                    self.emit(call, input, out);
                }
            }
            "message_delta" => {
                if let Some(reason) = payload
                    .pointer("/delta/stop_reason")
                    .and_then(Value::as_str)
                {
                    self.stop_reason = Some(FinishReason::from_wire(reason));
                }
                if let Some(usage) = payload.get("usage") {
                    self.usage.read(usage);
                }
            }
            "message_stop" => {
                for (_, call, input) in std::mem::take(&mut self.calls) {
                    self.emit(call, input, out);
                }
                if let Some(usage) = self.usage.usage() {
                    out.push(ModelEvent::Usage(usage));
                }
                let reason = self.stop_reason.take().unwrap_or(FinishReason::Stop);
                out.push(ModelEvent::Finished { reason });
            }
            "error" => {
                let error = payload.get("error").unwrap_or(&payload);
                let kind = error.get("type").and_then(Value::as_str).unwrap_or("error");
                return Err(DecodeError::Provider {
                    message: format!("{kind}: {}", error_message(error)),
                });
            }
            // ping, text blocks' starts and future events carry nothing we read.
            _ => {}
        }
        Ok(())
    }

    fn on_end(&mut self, _out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        Err(DecodeError::Incomplete {
            detail: "no message_stop event".to_owned(),
        })
    }
}
