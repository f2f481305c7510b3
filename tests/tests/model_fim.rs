//! Fill-in-the-middle against the scripted server: what each FIM wire sends, that its answer
//! decodes to the same middle however the network cuts it, its failures, cancellation, and the
//! chat fallback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use proptest::prelude::*;
use serde_json::json;
use tandem::model::fim::{chat_answer, chat_request};
use tandem::model::{
    DecodeError, Decoder, ErrorKind, FimRequest, FimWire, FinishReason, ModelClient, ModelEvent,
    Usage,
};
use tandem_tests::model_fim::{self, endpoint, render};
use tandem_tests::model_server::{ModelServer, Reply, Wire, collect, text_of};
use tokio_util::sync::CancellationToken;

fn request() -> FimRequest {
    FimRequest {
        prefix: "fn add(a: i32, b: i32) -> i32 {\n    ".to_owned(),
        suffix: "\n}\n".to_owned(),
        max_tokens: 48,
        stop: vec!["\n\n".to_owned()],
        language: Some("rust".to_owned()),
    }
}

/// Where each wire carries the prefix, the suffix, the limit and the stop sequences.
fn fields(wire: FimWire) -> [&'static str; 4] {
    match wire {
        FimWire::OpenAiCompletions => ["/prompt", "/suffix", "/max_tokens", "/stop"],
        FimWire::Ollama => [
            "/prompt",
            "/suffix",
            "/options/num_predict",
            "/options/stop",
        ],
        FimWire::LlamaCppInfill => ["/input_prefix", "/input_suffix", "/n_predict", "/stop"],
    }
}

#[tokio::test]
async fn each_wire_sends_the_middle_request_and_streams_the_middle_back() {
    for wire in FimWire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::fim(wire, &["a ", "+ ", "b"]));
        let client = ModelClient::new(endpoint(&server, wire)).unwrap();
        let events = collect(client.fim(wire, &request(), CancellationToken::new())).await;
        assert_eq!(
            events,
            vec![
                ModelEvent::TextDelta("a ".into()),
                ModelEvent::TextDelta("+ ".into()),
                ModelEvent::TextDelta("b".into()),
                ModelEvent::Usage(Usage {
                    input_tokens: Some(12),
                    cached_input_tokens: None,
                    output_tokens: Some(3)
                }),
                ModelEvent::Finished {
                    reason: FinishReason::Stop
                },
            ],
            "{wire:?}"
        );

        let sent = server.requests().remove(0);
        assert_eq!(sent.method, "POST", "{wire:?}");
        assert_eq!(sent.path, model_fim::path(wire), "{wire:?}");
        let [prefix, suffix, limit, stop] = fields(wire);
        let body = &sent.body;
        assert_eq!(
            body.pointer(prefix),
            Some(&json!(request().prefix)),
            "{wire:?} {body}"
        );
        assert_eq!(
            body.pointer(suffix),
            Some(&json!(request().suffix)),
            "{wire:?} {body}"
        );
        assert_eq!(body.pointer(limit), Some(&json!(48)), "{wire:?} {body}");
        assert_eq!(
            body.pointer(stop),
            Some(&json!(["\n\n"])),
            "{wire:?} {body}"
        );
        assert_eq!(body["stream"], json!(true), "{wire:?} {body}");
        assert_eq!(body["model"], json!("test-model"), "{wire:?} {body}");
        let temperature = match wire {
            FimWire::Ollama => &body["options"]["temperature"],
            _ => &body["temperature"],
        };
        assert_eq!(temperature, &json!(0), "{wire:?} {body}");
        if wire == FimWire::Ollama {
            assert_eq!(
                body["raw"],
                json!(false),
                "{body}: the model's FIM template applies"
            );
        }
    }
}

#[tokio::test]
async fn a_key_is_sent_as_for_chat() {
    for wire in FimWire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::fim(wire, &["x"]));
        let mut endpoint = endpoint(&server, wire);
        endpoint.api_key = Some(tandem::model::ApiKey::new("sk-fim-secret".to_owned()));
        let client = ModelClient::new(endpoint).unwrap();
        let events = collect(client.fim(wire, &request(), CancellationToken::new())).await;
        assert_eq!(text_of(&events), "x", "{wire:?}");
        let sent = server.requests().remove(0);
        assert_eq!(
            sent.header("authorization"),
            Some("Bearer sk-fim-secret"),
            "{wire:?}"
        );
    }
}

#[tokio::test]
async fn refusals_are_clear_errors() {
    struct Case {
        wire: FimWire,
        reply: Reply,
        kind: fn(&ErrorKind) -> bool,
        says: &'static [&'static str],
    }
    let cases = [
        // An OpenAI-compatible server without the Completions API.
        Case {
            wire: FimWire::OpenAiCompletions,
            reply: Reply::error(404, "Not Found"),
            kind: |k| matches!(k, ErrorKind::FimUnsupported { status: 404, .. }),
            says: &[
                "/v1/completions",
                "does not serve fill-in-the-middle",
                "completion.mode",
            ],
        },
        // An Ollama model without a FIM template.
        Case {
            wire: FimWire::Ollama,
            reply: Reply::error(400, r#"{"error":"llama3.1:8b does not support insert"}"#),
            kind: |k| matches!(k, ErrorKind::FimUnsupported { status: 400, .. }),
            says: &[
                "/api/generate",
                "does not support insert",
                "completion.mode",
            ],
        },
        Case {
            wire: FimWire::Ollama,
            reply: Reply::error(404, r#"{"error":"model 'test-model' not found"}"#),
            kind: |k| matches!(k, ErrorKind::ModelNotFound { .. }),
            says: &["ollama pull test-model"],
        },
        // llama.cpp with a model that has no FIM tokens.
        Case {
            wire: FimWire::LlamaCppInfill,
            reply: Reply::error(
                501,
                r#"{"error":{"code":501,"message":"Infill is not supported by this model","type":"not_supported_error"}}"#,
            ),
            kind: |k| matches!(k, ErrorKind::FimUnsupported { status: 501, .. }),
            says: &["/infill", "Infill is not supported", "completion.mode"],
        },
        Case {
            wire: FimWire::LlamaCppInfill,
            reply: Reply::error(401, "invalid api key"),
            kind: |k| matches!(k, ErrorKind::Unauthorized { status: 401, .. }),
            says: &["wants an API key"],
        },
    ];
    for case in cases {
        let server = ModelServer::start().await.unwrap();
        server.push(case.reply);
        let client = ModelClient::new(endpoint(&server, case.wire)).unwrap();
        let events = collect(client.fim(case.wire, &request(), CancellationToken::new())).await;
        let [ModelEvent::Error(error)] = events.as_slice() else {
            panic!("{:?}: {events:?}", case.wire)
        };
        assert!((case.kind)(&error.kind), "{:?}: {error:?}", case.wire);
        let message = error.to_string();
        for words in case.says {
            assert!(
                message.contains(words),
                "{:?}: `{words}` not in {message}",
                case.wire
            );
        }
        assert_eq!(server.requests().len(), 1, "{:?}: not retried", case.wire);
    }
}

#[tokio::test]
async fn a_busy_server_is_retried_before_the_first_token() {
    for wire in FimWire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::error(503, "busy"));
        server.push(Reply::fim(wire, &["ok"]));
        let client = ModelClient::new(endpoint(&server, wire)).unwrap();
        let events = collect(client.fim(wire, &request(), CancellationToken::new())).await;
        assert_eq!(text_of(&events), "ok", "{wire:?}");
        assert_eq!(server.requests().len(), 2, "{wire:?}");
    }
}

#[tokio::test]
async fn a_cut_or_broken_stream_is_an_error_not_a_short_middle() {
    for wire in FimWire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::fim(wire, &["a", "b", "c"]).cut_after(2));
        server.push(Reply::fim(wire, &["a", "b", "c"]).malformed_after_fim(wire, 1));
        let client = ModelClient::new(endpoint(&server, wire)).unwrap();

        let cut = collect(client.fim(wire, &request(), CancellationToken::new())).await;
        assert_eq!(text_of(&cut), "ab", "{wire:?}");
        assert!(
            matches!(cut.last(), Some(ModelEvent::Error(e)) if matches!(e.kind, ErrorKind::Cut { .. })),
            "{wire:?}: {cut:?}"
        );

        let broken = collect(client.fim(wire, &request(), CancellationToken::new())).await;
        let Some(ModelEvent::Error(error)) = broken.last() else {
            panic!("{wire:?}: {broken:?}")
        };
        assert!(
            matches!(error.kind, ErrorKind::Malformed { .. }),
            "{wire:?}: {error:?}"
        );
        let format = if wire == FimWire::Ollama {
            "NDJSON"
        } else {
            "server-sent events"
        };
        assert!(error.to_string().contains(format), "{wire:?}: {error}");
    }
}

/// Like chat: the server sees the connection closed well within the contract's 100 ms bound;
/// one second leaves room for a loaded machine.
const CLOSE_BOUND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn cancelling_a_fim_stream_closes_the_connection() {
    for wire in FimWire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::fim(wire, &["first", "second", "third"]).gated());
        let client = ModelClient::new(endpoint(&server, wire)).unwrap();
        let cancel = CancellationToken::new();
        let mut stream = client.fim(wire, &request(), cancel.clone());
        server.release(1);
        assert_eq!(
            stream.next().await,
            Some(ModelEvent::TextDelta("first".into())),
            "{wire:?}"
        );
        let sent = server.requests().remove(0);
        assert!(!sent.is_closed(), "{wire:?}: open while streaming");

        cancel.cancel();
        tokio::time::timeout(CLOSE_BOUND, sent.closed())
            .await
            .unwrap_or_else(|_| panic!("{wire:?}: still open {CLOSE_BOUND:?} after cancel"));
        let rest: Vec<_> = stream.collect().await;
        let [ModelEvent::Error(error)] = rest.as_slice() else {
            panic!("{wire:?}: {rest:?}")
        };
        assert_eq!(error.kind, ErrorKind::Cancelled, "{wire:?}");
        assert_eq!(server.requests().len(), 1, "{wire:?}: never retried");
    }
}

#[tokio::test]
async fn dropping_a_fim_stream_closes_the_connection() {
    for wire in FimWire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::fim(wire, &["first", "second"]).gated());
        let client = ModelClient::new(endpoint(&server, wire)).unwrap();
        let mut stream = client.fim(wire, &request(), CancellationToken::new());
        server.release(1);
        assert!(
            matches!(stream.next().await, Some(ModelEvent::TextDelta(_))),
            "{wire:?}"
        );
        let sent = server.requests().remove(0);
        // A newer completion request replaces this one: its stream is simply dropped.
        drop(stream);
        tokio::time::timeout(CLOSE_BOUND, sent.closed())
            .await
            .unwrap_or_else(|_| panic!("{wire:?}: still open {CLOSE_BOUND:?} after the drop"));
    }
}

#[tokio::test]
async fn the_chat_fallback_asks_for_the_middle_and_loses_the_fence() {
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::text(
        Wire::OpenAi,
        &["```rust\n", "a + b", "\n```\n", "Adds them."],
    ));
    let client = ModelClient::new(server.endpoint(Wire::OpenAi)).unwrap();
    let completion = client
        .stream(&chat_request(&request()), CancellationToken::new())
        .complete()
        .await
        .unwrap();
    assert_eq!(chat_answer(&completion.text), "a + b");

    let sent = server.requests().remove(0);
    assert_eq!(sent.path, "/v1/chat/completions");
    let messages = sent.body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    let user = messages[1]["content"].as_str().unwrap();
    let shown = format!("{}<|cursor|>{}", request().prefix, request().suffix);
    assert!(user.contains(&shown), "{user}");
    assert!(user.contains("```rust\n"), "{user}");
    assert_eq!(sent.body["max_tokens"], json!(48));
}

// Decoding under any chunking.

const DELTAS: &[&str] = &[
    "Hé",
    "llo ",
    "wörld 🎉",
    " 日本語",
    " 👨‍👩‍👧",
    "\n\tdone",
    " \"quoted\"",
];

fn recorded(wire: FimWire, crlf: bool) -> Vec<u8> {
    let mut bytes: Vec<u8> = render(wire, DELTAS, Some((31, 7))).concat();
    if wire != FimWire::Ollama {
        let mut with_comment = b": keep-alive\n\n".to_vec();
        with_comment.extend_from_slice(&bytes);
        bytes = with_comment;
    }
    if crlf {
        bytes = String::from_utf8(bytes)
            .unwrap()
            .replace('\n', "\r\n")
            .into_bytes();
    }
    bytes
}

fn decode(wire: FimWire, chunks: &[&[u8]]) -> (Vec<ModelEvent>, Result<(), DecodeError>) {
    let mut decoder = Decoder::fim(wire);
    let mut events = Vec::new();
    for chunk in chunks {
        if let Err(error) = decoder.push(Bytes::copy_from_slice(chunk), &mut events) {
            return (events, Err(error));
        }
    }
    let end = decoder.finish(&mut events);
    (events, end)
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
fn whole_fim_streams_decode_to_the_middle() {
    for wire in FimWire::ALL {
        for crlf in [false, true] {
            let (events, end) = decode(wire, &[&recorded(wire, crlf)]);
            assert_eq!(end, Ok(()), "{wire:?} crlf={crlf}");
            assert_eq!(text_of(&events), DELTAS.concat(), "{wire:?} crlf={crlf}");
            assert_eq!(
                events[DELTAS.len()..],
                [
                    ModelEvent::Usage(Usage {
                        input_tokens: Some(31),
                        cached_input_tokens: None,
                        output_tokens: Some(7)
                    }),
                    ModelEvent::Finished {
                        reason: FinishReason::Stop
                    }
                ],
                "{wire:?} crlf={crlf}"
            );
        }
    }
}

#[test]
fn fim_streams_one_byte_at_a_time_give_the_same_events() {
    for wire in FimWire::ALL {
        let bytes = recorded(wire, true);
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode(wire, &bytewise), decode(wire, &[&bytes]), "{wire:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_rechunking_of_a_fim_stream_gives_the_same_events(
        wire in prop::sample::select(FimWire::ALL.to_vec()),
        crlf in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..48),
    ) {
        let bytes = recorded(wire, crlf);
        let whole = decode(wire, &[&bytes]);
        prop_assert_eq!(decode(wire, &split_at(&bytes, &cuts)), whole);
    }

    /// A stream cut before its last event (which carries the end) is never a finished middle.
    #[test]
    fn a_truncated_fim_stream_is_incomplete(
        wire in prop::sample::select(vec![FimWire::Ollama, FimWire::LlamaCppInfill]),
        cut in any::<usize>(),
    ) {
        let bytes = recorded(wire, false);
        let last_event_start = bytes[..bytes.len() - 2].iter().rposition(|&b| b == b'\n').unwrap() + 1;
        let (events, end) = decode(wire, &[&bytes[..cut % last_event_start]]);
        prop_assert!(matches!(end, Err(DecodeError::Incomplete { .. })), "{:?} {:?}", end, events);
        let finished = events.iter().any(|e| matches!(e, ModelEvent::Finished { .. }));
        prop_assert!(!finished, "{:?}", events);
    }
}
