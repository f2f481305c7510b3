//! Fuzzing the transport with proptest: malformed JSON, escapes and lone surrogates in
//! `didChange` params, deep nesting, huge numbers, truncated frames, garbage between frames.
//! After any of it, the guard forwards only what the framework decodes and the server answers
//! the next valid request.

use proptest::prelude::*;
use tokio::io::{AsyncWriteExt, BufReader};

use super::message::FrameworkMessage;
use super::{Frame, read_frame};

const SENTINEL_ID: i64 = 424_242;
const URI: &str = "file:///fuzz/lib.rs";

fn frame(body: &[u8]) -> Vec<u8> {
    [
        format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
        body,
    ]
    .concat()
}

fn sentinel() -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{SENTINEL_ID},"method":"textDocument/documentSymbol","params":{{"textDocument":{{"uri":"{URI}"}}}}}}"#
    )
}

/// `didChange` params around a piece of JSON text written as is.
fn did_change(version: i32, text_json: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"textDocument/didChange","params":{{"textDocument":{{"uri":"{URI}","version":{version}}},"contentChanges":[{{"text":{text_json}}}]}}}}"#
    )
}

/// JSON string contents built from escapes, good and bad.
fn escaped_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(r"\ud83d".to_string()),
        Just(r"\udc00".to_string()),
        Just(r"\ud83d\ude00".to_string()),
        Just(r"\u0000".to_string()),
        Just(r"\u12".to_string()),
        Just(r"\x".to_string()),
        Just(r#"\\"#.to_string()),
        Just(r#"\""#.to_string()),
        Just("\u{7f}".to_string()),
        Just("\t".to_string()),
        "[a-z ]{0,5}",
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| format!("\"{}\"", pieces.concat()))
}

fn huge_number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1e999".to_string()),
        Just("-1e400".to_string()),
        Just("1.7976931348623157e309".to_string()),
        Just("123456789012345678901234567890".to_string()),
        Just("18446744073709551616".to_string()),
        Just("-0".to_string()),
        Just("1.5".to_string()),
    ]
}

/// One hostile (or harmless) piece of input.
fn segment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Valid messages.
        (1..100i32).prop_map(|v| frame(did_change(v, r#""ok""#).as_bytes())),
        Just(frame(br#"{"jsonrpc":"2.0","method":"$/noop"}"#)),
        // Escapes and lone surrogates in didChange params.
        (1..100i32, escaped_text()).prop_map(|(v, text)| frame(did_change(v, &text).as_bytes())),
        // Nesting around 128, balanced or not.
        (100..200usize, any::<bool>()).prop_map(|(depth, balanced)| {
            let close = if balanced { depth } else { depth / 2 };
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(close));
            frame(did_change(2, &nested).as_bytes())
        }),
        // Huge numbers as params, as a version, as an id.
        huge_number().prop_map(|n| frame(did_change(2, &format!("[{n}]")).as_bytes())),
        huge_number().prop_map(|n| frame(
            format!(r#"{{"jsonrpc":"2.0","id":{n},"method":"textDocument/hover"}}"#).as_bytes()
        )),
        // Malformed JSON: a valid message cut anywhere, framed at its cut length.
        any::<prop::sample::Index>().prop_map(|cut| {
            let body = sentinel();
            frame(&body.as_bytes()[..cut.index(body.len())])
        }),
        // A frame shorter than its Content-Length says.
        (1..40usize, any::<prop::sample::Index>()).prop_map(|(extra, cut)| {
            let body = did_change(3, r#""x""#);
            let short = &body.as_bytes()[..cut.index(body.len())];
            [
                format!("Content-Length: {}\r\n\r\n", short.len() + extra).as_bytes(),
                short,
            ]
            .concat()
        }),
        // Garbage between frames, with or without a line end.
        ("[a-zA-Z0-9 {}\":,]{1,30}", any::<bool>()).prop_map(|(garbage, newline)| {
            let mut bytes = garbage.into_bytes();
            if newline {
                bytes.extend_from_slice(b"\r\n");
            }
            bytes
        }),
        Just(b"X-Header: 1\r\n\r\n".to_vec()),
        Just(frame(b"\xff\xfe{}")),
        Just(frame(b"")),
    ]
}

fn hostile_input() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(segment(), 1..8).prop_map(|segments| segments.concat())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a test runtime")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The guard hands the framework only what it decodes, and the valid request after the
    /// hostile input reaches it.
    #[test]
    fn guard_forwards_only_decodable_messages(input in hostile_input()) {
        let input = [input, frame(sentinel().as_bytes())].concat();
        let (forwarded, _replies) = runtime().block_on(super::tests::guard(&input));
        for body in &forwarded {
            prop_assert!(serde_json::from_str::<FrameworkMessage>(body).is_ok(), "{body}");
        }
        prop_assert_eq!(forwarded.last(), Some(&sentinel()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The whole server, in process: after any hostile input it answers the next request.
    #[test]
    fn the_server_answers_after_hostile_input(input in hostile_input()) {
        let answered = runtime().block_on(async move {
            let (mut client_in, server_in) = tokio::io::duplex(1 << 16);
            let (server_out, client_out) = tokio::io::duplex(1 << 16);
            let server = tokio::spawn(crate::lsp::serve(server_in, server_out, crate::lsp::Early::default()));
            let open = format!(
                r#"{{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{{"textDocument":{{"uri":"{URI}","languageId":"rust","version":1,"text":"fn alive() {{}}\n"}}}}}}"#
            );
            let mut reader = BufReader::new(client_out);
            // As an editor does: nothing else until `initialize` is answered.
            let init = frame(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":null,"rootUri":null,"capabilities":{}}}"#);
            client_in.write_all(&init).await.map_err(|e| e.to_string())?;
            read_frame(&mut reader).await.map_err(|e| e.to_string())?;
            let script = [
                frame(br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#),
                frame(open.as_bytes()),
                input,
                frame(sentinel().as_bytes()),
            ]
            .concat();
            // Written from a task: the server's answers must be read meanwhile.
            tokio::spawn(async move {
                let _ = client_in.write_all(&script).await;
                // Keep stdin open until the test ends, as an editor would.
                std::future::pending::<()>().await;
            });
            let answered = tokio::time::timeout(std::time::Duration::from_secs(10), async {
                loop {
                    let body = match read_frame(&mut reader).await {
                        Ok(Frame::Body(body)) => body,
                        other => return Err(format!("stdout ended: {other:?}")),
                    };
                    let Ok(message) = serde_json::from_slice::<serde_json::Value>(&body) else {
                        continue;
                    };
                    if message["id"] == SENTINEL_ID {
                        // The text may have changed (full-text changes apply): any symbols do.
                        let alive = message["result"].is_array()
                            || message["error"]["code"] == -32801;
                        return if alive { Ok(()) } else { Err(message.to_string()) };
                    }
                }
            })
            .await
            .unwrap_or_else(|_| Err("no answer in 10 s".into()));
            server.abort();
            answered
        });
        let answered: Result<(), String> = answered;
        prop_assert_eq!(answered, Ok(()));
    }
}
