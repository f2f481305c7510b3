//! Unit tests of the adapters' reading of tool calls: the cases the scripted server does not play (interleaved calls, missing ids, input only at the start or the end).

use bytes::Bytes;

use super::{Decoder, FinishReason, ModelEvent, Provider};

/// Decodes `stream` whole and writes each event in one short line.
fn events(provider: Provider, stream: &str) -> Vec<String> {
    let mut decoder = Decoder::new(provider);
    let mut out = Vec::new();
    decoder
        .push(Bytes::copy_from_slice(stream.as_bytes()), &mut out)
        .unwrap();
    decoder.finish(&mut out).unwrap();
    out.into_iter()
        .map(|event| match event {
            ModelEvent::TextDelta(text) => format!("text {text}"),
            ModelEvent::ToolCall(call) => match call.arguments {
                Ok(value) => format!("call {} {} {value}", call.id, call.name),
                Err(bad) => format!("call {} {} broken {}", call.id, call.name, bad.raw),
            },
            ModelEvent::Usage(_) => "usage".to_owned(),
            ModelEvent::Finished { reason } => format!("finished {reason:?}"),
            ModelEvent::Error(error) => format!("error {error}"),
        })
        .collect()
}

fn check(provider: Provider, stream: &str, expected: &[&str]) {
    assert_eq!(events(provider, stream), expected, "{provider}: {stream}");
}

#[test]
fn openai_calls_interleaved_by_index_without_ids() {
    let chunk = |delta: &str| format!("data: {{\"choices\":[{{\"delta\":{delta}}}]}}\n\n");
    let stream = [
        chunk(r#"{"tool_calls":[{"index":0,"function":{"name":"a","arguments":"{\"x\""}}]}"#),
        chunk(r#"{"tool_calls":[{"index":1,"function":{"name":"b","arguments":"{"}}]}"#),
        chunk(r#"{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}"#),
        chunk(r#"{"tool_calls":[{"index":1,"function":{"arguments":"}"}}]}"#),
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n".to_owned(),
    ]
    .concat();
    check(
        Provider::OpenAi,
        &stream,
        &[
            r#"call call_0 a {"x":1}"#,
            "call call_1 b {}",
            "finished ToolCalls",
        ],
    );
}

#[test]
fn openai_calls_are_flushed_by_done_without_a_finish_reason() {
    let stream = concat!(
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":{\"name\":\"a\",\"arguments\":\"\"}}]}}]}\n\n",
        "data: [DONE]\n\n",
    );
    check(Provider::OpenAi, stream, &["call c a {}", "finished Stop"]);
}

#[test]
fn anthropic_keeps_the_start_input_and_reads_text_after_a_call() {
    let stream = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"a\",\"input\":{\"k\":true}}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"after\"}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"b\",\"input\":{}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"[1,\"}}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    // The second block never stopped: it is emitted at the end of the message, broken.
    check(
        Provider::Anthropic,
        stream,
        &[
            r#"call toolu_1 a {"k":true}"#,
            "text after",
            "call toolu_2 b broken [1,",
            "usage",
            "finished ToolCalls",
        ],
    );
}

#[test]
fn responses_reads_arguments_from_the_done_item() {
    let stream = concat!(
        "event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_9\",\"name\":\"a\",\"arguments\":\"\"}}\n\n",
        "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_9\",\"name\":\"a\",\"arguments\":\"{\\\"y\\\":2}\"}}\n\n",
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{}}\n\n",
    );
    check(
        Provider::OpenAiResponses,
        stream,
        &[r#"call call_9 a {"y":2}"#, "finished ToolCalls"],
    );
}

#[test]
fn responses_without_calls_still_stops() {
    let stream =
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{}}\n\n";
    check(Provider::OpenAiResponses, stream, &["finished Stop"]);
}

#[test]
fn ollama_takes_ids_and_string_arguments_when_a_server_sends_them() {
    let stream = concat!(
        "{\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[",
        "{\"id\":\"x1\",\"function\":{\"name\":\"a\",\"arguments\":\"{\\\"z\\\":3}\"}},",
        "{\"function\":{\"name\":\"b\",\"arguments\":\"{oops\"}},",
        "{\"function\":{\"name\":\"c\"}}]},\"done\":false}\n",
        "{\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"length\"}\n",
    );
    check(
        Provider::Ollama,
        stream,
        &[
            r#"call x1 a {"z":3}"#,
            "call call_1 b broken {oops",
            "call call_2 c {}",
            "finished Length",
        ],
    );
}

#[test]
fn finish_reasons_for_tools_are_read() {
    for wire in ["tool_calls", "tool_use", "function_call"] {
        assert_eq!(FinishReason::from_wire(wire), FinishReason::ToolCalls);
    }
}
