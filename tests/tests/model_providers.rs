//! Each provider against the scripted server: the request it sends and the events it reads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tandem::model::{ApiKey, FinishReason, Message, ModelClient, ModelEvent, ModelRequest, Usage};
use tandem_tests::model_server::{ModelServer, Reply, Wire, collect, text_of};
use tokio_util::sync::CancellationToken;

fn request() -> ModelRequest {
    ModelRequest {
        system: Some("You are terse.".to_owned()),
        messages: vec![Message::user("Say hello")],
        max_output_tokens: None,
        tools: Vec::new(),
        prediction: None,
    }
}

#[tokio::test]
async fn every_provider_streams_text_usage_and_finish() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        // Multi-byte text, so a decoder that splits characters would show it.
        server.push(Reply::text(wire, &["Hé", "llo ", "wörld 🎉", "!"]));
        let client = ModelClient::new(server.endpoint(wire)).unwrap();
        let events = collect(client.stream(&request(), CancellationToken::new())).await;
        assert_eq!(
            events,
            vec![
                ModelEvent::TextDelta("Hé".into()),
                ModelEvent::TextDelta("llo ".into()),
                ModelEvent::TextDelta("wörld 🎉".into()),
                ModelEvent::TextDelta("!".into()),
                ModelEvent::Usage(Usage {
                    input_tokens: Some(12),
                    cached_input_tokens: None,
                    output_tokens: Some(4)
                }),
                ModelEvent::Finished {
                    reason: FinishReason::Stop
                },
            ],
            "{wire:?}"
        );
        let requests = server.requests();
        assert_eq!(requests.len(), 1, "{wire:?}");
        assert_eq!(requests[0].method, "POST");
        assert_eq!(requests[0].path, wire.path(), "{wire:?}");
        assert_eq!(requests[0].body["model"], "test-model");
        assert_eq!(requests[0].body["stream"], true);
    }
}

#[tokio::test]
async fn request_bodies_follow_each_api() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::text(wire, &["ok"]));
        let mut endpoint = server.endpoint(wire);
        endpoint.max_output_tokens = 77;
        endpoint.api_key = Some(ApiKey::new("test-key-1234"));
        endpoint.api_key_env = Some("TEST_KEY".into());
        let client = ModelClient::new(endpoint).unwrap();
        collect(client.stream(&request(), CancellationToken::new())).await;
        let sent = &server.requests()[0];
        let body = &sent.body;
        match wire {
            Wire::OpenAi => {
                assert_eq!(
                    body["messages"][0],
                    serde_json::json!({"role": "system", "content": "You are terse."})
                );
                assert_eq!(
                    body["messages"][1],
                    serde_json::json!({"role": "user", "content": "Say hello"})
                );
                assert_eq!(body["stream_options"]["include_usage"], true);
                assert_eq!(body["max_tokens"], 77);
                assert_eq!(sent.header("authorization"), Some("Bearer test-key-1234"));
            }
            Wire::Responses => {
                assert_eq!(body["instructions"], "You are terse.");
                assert_eq!(
                    body["input"][0],
                    serde_json::json!({"role": "user", "content": "Say hello"})
                );
                assert_eq!(body["max_output_tokens"], 77);
                assert_eq!(sent.header("authorization"), Some("Bearer test-key-1234"));
            }
            Wire::Anthropic => {
                // One text block, marked for the prompt cache.
                assert_eq!(
                    body["system"],
                    serde_json::json!([{"type": "text", "text": "You are terse.",
                        "cache_control": {"type": "ephemeral"}}])
                );
                assert_eq!(
                    body["messages"][0],
                    serde_json::json!({"role": "user", "content": "Say hello"})
                );
                assert_eq!(body["max_tokens"], 77);
                assert_eq!(sent.header("x-api-key"), Some("test-key-1234"));
                assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(sent.header("authorization"), None);
            }
            Wire::Ollama => {
                assert_eq!(body["messages"][0]["role"], "system");
                assert_eq!(body["options"]["num_predict"], 77);
                assert_eq!(sent.header("authorization"), Some("Bearer test-key-1234"));
            }
        }
    }
}

#[tokio::test]
async fn streams_without_usage_still_finish() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::stream(wire, wire.render(&["a", "b"], None)));
        let client = ModelClient::new(server.endpoint(wire)).unwrap();
        let events = collect(client.stream(&request(), CancellationToken::new())).await;
        assert_eq!(text_of(&events), "ab", "{wire:?}");
        assert_eq!(
            events.last(),
            Some(&ModelEvent::Finished {
                reason: FinishReason::Stop
            }),
            "{wire:?}"
        );
        let expect_usage = wire == Wire::Anthropic; // message_start always carries input tokens
        assert_eq!(
            events.iter().any(|e| matches!(e, ModelEvent::Usage(_))),
            expect_usage,
            "{wire:?}"
        );
    }
}

/// What OpenAI-compatible servers do differently: no `[DONE]`, no usage, extra and missing fields.
#[tokio::test]
async fn openai_compatible_differences_are_tolerated() {
    let server = ModelServer::start().await.unwrap();
    let chunks = vec![
        // llama.cpp-style: no id, an extra field, content null in the first delta.
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null}}],\"timings\":{}}\n\n".to_vec(),
        b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n".to_vec(),
        // A keep-alive comment.
        b": keep-alive\n\n".to_vec(),
        b"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}\n\n".to_vec(),
    ];
    server.push(Reply::stream(Wire::OpenAi, chunks));
    let client = ModelClient::new(server.endpoint(Wire::OpenAi)).unwrap();
    let events = collect(client.stream(&request(), CancellationToken::new())).await;
    assert_eq!(
        events,
        vec![
            ModelEvent::TextDelta("Hi".into()),
            ModelEvent::Finished {
                reason: FinishReason::Length
            }
        ]
    );
}

#[tokio::test]
async fn stop_reasons_map_to_finish_reasons() {
    let server = ModelServer::start().await.unwrap();
    let anthropic_max_tokens = Wire::Anthropic
        .render(&["cut"], Some((1, 1)))
        .into_iter()
        .map(|chunk| {
            String::from_utf8(chunk)
                .unwrap()
                .replace("end_turn", "max_tokens")
                .into_bytes()
        })
        .collect();
    server.push(Reply::stream(Wire::Anthropic, anthropic_max_tokens));
    let client = ModelClient::new(server.endpoint(Wire::Anthropic)).unwrap();
    let events = collect(client.stream(&request(), CancellationToken::new())).await;
    assert_eq!(
        events.last(),
        Some(&ModelEvent::Finished {
            reason: FinishReason::Length
        })
    );

    let server = ModelServer::start().await.unwrap();
    let incomplete = b"event: response.incomplete\ndata: {\"type\":\"response.incomplete\",\"response\":{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":\"max_output_tokens\"}}}\n\n".to_vec();
    server.push(Reply::stream(Wire::Responses, vec![incomplete]));
    let client = ModelClient::new(server.endpoint(Wire::Responses)).unwrap();
    let events = collect(client.stream(&request(), CancellationToken::new())).await;
    assert_eq!(
        events,
        vec![ModelEvent::Finished {
            reason: FinishReason::Length
        }]
    );
}

#[tokio::test]
async fn chunks_released_one_at_a_time_arrive_one_at_a_time() {
    use futures::StreamExt;
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::text(Wire::OpenAi, &["one", "two", "three"]).gated());
    let client = ModelClient::new(server.endpoint(Wire::OpenAi)).unwrap();
    let mut stream = client.stream(&request(), CancellationToken::new());
    // The role chunk carries no text, so releasing two chunks yields exactly the first delta.
    server.release(2);
    assert_eq!(
        stream.next().await,
        Some(ModelEvent::TextDelta("one".into()))
    );
    server.release(1);
    assert_eq!(
        stream.next().await,
        Some(ModelEvent::TextDelta("two".into()))
    );
    server.release(100);
    let rest: Vec<_> = stream.collect().await;
    assert_eq!(rest[0], ModelEvent::TextDelta("three".into()));
    assert_eq!(
        rest.last(),
        Some(&ModelEvent::Finished {
            reason: FinishReason::Stop
        })
    );
}

#[tokio::test]
async fn delayed_chunks_are_not_an_idle_timeout() {
    let server = ModelServer::start().await.unwrap();
    server.push(
        Reply::text(Wire::Ollama, &["a", "b", "c"])
            .delay_each(std::time::Duration::from_millis(30)),
    );
    let mut endpoint = server.endpoint(Wire::Ollama);
    endpoint.idle_timeout = std::time::Duration::from_secs(2);
    let client = ModelClient::new(endpoint).unwrap();
    let events = collect(client.stream(&request(), CancellationToken::new())).await;
    assert_eq!(text_of(&events), "abc");
    assert!(matches!(events.last(), Some(ModelEvent::Finished { .. })));
}

#[tokio::test]
async fn complete_gathers_the_whole_answer() {
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::text(Wire::Anthropic, &["Hello", ", world"]));
    let client = ModelClient::new(server.endpoint(Wire::Anthropic)).unwrap();
    let completion = client
        .stream(&request(), CancellationToken::new())
        .complete()
        .await
        .unwrap();
    assert_eq!(completion.text, "Hello, world");
    assert_eq!(completion.reason, FinishReason::Stop);
    assert_eq!(
        completion.usage,
        Some(Usage {
            input_tokens: Some(12),
            cached_input_tokens: None,
            output_tokens: Some(2)
        })
    );
}

#[tokio::test]
async fn list_models_reads_each_api() {
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::json(
        200,
        serde_json::json!({"object": "list", "data": [{"id": "a"}, {"id": "b"}]}),
    ));
    server.push(Reply::json(
        200,
        serde_json::json!({"models": [{"name": "qwen:7b"}]}),
    ));
    server.push(Reply::error(404, "not found"));
    let openai = ModelClient::new(server.endpoint(Wire::OpenAi)).unwrap();
    assert_eq!(
        openai.list_models().await.unwrap(),
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
    let ollama = ModelClient::new(server.endpoint(Wire::Ollama)).unwrap();
    assert_eq!(
        ollama.list_models().await.unwrap(),
        Some(vec!["qwen:7b".to_owned()])
    );
    assert_eq!(openai.list_models().await.unwrap(), None);
    let paths: Vec<_> = server
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert_eq!(
        paths,
        [
            ("GET", "/v1/models"),
            ("GET", "/api/tags"),
            ("GET", "/v1/models")
        ]
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
    );
}

/// Characters cut between HTTP chunks (arriving in separate reads) come out whole.
#[tokio::test]
async fn characters_split_across_network_chunks_come_out_whole() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        let deltas = ["日本語", "🎉👨‍👩‍👧", "é\r\n"];
        let bytes: Vec<u8> = wire.render(&deltas, None).concat();
        // Pieces of 5 bytes cut every 3- and 4-byte character somewhere.
        let pieces: Vec<Vec<u8>> = bytes.chunks(5).map(<[u8]>::to_vec).collect();
        server.push(Reply::stream(wire, pieces).delay_each(std::time::Duration::from_millis(1)));
        let client = ModelClient::new(server.endpoint(wire)).unwrap();
        let events = collect(client.stream(&request(), CancellationToken::new())).await;
        let expected: Vec<ModelEvent> = deltas
            .iter()
            .map(|d| ModelEvent::TextDelta((*d).to_owned()))
            .collect();
        let texts: Vec<ModelEvent> = events
            .iter()
            .filter(|e| matches!(e, ModelEvent::TextDelta(_)))
            .cloned()
            .collect();
        assert_eq!(texts, expected, "{wire:?}");
        assert!(
            matches!(events.last(), Some(ModelEvent::Finished { .. })),
            "{wire:?}: {events:?}"
        );
    }
}
