#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use serde_json::json;

use super::*;
use crate::model::{FinishReason, ModelEvent, Usage};

fn request(prefix: &str, suffix: &str, stop: &[&str]) -> FimRequest {
    FimRequest {
        prefix: prefix.to_owned(),
        suffix: suffix.to_owned(),
        max_tokens: 64,
        stop: stop.iter().map(|s| (*s).to_owned()).collect(),
        language: None,
    }
}

#[test]
fn each_wire_puts_prefix_suffix_limit_and_stop_in_its_own_fields() {
    let endpoint = Endpoint::new(Provider::OpenAi, "http://h/v1", "m");
    let cases = [
        (
            FimWire::OpenAiCompletions,
            request("fn a() {", "}", &["\n"]),
            json!({"model": "m", "prompt": "fn a() {", "suffix": "}", "max_tokens": 64,
                "temperature": 0, "stream": true, "stream_options": {"include_usage": true},
                "stop": ["\n"]}),
        ),
        (
            FimWire::OpenAiCompletions,
            request("a", "b", &[]),
            json!({"model": "m", "prompt": "a", "suffix": "b", "max_tokens": 64,
                "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}),
        ),
        (
            FimWire::Ollama,
            request("fn a() {", "}", &["\n", "}"]),
            json!({"model": "m", "prompt": "fn a() {", "suffix": "}", "raw": false, "stream": true,
                "options": {"num_predict": 64, "temperature": 0, "stop": ["\n", "}"]}}),
        ),
        // At the end of the file: raw, so Ollama's template does not make a chat turn of it.
        (
            FimWire::Ollama,
            request("fn a() {", "", &[]),
            json!({"model": "m", "prompt": "fn a() {", "raw": true, "stream": true,
                "options": {"num_predict": 64, "temperature": 0}}),
        ),
        (
            FimWire::LlamaCppInfill,
            request("fn a() {", "}", &["\n\n"]),
            json!({"model": "m", "input_prefix": "fn a() {", "input_suffix": "}", "n_predict": 64,
                "temperature": 0, "stream": true, "stop": ["\n\n"]}),
        ),
    ];
    for (wire, request, expected) in cases {
        assert_eq!(
            body(wire, &endpoint, &request),
            expected,
            "{wire:?} {request:?}"
        );
    }
}

#[test]
fn each_wire_posts_to_its_path() {
    let cases = [
        (
            FimWire::OpenAiCompletions,
            "http://h:8080/v1",
            "http://h:8080/v1/completions",
        ),
        (
            FimWire::OpenAiCompletions,
            "http://h:8080/v1/",
            "http://h:8080/v1/completions",
        ),
        (
            FimWire::Ollama,
            "http://h:11434",
            "http://h:11434/api/generate",
        ),
        (
            FimWire::LlamaCppInfill,
            "http://h:8080/v1",
            "http://h:8080/infill",
        ),
        (
            FimWire::LlamaCppInfill,
            "http://h:8080/v1/",
            "http://h:8080/infill",
        ),
        (
            FimWire::LlamaCppInfill,
            "http://h:8080",
            "http://h:8080/infill",
        ),
        (
            FimWire::LlamaCppInfill,
            "http://h/llama/",
            "http://h/llama/infill",
        ),
    ];
    for (wire, base, expected) in cases {
        let endpoint = Endpoint::new(wire.provider(), base, "m");
        assert_eq!(wire.url(&endpoint), expected, "{wire:?} {base}");
    }
}

#[test]
fn fim_wires_are_named_as_the_completion_provider_setting() {
    for wire in FimWire::ALL {
        assert_eq!(wire.as_str().parse::<FimWire>(), Ok(wire));
    }
    assert!(
        "anthropic"
            .parse::<FimWire>()
            .unwrap_err()
            .contains("llamacpp")
    );
    assert_eq!(
        FimWire::for_provider(Provider::OpenAi),
        Some(FimWire::OpenAiCompletions)
    );
    assert_eq!(FimWire::for_provider(Provider::Anthropic), None);
}

#[test]
fn refusals_that_mean_no_fim_say_so() {
    let http = |status, body: &str| ErrorKind::Http {
        status,
        body: body.to_owned(),
        attempts: 1,
    };
    let no_fim = |status, body: &str| ErrorKind::FimUnsupported {
        status,
        body: body.to_owned(),
    };
    let cases = [
        (http(404, "Not Found"), no_fim(404, "Not Found")),
        (
            http(400, r#"{"error":"llama3 does not support insert"}"#),
            no_fim(400, r#"{"error":"llama3 does not support insert"}"#),
        ),
        (
            http(501, "Infill is not supported by this model"),
            no_fim(501, "Infill is not supported by this model"),
        ),
        (http(400, "bad max_tokens"), http(400, "bad max_tokens")),
        (http(503, "busy"), http(503, "busy")),
        (
            ErrorKind::ModelNotFound {
                model: "m".into(),
                body: "model m not found".into(),
            },
            ErrorKind::ModelNotFound {
                model: "m".into(),
                body: "model m not found".into(),
            },
        ),
    ];
    for (kind, expected) in cases {
        assert_eq!(unsupported(kind.clone()), expected, "{kind:?}");
    }
}

fn decode(wire: FimWire, body: &str) -> (Vec<ModelEvent>, Result<(), crate::model::DecodeError>) {
    let mut decoder = Decoder::fim(wire);
    let mut events = Vec::new();
    let pushed = decoder.push(Bytes::copy_from_slice(body.as_bytes()), &mut events);
    let end = pushed.and_then(|()| decoder.finish(&mut events));
    (events, end)
}

#[test]
fn llama_cpp_says_why_it_stopped_in_several_ways() {
    let cases = [
        (
            r#"{"content":"","stop":true,"stop_type":"eos"}"#,
            FinishReason::Stop,
        ),
        (
            r#"{"content":"","stop":true,"stop_type":"word"}"#,
            FinishReason::Stop,
        ),
        (
            r#"{"content":"","stop":true,"stop_type":"limit"}"#,
            FinishReason::Length,
        ),
        (
            r#"{"content":"","stop":true,"stopped_limit":true}"#,
            FinishReason::Length,
        ),
        (
            r#"{"content":"","stop":true,"stopped_eos":true}"#,
            FinishReason::Stop,
        ),
    ];
    for (last, reason) in cases {
        let body = format!("data: {{\"content\":\"x\",\"stop\":false}}\n\ndata: {last}\n\n");
        let (events, end) = decode(FimWire::LlamaCppInfill, &body);
        assert_eq!(end, Ok(()), "{last}");
        assert_eq!(
            events,
            vec![
                ModelEvent::TextDelta("x".into()),
                ModelEvent::Finished { reason }
            ],
            "{last}"
        );
    }
}

#[test]
fn final_chunks_carry_usage_and_the_finish_reason() {
    let cases = [
        (
            FimWire::OpenAiCompletions,
            "data: {\"choices\":[{\"text\":\"a\",\"index\":0,\"finish_reason\":\"length\"}]}\n\n\
             data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}\n\n\
             data: [DONE]\n\n",
            FinishReason::Length,
        ),
        (
            FimWire::Ollama,
            "{\"response\":\"a\",\"done\":false}\n\
             {\"response\":\"\",\"done\":true,\"done_reason\":\"length\",\"prompt_eval_count\":5,\"eval_count\":1}\n",
            FinishReason::Length,
        ),
        (
            FimWire::LlamaCppInfill,
            "data: {\"content\":\"a\",\"stop\":false}\n\n\
             data: {\"content\":\"\",\"stop\":true,\"stop_type\":\"limit\",\"tokens_evaluated\":5,\"tokens_predicted\":1}\n\n",
            FinishReason::Length,
        ),
    ];
    for (wire, body, reason) in cases {
        let (events, end) = decode(wire, body);
        assert_eq!(end, Ok(()), "{wire:?}");
        let usage = Usage {
            input_tokens: Some(5),
            cached_input_tokens: None,
            output_tokens: Some(1),
        };
        assert_eq!(
            events,
            vec![
                ModelEvent::TextDelta("a".into()),
                ModelEvent::Usage(usage),
                ModelEvent::Finished { reason }
            ],
            "{wire:?}"
        );
    }
}

#[test]
fn an_error_inside_a_fim_stream_is_the_providers_error() {
    let cases = [
        (
            FimWire::OpenAiCompletions,
            "data: {\"error\":{\"message\":\"boom\"}}\n\n",
        ),
        (FimWire::Ollama, "{\"error\":\"boom\"}\n"),
        (
            FimWire::LlamaCppInfill,
            "data: {\"error\":{\"code\":500,\"message\":\"boom\"}}\n\n",
        ),
    ];
    for (wire, body) in cases {
        let (_, end) = decode(wire, body);
        assert_eq!(
            end,
            Err(crate::model::DecodeError::Provider {
                message: "boom".into()
            }),
            "{wire:?}"
        );
    }
}

#[test]
fn the_fim_chat_prompt_shows_the_file_with_the_cursor() {
    let mut fim = request("def add(a, b):\n    ", "\n\nprint(add(1, 2))\n", &["\n"]);
    fim.language = Some("python".into());
    let chat = chat_request(&fim);
    assert!(
        chat.system
            .unwrap()
            .contains("exactly the text to insert at the cursor")
    );
    assert_eq!(chat.max_output_tokens, Some(64));
    assert!(chat.tools.is_empty());
    assert_eq!(chat.messages.len(), 1);
    let user = &chat.messages[0].content;
    assert!(
        user.contains("```python\ndef add(a, b):\n    <|cursor|>\n\nprint(add(1, 2))\n\n```"),
        "{user}"
    );
}

#[test]
fn the_fim_chat_fence_is_longer_than_any_in_the_file() {
    let chat = chat_request(&request("doc = \"\"\"\n````text\n", "\n````\n\"\"\"", &[]));
    let user = &chat.messages[0].content;
    assert!(user.starts_with("`````\n"), "{user}");
    assert!(user.contains("\n`````\n"), "{user}");
}

#[test]
fn fim_chat_answers_lose_their_fence() {
    let cases = [
        ("return a + b", "return a + b"),
        ("  x = 1\n", "  x = 1\n"),
        ("```python\nreturn a + b\n```", "return a + b"),
        ("```\nreturn a + b\n```\n", "return a + b"),
        (
            "\n```py\nif x:\n    y()\n```\nThis adds the call.",
            "if x:\n    y()",
        ),
        ("```rust\nlet x = 1;\r\n```", "let x = 1;"),
        ("````md\n```\ncode\n```\n````", "```\ncode\n```"),
        ("```rust\nlet x = 1;", "let x = 1;"),
        ("```\n```", ""),
        ("return <|cursor|>a + b", "return a + b"),
        ("`x`", "`x`"),
    ];
    for (answer, expected) in cases {
        assert_eq!(chat_answer(answer), expected, "{answer:?}");
    }
}
