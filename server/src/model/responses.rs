//! OpenAI Responses API (`/responses`): named SSE events, no `[DONE]`.

use serde_json::{Value, json};

use super::decode::{Adapter, DecodeError, Frame, parse_json};
use super::openai::error_message;
use super::{Endpoint, FinishReason, ModelEvent, ModelRequest, Usage};

pub(crate) const PATH: &str = "responses";

pub(crate) fn body(endpoint: &Endpoint, request: &ModelRequest) -> Value {
    let input: Vec<Value> = request
        .messages
        .iter()
        .map(|m| json!({"role": m.role, "content": m.content}))
        .collect();
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
    body
}

#[derive(Default)]
pub(crate) struct ResponsesAdapter;

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
            "response.completed" | "response.incomplete" => {
                let response = payload.get("response").unwrap_or(&Value::Null);
                if let Some(usage) = response.get("usage").filter(|u| u.is_object()) {
                    out.push(ModelEvent::Usage(Usage {
                        input_tokens: usage.get("input_tokens").and_then(Value::as_u64),
                        output_tokens: usage.get("output_tokens").and_then(Value::as_u64),
                    }));
                }
                let reason = if kind == "response.completed" {
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
