//! Stream decoding: throughput of each wire format (MB/s) and the added latency per network chunk, bytes in to event out.
//!
//! Run with `cargo bench -p tandem --bench stream_parse`. Streams are synthetic but shaped like
//! the providers' own (same fields, same framing), with multi-byte text in every delta.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use tandem::model::{Decoder, Provider};

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

criterion_group!(benches, throughput, latency_per_chunk);
criterion_main!(benches);
