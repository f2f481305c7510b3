//! Tool calls through every provider: what a request with tools and tool results sends, the
//! calls a stream yields (whole, broken arguments included), under any chunking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::{Value, json};
use tandem::model::{
    Decoder, FinishReason, Message, ModelClient, ModelEvent, ModelRequest, ToolCall, ToolSpec,
    Usage,
};
use tandem_tests::model_server::{ModelServer, Reply, Wire, collect};
use tandem_tests::model_tools::ScriptedCall;
use tokio_util::sync::CancellationToken;

const TEXT: &[&str] = &["Let me ", "look: 日本 🎉"];

fn calls() -> Vec<ScriptedCall> {
    vec![
        ScriptedCall::new(
            "call_read",
            "read_file",
            r#"{"path": "src/main.rs", "range": [1, 20], "note": "naïve \"quoted\""}"#,
        ),
        ScriptedCall::new("call_list", "list_dir", "{}"),
        // The model lost its way inside a string.
        ScriptedCall::new("call_bad", "read_file", r#"{"path": "src/li"#),
    ]
}

fn tools() -> Vec<ToolSpec> {
    vec![ToolSpec {
        name: "read_file".into(),
        description: "Reads a file of the workspace.".into(),
        parameters: json!({"type": "object", "properties": {"path": {"type": "string"}},
            "required": ["path"]}),
    }]
}

/// The calls `wire` should yield for [`calls`].
fn expected_calls(wire: Wire) -> Vec<ToolCall> {
    calls()
        .iter()
        .enumerate()
        .map(|(i, call)| ToolCall {
            id: wire.call_id(call, i),
            name: call.name.clone(),
            arguments: serde_json::from_str::<Value>(&call.arguments).map_err(|e| {
                tandem::model::BadArguments {
                    raw: call.arguments.clone(),
                    error: e.to_string(),
                }
            }),
        })
        .collect()
}

fn expected_events(wire: Wire) -> Vec<ModelEvent> {
    let mut events: Vec<ModelEvent> = TEXT
        .iter()
        .map(|t| ModelEvent::TextDelta((*t).to_owned()))
        .collect();
    events.extend(expected_calls(wire).into_iter().map(ModelEvent::ToolCall));
    events.push(ModelEvent::Usage(Usage {
        input_tokens: Some(12),
        cached_input_tokens: None,
        output_tokens: Some(9),
    }));
    events.push(ModelEvent::Finished {
        reason: FinishReason::ToolCalls,
    });
    events
}

fn decode(wire: Wire, chunks: &[&[u8]]) -> Vec<ModelEvent> {
    let mut decoder = Decoder::new(wire.provider());
    let mut events = Vec::new();
    for chunk in chunks {
        decoder
            .push(Bytes::copy_from_slice(chunk), &mut events)
            .unwrap();
    }
    decoder.finish(&mut events).unwrap();
    events
}

fn split_at<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut chunks = Vec::new();
    let mut start = 0;
    for cut in cuts {
        chunks.push(&bytes[start..cut]);
        start = cut;
    }
    chunks.push(&bytes[start..]);
    chunks
}

#[test]
fn tool_call_streams_decode_to_whole_calls() {
    for wire in Wire::ALL {
        let bytes = wire.render_tool_calls(TEXT, &calls()).concat();
        assert_eq!(decode(wire, &[&bytes]), expected_events(wire), "{wire:?}");
    }
}

#[test]
fn calls_without_text_decode_too() {
    for wire in Wire::ALL {
        let one = &calls()[..1];
        let bytes = wire.render_tool_calls(&[], one).concat();
        let events = decode(wire, &[&bytes]);
        assert_eq!(
            events[0],
            ModelEvent::ToolCall(expected_calls(wire).remove(0)),
            "{wire:?}"
        );
        assert_eq!(
            events.last(),
            Some(&ModelEvent::Finished {
                reason: FinishReason::ToolCalls
            }),
            "{wire:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_rechunking_of_a_tool_call_stream_gives_the_same_events(
        wire in prop::sample::select(Wire::ALL.to_vec()),
        cuts in prop::collection::vec(any::<usize>(), 0..64),
    ) {
        let bytes = wire.render_tool_calls(TEXT, &calls()).concat();
        let pieces = split_at(&bytes, &cuts);
        prop_assert_eq!(decode(wire, &pieces), expected_events(wire));
    }
}

#[tokio::test]
async fn every_provider_offers_tools_and_returns_the_calls() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::tool_calls(wire, TEXT, &calls()));
        let client = ModelClient::new(server.endpoint(wire)).unwrap();
        let request = ModelRequest {
            system: Some("Use the tools.".into()),
            messages: vec![Message::user("What is in main.rs?")],
            max_output_tokens: None,
            tools: tools(),
            prediction: None,
        };
        let done = client
            .stream(&request, CancellationToken::new())
            .complete()
            .await
            .unwrap();
        assert_eq!(done.text, TEXT.concat(), "{wire:?}");
        assert_eq!(done.tool_calls, expected_calls(wire), "{wire:?}");
        assert_eq!(done.reason, FinishReason::ToolCalls, "{wire:?}");
        let sent = &server.requests()[0].body;
        let schema = json!({"type": "object", "properties": {"path": {"type": "string"}},
            "required": ["path"]});
        let expected_tools = match wire {
            Wire::OpenAi | Wire::Ollama => json!([{"type": "function", "function": {
                "name": "read_file", "description": "Reads a file of the workspace.",
                "parameters": schema}}]),
            Wire::Responses => json!([{"type": "function", "name": "read_file",
                "description": "Reads a file of the workspace.", "parameters": schema,
                "strict": false}]),
            Wire::Anthropic => json!([{"name": "read_file",
                "description": "Reads a file of the workspace.", "input_schema": schema}]),
        };
        assert_eq!(sent["tools"], expected_tools, "{wire:?}");
    }
}

#[tokio::test]
async fn events_stream_in_order_and_a_broken_call_does_not_fail_the_stream() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::tool_calls(wire, TEXT, &calls()));
        let client = ModelClient::new(server.endpoint(wire)).unwrap();
        let request = ModelRequest {
            messages: vec![Message::user("Go")],
            tools: tools(),
            prediction: None,
            ..ModelRequest::default()
        };
        let events = collect(client.stream(&request, CancellationToken::new())).await;
        assert_eq!(events, expected_events(wire), "{wire:?}");
        let ModelEvent::ToolCall(bad) = &events[TEXT.len() + 2] else {
            panic!("{wire:?}: {events:?}");
        };
        let error = bad.arguments.as_ref().unwrap_err();
        assert_eq!(error.raw, r#"{"path": "src/li"#, "{wire:?}");
        assert!(error.to_string().contains("not valid JSON"), "{error}");
    }
}

/// A conversation that went through one round of calls, as each API wants it back.
fn round_trip() -> ModelRequest {
    let good = ToolCall {
        id: "call_1".into(),
        name: "read_file".into(),
        arguments: Ok(json!({"path": "a.rs"})),
    };
    let bad = ToolCall {
        id: "call_2".into(),
        name: "read_file".into(),
        arguments: Err(tandem::model::BadArguments {
            raw: "{\"path\": ".into(),
            error: "EOF while parsing a value".into(),
        }),
    };
    ModelRequest {
        system: None,
        messages: vec![
            Message::user("Read a.rs"),
            Message::assistant_calls("Reading.", vec![good.clone(), bad.clone()]),
            Message::tool_result(&good, "fn main() {}", false),
            Message::tool_result(&bad, "the arguments are not valid JSON", true),
        ],
        max_output_tokens: None,
        tools: tools(),
        prediction: None,
    }
}

#[tokio::test]
async fn tool_calls_and_results_are_sent_back_as_each_api_wants() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::text(wire, &["ok"]));
        let client = ModelClient::new(server.endpoint(wire)).unwrap();
        collect(client.stream(&round_trip(), CancellationToken::new())).await;
        let body = server.requests()[0].body.clone();
        let (key, expected) = match wire {
            Wire::OpenAi => (
                "messages",
                json!([
                    {"role": "user", "content": "Read a.rs"},
                    {"role": "assistant", "content": "Reading.", "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"a.rs\"}"}},
                        {"id": "call_2", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\": "}}]},
                    {"role": "tool", "content": "fn main() {}", "tool_call_id": "call_1"},
                    {"role": "tool", "content": "the arguments are not valid JSON", "tool_call_id": "call_2"},
                ]),
            ),
            Wire::Responses => (
                "input",
                json!([
                    {"role": "user", "content": "Read a.rs"},
                    {"role": "assistant", "content": "Reading."},
                    {"type": "function_call", "call_id": "call_1", "name": "read_file", "arguments": "{\"path\":\"a.rs\"}"},
                    {"type": "function_call", "call_id": "call_2", "name": "read_file", "arguments": "{\"path\": "},
                    {"type": "function_call_output", "call_id": "call_1", "output": "fn main() {}"},
                    {"type": "function_call_output", "call_id": "call_2", "output": "the arguments are not valid JSON"},
                ]),
            ),
            Wire::Anthropic => (
                "messages",
                json!([
                    {"role": "user", "content": "Read a.rs"},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": "Reading."},
                        {"type": "tool_use", "id": "call_1", "name": "read_file", "input": {"path": "a.rs"}},
                        {"type": "tool_use", "id": "call_2", "name": "read_file", "input": {}}]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "call_1", "content": "fn main() {}"},
                        {"type": "tool_result", "tool_use_id": "call_2", "content": "the arguments are not valid JSON", "is_error": true}]},
                ]),
            ),
            Wire::Ollama => (
                "messages",
                json!([
                    {"role": "user", "content": "Read a.rs"},
                    {"role": "assistant", "content": "Reading.", "tool_calls": [
                        {"function": {"name": "read_file", "arguments": {"path": "a.rs"}}},
                        {"function": {"name": "read_file", "arguments": {}}}]},
                    {"role": "tool", "content": "fn main() {}", "tool_name": "read_file"},
                    {"role": "tool", "content": "the arguments are not valid JSON", "tool_name": "read_file"},
                ]),
            ),
        };
        assert_eq!(body[key], expected, "{wire:?}");
    }
}

#[tokio::test]
async fn without_tools_no_tool_field_is_sent() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::text(wire, &["ok"]));
        let client = ModelClient::new(server.endpoint(wire)).unwrap();
        let request = ModelRequest {
            messages: vec![Message::user("hi"), Message::assistant("hello")],
            ..ModelRequest::default()
        };
        collect(client.stream(&request, CancellationToken::new())).await;
        let body = server.requests()[0].body.clone();
        assert_eq!(body.get("tools"), None, "{wire:?}");
        let messages = if wire == Wire::Responses {
            &body["input"]
        } else {
            &body["messages"]
        };
        assert_eq!(
            messages,
            &json!([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]),
            "{wire:?}"
        );
    }
}
