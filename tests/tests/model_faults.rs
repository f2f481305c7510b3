//! Faults through the real HTTP path: what is retried, what is not, and what the user is told.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tandem::model::{
    ApiKey, ErrorKind, Message, ModelClient, ModelError, ModelEvent, ModelRequest,
};
use tandem_tests::model_server::{ModelServer, Reply, Step, Wire, collect, text_of};
use tokio_util::sync::CancellationToken;

fn request() -> ModelRequest {
    ModelRequest {
        system: None,
        messages: vec![Message::user("hi")],
        max_output_tokens: None,
        tools: Vec::new(),
        prediction: None,
    }
}

async fn run(server: &ModelServer, endpoint: tandem::model::Endpoint) -> Vec<ModelEvent> {
    let _ = server;
    let client = ModelClient::new(endpoint).unwrap();
    collect(client.stream(&request(), CancellationToken::new())).await
}

fn error_of(events: &[ModelEvent]) -> &ModelError {
    match events.last() {
        Some(ModelEvent::Error(error)) => error,
        other => panic!("expected the stream to end with an error, got {other:?}"),
    }
}

#[tokio::test]
async fn server_errors_are_retried_before_the_first_token() {
    for status in [500, 503, 529, 408] {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::error(status, "{\"error\":\"busy\"}"));
        server.push(Reply::error(status, "{\"error\":\"busy\"}"));
        server.push(Reply::text(Wire::Anthropic, &["fine"]));
        let events = run(&server, server.endpoint(Wire::Anthropic)).await;
        assert_eq!(text_of(&events), "fine", "HTTP {status}");
        assert_eq!(server.requests().len(), 3, "HTTP {status}");
    }
}

#[tokio::test]
async fn retries_give_up_and_say_how_often_they_tried() {
    let server = ModelServer::start().await.unwrap();
    for _ in 0..3 {
        server.push(Reply::error(503, "upstream unavailable"));
    }
    let endpoint = server.endpoint(Wire::OpenAi);
    let url = format!("{}/chat/completions", endpoint.base_url);
    let events = run(&server, endpoint).await;
    let error = error_of(&events);
    assert_eq!(
        error.kind,
        ErrorKind::Http {
            status: 503,
            body: "upstream unavailable".into(),
            attempts: 3
        }
    );
    let message = error.to_string();
    assert!(message.contains(&url), "{message}");
    assert!(
        message.contains("HTTP 503 after 3 attempts: upstream unavailable"),
        "{message}"
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::error(400, "{\"error\":{\"message\":\"bad field\"}}"));
    let events = run(&server, server.endpoint(Wire::OpenAi)).await;
    assert!(matches!(
        error_of(&events).kind,
        ErrorKind::Http { status: 400, .. }
    ));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn rate_limits_honour_retry_after() {
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::error(429, "slow down").header("retry-after", "1"));
    server.push(Reply::text(Wire::Responses, &["ok"]));
    let events = run(&server, server.endpoint(Wire::Responses)).await;
    assert_eq!(text_of(&events), "ok");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    // The backoff alone would be tens of milliseconds; the second request waited for the header.
    let waited = requests[1].received_at - requests[0].received_at;
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}"
    );
}

#[tokio::test]
async fn rate_limits_that_persist_fail_with_advice() {
    let server = ModelServer::start().await.unwrap();
    for _ in 0..3 {
        server.push(Reply::error(429, "quota").header("retry-after-ms", "5"));
    }
    let events = run(&server, server.endpoint(Wire::OpenAi)).await;
    let error = error_of(&events);
    assert_eq!(
        error.kind,
        ErrorKind::RateLimited {
            attempts: 3,
            body: "quota".into()
        }
    );
    assert!(
        error
            .to_string()
            .contains("rate limited (HTTP 429) after 3 attempts"),
        "{error}"
    );
}

#[tokio::test]
async fn a_retry_after_longer_than_the_limit_is_not_waited_for() {
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::error(429, "come back tomorrow").header("retry-after", "86400"));
    let events = run(&server, server.endpoint(Wire::OpenAi)).await;
    assert!(matches!(
        error_of(&events).kind,
        ErrorKind::RateLimited { attempts: 1, .. }
    ));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_refused_key_names_its_variable() {
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::error(
        401,
        "{\"error\":{\"message\":\"Incorrect API key provided\"}}",
    ));
    let mut endpoint = server.endpoint(Wire::OpenAi);
    endpoint.api_key = Some(ApiKey::new("sk-wrong-0000"));
    endpoint.api_key_env = Some("OPENAI_API_KEY".into());
    let events = run(&server, endpoint).await;
    let message = error_of(&events).to_string();
    assert!(
        message.contains("the key in $OPENAI_API_KEY was refused (HTTP 401"),
        "{message}"
    );
    assert_eq!(server.requests().len(), 1, "401 is not retried");
}

#[tokio::test]
async fn a_missing_key_fails_before_any_request() {
    let server = ModelServer::start().await.unwrap();
    let mut endpoint = server.endpoint(Wire::Anthropic);
    endpoint.api_key_env = Some("ANTHROPIC_API_KEY".into());
    let events = run(&server, endpoint).await;
    let message = error_of(&events).to_string();
    assert!(
        message.contains("$ANTHROPIC_API_KEY is not set"),
        "{message}"
    );
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn an_unknown_model_is_named_with_the_url() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::error(
            404,
            "{\"error\":\"model 'test-model' not found\"}",
        ));
        let endpoint = server.endpoint(wire);
        let events = run(&server, endpoint).await;
        let error = error_of(&events);
        let url = format!("{}{}", server.url(), wire.path());
        assert!(
            matches!(error.kind, ErrorKind::ModelNotFound { .. }),
            "{wire:?}: {error}"
        );
        assert!(
            error
                .to_string()
                .contains(&format!("model `test-model` not found at {url}")),
            "{error}"
        );
        if wire == Wire::Ollama {
            assert!(
                error.to_string().contains("ollama pull test-model"),
                "{error}"
            );
        }
    }
}

#[tokio::test]
async fn a_wrong_base_url_is_called_so() {
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::error(404, "<h1>Not Found</h1>"));
    let mut page = Reply::error(200, "<html>hello</html>");
    page.headers = vec![("content-type".into(), "text/html; charset=utf-8".into())];
    server.push(page);
    let events = run(&server, server.endpoint(Wire::OpenAi)).await;
    assert!(
        error_of(&events)
            .to_string()
            .contains("Check model.baseUrl"),
        "{:?}",
        events
    );
    let events = run(&server, server.endpoint(Wire::OpenAi)).await;
    assert!(
        matches!(error_of(&events).kind, ErrorKind::NotAStream { .. }),
        "{events:?}"
    );
}

#[tokio::test]
async fn connection_refused_says_what_to_do() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut endpoint = tandem::model::Endpoint::new(
        tandem::model::Provider::Ollama,
        format!("http://127.0.0.1:{port}"),
        "m",
    );
    endpoint.retry.base_delay = Duration::from_millis(5);
    let client = ModelClient::new(endpoint).unwrap();
    let events = collect(client.stream(&request(), CancellationToken::new())).await;
    let error = error_of(&events);
    assert!(matches!(error.kind, ErrorKind::Connect { .. }));
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "model request to http://127.0.0.1:{port}/api/chat failed: could not connect"
        )),
        "{message}"
    );
    assert!(message.contains("Is Ollama running"), "{message}");
}

#[tokio::test]
async fn a_cut_stream_is_an_error_and_is_not_retried() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        // Cut after the events that open the stream and two deltas.
        let cut = wire.preamble_len() + 2;
        server.push(Reply::text(wire, &["partial", " answer", " never", " ends"]).cut_after(cut));
        server.push(Reply::text(
            wire,
            &["a second answer must not be requested"],
        ));
        let events = run(&server, server.endpoint(wire)).await;
        let error = error_of(&events);
        assert!(
            matches!(error.kind, ErrorKind::Cut { .. }),
            "{wire:?}: {error}"
        );
        assert_eq!(text_of(&events), "partial answer", "{wire:?}");
        assert!(
            error
                .to_string()
                .contains("the stream was cut before the model finished"),
            "{error}"
        );
        assert_eq!(server.requests().len(), 1, "{wire:?}");
    }
}

#[tokio::test]
async fn a_cut_inside_a_chunk_is_a_cut() {
    let server = ModelServer::start().await.unwrap();
    let mut chunks = Wire::OpenAi.render(&["abc"], None);
    chunks.truncate(2);
    chunks[1].truncate(20);
    server.push(Reply::stream(Wire::OpenAi, chunks));
    let events = run(&server, server.endpoint(Wire::OpenAi)).await;
    assert!(
        matches!(error_of(&events).kind, ErrorKind::Cut { .. }),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_body_that_ends_without_its_marker_is_not_a_success() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        let mut chunks = wire.render(&["x", "y"], Some((1, 2)));
        chunks.pop();
        server.push(Reply::stream(wire, chunks));
        let events = run(&server, server.endpoint(wire)).await;
        if wire == Wire::OpenAi {
            // The finish reason came before the missing [DONE] (and usage): compatible servers do that.
            assert!(
                matches!(events.last(), Some(ModelEvent::Finished { .. })),
                "{events:?}"
            );
        } else {
            assert!(
                matches!(error_of(&events).kind, ErrorKind::Cut { .. }),
                "{wire:?}: {events:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_malformed_chunk_fails_with_an_excerpt() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::text(wire, &["good", "never seen"]).malformed_after(wire, 1));
        let events = run(&server, server.endpoint(wire)).await;
        let error = error_of(&events);
        let ErrorKind::Malformed { excerpt, .. } = &error.kind else {
            panic!("{wire:?}: {error}")
        };
        assert!(excerpt.contains("oops"), "{excerpt}");
        assert!(!text_of(&events).contains("never seen"));
        assert!(
            error
                .to_string()
                .contains("received a chunk that is not valid"),
            "{error}"
        );
        assert_eq!(server.requests().len(), 1);
    }
}

#[tokio::test]
async fn a_stall_is_an_idle_timeout() {
    for wire in Wire::ALL {
        // A stall after the first delta, and one before any token (not retried either).
        for (after, text) in [(wire.preamble_len() + 1, "a"), (wire.preamble_len(), "")] {
            let server = ModelServer::start().await.unwrap();
            server.push(Reply::text(wire, &["a", "b"]).stall_after(after));
            let mut endpoint = server.endpoint(wire);
            endpoint.idle_timeout = Duration::from_millis(200);
            let events = run(&server, endpoint).await;
            assert_eq!(text_of(&events), text, "{wire:?}");
            let error = error_of(&events);
            assert_eq!(
                error.kind,
                ErrorKind::Idle {
                    after: Duration::from_millis(200)
                },
                "{wire:?}"
            );
            assert!(
                error.to_string().contains("nothing arrived for 200 ms"),
                "{error}"
            );
            assert_eq!(server.requests().len(), 1, "{wire:?}");
            // Giving up drops the connection.
            let request = &server.requests()[0];
            tokio::time::timeout(Duration::from_secs(5), request.closed())
                .await
                .expect("connection closed");
        }
    }
}

#[tokio::test]
async fn the_request_timeout_bounds_a_slow_but_steady_stream() {
    let server = ModelServer::start().await.unwrap();
    let deltas: Vec<String> = (0..50).map(|i| format!("{i} ")).collect();
    let deltas: Vec<&str> = deltas.iter().map(String::as_str).collect();
    server.push(Reply::text(Wire::Ollama, &deltas).delay_each(Duration::from_millis(40)));
    let mut endpoint = server.endpoint(Wire::Ollama);
    endpoint.request_timeout = Duration::from_millis(300);
    endpoint.idle_timeout = Duration::from_secs(5);
    let events = run(&server, endpoint).await;
    assert_eq!(
        error_of(&events).kind,
        ErrorKind::Timeout {
            after: Duration::from_millis(300)
        }
    );
    assert!(
        error_of(&events)
            .to_string()
            .contains("model.requestTimeoutMs")
    );
}

#[tokio::test]
async fn errors_reported_inside_the_stream_end_it_without_a_retry() {
    let cases: [(Wire, &[u8]); 4] = [
        (Wire::Anthropic, b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal\"}}\n\n"),
        (Wire::Responses, b"event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"boom\"}}}\n\n"),
        (Wire::OpenAi, b"data: {\"error\":{\"message\":\"provider went away\"}}\n\n"),
        (Wire::Ollama, b"{\"error\":\"out of memory\"}\n"),
    ];
    for (wire, chunk) in cases {
        // Before the first token and after it.
        for (at, text) in [
            (wire.preamble_len(), ""),
            (wire.preamble_len() + 1, "so far"),
        ] {
            let server = ModelServer::start().await.unwrap();
            let mut chunks = wire.render(&["so far"], None);
            chunks.insert(at, chunk.to_vec());
            server.push(Reply::stream(wire, chunks));
            let events = run(&server, server.endpoint(wire)).await;
            let error = error_of(&events);
            assert!(
                matches!(error.kind, ErrorKind::Provider { .. }),
                "{wire:?}: {error}"
            );
            assert!(
                error.to_string().contains("the model reported an error"),
                "{error}"
            );
            assert_eq!(text_of(&events), text, "{wire:?}");
            assert_eq!(server.requests().len(), 1, "{wire:?}");
        }
    }
}

const OVERLOADED: &[u8] =
    b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";

#[tokio::test]
async fn anthropic_overloaded_before_the_first_token_is_retried() {
    let server = ModelServer::start().await.unwrap();
    let mut overloaded = Wire::Anthropic.render(&[], None);
    overloaded.truncate(1);
    overloaded.push(OVERLOADED.to_vec());
    server.push(Reply::stream(Wire::Anthropic, overloaded));
    server.push(Reply::text(Wire::Anthropic, &["second", " try"]));
    let events = run(&server, server.endpoint(Wire::Anthropic)).await;
    assert_eq!(text_of(&events), "second try");
    assert!(
        matches!(events.last(), Some(ModelEvent::Finished { .. })),
        "{events:?}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn anthropic_overloaded_after_the_first_token_is_not_retried() {
    let server = ModelServer::start().await.unwrap();
    let mut chunks = Wire::Anthropic.render(&["half"], None);
    chunks.insert(Wire::Anthropic.preamble_len() + 1, OVERLOADED.to_vec());
    server.push(Reply::stream(Wire::Anthropic, chunks));
    server.push(Reply::text(Wire::Anthropic, &["must not be asked for"]));
    let events = run(&server, server.endpoint(Wire::Anthropic)).await;
    assert_eq!(text_of(&events), "half");
    assert!(
        error_of(&events)
            .to_string()
            .contains("overloaded_error: Overloaded"),
        "{events:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn invalid_utf8_is_malformed_at_once() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        let mut bad = b"data: {\"x\": \"".to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        bad.extend_from_slice(b"\"}\n\n");
        if wire == Wire::Ollama {
            bad = [&b"{\"x\": \""[..], &[0xff, 0xfe], b"\"}\n"].concat();
        }
        // After the bad bytes the server stalls: only an error raised where they arrive ends it.
        let mut reply = Reply::stream(wire, vec![wire.render(&["ok"], None).remove(0), bad]);
        reply.steps.push(Step::Stall);
        server.push(reply);
        let events = run(&server, server.endpoint(wire)).await;
        let error = error_of(&events);
        let ErrorKind::Malformed { detail, .. } = &error.kind else {
            panic!("{wire:?}: {error}")
        };
        assert_eq!(detail, "invalid UTF-8", "{wire:?}");
    }
}

#[tokio::test]
async fn the_request_timeout_bounds_the_wait_for_a_retry() {
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::error(503, "busy").header("retry-after", "20"));
    let mut endpoint = server.endpoint(Wire::OpenAi);
    endpoint.request_timeout = Duration::from_millis(300);
    let events = run(&server, endpoint).await;
    assert_eq!(
        error_of(&events).kind,
        ErrorKind::Timeout {
            after: Duration::from_millis(300)
        }
    );
    assert_eq!(server.requests().len(), 1);
}
