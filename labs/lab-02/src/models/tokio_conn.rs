//! The async connection plumbing both tokio models use (task per
//! connection and thread per core): admitting a connection, the
//! read-run-sync-reply loop around a model's own way of running a batch,
//! and the shutdown signal and drain. The models differ only in their
//! `Batch`; everything else about a connection lives here, once, so
//! neither model imports the other.

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::accept::AcceptErrors;
use crate::conn::{self, Conn, Next, READ_CHUNK};
use crate::shared::{MAX_CLIENTS_REPLY, Shared};
use crate::steps;

std::thread_local! {
    /// Each worker thread's read buffer, shared by its connections.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; READ_CHUNK]);
}

/// A watch channel that flips to `true` when shutdown is requested.
pub(crate) fn stop_signal(shared: &Shared) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    shared.shutdown.on_trigger(move || {
        tx.send_replace(true);
    });
    rx
}

/// Waits (bounded) for every connection task to finish after a shutdown.
pub(crate) async fn drain(shared: &Shared) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while shared.clients.load(std::sync::atomic::Ordering::Relaxed) > 0 && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How a tokio model runs one batch: every complete request in a
/// connection's input, replies into its output.
pub(crate) trait Batch: Lane {
    /// Returns what to do next, and where this connection's log records
    /// end in the append-only file (0: none yet).
    fn run(&mut self, conn: &mut Conn) -> impl Future<Output = (Next, u64)>;
}

/// The next connection the server admits, for both tokio models: a failed
/// `accept` (out of file descriptors, say) is retried after a pause
/// ([`AcceptErrors`]) rather than ending the server, and a connection over
/// `maxclients` gets Redis's error and is closed. `None` once `stop` fires.
pub(crate) async fn accept_admitted(
    listener: &tokio::net::TcpListener,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
) -> Option<(TcpStream, std::net::SocketAddr)> {
    let mut errors = AcceptErrors::default();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => return None,
        };
        let (mut stream, addr) = match accepted {
            Ok(x) => x,
            Err(e) => {
                let pause = errors.failed(&e);
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => return None,
                }
                continue;
            }
        };
        errors.succeeded();
        if !shared.admit() {
            let token = shared.config.task_hook.token();
            tokio::spawn(async move {
                let _token = token;
                let _ = stream.write_all(MAX_CLIENTS_REPLY).await;
            });
            continue;
        }
        let _ = stream.set_nodelay(true);
        return Some((stream, addr));
    }
}

// ANCHOR: async-connection
/// The connection loop both tokio models share: run a batch, make its
/// writes durable, reply, then read more (or stop).
pub(crate) async fn serve_async(
    stream: &mut TcpStream,
    conn: &mut Conn,
    shared: &Shared,
    batch: &mut impl Batch,
    mut stop: watch::Receiver<bool>,
) {
    let limits = shared.config.limits();
    let query_limit = shared.config.client_query_buffer_limit;
    let idle = shared.config.idle_timeout();
    loop {
        let (next, logged) = batch.run(conn).await;
        if next == Next::Shutdown {
            shared.shutdown.trigger();
        }
        // Durable before acknowledged.
        if let Some(aof) = &shared.aof
            && logged > 0
            && let Err(e) = aof.durable(logged).await
        {
            tracing::error!(
                "append-only file write failed; closing {}: {e}",
                conn.session.addr
            );
            return;
        }
        if conn.pending_output() > 0 {
            trace_io(batch, conn, true, conn.pending_output());
            if stream
                .write_all(&conn.output[conn.output_start..])
                .await
                .is_err()
            {
                return;
            }
            let n = conn.pending_output();
            conn.sent(n);
        }
        if conn.closing || *stop.borrow() {
            return;
        }
        if conn::input_over_limit(conn, query_limit) {
            tracing::warn!(
                "closing client {}: query buffer over the limit",
                conn.session.addr
            );
            return;
        }
        if conn.pending_input() > 0 && conn::has_complete_request(conn, &limits) {
            // Output backed up mid-pipeline; now it is sent, go on.
            continue;
        }
        conn.shrink_input();
        conn.compact_input();
        // Waiting for the client holds no read buffer: an idle connection
        // costs its small buffers only. Each poll reads at most one chunk
        // into this thread's scratch buffer, as the event loop does, so the
        // query buffer limit is checked between reads whatever the client
        // sends, and only the bytes that came are kept. (`poll_read`, not
        // `readable()` then `try_read`: a pending `readable()` queues a
        // waiter behind a lock, `poll_read` keeps the waker in the socket's
        // own slot.)
        conn.release_idle();
        let read = std::future::poll_fn(|cx| {
            SCRATCH.with_borrow_mut(|buf| {
                let mut rb = tokio::io::ReadBuf::new(buf);
                match std::pin::Pin::new(&mut *stream).poll_read(cx, &mut rb) {
                    std::task::Poll::Ready(Ok(())) => {
                        conn.input.extend_from_slice(rb.filled());
                        std::task::Poll::Ready(Ok::<usize, std::io::Error>(rb.filled().len()))
                    }
                    std::task::Poll::Ready(Err(e)) => std::task::Poll::Ready(Err(e)),
                    std::task::Poll::Pending => std::task::Poll::Pending,
                }
            })
        });
        let read = async {
            match idle {
                Some(t) => tokio::time::timeout(t, read).await.unwrap_or(Ok(0)),
                None => read.await,
            }
        };
        let n = tokio::select! {
            r = read => r,
            _ = stop.changed() => return,
        };
        match n {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                conn.last_active = Instant::now();
                trace_io(batch, conn, false, n);
            }
        }
    }
}
// ANCHOR_END: async-connection

/// Where a recording shows a connection's steps (see `steps`): the
/// connection's own task, or the core that serves it.
pub(crate) trait Lane {
    /// The lane's name and kind; asked only while a recording is on.
    fn lane(&self, conn: &Conn) -> (String, &'static str);
}

/// Records a read from the client or a write to it (`send`), `n` bytes,
/// for lab-07's recorder (a write before it happens, so the client's step
/// that reads it comes later). Nothing is computed unless it records.
#[inline]
fn trace_io(lane: &impl Lane, conn: &Conn, send: bool, n: usize) {
    if !tracing::enabled!(target: steps::TARGET, tracing::Level::TRACE) {
        return;
    }
    let port = steps::port(&conn.session.addr);
    let (kind, what) = if send {
        ("send", format!("writes {n} bytes to"))
    } else {
        ("recv", format!("reads {n} bytes from"))
    };
    let (lane, lane_kind) = lane.lane(conn);
    tracing::trace!(
        target: steps::TARGET,
        lane = lane.as_str(),
        lane_kind,
        kind,
        label = %format_args!("{what} conn {}", conn.session.id),
        conn = conn.session.id,
        worker = steps::worker().as_str(),
        emits = send.then(|| steps::reply(port)),
        answers = (!send).then(|| steps::request(port)),
    );
}
