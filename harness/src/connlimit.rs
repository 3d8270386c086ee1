//! The listener's connections, bounded: at most so many at once, and so
//! many from one peer address; each dropped when idle, and when a request
//! (head and body) takes too long to arrive. A connection past a cap is
//! refused at once and counted, so that a trial which missed a notification
//! meanwhile can say the listener was saturated rather than blame the target.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

/// The bounds of the listener's connections.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Connections served at once.
    pub max: usize,
    /// Connections served at once from one peer address.
    pub per_address: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle: Duration,
    /// A request must arrive whole (head and body) this long after its
    /// first byte, however steadily it drips.
    pub request: Duration,
}

/// Connections refused because a cap was reached: how many, and the last.
#[derive(Debug, Default)]
pub struct Refusals {
    count: AtomicU64,
    last: Mutex<Option<String>>,
}

impl Refusals {
    /// Connections refused so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// The last refusal, in words: the peer and the cap it met.
    pub fn last(&self) -> Option<String> {
        crate::sync::lock(&self.last).clone()
    }

    fn refuse(&self, why: String) {
        *crate::sync::lock(&self.last) = Some(why);
        self.count.fetch_add(1, Ordering::SeqCst);
    }
}

/// The places taken: in all, and per peer address.
#[derive(Debug, Default)]
struct Places {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Accepts every connection the kernel queues, and serves those within the caps.
pub struct Limited {
    inner: TcpListener,
    caps: Caps,
    places: Arc<Mutex<Places>>,
    refusals: Arc<Refusals>,
}

impl Limited {
    pub fn new(inner: TcpListener, caps: Caps, refusals: Arc<Refusals>) -> Self {
        Self {
            inner,
            caps,
            places: Arc::default(),
            refusals,
        }
    }

    /// A place for a connection from `addr`, or why there is none.
    fn take_place(&self, addr: SocketAddr) -> Result<Place, String> {
        let ip = addr.ip();
        let mut places = crate::sync::lock(&self.places);
        let from_peer = places.by_address.get(&ip).copied().unwrap_or(0);
        if from_peer >= self.caps.per_address {
            return Err(format!(
                "a connection from {ip} was refused: that address already had {from_peer} open, the cap per address"
            ));
        }
        if places.total >= self.caps.max {
            return Err(format!(
                "a connection from {ip} was refused: all {} places were taken",
                self.caps.max
            ));
        }
        places.total += 1;
        *places.by_address.entry(ip).or_default() += 1;
        Ok(Place {
            ip,
            places: Arc::clone(&self.places),
        })
    }
}

/// A connection's place, given back when it closes.
struct Place {
    ip: IpAddr,
    places: Arc<Mutex<Places>>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut places = crate::sync::lock(&self.places);
        places.total = places.total.saturating_sub(1);
        if let Some(n) = places.by_address.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                places.by_address.remove(&self.ip);
            }
        }
    }
}

impl axum::serve::Listener for Limited {
    type Io = Guarded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => match self.take_place(addr) {
                    Ok(place) => {
                        let _ = stream.set_nodelay(true);
                        return (Guarded::new(stream, place, self.caps), addr);
                    }
                    // Closed at once: a refused sender knows at once, and
                    // the refusal is on record for the trials.
                    Err(why) => {
                        drop(stream);
                        self.refusals.refuse(why);
                    }
                },
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

/// A connection holding its place; it fails once idle for too long, or
/// once a request has taken too long to arrive.
pub struct Guarded {
    stream: TcpStream,
    _place: Place,
    caps: Caps,
    idle: Pin<Box<Sleep>>,
    /// Running from a request's first byte until its answer is written.
    request: Option<Pin<Box<Sleep>>>,
}

impl Guarded {
    fn new(stream: TcpStream, place: Place, caps: Caps) -> Self {
        Self {
            stream,
            _place: place,
            caps,
            idle: Box::pin(tokio::time::sleep(caps.idle)),
            request: None,
        }
    }

    /// Whether the request under way has taken too long; polling its
    /// deadline arms its wake-up.
    fn request_expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        let request = self.request.as_mut()?;
        request.as_mut().poll(cx).is_ready().then(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the request did not arrive whole within {} ms",
                    self.caps.request.as_millis()
                ),
            )
        })
    }

    /// Whether a deadline has passed; polling them arms their wake-ups.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        if self.idle.as_mut().poll(cx).is_ready() {
            return Some(io::Error::new(io::ErrorKind::TimedOut, "idle connection"));
        }
        self.request_expired(cx)
    }

    /// Progress restarts the idle clock, never the request's.
    fn touch(&mut self) {
        let next = Instant::now() + self.caps.idle;
        self.idle.as_mut().reset(next);
    }

    /// An I/O poll's outcome, with the deadlines kept: waiting past one
    /// ends the connection.
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
            Poll::Pending => match self.expired(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
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
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            // The first byte of a request starts its clock.
            if this.request.is_none() {
                this.request = Some(Box::pin(tokio::time::sleep(this.caps.request)));
            }
            // A request that drips is ended even while bytes come: each
            // byte restarts the idle clock, never this one.
            if let Some(e) = this.request_expired(cx) {
                return Poll::Ready(Err(e));
            }
        }
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
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            // An answer is being written: the request it answers is in.
            this.request = None;
        }
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

    fn caps(max: usize, per_address: usize) -> Caps {
        Caps {
            max,
            per_address,
            idle: Duration::from_millis(200),
            request: Duration::from_millis(300),
        }
    }

    /// A connection to `addr` from the loopback address `from`.
    async fn connect_from(from: [u8; 4], addr: SocketAddr) -> TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        socket.connect(addr).await.unwrap()
    }

    /// Whether the listener closed `stream`: a read that ends (or fails)
    /// within a bound far past every deadline of these tests.
    async fn closed(stream: &mut TcpStream) -> bool {
        let mut buf = [0u8; 64];
        matches!(
            tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await,
            Ok(Ok(0) | Err(_))
        )
    }

    #[tokio::test]
    async fn idle_connections_go_and_their_places_are_given_back() {
        let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = inner.local_addr().unwrap();
        let refusals = Arc::new(Refusals::default());
        let mut limited = Limited::new(inner, caps(1, 1), refusals.clone());
        let _first = TcpStream::connect(addr).await.unwrap();
        let (mut held, _) = limited.accept().await;
        // The one place is taken: the second connection is refused at once.
        let mut second = TcpStream::connect(addr).await.unwrap();
        let accepting = tokio::spawn(async move {
            let (next, _) = limited.accept().await;
            next
        });
        assert!(closed(&mut second).await);
        // The first connection says nothing; it is dropped once idle...
        let mut buf = [0u8; 8];
        let err = held.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        drop(held);
        // ...and its place goes to the next one that comes.
        let _third = TcpStream::connect(addr).await.unwrap();
        let mut next = tokio::time::timeout(Duration::from_secs(10), accepting)
            .await
            .unwrap()
            .unwrap();
        next.write_all(b"x").await.unwrap();
        assert!(refusals.count() >= 1);
        assert!(refusals.last().unwrap().contains("from 127.0.0.1"));
    }

    #[tokio::test]
    async fn a_request_that_drips_is_ended_however_steadily() {
        let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = inner.local_addr().unwrap();
        let mut limited = Limited::new(inner, caps(4, 4), Arc::default());
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut served, _) = limited.accept().await;
        // The server side reads as hyper would, while the client sends a
        // byte every 50 ms: never idle for the 200 ms idle bound, but the
        // request never ends within its 300 ms.
        let reading = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            loop {
                match served.read(&mut buf).await {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(e) => return Some(e.kind()),
                }
            }
        });
        let dripping = tokio::spawn(async move {
            for byte in b"POST /callbacks/x HTTP/1.1\r\nHost: h\r\n"
                .iter()
                .cycle()
                .take(400)
            {
                if client.write_all(&[*byte]).await.is_err() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        });
        let ended = tokio::time::timeout(Duration::from_secs(10), reading)
            .await
            .expect("the dripping request was ended")
            .unwrap();
        assert_eq!(ended, Some(io::ErrorKind::TimedOut));
        dripping.abort();
    }

    #[tokio::test]
    async fn one_address_cannot_take_every_place() {
        let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = inner.local_addr().unwrap();
        let refusals = Arc::new(Refusals::default());
        let mut limited = Limited::new(inner, caps(8, 3), refusals.clone());
        let (mut flood, mut served) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            flood.push(connect_from([127, 0, 0, 2], addr).await);
            served.push(limited.accept().await);
        }
        // A fourth from the same address is refused...
        let mut over = connect_from([127, 0, 0, 2], addr).await;
        // ...and one from another address is served.
        let _other = connect_from([127, 0, 0, 1], addr).await;
        let (_, from) = tokio::time::timeout(Duration::from_secs(10), limited.accept())
            .await
            .unwrap();
        assert_eq!(from.ip(), IpAddr::from([127, 0, 0, 1]));
        assert!(closed(&mut over).await);
        assert_eq!(refusals.count(), 1);
        assert!(
            refusals.last().unwrap().contains("127.0.0.2"),
            "{:?}",
            refusals.last()
        );
    }
}
