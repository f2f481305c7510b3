//! Ollama's native `/api/chat`: one JSON object a line, the last with `"done": true`.

use serde_json::{Value, json};

use super::decode::{Adapter, DecodeError, Frame, parse_json};
use super::openai::{chat_messages, error_message};
use super::{Endpoint, FinishReason, ModelEvent, ModelRequest, Usage};

pub(crate) const PATH: &str = "api/chat";

pub(crate) fn body(endpoint: &Endpoint, request: &ModelRequest) -> Value {
    let messages = chat_messages(request);
    json!({
        "model": endpoint.model,
        "messages": messages,
        "stream": true,
        "options": {"num_predict": request.max_output_tokens.unwrap_or(endpoint.max_output_tokens)},
    })
}

#[derive(Default)]
pub(crate) struct ChatAdapter;

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
        if done {
            let usage = Usage {
                input_tokens: chunk.get("prompt_eval_count").and_then(Value::as_u64),
                output_tokens: chunk.get("eval_count").and_then(Value::as_u64),
            };
            if usage != Usage::default() {
                out.push(ModelEvent::Usage(usage));
            }
            let reason = chunk
                .get("done_reason")
                .and_then(Value::as_str)
                .map_or(FinishReason::Stop, FinishReason::from_wire);
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
