//! The output side of the guard: the framework's frames copied to stdout whole, with the
//! guard's own replies between them; the answers it watches for (`shutdown`'s, and the second
//! answer to an `initialize` answered early) picked out on the way.

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::sync::{mpsc, oneshot};

use super::{Header, Shutdown, lock, read_header};

/// Copies the framework's frames to stdout whole, with the guard's own replies between them.
/// The framework's frames are ours: they are copied whatever their size (a 100 MB answer is
/// the client's to refuse), streamed rather than held. The framework's answer to the
/// `initialize` answered early (`answered`) is dropped.
pub(super) async fn pump_output<W: AsyncWrite + Unpin>(
    framework: tokio::io::DuplexStream,
    mut stdout: W,
    mut replies: mpsc::UnboundedReceiver<String>,
    shutdown: std::sync::Arc<Shutdown>,
    mut answered: Option<EarlyAnswer>,
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
                    Ok(Header::Length(len)) if answered.is_some() && len <= EARLY_ANSWER => {
                        drop_answer(&mut framework, len, &mut stdout, &mut answered).await
                    }
                    Ok(Header::Length(len)) => {
                        let pending = lock(&shutdown.pending).clone();
                        match pending {
                            // The answer to `shutdown` is a small frame: read it to see.
                            Some(id) if len <= SMALL_FRAME => {
                                copy_small_frame(&mut framework, len, &mut stdout, &id, &shutdown)
                                    .await
                            }
                            _ => copy_frame(&mut framework, len, &mut stdout).await,
                        }
                    }
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

/// The largest frame read whole to check whether it is the framework's answer to the
/// `initialize` answered early (which is a few kilobytes).
const EARLY_ANSWER: u64 = 1024 * 1024;

/// The `initialize` answered early: its id (as JSON), and who waits for the framework's answer.
pub(super) struct EarlyAnswer {
    pub(super) id: String,
    pub(super) done: oneshot::Sender<()>,
}

/// Copies a frame unless it is the framework's answer to the `initialize` answered early, which
/// is dropped (and said to be there).
async fn drop_answer<R, W>(
    from: &mut R,
    len: u64,
    stdout: &mut W,
    answered: &mut Option<EarlyAnswer>,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let body = read_body(from, len).await?;
    let answer = answered
        .as_ref()
        .and_then(|early| answer_to(&body, &early.id));
    let Some(answer) = answer else {
        return write_frame(stdout, &body).await;
    };
    if let Some(error) = answer.get("error") {
        // The client was told it is initialized; the framework will refuse what it sends.
        tracing::error!("initialize failed after it was answered: {error}");
    }
    if let Some(early) = answered.take() {
        let _ = early.done.send(());
    }
    Ok(())
}

/// A frame's body, read whole.
async fn read_body<R: AsyncBufRead + Unpin>(from: &mut R, len: u64) -> std::io::Result<Vec<u8>> {
    let mut body = vec![0; usize::try_from(len).unwrap_or(0)];
    from.read_exact(&mut body).await?;
    Ok(body)
}

/// The message in `body` when it answers (has no method and this id) the request whose id is
/// `id` (as JSON).
fn answer_to(body: &[u8], id: &str) -> Option<serde_json::Value> {
    let message = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    let answers = message.get("method").is_none()
        && message
            .get("id")
            .and_then(|got| serde_json::to_string(got).ok())
            .is_some_and(|got| got == id);
    answers.then_some(message)
}

/// The largest frame read whole to check whether it answers `shutdown`.
const SMALL_FRAME: u64 = 512;

/// Copies a small frame, noting whether it is the answer to the pending `shutdown` (`id`).
async fn copy_small_frame<R, W>(
    from: &mut R,
    len: u64,
    stdout: &mut W,
    id: &str,
    shutdown: &Shutdown,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let body = read_body(from, len).await?;
    write_frame(stdout, &body).await?;
    if answer_to(&body, id).is_some() {
        *lock(&shutdown.pending) = None;
        shutdown.answered.notify_waiters();
    }
    Ok(())
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
