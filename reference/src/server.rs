//! Running the server: on a caller's listener and runtime ([`serve`]), or on
//! a thread and runtime of its own ([`start`]) for synchronous callers.

use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::routes;

/// How long a stopping server lets requests in flight finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Serves the reference server on `listener` until the listener fails.
pub async fn serve(listener: TcpListener, config: Config) -> io::Result<()> {
    axum::serve(listener, routes::router(config)).await
}

/// Starts a server on `127.0.0.1` with a free port, on its own thread with its
/// own two-worker runtime, and returns once it is listening. Callable from
/// synchronous code (and from async code: it never blocks on a runtime).
pub fn start(config: Config) -> io::Result<ServerHandle> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("invite-reference")
        .enable_all()
        .build()?;
    let (stop, stopped) = watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("invite-reference".into())
        .spawn(move || {
            runtime.block_on(async move {
                match TcpListener::from_std(listener) {
                    Ok(listener) => serve_until(listener, config, stopped).await,
                    Err(error) => eprintln!("invite-reference: cannot listen on {addr}: {error}"),
                }
            });
            // Delivery tasks of live calls would wait forever for more
            // notifications; they are dropped with the runtime.
            runtime.shutdown_timeout(Duration::from_millis(100));
        })?;
    Ok(ServerHandle {
        addr,
        stop,
        thread: Some(thread),
    })
}

/// Serves until `stopped` turns true (or its sender is gone), then lets
/// requests in flight finish for at most [`SHUTDOWN_GRACE`].
async fn serve_until(listener: TcpListener, config: Config, stopped: watch::Receiver<bool>) {
    let mut graceful = stopped.clone();
    let server = axum::serve(listener, routes::router(config)).with_graceful_shutdown(async move {
        let _ = graceful.wait_for(|stop| *stop).await;
    });
    let mut deadline = stopped;
    tokio::select! {
        served = server => {
            if let Err(error) = served {
                eprintln!("invite-reference: server failed: {error}");
            }
        }
        () = async move {
            let _ = deadline.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => {}
    }
}

/// A server started by [`start`]; dropping it stops the server too.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// The base URL of the API, e.g. `http://127.0.0.1:PORT/v1.0`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1.0", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
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
