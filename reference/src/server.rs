//! Running the server: on a caller's listener and runtime ([`serve`]), or on
//! a thread and runtime of its own ([`start`]) for synchronous callers.
//!
//! Connections are served by hyper directly rather than by `axum::serve`,
//! which offers none of the knobs a server open to any client needs: a
//! bound on connections, on the size of a request's head, and on the time a
//! client may take to send it or to take an answer.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::Sleep;
use tower_service::Service;

use crate::config::Config;
use crate::routes;

/// Connections the kernel holds for [`start`]'s listener until they are
/// accepted (as `tokio::net::TcpListener::bind` does; std's 128 drops the
/// handshakes of a burst of clients, which then retry only a second later).
/// Clients past the connection limit wait here.
const LISTEN_BACKLOG: u32 = 1024;
/// How long a stopping server lets requests in flight finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Pause after an accept error that is not about one connection (such as a
/// full file table), so the loop does not spin while the cause persists.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves the reference server on `listener`, for ever: accept errors are
/// outlived (a full file table is temporary), not returned. Two conflicting
/// variants are refused at once (`InvalidInput`).
pub async fn serve(listener: TcpListener, config: Config) -> io::Result<()> {
    let config = checked(config)?;
    // Nobody ever asks this server to stop; the sender lives as long as it.
    let (_never, stop) = watch::channel(false);
    let router = routes::router(config.clone());
    run(listener, &config, router, stop).await;
    Ok(())
}

/// Starts a server on `127.0.0.1` with a free port, on its own thread with its
/// own two-worker runtime, and returns once it is listening. Callable from
/// synchronous code (and from async code: it never blocks on a runtime).
/// Two conflicting variants are refused (`InvalidInput`).
pub fn start(config: Config) -> io::Result<ServerHandle> {
    let config = checked(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("invite-reference")
        .enable_all()
        .build()?;
    let listener = {
        // A listener belongs to a runtime's reactor: make it in this one.
        let _runtime = runtime.enter();
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        socket.listen(LISTEN_BACKLOG)?
    };
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let (router, calls) = {
        let _runtime = runtime.enter();
        routes::router_and_calls(config.clone())
    };
    let thread = std::thread::Builder::new()
        .name("invite-reference".into())
        .spawn(move || {
            runtime.block_on(run(listener, &config, router, stopped));
            // Delivery tasks of live calls would wait forever for more
            // notifications; they are dropped with the runtime.
            runtime.shutdown_timeout(Duration::from_millis(100));
        })?;
    Ok(ServerHandle {
        addr,
        stop,
        thread: Some(thread),
        calls,
    })
}

/// The configuration as the server applies it ([`Config::applied`]), or a
/// refusal if two of its variants cannot both be on.
fn checked(config: Config) -> io::Result<Config> {
    match config.conflicting_variants() {
        None => Ok(config.applied()),
        Some((a, b)) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the variants {a} and {b} cannot both be on"),
        )),
    }
}

/// Accepts and serves connections until `stop` turns true (or its sender is
/// gone), then lets requests in flight finish for at most [`SHUTDOWN_GRACE`].
/// `config` is as [`checked`] returns it.
async fn run(
    listener: TcpListener,
    config: &Config,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    // At most what a semaphore (and waiting for all its permits at
    // shutdown) can count.
    let max_connections = config
        .max_connections
        .min(Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let slots = Arc::new(Semaphore::new(max_connections));
    let http = http_settings(config);
    let write_timeout = config.write_timeout;
    let log = config.log_requests;
    loop {
        // The place is taken before accepting: past the limit the server
        // stops accepting, and new connections wait in the kernel's listen
        // backlog until a served one ends. Refusing them instead would need
        // accepting them (spending the very descriptors the limit protects)
        // and reading a request to answer it; waiting costs a client only
        // time, bounded by the timeouts every connection is held to.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let Ok(slot) = slot else { break }; // the semaphore is never closed
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                if !is_connection_error(&error) {
                    if log {
                        eprintln!("invite-reference: accept failed: {error}");
                    }
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
                continue;
            }
        };
        let connection = serve_connection(
            stream,
            peer,
            http.clone(),
            router.clone(),
            write_timeout,
            stop.clone(),
        );
        tokio::spawn(async move {
            connection.await;
            // The place is free once the connection is gone.
            drop(slot);
        });
    }
    drop(listener);
    // Every connection holds a place until it ends: having them all back
    // means every connection has finished.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all)).await;
}

/// hyper's HTTP/1 settings from the configuration.
fn http_settings(config: &Config) -> http1::Builder {
    /// hyper's own bound on its read buffer (8 KiB + 100 x 4 KiB), which
    /// would otherwise refuse a head before `max_header_size` does.
    const HYPER_BUFFER: usize = 8192 + 4096 * 100;
    let backstop = config.max_header_bytes.saturating_mul(2).max(1);
    let mut http = http1::Builder::new();
    if backstop > HYPER_BUFFER {
        http.max_buf_size(backstop);
    }
    http.timer(TokioTimer::new())
        // hyper starts this clock when it waits for a request's head, so it
        // also closes connections left idle between requests.
        .header_read_timeout(config.header_timeout)
        // The routes answer heads over `max_header_bytes` with Graph's
        // `431`; hyper must let them through to be answered, and refuses
        // (with a bare `431`) only heads past twice that, which bounds what
        // one connection buffers.
        .max_header_size(backstop);
    http
}

/// Serves one connection until it ends, or until `stop`, when hyper
/// finishes the request in flight and closes.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    http: http1::Builder,
    router: Router,
    write_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    // Many small exchanges: answers should not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(WriteDeadline::new(stream, write_timeout));
    let service = service_fn(move |mut request: hyper::Request<Incoming>| {
        // What `into_make_service_with_connect_info` would add: the routes
        // key the per-client limit on it.
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().call(request)
    });
    let connection = http.serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        // A failed connection (a client gone, a timeout) concerns only that
        // client; there is nobody to tell.
        _ = connection.as_mut() => return,
        _ = stop.wait_for(|stop| *stop) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// Errors of `accept` that concern the one connection being accepted (it
/// was reset before it could be taken), not the listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A TCP stream whose writes fail once they have made no progress for a
/// while. A client that stops reading its answers would otherwise keep a
/// connection (and its place under the connection limit) for ever: hyper's
/// timeouts only cover reading a request's head.
struct WriteDeadline {
    stream: TcpStream,
    timeout: Duration,
    /// Running while a write waits for the client; reset by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteDeadline {
    fn new(stream: TcpStream, timeout: Duration) -> WriteDeadline {
        WriteDeadline {
            stream,
            timeout,
            stalled: None,
        }
    }

    /// What a write that returned `outcome` returns: its result once it
    /// made progress, a timeout error once it has waited too long.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if outcome.is_ready() {
            self.stalled = None;
            return outcome;
        }
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(stalled.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client took no bytes of the answer within the write timeout",
        )))
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.watch(cx, outcome)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.watch(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.stream).poll_flush(cx);
        this.watch(cx, outcome)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.watch(cx, outcome)
    }
}

/// A server started by [`start`]; dropping it stops the server too.
pub struct ServerHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
    calls: routes::LiveCalls,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The base URL of the API, e.g. `http://127.0.0.1:PORT/v1.0`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1.0", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The ids of the calls the server holds live (created, not ended),
    /// sorted: what clients left behind.
    pub fn live_calls(&self) -> Vec<String> {
        self.calls.ids()
    }

    /// Stops the server and waits for its thread to end.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
