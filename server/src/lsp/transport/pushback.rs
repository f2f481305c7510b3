//! A buffered reader that can be handed bytes back: what a truncated frame swallowed of the
//! frames after it is read again as those frames.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncBufRead, AsyncRead, BufReader, ReadBuf};

/// [`BufReader`] with a pushback buffer read before the inner reader.
pub struct PushbackReader<R> {
    inner: BufReader<R>,
    /// Bytes handed back, read from `pos` on before anything from `inner`.
    pending: Vec<u8>,
    pos: usize,
}

impl<R: AsyncRead + Unpin> PushbackReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner: BufReader::new(inner),
            pending: Vec::new(),
            pos: 0,
        }
    }

    /// Hands bytes back: they are read next, before what was pending.
    pub fn unread(&mut self, bytes: &[u8]) {
        let mut pending = Vec::with_capacity(bytes.len() + self.pending.len() - self.pos);
        pending.extend_from_slice(bytes);
        pending.extend_from_slice(&self.pending[self.pos..]);
        self.pending = pending;
        self.pos = 0;
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for PushbackReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.pending.len() {
            let n = buf.remaining().min(this.pending.len() - this.pos);
            buf.put_slice(&this.pending[this.pos..this.pos + n]);
            Pin::new(this).consume(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<R: AsyncRead + Unpin> AsyncBufRead for PushbackReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.pos < this.pending.len() {
            return Poll::Ready(Ok(&this.pending[this.pos..]));
        }
        Pin::new(&mut this.inner).poll_fill_buf(cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        if this.pos < this.pending.len() {
            this.pos = (this.pos + amt).min(this.pending.len());
            if this.pos == this.pending.len() {
                this.pending = Vec::new();
                this.pos = 0;
            }
        } else {
            Pin::new(&mut this.inner).consume(amt);
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test that unwraps wrong fails, which is the point"
)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn reads_handed_back_bytes_first() {
        let mut reader = PushbackReader::new(&b"world"[..]);
        let mut two = [0; 2];
        reader.read_exact(&mut two).await.unwrap();
        reader.unread(b"hello ");
        reader.unread(b">");
        let mut rest = String::new();
        reader.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, ">hello rld");
    }
}
