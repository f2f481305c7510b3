//! Bytes in, events out: SSE (through eventsource-stream) or NDJSON framing, then the provider's adapter.
//!
//! The decoder is synchronous and incremental so that the transport, the property tests and
//! the benchmark all run the same code: push each network chunk as it comes, however it is cut.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use eventsource_stream::{EventStream, EventStreamError};
use futures::Stream;
use futures::channel::mpsc;
use futures::task::noop_waker_ref;

use super::error::excerpt;
use super::{ModelEvent, Provider, anthropic, ollama, openai, responses};

/// One framed message of a stream.
#[derive(Debug)]
pub(crate) enum Frame {
    /// A server-sent event: its type (`message` when unnamed) and its data.
    Sse { event: String, data: String },
    /// One NDJSON line, without its line ending.
    Line(String),
}

/// Why a stream could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A chunk that is not valid for its format.
    Malformed { excerpt: String, detail: String },
    /// The provider reported an error inside the stream.
    Provider { message: String },
    /// The bytes ended before the completion marker.
    Incomplete { detail: String },
}

impl DecodeError {
    pub(crate) fn malformed(text: &str, detail: impl std::fmt::Display) -> Self {
        DecodeError::Malformed {
            excerpt: excerpt(text, 80),
            detail: detail.to_string(),
        }
    }
}

/// One provider's reading of frames.
pub(crate) trait Adapter: Send {
    /// Reads one frame, pushing what it means onto `out`.
    fn on_frame(&mut self, frame: Frame, out: &mut Vec<ModelEvent>) -> Result<(), DecodeError>;
    /// The bytes ended: emits a pending `Finished`, or says the stream was incomplete.
    fn on_end(&mut self, out: &mut Vec<ModelEvent>) -> Result<(), DecodeError>;
}

type ChunkReceiver = mpsc::UnboundedReceiver<Result<Bytes, Infallible>>;

enum Framing {
    Sse {
        sender: mpsc::UnboundedSender<Result<Bytes, Infallible>>,
        events: Box<EventStream<ChunkReceiver>>,
        utf8: Utf8Check,
    },
    Ndjson {
        pending: Vec<u8>,
    },
}

/// Turns a provider's response body into [`ModelEvent`]s, chunk by chunk.
pub struct Decoder {
    framing: Framing,
    adapter: Box<dyn Adapter>,
    done: bool,
    frames: Vec<Frame>,
}

impl Decoder {
    pub fn new(provider: Provider) -> Self {
        let adapter: Box<dyn Adapter> = match provider {
            Provider::OpenAi => Box::<openai::ChatAdapter>::default(),
            Provider::OpenAiResponses => Box::<responses::ResponsesAdapter>::default(),
            Provider::Anthropic => Box::<anthropic::MessagesAdapter>::default(),
            Provider::Ollama => Box::<ollama::ChatAdapter>::default(),
        };
        Decoder::with_adapter(provider == Provider::Ollama, adapter)
    }

    /// A decoder that frames the body as NDJSON lines or server-sent events and hands each
    /// frame to `adapter` (fill-in-the-middle streams use their own adapters).
    pub(crate) fn with_adapter(ndjson: bool, adapter: Box<dyn Adapter>) -> Self {
        let framing = if ndjson {
            Framing::Ndjson {
                pending: Vec::new(),
            }
        } else {
            let (sender, receiver) = mpsc::unbounded();
            Framing::Sse {
                sender,
                events: Box::new(EventStream::new(receiver)),
                utf8: Utf8Check::default(),
            }
        };
        Decoder {
            framing,
            adapter,
            done: false,
            frames: Vec::new(),
        }
    }

    /// Whether the stream has reached its completion marker (`Finished` was emitted).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes one network chunk, appending the events it completes to `out`.
    pub fn push(&mut self, chunk: Bytes, out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        if self.done {
            return Ok(());
        }
        let mut frames = std::mem::take(&mut self.frames);
        let framed = self.frame(chunk, &mut frames);
        let result = framed.and_then(|()| self.adapt(&mut frames, out));
        frames.clear();
        self.frames = frames;
        result
    }

    /// The body ended: flushes what is left and checks that the stream was complete.
    pub fn finish(&mut self, out: &mut Vec<ModelEvent>) -> Result<(), DecodeError> {
        if self.done {
            return Ok(());
        }
        let mut frames = Vec::new();
        // A last event or line without its terminator still counts; a truncated one means the
        // stream was cut, not that the server sent garbage.
        let flushed = match &mut self.framing {
            Framing::Sse { sender, events, .. } => {
                let _ = sender.unbounded_send(Ok(Bytes::from_static(b"\n\n")));
                sender.close_channel();
                drain_sse(events, &mut frames)
            }
            Framing::Ndjson { pending } => {
                let rest = std::mem::take(pending);
                push_line(&rest, &mut frames)
            }
        };
        let tail = flushed.and_then(|()| self.adapt(&mut frames, out));
        if self.done {
            return Ok(());
        }
        // The adapter decides whether what arrived is a whole answer (an OpenAI-compatible
        // stream may stop after its finish reason); a half chunk at the end only explains why not.
        self.done = true;
        match (tail, self.adapter.on_end(out)) {
            (_, Ok(())) => Ok(()),
            (Err(DecodeError::Malformed { excerpt, .. }), Err(_)) => Err(DecodeError::Incomplete {
                detail: format!("it ended inside a chunk: `{excerpt}`"),
            }),
            (Err(other), Err(_)) | (Ok(()), Err(other)) => Err(other),
        }
    }

    fn frame(&mut self, chunk: Bytes, frames: &mut Vec<Frame>) -> Result<(), DecodeError> {
        match &mut self.framing {
            Framing::Sse {
                sender,
                events,
                utf8,
            } => {
                // eventsource-stream holds invalid UTF-8 back until the body ends, which would
                // turn a bad byte into a stall; it is refused here, where it arrives.
                utf8.check(&chunk)?;
                // The receiver lives in `events`, so the channel is open until `finish`.
                let _ = sender.unbounded_send(Ok(chunk));
                drain_sse(events, frames)
            }
            Framing::Ndjson { pending } => {
                let mut rest: &[u8] = &chunk;
                while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
                    let (line, tail) = rest.split_at(newline);
                    if pending.is_empty() {
                        push_line(line, frames)?;
                    } else {
                        pending.extend_from_slice(line);
                        let whole = std::mem::take(pending);
                        push_line(&whole, frames)?;
                    }
                    rest = &tail[1..];
                }
                pending.extend_from_slice(rest);
                Ok(())
            }
        }
    }

    fn adapt(
        &mut self,
        frames: &mut Vec<Frame>,
        out: &mut Vec<ModelEvent>,
    ) -> Result<(), DecodeError> {
        for frame in frames.drain(..) {
            if self.done {
                break;
            }
            self.adapter.on_frame(frame, out)?;
            if matches!(out.last(), Some(ModelEvent::Finished { .. })) {
                self.done = true;
            }
        }
        Ok(())
    }
}

/// Takes every event the SSE parser can complete from what it was fed so far.
fn drain_sse(
    events: &mut EventStream<ChunkReceiver>,
    frames: &mut Vec<Frame>,
) -> Result<(), DecodeError> {
    // The source is an in-memory channel, so polling with a no-op waker is exact: `Pending`
    // means "needs more bytes", never "wait for I/O".
    let mut cx = Context::from_waker(noop_waker_ref());
    loop {
        match Pin::new(&mut *events).poll_next(&mut cx) {
            // An event without data is a keep-alive.
            Poll::Ready(Some(Ok(event))) if event.data.trim().is_empty() => {}
            Poll::Ready(Some(Ok(event))) => frames.push(Frame::Sse {
                event: event.event,
                data: event.data,
            }),
            Poll::Ready(Some(Err(error))) => return Err(sse_error(error)),
            Poll::Ready(None) | Poll::Pending => return Ok(()),
        }
    }
}

fn sse_error(error: EventStreamError<Infallible>) -> DecodeError {
    match error {
        EventStreamError::Utf8(error) => {
            let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
            DecodeError::malformed(&text, "invalid UTF-8")
        }
        EventStreamError::Parser(error) => {
            DecodeError::malformed(&error.input, "not a server-sent event line")
        }
        EventStreamError::Transport(never) => match never {},
    }
}

fn push_line(line: &[u8], frames: &mut Vec<Frame>) -> Result<(), DecodeError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    match std::str::from_utf8(line) {
        Ok(text) => {
            frames.push(Frame::Line(text.to_owned()));
            Ok(())
        }
        Err(_) => Err(DecodeError::malformed(
            &String::from_utf8_lossy(line),
            "invalid UTF-8",
        )),
    }
}

/// Parses a frame's JSON, or says which chunk was not JSON.
pub(crate) fn parse_json(text: &str) -> Result<serde_json::Value, DecodeError> {
    serde_json::from_str(text)
        .map_err(|error| DecodeError::malformed(text, format!("not JSON: {error}")))
}

/// Validates UTF-8 across chunk boundaries: a character cut at the end of a chunk waits for the
/// next one; a byte that can start no character is an error at once.
#[derive(Default)]
struct Utf8Check {
    carry: Vec<u8>,
}

impl Utf8Check {
    fn check(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        let mut rest = chunk;
        if let Some(&lead) = self.carry.first() {
            let width = utf8_width(lead);
            let take = (width - self.carry.len()).min(rest.len());
            self.carry.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.carry.len() < width {
                return Ok(());
            }
            let character = std::mem::take(&mut self.carry);
            if std::str::from_utf8(&character).is_err() {
                return Err(DecodeError::malformed(
                    &String::from_utf8_lossy(&character),
                    "invalid UTF-8",
                ));
            }
        }
        match std::str::from_utf8(rest) {
            Ok(_) => Ok(()),
            Err(error) if error.error_len().is_none() => {
                self.carry.extend_from_slice(&rest[error.valid_up_to()..]);
                Ok(())
            }
            Err(error) => {
                let around = &rest[error.valid_up_to().saturating_sub(40)..];
                Err(DecodeError::malformed(
                    &String::from_utf8_lossy(around),
                    "invalid UTF-8",
                ))
            }
        }
    }
}

/// The length of the character a UTF-8 lead byte starts (1 for bytes that start none, so
/// that `from_utf8` reports them).
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}
