//! `initialize` answered before the async runtime exists: how soon the server answers is what an
//! editor waits for before it shows anything.
//!
//! The first frame on stdin is read synchronously, with the plain blocking reads the runtime
//! would make later. When it is an `initialize` request the framework will accept, its answer is
//! written at once: it depends only on what the client offers, not on the work the handler does
//! (settings, the workspace root). Everything read is then handed to the guard to read again, so
//! the framework sees the `initialize` as usual and sets the server up from it; its own answer to
//! that request is dropped on the way out (the framework holds every later message until the
//! handler is done). Anything else (another first message, an odd header, a closed stdin) is
//! handed over untouched, for the guard to deal with as it does with every frame.

use std::io::{Read, Write};

use tower_lsp_server::jsonrpc;

use super::message::{FrameworkMessage, MessageKind, check_message};

/// What the early step leaves to the guard.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Early {
    /// The bytes read from stdin, which the guard reads first.
    pub read: Vec<u8>,
    /// The id (as JSON) of the `initialize` already answered, whose second answer is dropped.
    pub answered: Option<String>,
}

/// The largest first frame answered early; a bigger `initialize` is left to the framework.
const MAX_EARLY_BODY: usize = 1024 * 1024;
/// The longest header block looked at.
const MAX_EARLY_HEADER: usize = 8 * 1024;

/// Reads the first frame and, when `answer` makes an answer of it, writes that answer. `answer`
/// gets an `initialize` request that passed the guard's checks; it returns the result to send,
/// or `None` to leave the request to the framework.
pub fn answer_initialize<R, W, F>(stdin: &mut R, stdout: &mut W, answer: F) -> Early
where
    R: Read,
    W: Write,
    F: FnOnce(&jsonrpc::Request) -> Option<serde_json::Value>,
{
    let mut early = Early::default();
    let Some((body_at, len)) = read_first_frame(stdin, &mut early.read) else {
        return early;
    };
    let body = &early.read[body_at..body_at + len];
    let Ok(MessageKind::Other) = check_message(body) else {
        return early;
    };
    let Ok(FrameworkMessage::Request(request)) = serde_json::from_slice(body) else {
        return early;
    };
    let (Some(id), "initialize") = (request.id(), request.method()) else {
        return early;
    };
    let Some(result) = answer(&request) else {
        return early;
    };
    let (Ok(id_json), Ok(reply)) = (
        serde_json::to_string(id),
        serde_json::to_vec(&jsonrpc::Response::from_ok(id.clone(), result)),
    ) else {
        return early;
    };
    let header = format!("Content-Length: {}\r\n\r\n", reply.len());
    let written = stdout
        .write_all(header.as_bytes())
        .and_then(|()| stdout.write_all(&reply))
        .and_then(|()| stdout.flush());
    match written {
        Ok(()) => early.answered = Some(id_json),
        // Nothing or part of it went out: the client has gone, and the guard will see it.
        Err(err) => tracing::warn!("answering initialize failed: {err}"),
    }
    early
}

/// Reads until `read` holds the first frame whole, when it has a plain header (`Name: value`
/// lines ending in CRLF, one `Content-Length`) and a body of at most [`MAX_EARLY_BODY`] bytes.
/// Returns where the body starts and its length; `None` when the frame is anything else or stdin
/// ends first (what was read stays in `read`).
fn read_first_frame<R: Read>(stdin: &mut R, read: &mut Vec<u8>) -> Option<(usize, usize)> {
    let mut chunk = vec![0; 64 * 1024];
    let mut frame = None;
    loop {
        if frame.is_none() {
            if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                let len = content_length(&read[..end])?;
                if len > MAX_EARLY_BODY {
                    return None;
                }
                frame = Some((end + 4, len));
            } else if read.len() > MAX_EARLY_HEADER {
                return None;
            }
        }
        if let Some((at, len)) = frame
            && read.len() >= at + len
        {
            return frame;
        }
        match stdin.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => read.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The `Content-Length` of a header block (without its final blank line), when every line is a
/// well-formed header and exactly one gives a length.
fn content_length(block: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(block).ok()?;
    let mut length = None;
    for line in text.split("\r\n") {
        let (name, value) = line.split_once(':')?;
        if name.trim().eq_ignore_ascii_case("content-length") {
            if length.is_some() {
                return None;
            }
            length = Some(value.trim().parse::<usize>().ok()?);
        }
    }
    length
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]
mod tests {
    use super::*;

    fn frame(body: &str) -> Vec<u8> {
        format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    const INITIALIZE: &str =
        r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"capabilities":{}}}"#;
    const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;

    /// Reads `input` in pieces of `piece` bytes, as a pipe may deliver it.
    struct Pieces<'a> {
        input: &'a [u8],
        piece: usize,
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.piece.min(buf.len()).min(self.input.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input = &self.input[n..];
            Ok(n)
        }
    }

    fn run(input: &[u8], piece: usize) -> (Early, Vec<u8>) {
        let mut out = Vec::new();
        let early = answer_initialize(&mut Pieces { input, piece }, &mut out, |request| {
            Some(serde_json::json!({"method": request.method()}))
        });
        (early, out)
    }

    #[test]
    fn initialize_is_answered_at_once_and_every_byte_read_is_kept() {
        let mut input = frame(INITIALIZE);
        input.extend(frame(INITIALIZED));
        for piece in [1, 5, 64, 100_000] {
            let (early, out) = run(&input, piece);
            assert_eq!(early.answered.as_deref(), Some("7"), "piece {piece}");
            assert!(input.starts_with(&early.read), "piece {piece}");
            assert!(early.read.len() >= frame(INITIALIZE).len(), "piece {piece}");
            let reply = br#"{"jsonrpc":"2.0","result":{"method":"initialize"},"id":7}"#;
            let mut want = format!("Content-Length: {}\r\n\r\n", reply.len()).into_bytes();
            want.extend_from_slice(reply);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
    }

    #[test]
    fn anything_else_is_left_to_the_guard_unanswered() {
        let cases: Vec<Vec<u8>> = vec![
            frame(INITIALIZED),
            frame(r#"{"jsonrpc":"2.0","method":"initialize","params":{}}"#),
            frame(r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#),
            frame(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"x":"\ud83d"}}"#),
            frame(r#"{"id":1,"method":"initialize"}"#),
            b"Content-Length: 10\r\nContent-Length: 10\r\n\r\n0123456789".to_vec(),
            b"garbage\r\n\r\n".to_vec(),
            b"Content-Length: 99999999\r\n\r\n{}".to_vec(),
            b"Content-Length: 50\r\n\r\n{\"jsonrpc\"".to_vec(),
            Vec::new(),
        ];
        for input in cases {
            let (early, out) = run(&input, 7);
            let shown = String::from_utf8_lossy(&input);
            assert_eq!(early.answered, None, "{shown}");
            assert!(out.is_empty(), "{shown}");
            assert!(input.starts_with(&early.read), "{shown}");
        }
    }

    #[test]
    fn a_request_the_answer_declines_is_left_to_the_framework() {
        let input = frame(INITIALIZE);
        let mut out = Vec::new();
        let early = answer_initialize(&mut input.as_slice(), &mut out, |_| None);
        assert_eq!(early.answered, None);
        assert!(out.is_empty());
        assert_eq!(early.read, input);
    }
}
