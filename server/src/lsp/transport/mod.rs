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

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

mod early;
#[cfg(test)]
mod fuzz_tests;
mod message;
mod output;
mod pushback;
pub use early::{Early, answer_initialize};
pub use message::LOST_CHANGE;
use message::{MessageKind, check_message, error_reply};
use output::{EarlyAnswer, pump_output};
pub use pushback::PushbackReader;

/// The largest message body accepted. Bigger claims are refused without allocating them.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// The longest header line accepted; longer lines are treated as garbage.
const MAX_HEADER_LINE: usize = 8 * 1024;
/// Size of the in-memory pipes between the guard and the framework.
const PIPE_BYTES: usize = 256 * 1024;

/// The `shutdown` request handed to the framework and not answered yet, if any. The framework
/// cancels whatever is pending when `exit` arrives, so `exit` waits for that answer (a client
/// may send both in one write).
#[derive(Default)]
struct Shutdown {
    pending: std::sync::Mutex<Option<String>>,
    answered: tokio::sync::Notify,
}

/// How long `exit` waits for the answer to a `shutdown` sent just before it.
const SHUTDOWN_ANSWER: std::time::Duration = std::time::Duration::from_secs(2);

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
    /// Ends once everything the framework wrote (and every reply of the guard) is on stdout.
    pub output_done: tokio::task::JoinHandle<()>,
}

/// Starts the guard tasks between real stdio and the framework. `early` is what was read
/// before (read again first), and the `initialize` already answered, if any.
pub fn spawn<R, W>(stdin: R, stdout: W, early: Early) -> Guarded
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (framework_in, mut to_framework) = tokio::io::duplex(PIPE_BYTES);
    let (framework_out, from_framework) = tokio::io::duplex(PIPE_BYTES);
    let (replies_tx, replies_rx) = mpsc::unbounded_channel::<String>();
    let (ended_tx, ended) = oneshot::channel();
    let shutdown = std::sync::Arc::new(Shutdown::default());

    // The framework answers whatever arrives before its `initialize` handler is done with
    // "not initialized": after an early answer, the client's next messages wait for it.
    let (answered, initialized) = match early.answered {
        Some(id) => {
            let (done, initialized) = oneshot::channel();
            (Some(EarlyAnswer { id, done }), Some(initialized))
        }
        None => (None, None),
    };
    let input_shutdown = shutdown.clone();
    tokio::spawn(async move {
        let mut reader = PushbackReader::new(stdin);
        reader.unread(&early.read);
        let end = pump_input(
            &mut reader,
            &mut to_framework,
            &replies_tx,
            &input_shutdown,
            initialized,
        )
        .await;
        let _ = ended_tx.send(end);
    });
    let output_done = tokio::spawn(pump_output(
        from_framework,
        stdout,
        replies_rx,
        shutdown,
        answered,
    ));

    Guarded {
        input: framework_in,
        output: framework_out,
        ended,
        output_done,
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

/// How long the messages after an `initialize` answered early wait for the framework to be done
/// with it (its handler reads settings files: milliseconds).
const INITIALIZING: std::time::Duration = std::time::Duration::from_secs(10);

/// Hands the client's frames to the framework. `initialized`, when the first frame is an
/// `initialize` answered early, says the framework has answered it too: the frames after it wait.
async fn pump_input<R, W>(
    reader: &mut PushbackReader<R>,
    framework: &mut W,
    replies: &mpsc::UnboundedSender<String>,
    shutdown: &Shutdown,
    mut initialized: Option<oneshot::Receiver<()>>,
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
        if kind == MessageKind::Exit {
            let answered = shutdown.answered.notified();
            let waiting = lock(&shutdown.pending).is_some();
            if waiting {
                let _ = tokio::time::timeout(SHUTDOWN_ANSWER, answered).await;
            }
        }
        if let MessageKind::Shutdown(id) = &kind {
            *lock(&shutdown.pending) = Some(id.clone());
        }
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
        if let Some(initialized) = initialized.take()
            && tokio::time::timeout(INITIALIZING, initialized)
                .await
                .is_err()
        {
            tracing::warn!("the framework did not answer initialize in {INITIALIZING:?}");
        }
    }
}

/// Where a body that does not decode holds the start of another frame: a `Content-Length:`
/// line (digits, a line end), or the beginning of one cut short by the body's end. A JSON string
/// cannot hold a raw line end, so a whole line is never text inside a message. At 0 too: a
/// frame that brought no body of its own swallowed only the next ones.
fn swallowed_header(body: &[u8]) -> Option<usize> {
    (0..body.len()).find(|&at| body[at] == b'C' && begins_header(&body[at..]))
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

/// The lock of the pending `shutdown`; a panic elsewhere while holding it leaves a usable value.
fn lock(pending: &std::sync::Mutex<Option<String>>) -> std::sync::MutexGuard<'_, Option<String>> {
    pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]
mod tests;
