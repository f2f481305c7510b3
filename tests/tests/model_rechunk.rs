//! Property: however the network cuts a recorded stream (inside multi-byte characters and CRLF
//! pairs included), the decoder yields the same events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use proptest::prelude::*;
use tandem::model::{DecodeError, Decoder, ModelEvent};
use tandem_tests::model_server::Wire;

const DELTAS: &[&str] = &[
    "Hé",
    "llo ",
    "wörld 🎉",
    " 日本語",
    " 👨‍👩‍👧",
    "\n\tdone",
    " \"quoted\"",
];

/// A recorded stream of `wire`, with CRLF line endings when asked (both are valid SSE and NDJSON).
fn recorded(wire: Wire, crlf: bool) -> Vec<u8> {
    let mut bytes: Vec<u8> = wire.render(DELTAS, Some((31, 7))).concat();
    if wire != Wire::Ollama {
        // SSE comments and keep-alives are part of real streams.
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

fn decode(wire: Wire, chunks: &[&[u8]]) -> (Vec<ModelEvent>, Result<(), DecodeError>) {
    let mut decoder = Decoder::new(wire.provider());
    let mut events = Vec::new();
    for chunk in chunks {
        if let Err(error) = decoder.push(Bytes::copy_from_slice(chunk), &mut events) {
            return (events, Err(error));
        }
    }
    let end = decoder.finish(&mut events);
    (events, end)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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
fn whole_streams_decode_to_the_expected_events() {
    for wire in Wire::ALL {
        for crlf in [false, true] {
            let bytes = recorded(wire, crlf);
            let (events, end) = decode(wire, &[&bytes]);
            assert_eq!(end, Ok(()), "{wire:?} crlf={crlf}");
            let text: String = events
                .iter()
                .filter_map(|e| {
                    if let ModelEvent::TextDelta(t) = e {
                        Some(t.as_str())
                    } else {
                        None
                    }
                })
                .collect();
            assert_eq!(text, DELTAS.concat(), "{wire:?} crlf={crlf}");
            assert_eq!(
                events.len(),
                DELTAS.len() + 2,
                "{wire:?}: deltas, usage, finished"
            );
        }
    }
}

#[test]
fn one_byte_at_a_time_gives_the_same_events() {
    for wire in Wire::ALL {
        for crlf in [false, true] {
            let bytes = recorded(wire, crlf);
            let whole = decode(wire, &[&bytes]);
            let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(decode(wire, &bytewise), whole, "{wire:?} crlf={crlf}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_rechunking_gives_the_same_events(
        wire in prop::sample::select(Wire::ALL.to_vec()),
        crlf in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..48),
    ) {
        let bytes = recorded(wire, crlf);
        let whole = decode(wire, &[&bytes]);
        let pieces = split_at(&bytes, &cuts);
        prop_assert_eq!(decode(wire, &pieces), whole);
    }

    /// A prefix of a stream is never a success: it is the same events so far, then incomplete.
    #[test]
    fn any_truncation_is_incomplete_not_finished(
        wire in prop::sample::select(Wire::ALL.to_vec()),
        cut in any::<usize>(),
    ) {
        let bytes = recorded(wire, false);
        // Everything up to the last event's first byte, so the completion marker is never whole.
        let last_event_start = bytes[..bytes.len() - 2].iter().rposition(|&b| b == b'\n').unwrap() + 1;
        let cut = cut % last_event_start;
        let (events, end) = decode(wire, &[&bytes[..cut]]);
        // Compatible servers may end after the finish reason without usage or [DONE]: once that
        // chunk's JSON is whole (its blank line may be missing), the answer counts as finished.
        let finish_chunk_end = find(&bytes, b"\"finish_reason\":\"stop\"").map(|at| at + find(&bytes[at..], b"\n\n").unwrap());
        let finished = events.iter().any(|e| matches!(e, ModelEvent::Finished { .. }));
        if wire == Wire::OpenAi && finish_chunk_end.is_some_and(|end| cut >= end) {
            prop_assert!(end.is_ok() && finished, "{:?} {:?}", end, events);
        } else {
            prop_assert!(matches!(end, Err(DecodeError::Incomplete { .. })), "{:?} {:?}", end, events);
            prop_assert!(!finished, "{:?}", events);
        }
    }
}
