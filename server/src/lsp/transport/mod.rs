//! The byte-level edge: frames in and out of stdio, guarding the JSON-RPC framework from bad input.
//!
//! tower-lsp-server's codec ends its input stream at the first undecodable message (a
//! malformed JSON body, a non-UTF-8 body, a frame that is not JSON-RPC), and it waits for
//! however many bytes a `Content-Length` header claims. Either would take the server down or
//! make it deaf. So every frame passes through here first: it is read with a bounded length,
//! checked to be a JSON-RPC message, and only then handed to the framework over an in-memory
//! pipe. Bad frames are answered here with the JSON-RPC error the spec asks for. The output
//! side copies the framework's frames to stdout whole, interleaved with those answers, so
//! nothing but complete frames ever reaches stdout.

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::sync::{mpsc, oneshot};
use tower_lsp_server::jsonrpc;

#[cfg(test)]
mod fuzz_tests;
mod pushback;
pub use pushback::PushbackReader;

/// The largest message body accepted. Bigger claims are refused without allocating them.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// The longest header line accepted; longer lines are treated as garbage.
const MAX_HEADER_LINE: usize = 8 * 1024;
/// Size of the in-memory pipes between the guard and the framework.
const PIPE_BYTES: usize = 256 * 1024;

/// Why the input side stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputEnd {
    /// The client sent the `exit` notification (it has been handed to the framework).
    Exit,
    /// stdin closed or failed.
    Closed,
}

/// The framework's side of the guard.
pub struct Guarded {
    /// What the framework reads as its stdin: only well-formed JSON-RPC frames.
    pub input: tokio::io::DuplexStream,
    /// What the framework writes as its stdout.
    pub output: tokio::io::DuplexStream,
    /// Fires once when the input side stops.
    pub ended: oneshot::Receiver<InputEnd>,
}

/// Starts the guard tasks between real stdio and the framework.
pub fn spawn<R, W>(stdin: R, stdout: W) -> Guarded
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (framework_in, mut to_framework) = tokio::io::duplex(PIPE_BYTES);
    let (framework_out, from_framework) = tokio::io::duplex(PIPE_BYTES);
    let (replies_tx, replies_rx) = mpsc::unbounded_channel::<String>();
    let (ended_tx, ended) = oneshot::channel();

    tokio::spawn(async move {
        let mut reader = PushbackReader::new(stdin);
        let end = pump_input(&mut reader, &mut to_framework, &replies_tx).await;
        let _ = ended_tx.send(end);
    });
    tokio::spawn(pump_output(from_framework, stdout, replies_rx));

    Guarded {
        input: framework_in,
        output: framework_out,
        ended,
    }
}

/// One frame read from the client, or why it was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Body(Vec<u8>),
    /// Headers without a usable `Content-Length`: nothing to read, answer a parse error.
    BadHeader(String),
    /// A length over [`MAX_BODY_BYTES`]: refused; the stream has been skipped to the next frame.
    TooLong(u64),
    Eof,
}

async fn pump_input<R, W>(
    reader: &mut PushbackReader<R>,
    framework: &mut W,
    replies: &mpsc::UnboundedSender<String>,
) -> InputEnd
where
    R: tokio::io::AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let frame = match read_frame(reader).await {
            Ok(frame) => frame,
            Err(err) => {
                tracing::warn!("reading stdin failed: {err}");
                return InputEnd::Closed;
            }
        };
        let body = match frame {
            Frame::Eof => return InputEnd::Closed,
            Frame::BadHeader(why) => {
                tracing::warn!("refused a frame: {why}");
                let _ = replies.send(error_reply(None, -32700, &why));
                // Reply first: the client may wait for it before sending anything else.
                if resync(reader).await.is_err() {
                    return InputEnd::Closed;
                }
                continue;
            }
            Frame::TooLong(len) => {
                let why =
                    format!("message of {len} bytes refused: the limit is {MAX_BODY_BYTES} bytes");
                tracing::warn!("{why}");
                let _ = replies.send(error_reply(None, -32600, &why));
                if resync(reader).await.is_err() {
                    return InputEnd::Closed;
                }
                continue;
            }
            Frame::Body(body) => body,
        };
        let mut body = body;
        let mut checked = check_message(&body);
        if checked.is_err()
            && let Some(at) = swallowed_header(&body)
        {
            // A frame shorter than its Content-Length swallowed the start of the next frames:
            // read them again as frames, and refuse only the short one.
            tracing::warn!("a frame was {} bytes short of its length", body.len() - at);
            reader.unread(&body[at..]);
            body.truncate(at);
            checked = check_message(&body);
        }
        let (body, kind) = match checked {
            Ok(kind) => (body, kind),
            Err(refusal) => {
                tracing::warn!("refused a message: {}", refusal.message);
                let _ = replies.send(refusal.reply);
                match refusal.forward {
                    Some(forward) => (forward.into_bytes(), MessageKind::Other),
                    None => continue,
                }
            }
        };
        let header = format!("Content-Length: {}\r\n\r\n", body.len());
        let written = async {
            framework.write_all(header.as_bytes()).await?;
            framework.write_all(&body).await?;
            framework.flush().await
        }
        .await;
        if written.is_err() {
            // The framework has stopped reading: it is shutting down.
            return InputEnd::Exit;
        }
        if kind == MessageKind::Exit {
            return InputEnd::Exit;
        }
    }
}

/// Where a body that does not decode holds the start of another frame: a `Content-Length:`
/// line (digits, a line end), or the beginning of one cut short by the body's end. A JSON string
/// cannot hold a raw line end, so a whole line is never text inside a message.
fn swallowed_header(body: &[u8]) -> Option<usize> {
    (1..body.len()).find(|&at| body[at] == b'C' && begins_header(&body[at..]))
}

/// Whether `rest` begins a `Content-Length` header line, whole or cut short by its end.
fn begins_header(rest: &[u8]) -> bool {
    const NAME: &[u8] = b"Content-Length:";
    let n = rest.len().min(NAME.len());
    if rest[..n] != NAME[..n] {
        return false;
    }
    let rest = &rest[n..];
    let rest = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let after = &rest[digits..];
    after.is_empty()
        || (digits > 0
            && (after.starts_with(b"\r\n") || after.starts_with(b"\n") || after == b"\r"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// What a header block says.
#[derive(Debug, PartialEq, Eq)]
enum Header {
    Length(u64),
    /// Headers without a usable `Content-Length`.
    Bad(String),
    Eof,
}

/// Reads one frame. Garbage before a header block is skipped; only I/O errors fail.
pub async fn read_frame<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Frame> {
    Ok(match read_header(reader).await? {
        Header::Length(len) => read_body(reader, len).await?,
        Header::Bad(why) => Frame::BadHeader(why),
        Header::Eof => Frame::Eof,
    })
}

/// Reads a header block, skipping garbage before it (lines that are not headers, and bytes
/// before `Content-Length` on its line).
async fn read_header<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Header> {
    let mut content_length: Option<Result<u64, String>> = None;
    let mut saw_header = false;
    let mut line = Vec::with_capacity(64);
    loop {
        line.clear();
        let n = read_line_bounded(reader, &mut line).await?;
        if n == 0 {
            return Ok(Header::Eof);
        }
        let mut text = trim_line_end(&line);
        if let Some(at) = find(text, b"Content-Length").filter(|&at| at > 0) {
            // Garbage without a line end of its own, then a frame: keep the frame.
            tracing::warn!("skipping {at} bytes of garbage on stdin");
            text = &text[at..];
            saw_header = false;
            content_length = None;
        }
        if text.is_empty() {
            if !saw_header {
                continue; // Stray blank lines between frames.
            }
            break;
        }
        let Some((name, value)) = std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.split_once(':'))
        else {
            // Not a header: skip it, and anything collected with it.
            tracing::warn!("skipping {} bytes of garbage on stdin", text.len());
            saw_header = false;
            content_length = None;
            continue;
        };
        saw_header = true;
        if name.trim().eq_ignore_ascii_case("content-length") {
            let value = value.trim();
            content_length = Some(match value.parse::<u64>() {
                Ok(len) => Ok(len),
                // All digits but too big for u64: an absurd length, not a malformed one.
                Err(_) if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                    Ok(u64::MAX)
                }
                Err(_) => Err(format!("invalid Content-Length `{value}`")),
            });
        }
    }
    Ok(match content_length {
        None => Header::Bad("missing Content-Length header".to_string()),
        Some(Err(why)) => Header::Bad(why),
        Some(Ok(len)) => Header::Length(len),
    })
}

async fn read_body<R: AsyncBufRead + Unpin>(reader: &mut R, len: u64) -> std::io::Result<Frame> {
    let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
    if len_usize > MAX_BODY_BYTES {
        return Ok(Frame::TooLong(len));
    }
    let mut body = vec![0; len_usize];
    match reader.read_exact(&mut body).await {
        Ok(_) => Ok(Frame::Body(body)),
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => Ok(Frame::Eof),
        Err(err) => Err(err),
    }
}

/// Reads a line of at most [`MAX_HEADER_LINE`] bytes; the rest of a longer line is discarded.
async fn read_line_bounded<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(total);
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let room = MAX_HEADER_LINE.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len();
        total += used;
        reader.consume(used);
        if done {
            return Ok(total);
        }
    }
}

/// After a refused length, the claimed body cannot be trusted to exist: skip forward to
/// the next `Content-Length` header instead of reading (or allocating) the claim.
/// After a [`Frame::BadHeader`] or [`Frame::TooLong`], whatever body follows has no trustworthy
/// length: skips to the next `Content-Length` header, which the next [`read_frame`] reads whole.
pub async fn resync<R: AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<()> {
    const NEEDLE: &[u8] = b"Content-Length";
    let mut matched = 0;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(());
        }
        for (i, &b) in available.iter().enumerate() {
            if b == NEEDLE[matched] {
                matched += 1;
                if matched == NEEDLE.len() {
                    // Consume up to the header's start so the next read sees it whole.
                    let start = (i + 1) - NEEDLE.len();
                    reader.consume(start);
                    return Ok(());
                }
            } else {
                matched = usize::from(b == NEEDLE[0]);
            }
        }
        let len = available.len();
        // A header split across two buffer fills is missed; that frame is then refused
        // as garbage and the one after it is read normally.
        reader.consume(len);
        matched = 0;
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && (line[end - 1] == b'\n' || line[end - 1] == b'\r') {
        end -= 1;
    }
    &line[..end]
}

#[derive(Debug, PartialEq, Eq)]
enum MessageKind {
    Exit,
    Other,
}

struct Refusal {
    message: String,
    /// The error answer to send.
    reply: String,
    /// What the framework gets instead, if anything: for a `didChange` it cannot decode,
    /// [`LOST_CHANGE`], so the document is marked out of sync instead of silently lagging.
    forward: Option<String>,
}

/// The notification the guard sends the server in place of a `didChange` it refused, with
/// `{uri, version}` as params.
pub const LOST_CHANGE: &str = "$/tandem/lostChange";

/// What a `didChange` the framework cannot decode still says, read leniently.
#[derive(Deserialize)]
struct LostChange {
    method: String,
    params: LostChangeParams,
}

#[derive(Deserialize)]
struct LostChangeParams {
    #[serde(rename = "textDocument")]
    text_document: LostChangeDocument,
}

#[derive(Deserialize)]
struct LostChangeDocument {
    uri: String,
    version: i32,
}

/// The [`LOST_CHANGE`] notification for a refused body, when it is a `didChange` notification
/// whose document can still be read.
fn lost_change(text: &str) -> Option<String> {
    let change = serde_json::from_str::<LostChange>(text).ok()?;
    if change.method != "textDocument/didChange" || usable_id(text).is_some() {
        return None;
    }
    let doc = change.params.text_document;
    let note = serde_json::json!({
        "jsonrpc": "2.0",
        "method": LOST_CHANGE,
        "params": {"uri": doc.uri, "version": doc.version},
    });
    Some(note.to_string())
}

/// tower-lsp-server's own message type, spelled exactly as it spells it (its `Message` is
/// private): decoding with this type accepts exactly what the framework's decoder accepts, with
/// the same serde and serde_json, so nothing it would reject ever reaches it.
#[derive(Deserialize)]
#[serde(untagged)]
enum FrameworkMessage {
    Response(#[allow(dead_code, reason = "decoded only to be checked")] jsonrpc::Response),
    Request(jsonrpc::Request),
}

/// Just the `id` of a message the framework cannot decode, read leniently (the rest is skipped
/// unchecked), so that the error can name the request it answers.
#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
}

/// The id of a body as it should appear in an error answer, when it has a usable one.
fn usable_id(text: &str) -> Option<String> {
    let raw = serde_json::from_str::<IdOnly<'_>>(text).ok()?.id?;
    let id = serde_json::from_str::<jsonrpc::Id>(raw.get()).ok()?;
    serde_json::to_string(&id).ok()
}

/// Checks that a body is one JSON-RPC 2.0 message the framework will decode, and one it
/// will answer: what it would reject or leave unanswered is answered here instead.
fn check_message(body: &[u8]) -> Result<MessageKind, Refusal> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(Refusal {
            message: "message body is not UTF-8".into(),
            reply: error_reply(None, -32700, "message body is not UTF-8"),
            forward: None,
        });
    };
    let request = match serde_json::from_str::<FrameworkMessage>(text) {
        Ok(FrameworkMessage::Response(_)) => return Ok(MessageKind::Other),
        Ok(FrameworkMessage::Request(request)) => request,
        Err(err) => {
            // The framework's own mapping: a body that parses but is not a message is an
            // invalid request; anything else (bad syntax, a lone surrogate, nesting past 128,
            // a number out of range, a truncated body) is a parse error.
            let (code, why) = if err.is_data() {
                (-32600, format!("not a JSON-RPC 2.0 message: {err}"))
            } else {
                (-32700, format!("malformed JSON: {err}"))
            };
            let id = usable_id(text);
            return Err(Refusal {
                reply: error_reply(id.as_deref(), code, &why),
                message: why,
                forward: lost_change(text),
            });
        }
    };
    let id = request.id().and_then(|id| serde_json::to_string(id).ok());
    let method = request.method();
    if method.is_empty() {
        let why = "message has neither a method nor a result";
        return Err(Refusal {
            message: why.into(),
            reply: error_reply(id.as_deref(), -32600, why),
            forward: None,
        });
    }
    if method.starts_with("$/") && id.is_some() {
        // The framework drops every `$/` request it has no handler for, unanswered; the
        // spec asks for MethodNotFound. We handle no `$/` request.
        let why = format!("unknown method {method}");
        return Err(Refusal {
            reply: error_reply(id.as_deref(), -32601, &why),
            message: why,
            forward: None,
        });
    }
    // The framework stops reading at `exit`, with an id or without.
    Ok(if method == "exit" {
        MessageKind::Exit
    } else {
        MessageKind::Other
    })
}

/// A JSON-RPC error response, as sent on the wire.
fn error_reply(id: Option<&str>, code: i64, message: &str) -> String {
    let message = serde_json::Value::String(format!("tandem: {message}"));
    format!(
        r#"{{"jsonrpc":"2.0","id":{},"error":{{"code":{code},"message":{message}}}}}"#,
        id.unwrap_or("null")
    )
}

/// Copies the framework's frames to stdout whole, with the guard's own replies between them.
/// The framework's frames are ours: they are copied whatever their size (a 100 MB answer is
/// the client's to refuse), streamed rather than held.
async fn pump_output<W: AsyncWrite + Unpin>(
    framework: tokio::io::DuplexStream,
    mut stdout: W,
    mut replies: mpsc::UnboundedReceiver<String>,
) {
    let mut framework = BufReader::new(framework);
    let mut framework_open = true;
    loop {
        // Only waiting for a frame to begin races the replies (`fill_buf` consumes nothing, so
        // losing the race loses nothing); a frame, once begun, is copied whole.
        let written = tokio::select! {
            ready = framework.fill_buf(), if framework_open => {
                if !matches!(ready, Ok(bytes) if !bytes.is_empty()) {
                    framework_open = false;
                    continue;
                }
                match read_header(&mut framework).await {
                    Ok(Header::Length(len)) => copy_frame(&mut framework, len, &mut stdout).await,
                    _ => {
                        framework_open = false;
                        continue;
                    }
                }
            },
            reply = replies.recv() => match reply {
                Some(reply) => write_frame(&mut stdout, reply.as_bytes()).await,
                None if framework_open => continue,
                None => return,
            },
            else => return,
        };
        if written.is_err() {
            return; // The client has gone, or the framework stopped mid-frame.
        }
    }
}

async fn write_frame<W: AsyncWrite + Unpin>(stdout: &mut W, body: &[u8]) -> std::io::Result<()> {
    let header = format!("Content-Length: {}\r\n\r\n", body.len());
    stdout.write_all(header.as_bytes()).await?;
    stdout.write_all(body).await?;
    stdout.flush().await
}

async fn copy_frame<R, W>(from: &mut R, len: u64, stdout: &mut W) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let header = format!("Content-Length: {len}\r\n\r\n");
    stdout.write_all(header.as_bytes()).await?;
    let copied = tokio::io::copy_buf(&mut from.take(len), stdout).await?;
    if copied < len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    stdout.flush().await
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]
mod tests {
    use super::*;

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
        let input = b"Content-Length: 2\r\n\r\n{}garbage\r\nContent-Type: x\r\nContent-Length: 3\r\n\r\n[1]";
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
        pump_input(&mut reader, &mut forwarded, &replies_tx).await;
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
        tokio::spawn(pump_output(from_framework, stdout, replies_rx));
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
}
