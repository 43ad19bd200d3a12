//! The HTTP server of a process: an accept loop over hyper's HTTP/1 connections, with the
//! limits a connection meets before any request reaches the routes.
//!
//! - **At most `max_connections` open at once.** The loop takes a permit before it accepts;
//!   past the cap, new connections wait in the listen backlog instead of each taking memory
//!   and a file descriptor.
//! - **A request's head must arrive within `header_read_timeout`**, counted from when the
//!   connection is ready for one: when it opens, and after each answer. So the same timeout
//!   closes half-sent requests and idle keep-alive connections. (axum's own `serve` sets no
//!   timer, so hyper applies none.)
//! - **Shutdown** stops accepting, ends server-sent streams (they never finish by themselves:
//!   each request carries [`ShuttingDown`], which they end on), lets open connections finish
//!   their requests, and waits at most [`SHUTDOWN_GRACE`] for them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tower::ServiceExt as _;
use tracing::{debug, warn};

/// The longest shutdown waits for open connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long the loop pauses after a failed accept (out of file descriptors, most often), so it
/// does not spin while none is free.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The limits on connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest time for a request's head to arrive, from when the connection is ready for
    /// one: also how long an idle keep-alive connection is kept.
    pub header_read_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// Signalled when the server begins to shut down, in every request's extensions: a response
/// that never ends by itself (a server-sent stream) ends on it, so a stopping process is not
/// held for [`SHUTDOWN_GRACE`] by a subscriber, nor its restart delayed.
#[derive(Clone, Debug, Default)]
pub struct ShuttingDown(CancellationToken);

impl ShuttingDown {
    /// Completes once shutdown has begun.
    pub fn signalled(&self) -> WaitForCancellationFutureOwned {
        self.0.clone().cancelled_owned()
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes gracefully. Each
/// request carries the client's address as [`ConnectInfo`], which the rate limit keys on.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    let shutting_down = ShuttingDown::default();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    warn!(error = %error, "accept failed");
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let shutting_down = shutting_down.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let extensions = request.extensions_mut();
            extensions.insert(ConnectInfo::<SocketAddr>(peer));
            extensions.insert(shutting_down.clone());
            app.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // A client that went away, or took too long to send a head: not the server's
                // failure.
                debug!(error = %error, client = %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    shutting_down.0.cancel();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "connections still open at shutdown were dropped");
        }
    }
}
