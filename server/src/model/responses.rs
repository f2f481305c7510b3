//! OpenAI Responses API (`/responses`): named SSE events, no `[DONE]`.

use serde_json::{Value, json};

use super::decode::{Adapter, DecodeError, Frame, parse_json};
use super::openai::error_message;
use super::tools::PendingCall;
use super::{Endpoint, FinishReason, Message, ModelEvent, ModelRequest, Role, Usage};

pub(crate) const PATH: &str = "responses";

pub(crate) fn body(endpoint: &Endpoint, request: &ModelRequest) -> Value {
    let input: Vec<Value> = request.messages.iter().flat_map(input_items).collect();
    let mut body = json!({
        "model": endpoint.model,
        "input": input,
        "stream": true,
        "store": false,
        "max_output_tokens": request.max_output_tokens.unwrap_or(endpoint.max_output_tokens),
    });
    if let Some(system) = &request.system {
        body["instructions"] = json!(system);
    }
    if !request.tools.is_empty() {
        // Not strict: a strict schema must list every property as required and forbid others,
        // which a tool's ordinary JSON Schema need not do.
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "name": tool.name, "description": tool.description,
                    "parameters": tool.parameters, "strict": false})
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

/// A message as input items: a plain message is `{"role", "content"}`; an assistant's calls
/// follow its text as `function_call` items; a tool result is a `function_call_output`.
fn input_items(message: &Message) -> Vec<Value> {
    if let (Role::Tool, Some(answer)) = (message.role, &message.answers) {
        return vec![
            json!({"type": "function_call_output", "call_id": answer.call_id,
            "output": message.content}),
        ];
    }
    let mut items = Vec::with_capacity(1 + message.tool_calls.len());
    if message.tool_calls.is_empty() || !message.content.is_empty() {
        items.push(json!({"role": message.role, "content": message.content}));
    }
    items.extend(message.tool_calls.iter().map(|call| {
        json!({"type": "function_call", "call_id": call.id, "name": call.name,
            "arguments": call.arguments_text()})
    }));
    items
}

/// Reads the named events. A function call is an output item: announced by
/// `response.output_item.added`, its arguments streamed by `response.function_call_arguments.delta`,
/// whole at `response.output_item.done`.
#[derive(Default)]
pub(crate) struct ResponsesAdapter {
    /// Calls under way, by item id, in the order they were announced.
    calls: Vec<(String, PendingCall)>,
    emitted: usize,
}

impl ResponsesAdapter {
    fn call(&mut self, payload: &Value) -> Option<&mut PendingCall> {
        let item = payload.get("item_id").and_then(Value::as_str)?;
        self.calls
            .iter_mut()
            .find(|(id, _)| id == item)
            .map(|(_, call)| call)
    }

    /// Emits the call `item` finishes, with the item's own arguments when it carries them.
    fn finish_call(&mut self, item: &Value, out: &mut Vec<ModelEvent>) {
        let item_id = item.get("id").and_then(Value::as_str).unwrap_or_default();
        let mut call = match self.calls.iter().position(|(id, _)| id == item_id) {
            Some(at) => self.calls.remove(at).1,
            None => PendingCall::default(),
        };
        if let Some(call_id) = item.get("call_id").and_then(Value::as_str) {
            call.id = Some(call_id.to_owned());
        }
        if let Some(name) = item.get("name").and_then(Value::as_str) {
            call.name = name.to_owned();
        }
        if let Some(arguments) = item.get("arguments").and_then(Value::as_str) {
            call.arguments = arguments.to_owned();
        }
        out.push(ModelEvent::ToolCall(call.finish(self.emitted)));
        self.emitted += 1;
    }
}

impl Adapter for ResponsesAdapter {
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
            "response.output_text.delta" => {
                let delta = payload
                    .get("delta")
                    .and_then(Value::as_str)
                    .ok_or_else(|| DecodeError::malformed(&data, "delta without text"))?;
                if !delta.is_empty() {
                    out.push(ModelEvent::TextDelta(delta.to_owned()));
                }
            }
            "response.output_item.added" if is_function_call(&payload) => {
                let item = &payload["item"];
                let call = PendingCall {
                    id: item
                        .get("call_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    name: item
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    arguments: item
                        .get("arguments")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                };
                let item_id = item.get("id").and_then(Value::as_str).unwrap_or_default();
                self.calls.push((item_id.to_owned(), call));
            }
            "response.function_call_arguments.delta" => {
                let delta = payload
                    .get("delta")
                    .and_then(Value::as_str)
                    .ok_or_else(|| DecodeError::malformed(&data, "arguments delta without text"))?;
                if let Some(call) = self.call(&payload) {
                    call.arguments.push_str(delta);
                }
            }
            "response.output_item.done" if is_function_call(&payload) => {
                self.finish_call(&payload["item"], out);
            }
            "response.completed" | "response.incomplete" => {
                let response = payload.get("response").unwrap_or(&Value::Null);
                if let Some(usage) = response.get("usage").filter(|u| u.is_object()) {
                    out.push(ModelEvent::Usage(Usage {
                        input_tokens: usage.get("input_tokens").and_then(Value::as_u64),
                        cached_input_tokens: usage
                            .pointer("/input_tokens_details/cached_tokens")
                            .and_then(Value::as_u64),
                        output_tokens: usage.get("output_tokens").and_then(Value::as_u64),
                    }));
                }
                // Calls whose item never said it was done are as whole as they will get.
                for (item_id, _) in self.calls.clone() {
                    self.finish_call(&json!({"id": item_id}), out);
                }
                // The API has no reason of its own for stopping at calls.
                let reason = if kind == "response.completed" && self.emitted > 0 {
                    FinishReason::ToolCalls
                } else if kind == "response.completed" {
                    FinishReason::Stop
                } else {
                    response
                        .pointer("/incomplete_details/reason")
                        .and_then(Value::as_str)
                        .map_or(FinishReason::Length, FinishReason::from_wire)
                };
                out.push(ModelEvent::Finished { reason });
            }
            "response.failed" => {
                let message = payload
                    .pointer("/response/error")
                    .filter(|e| !e.is_null())
                    .map_or_else(|| "the response failed".to_owned(), error_message);
                return Err(DecodeError::Provider { message });
            }
            "error" => {
                let message = payload
                    .get("error")
                    .map_or_else(|| error_message(&payload), error_message);
                return Err(DecodeError::Provider { message });
            }
            _ => {}
        }
        Ok(())
    }

    fn on_end(&mut self, _out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        Err(DecodeError::Incomplete {
            detail: "no response.completed event".to_owned(),
        })
    }
}

fn is_function_call(payload: &Value) -> bool {
    payload.pointer("/item/type").and_then(Value::as_str) == Some("function_call")
}
