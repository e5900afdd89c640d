//! The `--stall-after N` and `--trickle` faults. `--stall-after N`: a connection that has carried N X.509 updates stops writing
//! anything (messages, PING ACKs, SETTINGS ACKs) but stays open and keeps reading, as an
//! agent whose transport is wedged would. New connections are served normally. `--trickle`:
//! every write carries at most one byte, so the client receives each response one byte per
//! write.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tonic::transport::server::Connected;

/// Per-connection switch, reachable from a call through its request extensions.
#[derive(Clone, Debug)]
pub struct StallSwitch(Arc<Switch>);

#[derive(Debug)]
struct Switch {
    limit: Option<u64>,
    sent: AtomicU64,
    stalled: AtomicBool,
}

impl StallSwitch {
    /// Records that an X.509 update is about to be sent. Past the limit the connection stalls
    /// and this update is never written: exactly `limit` updates get through.
    pub fn record_update(&self) {
        let sent = self.0.sent.fetch_add(1, Ordering::SeqCst) + 1;
        if self.0.limit.is_some_and(|limit| sent > limit)
            && !self.0.stalled.swap(true, Ordering::SeqCst)
        {
            eprintln!(
                "svid-dev-agent: connection stalled after {} X.509 updates",
                sent - 1
            );
        }
    }

    fn stalled(&self) -> bool {
        self.0.stalled.load(Ordering::SeqCst)
    }
}

/// An accepted connection whose writes can be stalled.
pub struct StallableStream {
    inner: UnixStream,
    switch: StallSwitch,
    trickle: bool,
}

impl StallableStream {
    /// Wraps `inner`; `limit` is `--stall-after` (`None`: never stall), `trickle` is
    /// `--trickle`.
    pub fn new(inner: UnixStream, limit: Option<u64>, trickle: bool) -> Self {
        StallableStream {
            inner,
            trickle,
            switch: StallSwitch(Arc::new(Switch {
                limit,
                sent: AtomicU64::new(0),
                stalled: AtomicBool::new(false),
            })),
        }
    }
}

impl Connected for StallableStream {
    type ConnectInfo = StallSwitch;

    fn connect_info(&self) -> StallSwitch {
        self.switch.clone()
    }
}

impl AsyncRead for StallableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

/// A stalled connection's writes never complete (and are never woken): the bytes stay in
/// the server, the socket stays open.
impl AsyncWrite for StallableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.switch.stalled() {
            return Poll::Pending;
        }
        let buf = if self.trickle && !buf.is_empty() {
            &buf[..1]
        } else {
            buf
        };
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.switch.stalled() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(flavor = "current_thread")]
    async fn a_trickling_stream_writes_one_byte_at_a_time() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let mut trickle = StallableStream::new(ours, None, true);
        assert_eq!(trickle.write(b"hello").await.unwrap(), 1);
        trickle.write_all(b"ello").await.unwrap();
        let mut got = [0u8; 5];
        theirs.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");

        let (ours, _theirs) = UnixStream::pair().unwrap();
        let mut plain = StallableStream::new(ours, None, false);
        assert_eq!(plain.write(b"hello").await.unwrap(), 5);
    }
}
