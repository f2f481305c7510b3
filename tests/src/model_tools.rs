//! Scripted replies that call tools, in each wire format as the real APIs stream them: text, then calls whose arguments arrive in pieces.

use serde_json::{Value, json};

use crate::model_server::{Reply, Wire};

/// A call the scripted model makes. `arguments` is the text as the model writes it, so it
/// may be broken JSON.
#[derive(Clone, Debug)]
pub struct ScriptedCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

impl ScriptedCall {
    pub fn new(id: &str, name: &str, arguments: &str) -> Self {
        ScriptedCall {
            id: id.to_owned(),
            name: name.to_owned(),
            arguments: arguments.to_owned(),
        }
    }
}

/// How many characters of argument text each delta carries.
const PIECE: usize = 5;

/// Cuts text into deltas of `PIECE` characters (never inside a character).
fn pieces(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(PIECE)
        .map(|c| c.iter().collect::<String>())
        .collect()
}

fn sse(event: Option<&str>, data: Value) -> Vec<u8> {
    let head = event.map(|e| format!("event: {e}\n")).unwrap_or_default();
    format!("{head}data: {data}\n\n").into_bytes()
}

impl Wire {
    /// A complete stream that writes `text` (one delta a piece), then makes `calls`, with usage
    /// `(12, 9)`. One element per event (SSE) or line (NDJSON).
    pub fn render_tool_calls(self, text: &[&str], calls: &[ScriptedCall]) -> Vec<Vec<u8>> {
        match self {
            Wire::OpenAi => openai(text, calls),
            Wire::Responses => responses(text, calls),
            Wire::Anthropic => anthropic(text, calls),
            Wire::Ollama => ollama(text, calls),
        }
    }

    /// The id a call of this wire comes back with: Ollama sends none, so the client numbers them.
    pub fn call_id(self, call: &ScriptedCall, ordinal: usize) -> String {
        match self {
            Wire::Ollama => format!("call_{ordinal}"),
            _ => call.id.clone(),
        }
    }
}

impl Reply {
    /// A 200 streaming `text`, then `calls`, in `wire`'s format.
    pub fn tool_calls(wire: Wire, text: &[&str], calls: &[ScriptedCall]) -> Reply {
        Reply::stream(wire, wire.render_tool_calls(text, calls))
    }
}

fn openai(text: &[&str], calls: &[ScriptedCall]) -> Vec<Vec<u8>> {
    let chunk = |delta: Value, finish: Value| {
        sse(
            None,
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
        )
    };
    let mut out = vec![chunk(
        json!({"role": "assistant", "content": null}),
        Value::Null,
    )];
    for t in text {
        out.push(chunk(json!({"content": t}), Value::Null));
    }
    for (index, call) in calls.iter().enumerate() {
        let start = json!({"tool_calls": [{"index": index, "id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": ""}}]});
        out.push(chunk(start, Value::Null));
        for piece in pieces(&call.arguments) {
            let delta = json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]});
            out.push(chunk(delta, Value::Null));
        }
    }
    out.push(chunk(json!({}), json!("tool_calls")));
    out.push(sse(
        None,
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [],
            "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}}),
    ));
    out.push(b"data: [DONE]\n\n".to_vec());
    out
}

fn responses(text: &[&str], calls: &[ScriptedCall]) -> Vec<Vec<u8>> {
    let mut out = vec![sse(
        Some("response.created"),
        json!({"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}}),
    )];
    let mut output_index = 0;
    if !text.is_empty() {
        let item = json!({"type": "message", "id": "msg_1", "role": "assistant", "content": []});
        out.push(sse(
            Some("response.output_item.added"),
            json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
        ));
        for t in text {
            let delta = json!({"type": "response.output_text.delta", "item_id": "msg_1",
                "output_index": 0, "content_index": 0, "delta": t});
            out.push(sse(Some("response.output_text.delta"), delta));
        }
        output_index = 1;
    }
    for call in calls {
        let item_id = format!("fc_{output_index}");
        let item = |arguments: &str, status: &str| {
            json!({"type": "function_call", "id": item_id, "call_id": call.id, "name": call.name,
                "arguments": arguments, "status": status})
        };
        out.push(sse(
            Some("response.output_item.added"),
            json!({"type": "response.output_item.added", "output_index": output_index,
                "item": item("", "in_progress")}),
        ));
        for piece in pieces(&call.arguments) {
            out.push(sse(
                Some("response.function_call_arguments.delta"),
                json!({"type": "response.function_call_arguments.delta", "item_id": item_id,
                    "output_index": output_index, "delta": piece}),
            ));
        }
        out.push(sse(
            Some("response.function_call_arguments.done"),
            json!({"type": "response.function_call_arguments.done", "item_id": item_id,
                "output_index": output_index, "arguments": call.arguments}),
        ));
        out.push(sse(
            Some("response.output_item.done"),
            json!({"type": "response.output_item.done", "output_index": output_index,
                "item": item(&call.arguments, "completed")}),
        ));
        output_index += 1;
    }
    let response = json!({"id": "resp_1", "status": "completed",
        "usage": {"input_tokens": 12, "output_tokens": 9, "total_tokens": 21}});
    out.push(sse(
        Some("response.completed"),
        json!({"type": "response.completed", "response": response}),
    ));
    out
}

fn anthropic(text: &[&str], calls: &[ScriptedCall]) -> Vec<Vec<u8>> {
    let start = json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
        "role": "assistant", "content": [], "model": "m", "stop_reason": null,
        "usage": {"input_tokens": 12, "output_tokens": 1}}});
    let mut out = vec![sse(Some("message_start"), start)];
    let mut index = 0;
    if !text.is_empty() {
        out.push(sse(
            Some("content_block_start"),
            json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}),
        ));
        for t in text {
            out.push(sse(
                Some("content_block_delta"),
                json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": t}}),
            ));
        }
        out.push(sse(
            Some("content_block_stop"),
            json!({"type": "content_block_stop", "index": 0}),
        ));
        index = 1;
    }
    for call in calls {
        out.push(sse(
            Some("content_block_start"),
            json!({"type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}}),
        ));
        // The API opens each input with an empty delta.
        let mut deltas = vec![String::new()];
        deltas.extend(pieces(&call.arguments));
        for piece in deltas {
            out.push(sse(
                Some("content_block_delta"),
                json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
        out.push(sse(
            Some("content_block_stop"),
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    out.push(sse(
        Some("message_delta"),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
            "usage": {"output_tokens": 9}}),
    ));
    out.push(sse(Some("message_stop"), json!({"type": "message_stop"})));
    out
}

/// Ollama parses the model's calls itself and sends them whole, arguments as an object. Text
/// that is not JSON is sent as a string, as OpenAI-compatible servers behind the native API do.
fn ollama(text: &[&str], calls: &[ScriptedCall]) -> Vec<Vec<u8>> {
    let line = |message: Value, done: bool| {
        let mut line = json!({"model": "m", "created_at": "2026-01-01T00:00:00Z",
            "message": message, "done": done});
        if done {
            line["done_reason"] = json!("stop");
            line["prompt_eval_count"] = json!(12);
            line["eval_count"] = json!(9);
        }
        format!("{line}\n").into_bytes()
    };
    let mut out: Vec<Vec<u8>> = text
        .iter()
        .map(|t| line(json!({"role": "assistant", "content": t}), false))
        .collect();
    if !calls.is_empty() {
        let calls: Vec<Value> = calls
            .iter()
            .map(|call| {
                let arguments = serde_json::from_str::<Value>(&call.arguments)
                    .unwrap_or_else(|_| Value::String(call.arguments.clone()));
                json!({"function": {"name": call.name, "arguments": arguments}})
            })
            .collect();
        out.push(line(
            json!({"role": "assistant", "content": "", "tool_calls": calls}),
            false,
        ));
    }
    out.push(line(json!({"role": "assistant", "content": ""}), true));
    out
}
