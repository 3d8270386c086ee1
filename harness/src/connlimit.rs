//! A cap on the listener's connections, each dropped when idle: a target
//! that opens connections and sends nothing cannot exhaust the suite.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Accepts at most `max` connections at once; past that, new ones wait in the
/// kernel's queue until a place frees.
pub struct Limited {
    inner: TcpListener,
    places: Arc<Semaphore>,
    idle: Duration,
}

impl Limited {
    pub fn new(inner: TcpListener, max: usize, idle: Duration) -> Self {
        Self {
            inner,
            places: Arc::new(Semaphore::new(max)),
            idle,
        }
    }
}

impl axum::serve::Listener for Limited {
    type Io = Guarded;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // The semaphore is never closed, so acquiring only waits.
            let Ok(place) = self.places.clone().acquire_owned().await else {
                continue;
            };
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let idle = self.idle;
                    return (
                        Guarded {
                            stream,
                            _place: place,
                            idle,
                            deadline: Box::pin(tokio::time::sleep(idle)),
                        },
                        addr,
                    );
                }
                // Out of descriptors and the like: back off briefly and retry,
                // as axum's own listener does.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection holding its place; it fails once idle for too long.
pub struct Guarded {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl Guarded {
    fn check_idle(&mut self, cx: &mut Context<'_>) -> Result<(), io::Error> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "idle connection"));
        }
        Ok(())
    }

    fn touch(&mut self) {
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    /// An I/O poll's outcome, with the idle clock kept: progress restarts
    /// it, and waiting past it ends the connection.
    fn watched<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(r) => {
                self.touch();
                Poll::Ready(r)
            }
            Poll::Pending => match self.check_idle(cx) {
                Err(e) => Poll::Ready(Err(e)),
                Ok(()) => Poll::Pending,
            },
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        this.watched(cx, polled)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.watched(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_full_listener_makes_the_next_connection_wait_and_idle_ones_go() {
        let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = inner.local_addr().unwrap();
        let mut limited = Limited::new(inner, 1, Duration::from_millis(200));
        let _first = TcpStream::connect(addr).await.unwrap();
        let (mut held, _) = limited.accept().await;
        let _second = TcpStream::connect(addr).await.unwrap();
        // The one place is taken: the second accept does not complete yet.
        let waiting = tokio::time::timeout(Duration::from_millis(100), limited.accept()).await;
        assert!(waiting.is_err());
        // The first connection says nothing; it is dropped once idle...
        let mut buf = [0u8; 8];
        let err = held.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(held);
        // ...and its place goes to the one that waited.
        let (mut next, _) = tokio::time::timeout(Duration::from_secs(2), limited.accept())
            .await
            .unwrap();
        next.write_all(b"x").await.unwrap();
    }
}
