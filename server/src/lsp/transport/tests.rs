//! Unit tests for the guard: frames, message checks, truncation, garbage, the output pump.

use super::*;
use tokio::io::BufReader;

async fn frames(input: &[u8]) -> Vec<Frame> {
    let mut reader = BufReader::new(input);
    let mut out = Vec::new();
    loop {
        let frame = read_frame(&mut reader)
            .await
            .expect("in-memory reads do not fail");
        let eof = frame == Frame::Eof;
        if matches!(frame, Frame::BadHeader(_) | Frame::TooLong(_)) {
            resync(&mut reader)
                .await
                .expect("in-memory reads do not fail");
        }
        out.push(frame);
        if eof {
            return out;
        }
    }
}

fn body(s: &str) -> Frame {
    Frame::Body(s.as_bytes().to_vec())
}

#[tokio::test]
async fn reads_frames_and_skips_garbage() {
    let input =
        b"Content-Length: 2\r\n\r\n{}garbage\r\nContent-Type: x\r\nContent-Length: 3\r\n\r\n[1]";
    assert_eq!(
        frames(input).await,
        vec![body("{}"), body("[1]"), Frame::Eof]
    );
}

#[tokio::test]
async fn refuses_absurd_lengths_without_allocating() {
    let input = b"Content-Length: 99999999999999999999\r\n\r\n{}Content-Length: 2\r\n\r\n{}";
    assert_eq!(
        frames(input).await,
        vec![Frame::TooLong(u64::MAX), body("{}"), Frame::Eof]
    );
    let input = b"Content-Length: 9999999999\r\n\r\n{\"a\":1}Content-Length: 2\r\n\r\n{}";
    assert_eq!(
        frames(input).await,
        vec![Frame::TooLong(9_999_999_999), body("{}"), Frame::Eof]
    );
}

#[tokio::test]
async fn missing_length_is_a_bad_header() {
    let got = frames(b"Content-Type: a\r\n\r\nContent-Length: 2\r\n\r\n{}").await;
    assert!(matches!(got[0], Frame::BadHeader(_)));
    assert_eq!(got[1], body("{}"));
}

fn check(body: &str) -> Result<MessageKind, (String, String)> {
    check_message(body.as_bytes()).map_err(|r| (r.message, r.reply))
}

/// The error answer a body gets: its code and id.
fn refused(body: &str) -> (i64, serde_json::Value) {
    let (_, reply) = check(body).unwrap_err();
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    (
        reply["error"]["code"].as_i64().unwrap(),
        reply["id"].clone(),
    )
}

#[test]
fn checks_messages() {
    assert_eq!(
        check(r#"{"jsonrpc":"2.0","id":1,"method":"a"}"#).ok(),
        Some(MessageKind::Other)
    );
    assert_eq!(
        check(r#"{"jsonrpc":"2.0","method":"exit"}"#).ok(),
        Some(MessageKind::Exit)
    );
    assert_eq!(
        check(r#"{"jsonrpc":"2.0","id":"s","method":"shutdown"}"#).ok(),
        Some(MessageKind::Shutdown(r#""s""#.into()))
    );
    assert_eq!(
        check(r#"{"jsonrpc":"2.0","id":"x","result":null}"#).ok(),
        Some(MessageKind::Other)
    );
    assert_eq!(
        check(r#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}"#).ok(),
        Some(MessageKind::Other)
    );
    let null = serde_json::Value::Null;
    assert_eq!(
        refused(r#"{"jsonrpc":"2.0","id":7,"method":"#),
        (-32700, null.clone())
    );
    assert_eq!(refused(r#"{"id":7,"method":"a"}"#), (-32600, 7.into()));
    assert_eq!(
        refused(r#"{"jsonrpc":"2.0","id":{},"method":"a"}"#),
        (-32600, null.clone())
    );
    assert_eq!(refused(r#"[1,2]"#), (-32600, null.clone()));
    assert_eq!(refused(r#"{"jsonrpc":"2.0"}"#), (-32600, null.clone()));
    assert_eq!(refused(""), (-32700, null.clone()));
    assert_eq!(
        refused(r#"{"jsonrpc":"2.0","id":"q","method":"$/x"}"#),
        (-32601, "q".into())
    );
}

/// What the framework's decoder rejects inside otherwise fine messages is answered here,
/// with the request's id when it has one.
#[test]
fn refuses_what_the_framework_would() {
    let deep = format!("{}{}", "[".repeat(130), "]".repeat(130));
    let params = [r#""a\ud83d""#, r#"[1e999]"#, deep.as_str(), r#""\udc00b""#];
    for params in params {
        let request = format!(r#"{{"jsonrpc":"2.0","id":3,"method":"a","params":{params}}}"#);
        assert_eq!(refused(&request), (-32700, 3.into()), "{request}");
        let note = format!(r#"{{"jsonrpc":"2.0","method":"a","params":{params}}}"#);
        assert_eq!(refused(&note), (-32700, serde_json::Value::Null), "{note}");
    }
    // A didChange that cannot be decoded becomes a lost-change note, so the document is
    // marked out of sync.
    let note = r#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"file:///a.rs","version":4},"contentChanges":[{"text":"a\ud83d"}]}}"#;
    let refusal = check_message(note.as_bytes()).unwrap_err();
    let forward: serde_json::Value = serde_json::from_str(&refusal.forward.unwrap()).unwrap();
    assert_eq!(
        forward,
        serde_json::json!({"jsonrpc": "2.0", "method": LOST_CHANGE, "params": {"uri": "file:///a.rs", "version": 4}})
    );
    let request = note.replace(r#""method""#, r#""id":1,"method""#);
    assert!(
        check_message(request.as_bytes())
            .unwrap_err()
            .forward
            .is_none()
    );
    // A surrogate pair, escaped, is fine.
    assert!(check(r#"{"jsonrpc":"2.0","method":"a","params":"\ud83d\ude00"}"#).is_ok());
}

/// Runs the input side over these bytes: the bodies handed to the framework, and the
/// guard's answers.
pub(super) async fn guard(input: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut reader = PushbackReader::new(input);
    let mut forwarded = Vec::new();
    let (replies_tx, mut replies_rx) = mpsc::unbounded_channel();
    pump_input(
        &mut reader,
        &mut forwarded,
        &replies_tx,
        &Shutdown::default(),
        None,
    )
    .await;
    drop(replies_tx);
    let mut replies = Vec::new();
    while let Some(reply) = replies_rx.recv().await {
        replies.push(reply);
    }
    let bodies = frames(&forwarded)
        .await
        .into_iter()
        .filter_map(|frame| match frame {
            Frame::Body(body) => Some(String::from_utf8(body).unwrap()),
            _ => None,
        })
        .collect();
    (bodies, replies)
}

fn frame(body: &str) -> String {
    format!("Content-Length: {}\r\n\r\n{body}", body.len())
}

fn request(id: u32) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"shutdown"}}"#)
}

#[tokio::test]
async fn garbage_without_a_line_end_keeps_the_next_frame() {
    let input = format!("garbage{}", frame(&request(1)));
    let (bodies, replies) = guard(input.as_bytes()).await;
    assert_eq!(bodies, vec![request(1)]);
    assert!(replies.is_empty(), "{replies:?}");
}

#[tokio::test]
async fn a_truncated_frame_loses_only_itself() {
    let short = r#"{"jsonrpc":"2.0","id":1,"#;
    let input = format!(
        "Content-Length: {}\r\n\r\n{short}{}{}",
        short.len() + 40,
        frame(&request(2)),
        frame(&request(3))
    );
    let (bodies, replies) = guard(input.as_bytes()).await;
    assert_eq!(bodies, vec![request(2), request(3)]);
    assert_eq!(replies.len(), 1);
    assert!(replies[0].contains("-32700"), "{replies:?}");
    // A frame with no body of its own, cut inside the next frame's header.
    for extra in [1, 5, 16] {
        let input = format!("Content-Length: {extra}\r\n\r\n{}", frame(&request(2)));
        assert_eq!(guard(input.as_bytes()).await.0, vec![request(2)], "{extra}");
    }
    // Cut inside the next frame's header: that frame is still read whole.
    for extra in [1, 8, 17, 19, 21, 23] {
        let input = format!(
            "Content-Length: {}\r\n\r\n{short}{}{}",
            short.len() + extra,
            frame(&request(2)),
            frame(&request(3))
        );
        assert_eq!(
            guard(input.as_bytes()).await.0,
            vec![request(2), request(3)],
            "{extra}"
        );
    }
    // Text about headers inside a message is left alone.
    let body = r#"{"jsonrpc":"2.0","method":"a","params":"Content-Length: 2\r\n"}"#;
    assert_eq!(
        guard(frame(body).as_bytes()).await.0,
        vec![body.to_string()]
    );
}

/// Our own frames are never capped: a 65 MiB answer reaches stdout whole, and so does the
/// next one.
#[tokio::test]
async fn copies_huge_outgoing_frames() {
    let (mut framework, from_framework) = tokio::io::duplex(PIPE_BYTES);
    let (_replies_tx, replies_rx) = mpsc::unbounded_channel();
    let (stdout, mut client) = tokio::io::duplex(PIPE_BYTES);
    tokio::spawn(pump_output(
        from_framework,
        stdout,
        replies_rx,
        std::sync::Arc::default(),
        None,
    ));
    let huge = format!("\"{}\"", "x".repeat(MAX_BODY_BYTES + 1024 * 1024));
    tokio::spawn(async move {
        for body in [huge.as_str(), "[1]"] {
            let frame = frame(body);
            framework.write_all(frame.as_bytes()).await.unwrap();
        }
    });
    let mut client = BufReader::new(&mut client);
    let Frame::TooLong(len) = read_frame(&mut client).await.unwrap() else {
        panic!("expected a frame over the input limit");
    };
    assert_eq!(len, (MAX_BODY_BYTES + 1024 * 1024 + 2) as u64);
    let mut skip = (&mut client).take(len);
    tokio::io::copy(&mut skip, &mut tokio::io::sink())
        .await
        .unwrap();
    assert_eq!(read_frame(&mut client).await.unwrap(), body("[1]"));
}

/// The framework's answer to the `initialize` answered early is dropped, and only it: what it
/// writes before and after reaches stdout in order.
#[tokio::test]
async fn drops_only_the_second_answer_to_initialize() {
    let (mut framework, from_framework) = tokio::io::duplex(PIPE_BYTES);
    let (_replies_tx, replies_rx) = mpsc::unbounded_channel();
    let (stdout, mut client) = tokio::io::duplex(PIPE_BYTES);
    let (done, mut initialized) = oneshot::channel();
    let answered = EarlyAnswer {
        id: "7".into(),
        done,
    };
    tokio::spawn(pump_output(
        from_framework,
        stdout,
        replies_rx,
        std::sync::Arc::default(),
        Some(answered),
    ));
    let sent = [
        r#"{"jsonrpc":"2.0","method":"window/logMessage","params":{"type":3,"message":"x"}}"#,
        r#"{"jsonrpc":"2.0","id":7,"method":"client/registerCapability","params":{}}"#,
        r#"{"jsonrpc":"2.0","result":{"capabilities":{}},"id":7}"#,
        r#"{"jsonrpc":"2.0","result":null,"id":7}"#,
        r#"{"jsonrpc":"2.0","result":null,"id":8}"#,
    ];
    tokio::spawn(async move {
        for body in sent {
            framework.write_all(frame(body).as_bytes()).await.unwrap();
        }
    });
    let mut client = BufReader::new(&mut client);
    let mut said = false;
    for (i, want) in [sent[0], sent[1], sent[3], sent[4]].into_iter().enumerate() {
        assert_eq!(read_frame(&mut client).await.unwrap(), body(want));
        // Dropping the answer says the framework is done with `initialize`.
        said |= initialized.try_recv().is_ok();
        if i >= 2 {
            assert!(said, "not said by frame {i}");
        }
    }
}
