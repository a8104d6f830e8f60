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
//!   connections wait in the kernel's backlog instead of failing. While
//!   every slot is taken, a connection that has not sent a whole request
//!   head within [`FLOOD_HEADER_TIMEOUT`] is dropped to make room
//!   ([`Unserved`]): under a flood of slow clients, `/health` and real
//!   buyers get in after about a second per `max_connections` slow clients
//!   queued ahead of them, not after the full header timeout.
//! * An accept error (`EMFILE`: out of descriptors) backs off and is logged
//!   once per pause instead of spinning.
//! * On shutdown, connections get `shutdown_deadline` to finish their
//!   requests; whatever is still open then is dropped.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_io_timeout::TimeoutStream;

/// How connections are bounded (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
    pub shutdown_deadline: Duration,
}

/// While every connection slot is taken, how long a connection may take to
/// send its first request head before it makes room for another.
pub const FLOOD_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` resolves, then lets open
/// connections finish for at most the shutdown deadline.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    // Kept to be cut at the deadline; reaped as they end.
    let mut connections = JoinSet::new();
    let mut unserved = Unserved::default();
    // One ticker for the whole loop: a sleep made anew on every pass would
    // never fire while connections keep ending and slots keep refilling.
    let mut shedding = tokio::time::interval(FLOOD_HEADER_TIMEOUT / 10);
    shedding.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = shedding.tick(), if slots.available_permits() == 0 => {
                unserved.shed_older_than(FLOOD_HEADER_TIMEOUT);
                continue;
            }
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
        let (served, shed) = unserved.track(limits.max_connections);
        let app = app.clone();
        let service = hyper::service::service_fn(move |request| {
            served.store(true, Ordering::Relaxed);
            tower_service::Service::call(&mut app.clone(), request)
        });
        let io = TokioIo::new(Box::pin(stream));
        let connection = graceful.watch(http.serve_connection(io, service));
        connections.spawn(async move {
            tokio::select! {
                // Errors here are the client's: a reset, a timeout, bad HTTP.
                ended = connection => if let Err(err) = ended {
                    tracing::debug!(error = %err, "connection ended with an error");
                },
                Ok(()) = shed => tracing::debug!("connection shed: no request head while every slot was taken"),
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

/// Connections in the order they were accepted, each with whether it has
/// sent a whole request head yet and a way to drop it. Only the head of the
/// queue is ever looked at, so shedding is O(shed); entries of connections
/// that were served or have ended are skipped there, and swept out when the
/// queue outgrows the connections it can stand for.
#[derive(Default)]
struct Unserved(VecDeque<(Instant, Arc<AtomicBool>, oneshot::Sender<()>)>);

impl Unserved {
    /// Tracks a new connection: its "served" flag, and what says "shed it".
    fn track(&mut self, max_connections: usize) -> (Arc<AtomicBool>, oneshot::Receiver<()>) {
        if self.0.len() > 2 * max_connections {
            self.0
                .retain(|(_, served, shed)| !served.load(Ordering::Relaxed) && !shed.is_closed());
        }
        let (served, (shed, shed_rx)) = (Arc::new(AtomicBool::new(false)), oneshot::channel());
        self.0.push_back((Instant::now(), Arc::clone(&served), shed));
        (served, shed_rx)
    }

    /// Drops every connection older than `age` that has not been served.
    fn shed_older_than(&mut self, age: Duration) {
        while let Some((accepted, ..)) = self.0.front()
            && accepted.elapsed() >= age
        {
            let (_, served, shed) = self.0.pop_front().expect("a front entry");
            if !served.load(Ordering::Relaxed) {
                let _ = shed.send(());
            }
        }
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
