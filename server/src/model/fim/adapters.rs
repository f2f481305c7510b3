//! Reading the three FIM answers: Completions chunks, Ollama's generate lines, llama.cpp's infill events.

use serde_json::Value;

use super::FimWire;
use crate::model::decode::{Adapter, DecodeError, Decoder, Frame, parse_json};
use crate::model::ollama::{done_reason, push_done_usage};
use crate::model::openai::{error_message, finish, push_usage};
use crate::model::{FinishReason, ModelEvent, Usage};

pub(super) fn decoder(wire: FimWire) -> Decoder {
    match wire {
        FimWire::OpenAiCompletions => {
            Decoder::with_adapter(false, Box::<CompletionsAdapter>::default())
        }
        FimWire::Ollama => Decoder::with_adapter(true, Box::<GenerateAdapter>::default()),
        FimWire::LlamaCppInfill => Decoder::with_adapter(false, Box::<InfillAdapter>::default()),
    }
}

/// An `{"error": …}` chunk is the provider's error, on every wire.
fn provider_error(chunk: &Value) -> Result<(), DecodeError> {
    match chunk.get("error") {
        Some(error) => Err(DecodeError::Provider {
            message: error_message(error),
        }),
        None => Ok(()),
    }
}

fn push_text(out: &mut Vec<ModelEvent>, text: Option<&str>) {
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        out.push(ModelEvent::TextDelta(text.to_owned()));
    }
}

/// `text_completion` chunks: `choices[0].text`, a `finish_reason`, an optional usage chunk,
/// `data: [DONE]`. Like chat, a stream that ends after the finish reason without `[DONE]`
/// counts as whole.
#[derive(Default)]
struct CompletionsAdapter {
    finish: Option<FinishReason>,
}

impl Adapter for CompletionsAdapter {
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
        provider_error(&chunk)?;
        if !chunk.is_object() {
            return Err(DecodeError::malformed(&data, "not a completion chunk"));
        }
        if let Some(choice) = chunk.get("choices").and_then(|c| c.get(0)) {
            push_text(out, choice.get("text").and_then(Value::as_str));
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
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

/// Ollama's `/api/generate` lines: `response` deltas; the last line has `"done": true`, a
/// `done_reason` and the token counts.
#[derive(Default)]
struct GenerateAdapter;

impl Adapter for GenerateAdapter {
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        let Frame::Line(line) = frame else {
            return Ok(());
        };
        let chunk = parse_json(&line)?;
        provider_error(&chunk)?;
        let done = chunk
            .get("done")
            .and_then(Value::as_bool)
            .ok_or_else(|| DecodeError::malformed(&line, "no `done` field"))?;
        push_text(out, chunk.get("response").and_then(Value::as_str));
        if done {
            push_done_usage(&chunk, out);
            out.push(ModelEvent::Finished {
                reason: done_reason(&chunk),
            });
        }
        Ok(())
    }

    fn on_end(&mut self, _out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        Err(DecodeError::Incomplete {
            detail: "no line with \"done\": true".to_owned(),
        })
    }
}

/// llama.cpp's `/infill` events (its native `/completion` format): `content` deltas; the last
/// has `"stop": true`, why it stopped (`stop_type`: `eos`, `word`, `limit`; older servers say
/// `stopped_limit: true`), and the token counts.
#[derive(Default)]
struct InfillAdapter;

impl Adapter for InfillAdapter {
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        let Frame::Sse { data, .. } = frame else {
            return Ok(());
        };
        // Not sent by llama.cpp's native endpoints, but harmless from a proxy that adds it.
        if data.trim() == "[DONE]" {
            return Ok(());
        }
        let chunk = parse_json(&data)?;
        provider_error(&chunk)?;
        if !chunk.is_object() {
            return Err(DecodeError::malformed(&data, "not an infill chunk"));
        }
        push_text(out, chunk.get("content").and_then(Value::as_str));
        if chunk.get("stop").and_then(Value::as_bool) == Some(true) {
            let usage = Usage {
                input_tokens: chunk.get("tokens_evaluated").and_then(Value::as_u64),
                cached_input_tokens: None,
                output_tokens: chunk.get("tokens_predicted").and_then(Value::as_u64),
            };
            if usage != Usage::default() {
                out.push(ModelEvent::Usage(usage));
            }
            let limit = chunk.get("stopped_limit").and_then(Value::as_bool) == Some(true);
            let reason = match chunk.get("stop_type").and_then(Value::as_str) {
                Some("limit") => FinishReason::Length,
                Some("eos" | "word" | "none") => FinishReason::Stop,
                Some(other) => FinishReason::from_wire(other),
                None if limit => FinishReason::Length,
                None => FinishReason::Stop,
            };
            out.push(ModelEvent::Finished { reason });
        }
        Ok(())
    }

    fn on_end(&mut self, _out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        Err(DecodeError::Incomplete {
            detail: "no event with \"stop\": true".to_owned(),
        })
    }
}
