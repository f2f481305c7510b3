//! Cancelling a stream ends it and closes the connection, which the server sees.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use tandem::model::{ErrorKind, Message, ModelClient, ModelEvent, ModelRequest};
use tandem_tests::model_server::{ModelServer, Reply, Wire};
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

/// Generous enough for a loaded CI machine, tight enough that "closed when the process
/// exits" or "closed by some later timeout" fails it. The 100 ms target is measured below
/// and reported by the test's output.
const CLOSE_BOUND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn cancelling_mid_stream_closes_the_connection() {
    for wire in Wire::ALL {
        let server = ModelServer::start().await.unwrap();
        server.push(Reply::text(wire, &["first", "second", "third"]).gated());
        let client = ModelClient::new(server.endpoint(wire)).unwrap();
        let cancel = CancellationToken::new();
        let mut stream = client.stream(&request(), cancel.clone());
        // Release the opening chunks and the first delta, and no more.
        server.release(wire.preamble_len() + 1);
        assert_eq!(
            stream.next().await,
            Some(ModelEvent::TextDelta("first".into())),
            "{wire:?}"
        );
        let request = server.requests().remove(0);
        assert!(
            !request.is_closed(),
            "{wire:?}: the connection is open while streaming"
        );

        let cancelled_at = Instant::now();
        cancel.cancel();
        tokio::time::timeout(CLOSE_BOUND, request.closed())
            .await
            .unwrap_or_else(|_| {
                panic!("{wire:?}: connection still open {CLOSE_BOUND:?} after cancelling")
            });
        eprintln!(
            "{wire:?}: cancel → connection closed at the server in {:?}",
            cancelled_at.elapsed()
        );

        let rest: Vec<_> = stream.collect().await;
        assert_eq!(rest.len(), 1, "{wire:?}: {rest:?}");
        let ModelEvent::Error(error) = &rest[0] else {
            panic!("{wire:?}: {rest:?}")
        };
        assert_eq!(error.kind, ErrorKind::Cancelled);
        assert_eq!(
            server.requests().len(),
            1,
            "{wire:?}: cancelling never retries"
        );
    }
}

#[tokio::test]
async fn cancelling_while_waiting_for_headers_or_a_retry_stops_at_once() {
    let server = ModelServer::start().await.unwrap();
    // A 503 with a long Retry-After: the client is asleep before its retry when cancelled.
    server.push(Reply::error(503, "busy").header("retry-after", "20"));
    let client = ModelClient::new(server.endpoint(Wire::OpenAi)).unwrap();
    let cancel = CancellationToken::new();
    let stream = client.stream(&request(), cancel.clone());
    server.wait_for_requests(1).await;
    cancel.cancel();
    let events = tokio::time::timeout(CLOSE_BOUND, stream.collect::<Vec<_>>())
        .await
        .expect("stream ended");
    assert!(
        matches!(&events[..], [ModelEvent::Error(e)] if e.kind == ErrorKind::Cancelled),
        "{events:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let server = ModelServer::start().await.unwrap();
    server.push(Reply::text(Wire::Ollama, &["a", "b"]).stall_after(1));
    let client = ModelClient::new(server.endpoint(Wire::Ollama)).unwrap();
    let mut stream = client.stream(&request(), CancellationToken::new());
    assert_eq!(stream.next().await, Some(ModelEvent::TextDelta("a".into())));
    let request = server.requests().remove(0);
    drop(stream);
    tokio::time::timeout(CLOSE_BOUND, request.closed())
        .await
        .expect("connection closed after drop");
}
