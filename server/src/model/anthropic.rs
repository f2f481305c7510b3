//! Anthropic Messages API (`/messages`, SSE with `message_start` … `message_stop`).

use serde_json::{Value, json};

use super::decode::{Adapter, DecodeError, Frame, parse_json};
use super::openai::error_message;
use super::{Endpoint, FinishReason, ModelEvent, ModelRequest, Usage};

pub(crate) const PATH: &str = "messages";
pub(crate) const VERSION: &str = "2023-06-01";

pub(crate) fn body(endpoint: &Endpoint, request: &ModelRequest) -> Value {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|m| json!({"role": m.role, "content": m.content}))
        .collect();
    let mut body = json!({
        "model": endpoint.model,
        "messages": messages,
        "max_tokens": request.max_output_tokens.unwrap_or(endpoint.max_output_tokens),
        "stream": true,
    });
    if let Some(system) = &request.system {
        body["system"] = json!(system);
    }
    body
}

#[derive(Default)]
pub(crate) struct MessagesAdapter {
    usage: Usage,
    stop_reason: Option<FinishReason>,
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
                let usage = payload.pointer("/message/usage");
                self.usage.input_tokens = usage
                    .and_then(|u| u.get("input_tokens"))
                    .and_then(Value::as_u64);
                self.usage.output_tokens = usage
                    .and_then(|u| u.get("output_tokens"))
                    .and_then(Value::as_u64);
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
            "message_delta" => {
                if let Some(reason) = payload
                    .pointer("/delta/stop_reason")
                    .and_then(Value::as_str)
                {
                    self.stop_reason = Some(FinishReason::from_wire(reason));
                }
                if let Some(output) = payload
                    .pointer("/usage/output_tokens")
                    .and_then(Value::as_u64)
                {
                    self.usage.output_tokens = Some(output);
                }
                if let Some(input) = payload
                    .pointer("/usage/input_tokens")
                    .and_then(Value::as_u64)
                {
                    self.usage.input_tokens = Some(input);
                }
            }
            "message_stop" => {
                if self.usage != Usage::default() {
                    out.push(ModelEvent::Usage(self.usage));
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
            // ping, content_block_start, content_block_stop and future events carry no text.
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
