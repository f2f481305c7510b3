//! Unit tests of the adapters' reading of token usage, one line a case: every wire's prompt,
//! cached prompt and output counts, in OpenAI's terms (Anthropic's cache reads and writes added
//! into the prompt), and what each does when the endpoint reports less or nothing.

use bytes::Bytes;

use super::{Decoder, ModelEvent, Provider, Usage};

/// The usage a whole `stream` reports, if any (the stream must decode and finish).
fn usage(provider: Provider, stream: &str) -> Option<Usage> {
    let mut decoder = Decoder::new(provider);
    let mut out = Vec::new();
    decoder
        .push(Bytes::copy_from_slice(stream.as_bytes()), &mut out)
        .unwrap();
    decoder.finish(&mut out).unwrap();
    assert!(
        matches!(out.last(), Some(ModelEvent::Finished { .. })),
        "{provider}: {out:?}"
    );
    let reported: Vec<Usage> = out
        .into_iter()
        .filter_map(|event| match event {
            ModelEvent::Usage(usage) => Some(usage),
            _ => None,
        })
        .collect();
    assert!(reported.len() <= 1, "{provider}: {reported:?}");
    reported.first().copied()
}

/// `(prompt, cached, output)`, `None` for a count the endpoint did not give.
type Counts = (Option<u64>, Option<u64>, Option<u64>);

fn check(provider: Provider, stream: &str, expected: Option<Counts>) {
    let got =
        usage(provider, stream).map(|u| (u.input_tokens, u.cached_input_tokens, u.output_tokens));
    assert_eq!(got, expected, "{provider}: {stream}");
}

/// A Chat Completions stream: one text chunk, the finish, then `usage` (a JSON object, or
/// nothing) in a chunk of its own.
fn chat(usage: &str) -> String {
    let mut stream = concat!(
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n",
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    )
    .to_owned();
    if !usage.is_empty() {
        stream.push_str(&format!("data: {{\"choices\":[],\"usage\":{usage}}}\n\n"));
    }
    stream.push_str("data: [DONE]\n\n");
    stream
}

#[test]
fn openai_chat_reads_prompt_cached_and_output_tokens() {
    let cases: &[(&str, Option<Counts>)] = &[
        (
            r#"{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920}}"#,
            Some((Some(2006), Some(1920), Some(300))),
        ),
        // OpenAI says 0 when nothing was cached: that is a report, kept.
        (
            r#"{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0}}"#,
            Some((Some(12), Some(0), Some(3))),
        ),
        // Compatible servers (vLLM, llama.cpp) often leave the details out, or null.
        (
            r#"{"prompt_tokens":12,"completion_tokens":3}"#,
            Some((Some(12), None, Some(3))),
        ),
        (
            r#"{"prompt_tokens":12,"completion_tokens":3,"prompt_tokens_details":null}"#,
            Some((Some(12), None, Some(3))),
        ),
        ("null", None),
        ("", None),
    ];
    for (reported, expected) in cases {
        check(Provider::OpenAi, &chat(reported), *expected);
    }
}

/// A Responses stream: one text delta, then `response.completed` whose response carries `usage`
/// (a JSON object, or nothing).
fn responses(usage: &str) -> String {
    let response = if usage.is_empty() {
        r#"{"id":"r","status":"completed"}"#.to_owned()
    } else {
        format!(r#"{{"id":"r","status":"completed","usage":{usage}}}"#)
    };
    format!(
        "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"delta\":\"a\"}}\n\n\
         event: response.completed\ndata: {{\"type\":\"response.completed\",\"response\":{response}}}\n\n"
    )
}

#[test]
fn responses_reads_input_cached_and_output_tokens() {
    let cases: &[(&str, Option<Counts>)] = &[
        (
            r#"{"input_tokens":5000,"input_tokens_details":{"cached_tokens":4096},"output_tokens":80,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":5080}"#,
            Some((Some(5000), Some(4096), Some(80))),
        ),
        (
            r#"{"input_tokens":7,"output_tokens":2}"#,
            Some((Some(7), None, Some(2))),
        ),
        ("", None),
    ];
    for (reported, expected) in cases {
        check(Provider::OpenAiResponses, &responses(reported), *expected);
    }
}

/// A Messages stream: `message_start` with `start` as its usage, one text block, then
/// `message_delta` with `delta` as its usage (each a JSON object, or nothing).
fn messages(start: &str, delta: &str) -> String {
    let start = if start.is_empty() {
        r#"{"id":"m","role":"assistant"}"#.to_owned()
    } else {
        format!(r#"{{"id":"m","role":"assistant","usage":{start}}}"#)
    };
    let delta = if delta.is_empty() {
        String::new()
    } else {
        format!(r#","usage":{delta}"#)
    };
    format!(
        "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{start}}}\n\n\
         event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{{\"type\":\"text\",\"text\":\"\"}}}}\n\n\
         event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"a\"}}}}\n\n\
         event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":0}}\n\n\
         event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\"}}{delta}}}\n\n\
         event: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n"
    )
}

#[test]
fn anthropic_adds_cache_reads_and_writes_into_the_prompt() {
    let cases: &[(&str, &str, Option<Counts>)] = &[
        // The usual stream: the prompt at the start, the output at the end.
        (
            r#"{"input_tokens":25,"output_tokens":1}"#,
            r#"{"output_tokens":40}"#,
            Some((Some(25), None, Some(40))),
        ),
        // Cache reads are cached prompt tokens; cache writes are prompt tokens, not cached.
        (
            r#"{"input_tokens":4,"cache_read_input_tokens":2000,"cache_creation_input_tokens":0,"output_tokens":1}"#,
            r#"{"output_tokens":12}"#,
            Some((Some(2004), Some(2000), Some(12))),
        ),
        (
            r#"{"input_tokens":4,"cache_read_input_tokens":0,"cache_creation_input_tokens":1500,"output_tokens":1}"#,
            r#"{"output_tokens":12}"#,
            Some((Some(1504), Some(0), Some(12))),
        ),
        // The delta's usage is cumulative and may repeat (or correct) the prompt's counts.
        (
            r#"{"input_tokens":4,"cache_read_input_tokens":100,"output_tokens":1}"#,
            r#"{"input_tokens":4,"cache_read_input_tokens":100,"cache_creation_input_tokens":50,"output_tokens":9}"#,
            Some((Some(154), Some(100), Some(9))),
        ),
        // Only the cache read known: it is the whole prompt as far as the wire says.
        (
            r#"{"cache_read_input_tokens":30}"#,
            "",
            Some((Some(30), Some(30), None)),
        ),
        ("", r#"{"output_tokens":3}"#, Some((None, None, Some(3)))),
        ("", "", None),
    ];
    for (start, delta, expected) in cases {
        check(Provider::Anthropic, &messages(start, delta), *expected);
    }
}

/// An Ollama stream: one text line, then the `done` line with `counts` added to it.
fn ollama(counts: &str) -> String {
    let comma = if counts.is_empty() { "" } else { "," };
    format!(
        "{{\"message\":{{\"role\":\"assistant\",\"content\":\"a\"}},\"done\":false}}\n\
         {{\"message\":{{\"role\":\"assistant\",\"content\":\"\"}},\"done\":true,\"done_reason\":\"stop\"{comma}{counts}}}\n"
    )
}

#[test]
fn ollama_reads_its_eval_counts_and_no_cache() {
    let cases: &[(&str, Option<Counts>)] = &[
        (
            r#""prompt_eval_count":26,"eval_count":290,"total_duration":1"#,
            Some((Some(26), None, Some(290))),
        ),
        // A prompt Ollama had cached whole is not evaluated again: no prompt count at all.
        (r#""eval_count":5"#, Some((None, None, Some(5)))),
        ("", None),
    ];
    for (counts, expected) in cases {
        check(Provider::Ollama, &ollama(counts), *expected);
    }
}
