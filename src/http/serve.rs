//! Serving connections, with bounds a public network needs and
//! `axum::serve` does not offer: a client that sends half its headers, a
//! body shorter than its `Content-Length`, or nothing at all must not hold
//! a connection, its memory and a file descriptor forever — nor keep a
//! shutdown from finishing.
//!
//! * Headers must arrive within the header timeout (hyper's
//!   `header_read_timeout`, which also closes a keep-alive connection idle
//!   that long), bodies within the body timeout (tower-http's
//!   `RequestBodyTimeoutLayer`, applied in `http::app`), and a client must
//!   take each write of an answer within the write timeout
//!   (`tokio-io-timeout`): one that stops reading would otherwise hold its
//!   connection, and the answer's buffers, forever.
//! * At most `max_connections` at once: past it we stop accepting, and new
//!   connections wait in the kernel's backlog instead of failing.
//! * An accept error (`EMFILE`: out of descriptors) backs off and is logged
//!   once per pause instead of spinning.
//! * On shutdown, connections get `shutdown_deadline` to finish their
//!   requests; whatever is still open then is dropped.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_io_timeout::TimeoutStream;

/// How connections are bounded (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_deadline: Duration,
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open
/// connections finish for at most the shutdown deadline.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    // Kept to be cut at the deadline; reaped as they end.
    let mut connections = JoinSet::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        // Reap what has ended, so the set holds only live connections.
        while connections.try_join_next().is_some() {}
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    back_off(&err).await;
                    continue;
                }
            },
        };
        let mut stream = TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.write_timeout));
        let service = TowerToHyperService::new(app.clone());
        let io = TokioIo::new(Box::pin(stream));
        let connection = graceful.watch(http.serve_connection(io, service));
        connections.spawn(async move {
            // Errors here are the client's: a reset, a timeout, bad HTTP.
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_deadline, graceful.shutdown())
        .await
        .is_err()
    {
        // Dropping a request cancels its handler; an order it started runs
        // on in its own task, which the shutdown still waits for.
        tracing::warn!(deadline = ?limits.shutdown_deadline, "connections still open at the shutdown deadline were dropped");
        connections.abort_all();
    }
}

/// A failed accept is the listener's trouble, not one client's: most often
/// `EMFILE` (no descriptor left). Waiting lets connections close and
/// descriptors free up; spinning would only fill the log.
async fn back_off(err: &std::io::Error) {
    tracing::warn!(error = %err, "accepting a connection failed; pausing 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Raises the soft open-file limit to the hard one (Linux's default soft
/// limit, 1,024, is reached by a few hundred slow clients), and returns the
/// limit now in force.
pub fn raise_open_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(err) => {
            tracing::warn!(error = %err, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1_024, |(soft, _)| soft)
        }
    }
}
