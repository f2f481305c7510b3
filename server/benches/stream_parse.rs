//! Stream decoding: throughput of each wire format (MB/s), the added latency per network chunk (bytes in to event out), and cancel-to-close time.
//!
//! Run with `cargo bench -p tandem --bench stream_parse`. Streams are synthetic but shaped like
//! the providers' own (same fields, same framing), with multi-byte text in every delta.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use serde_json::json;
use tandem::model::{Decoder, Endpoint, Message, ModelClient, ModelEvent, ModelRequest, Provider};
use tokio_util::sync::CancellationToken;

/// One delta event of `provider`'s stream, as it appears on the wire.
fn delta_event(provider: Provider, text: &str) -> Vec<u8> {
    match provider {
        Provider::OpenAi => format!(
            "data: {}\n\n",
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1-mini",
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
        ),
        Provider::OpenAiResponses => format!(
            "event: response.output_text.delta\ndata: {}\n\n",
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": text})
        ),
        Provider::Anthropic => format!(
            "event: content_block_delta\ndata: {}\n\n",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})
        ),
        Provider::Ollama => format!(
            "{}\n",
            json!({"model": "qwen2.5-coder:7b", "created_at": "2026-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": text}, "done": false})
        ),
    }
    .into_bytes()
}

/// About `target` bytes of delta events (the end marker is left out: the decoder never finishes).
fn body(provider: Provider, target: usize) -> Vec<u8> {
    let texts = [
        "fn main",
        "() {",
        " let x",
        " = \"héllo\";",
        " // 日本",
        "\n    ",
        "x.len()",
        " }",
    ];
    let mut out = Vec::with_capacity(target + 256);
    let mut i = 0;
    while out.len() < target {
        out.extend_from_slice(&delta_event(provider, texts[i % texts.len()]));
        i += 1;
    }
    out
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_throughput");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    for provider in Provider::ALL {
        let bytes = body(provider, 1 << 20);
        // 1400-byte pieces, about one TCP segment each, cutting events and characters anywhere.
        let chunks: Vec<Bytes> = bytes.chunks(1400).map(Bytes::copy_from_slice).collect();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(provider),
            &chunks,
            |b, chunks| {
                let mut events = Vec::new();
                b.iter(|| {
                    let mut decoder = Decoder::new(provider);
                    for chunk in chunks {
                        decoder
                            .push(chunk.clone(), &mut events)
                            .expect("valid stream");
                        events.clear();
                    }
                    black_box(&decoder);
                });
            },
        );
    }
    group.finish();
}

fn latency_per_chunk(c: &mut Criterion) {
    let mut group = c.benchmark_group("chunk_to_event");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    for provider in Provider::ALL {
        // A decoder mid-stream gets one network chunk holding one delta and yields its event.
        let chunk = Bytes::from(delta_event(provider, " let x = \"héllo\";"));
        group.bench_function(BenchmarkId::from_parameter(provider), |b| {
            let mut decoder = Decoder::new(provider);
            let mut events = Vec::with_capacity(4);
            b.iter(|| {
                decoder
                    .push(chunk.clone(), &mut events)
                    .expect("valid chunk");
                assert_eq!(events.len(), 1);
                events.clear();
            });
        });
    }
    group.finish();
}

/// From `CancellationToken::cancel` to the server reading end-of-file on the connection, over
/// loopback with a stream in progress (the contract asks for under 100 ms).
fn cancel_to_close(c: &mut Criterion) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let endpoint = Endpoint::new(Provider::OpenAi, format!("http://{addr}/v1"), "m");
    let client = runtime
        .block_on(async { ModelClient::new(endpoint) })
        .expect("client");
    let request = ModelRequest {
        system: None,
        messages: vec![Message::user("hi")],
        max_output_tokens: None,
        tools: Vec::new(),
        prediction: None,
    };
    let mut group = c.benchmark_group("cancel_to_close");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    group.bench_function("openai", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let cancel = CancellationToken::new();
                    let mut stream = client.stream(&request, cancel.clone());
                    let (mut socket, _) = listener.accept().await.expect("accept");
                    let mut buffer = vec![0u8; 64 * 1024];
                    let mut head = Vec::new();
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = socket.read(&mut buffer).await.expect("read request");
                        head.extend_from_slice(&buffer[..n]);
                    }
                    let event = delta_event(Provider::OpenAi, "hi");
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n",
                        event.len()
                    );
                    socket.write_all(reply.as_bytes()).await.expect("write");
                    socket.write_all(&event).await.expect("write");
                    socket.write_all(b"\r\n").await.expect("write");
                    assert!(matches!(stream.next().await, Some(ModelEvent::TextDelta(_))));
                    let start = Instant::now();
                    cancel.cancel();
                    while socket.read(&mut buffer).await.map(|n| n > 0).unwrap_or(false) {}
                    total += start.elapsed();
                }
                total
            })
        });
    });
    group.finish();
}

criterion_group!(benches, throughput, latency_per_chunk, cancel_to_close);
criterion_main!(benches);
