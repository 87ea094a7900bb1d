//! One multiplexed connection, as most Redis clients have one (redis-rs's
//! `MultiplexedConnection`, ioredis, Lettuce): a task owns the socket,
//! callers hand it an encoded request and a oneshot for the reply, and the
//! replies are matched to the requests in order (RESP answers in order, so
//! many requests can be in flight on one socket: pipelining).
//!
//! Any failure other than an error reply kills the connection: a reset, the
//! peer closing (cleanly or mid-reply), bytes that are not RESP, or a
//! request's deadline passing (a late reply would otherwise answer the next
//! request). Every request still waiting then gets a [`NetError`] that says
//! whether its bytes had left ([`NetError::sent`]).
//!
//! The transport is a [`Connector`]: TCP by default ([`TcpConnector`]), an
//! in-memory pipe in the tests, so a scripted fake server can run under
//! tokio's paused clock.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lab_02::resp::{Frame, encode_command, parse_frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use crate::error::{Cause, NetError, Op, copy_io};

/// Opens transports. `connect` need not enforce a deadline: the caller
/// ([`Connection::open`]) does.
pub trait Connector: Send + Sync + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Opens one transport.
    fn connect(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Where it connects, for the errors (`None` for an in-memory pipe).
    fn peer(&self) -> Option<SocketAddr>;
}

/// TCP to one address, with `TCP_NODELAY` (a request is one small write;
/// Nagle would hold it back waiting for the previous one's ACK).
#[derive(Debug, Clone)]
pub struct TcpConnector {
    pub addr: SocketAddr,
}

impl TcpConnector {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr }
    }
}

impl Connector for TcpConnector {
    type Stream = TcpStream;

    async fn connect(&self) -> io::Result<TcpStream> {
        let stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    fn peer(&self) -> Option<SocketAddr> {
        Some(self.addr)
    }
}

/// A request on its way to the connection's task.
struct Request {
    bytes: Vec<u8>,
    reply: oneshot::Sender<Result<Frame, NetError>>,
}

/// A handle on one multiplexed connection; clones share it.
#[derive(Clone)]
pub struct Connection {
    tx: mpsc::UnboundedSender<Request>,
    kill: Arc<Notify>,
    peer: Option<SocketAddr>,
    /// Set by the first request to report this connection's failure.
    failure_reported: Arc<AtomicBool>,
    /// Why the connection died, once it has: what a later request gets.
    died: Arc<Mutex<Option<NetError>>>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Connection {
    /// Connects through `connector` within `connect_timeout` and starts the
    /// connection's task. A failure is an [`Op::Connect`] error, never sent.
    pub async fn open<C: Connector>(
        connector: &C,
        connect_timeout: Duration,
    ) -> Result<Self, NetError> {
        let peer = connector.peer();
        match tokio::time::timeout(connect_timeout, connector.connect()).await {
            Ok(Ok(stream)) => Ok(Self::spawn(stream, peer)),
            Ok(Err(e)) => Err(NetError::new(Op::Connect, peer, false, e)),
            Err(_) => Err(NetError::new(
                Op::Connect,
                peer,
                false,
                Cause::Deadline(connect_timeout),
            )),
        }
    }

    /// Starts the task that owns `stream`.
    pub fn spawn<S>(stream: S, peer: Option<SocketAddr>) -> Self
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let kill = Arc::new(Notify::new());
        let died = Arc::new(Mutex::new(None));
        tokio::spawn(run(stream, peer, rx, kill.clone(), died.clone()));
        Self {
            tx,
            kill,
            peer,
            failure_reported: Arc::new(AtomicBool::new(false)),
            died,
        }
    }

    /// `true` for the first caller only: when a connection dies, every
    /// request on it fails at once, and those failures are one event, not
    /// many (the circuit breaker counts failed connections, not failed
    /// requests).
    pub fn first_to_report_failure(&self) -> bool {
        !self.failure_reported.swap(true, Ordering::Relaxed)
    }

    /// Whether the connection has died (the pool then opens a new one).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Kills the connection: every request on it fails.
    pub fn kill(&self) {
        self.kill.notify_one();
    }

    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    // ANCHOR: deadline
    /// Sends one command and waits for its reply, for at most `timeout`. An
    /// error reply is [`Cause::Reply`] and leaves the connection up; a
    /// missed deadline is [`Cause::Deadline`] and kills it.
    pub async fn call(&self, args: &[&[u8]], timeout: Duration) -> Result<Frame, NetError> {
        let deadline = Instant::now() + timeout;
        let mut bytes = Vec::new();
        encode_command(args, &mut bytes);
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Request { bytes, reply }).is_err() {
            return Err(self.dead(Op::Send, false));
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(result)) => result,
            // The task dropped the request without answering: it died.
            Ok(Err(_)) => Err(self.dead(Op::Receive, true)),
            Err(_) => {
                // The reply may still come; it must not answer the next
                // request, so the connection goes.
                self.kill();
                Err(NetError::new(
                    Op::Receive,
                    self.peer,
                    true,
                    Cause::Deadline(timeout),
                ))
            }
        }
    }
    // ANCHOR_END: deadline

    /// The error for a request that found the connection dead: its cause
    /// of death if known (a peer that closed is still `closed`), else an
    /// abort.
    fn dead(&self, op: Op, sent: bool) -> NetError {
        let cause = self
            .died
            .lock()
            .ok()
            .and_then(|d| d.as_ref().map(|e| e.cause.copy()))
            .unwrap_or_else(|| aborted().into());
        NetError::new(op, self.peer, sent, cause)
    }
}

/// What a request gets when its connection died for another reason than
/// its own: `ConnectionAborted` ("software caused connection abort"), which
/// classifies as a reset.
fn aborted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the connection was dropped",
    )
}

/// How much a read asks for.
const READ_CHUNK: usize = 16 * 1024;

// ANCHOR: task
/// The connection's task: writes requests as they come, matches replies to
/// them in order, and on the first failure fails them all.
async fn run<S>(
    stream: S,
    peer: Option<SocketAddr>,
    mut rx: mpsc::UnboundedReceiver<Request>,
    kill: Arc<Notify>,
    died: Arc<Mutex<Option<NetError>>>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    // Written, waiting for their replies, oldest first.
    let mut waiting: VecDeque<oneshot::Sender<Result<Frame, NetError>>> = VecDeque::new();
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut output: Vec<u8> = Vec::new();
    let mut batch: Vec<Request> = Vec::new();
    let failure: NetError = loop {
        tokio::select! {
            () = kill.notified() => {
                break NetError::new(Op::Receive, peer, true, aborted());
            }
            request = rx.recv() => {
                // Every handle is gone, so nobody waits for a reply (a
                // caller holds a handle while it waits): close, rather
                // than wait for replies to no one, perhaps forever.
                let Some(request) = request else {
                    return;
                };
                // Take everything queued: one write for the lot.
                batch.push(request);
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                output.clear();
                let mut ends = Vec::with_capacity(batch.len());
                for r in &batch {
                    output.extend_from_slice(&r.bytes);
                    ends.push(output.len());
                }
                // Counted outside the write, so that a kill in the middle
                // still knows which requests had started to leave.
                let mut written_bytes = 0;
                let written = tokio::select! {
                    r = write_counting(&mut writer, &output, &mut written_bytes) => r,
                    () = kill.notified() => Err(aborted()),
                };
                match written {
                    Ok(()) => waiting.extend(batch.drain(..).map(|r| r.reply)),
                    Err(e) => {
                        let n = written_bytes;
                        // A request whose first byte went out counts as sent.
                        let mut start = 0;
                        for (r, end) in batch.drain(..).zip(ends) {
                            let sent = n > start;
                            start = end;
                            let err = NetError::new(Op::Send, peer, sent, copy_io(&e));
                            let _ = r.reply.send(Err(err));
                        }
                        break NetError::new(Op::Send, peer, true, e);
                    }
                }
            }
            read = reader.read_buf(&mut input) => {
                match read {
                    // ANCHOR: eof
                    // The peer closed: between replies, or in the middle
                    // of one (the reply is lost, and whatever it did).
                    Ok(0) => {
                        let cause = if input.is_empty() {
                            Cause::Closed
                        } else {
                            Cause::MidFrame { got: input.len() }
                        };
                        break NetError::new(Op::Receive, peer, true, cause);
                    }
                    // ANCHOR_END: eof
                    Ok(_) => {
                        if let Err(e) = deliver(&mut input, &mut waiting, peer) {
                            break e;
                        }
                    }
                    Err(e) => break NetError::new(Op::Receive, peer, true, e),
                }
            }
        }
    };
    // Dead: refuse new requests, fail the written ones with the cause, and
    // the queued ones (never written) as not sent.
    if let Ok(mut d) = died.lock() {
        *d = Some(failure.copy());
    }
    rx.close();
    for w in waiting.drain(..) {
        let _ = w.send(Err(failure.copy()));
    }
    while let Ok(r) = rx.try_recv() {
        let _ = r
            .reply
            .send(Err(NetError::new(Op::Send, peer, false, aborted())));
    }
    tracing::debug!("connection dropped: {failure}");
}
// ANCHOR_END: task

/// Writes all of `bytes`, counting in `n` how many have been handed over
/// (so far, if it fails or is cancelled).
async fn write_counting<W: AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: &[u8],
    n: &mut usize,
) -> io::Result<()> {
    while *n < bytes.len() {
        match writer.write(&bytes[*n..]).await {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(k) => *n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    writer.flush().await
}

/// Parses every complete reply in `input` and hands each to the oldest
/// waiting request. Fails on bytes that are not RESP or a reply nobody
/// asked for.
fn deliver(
    input: &mut Vec<u8>,
    waiting: &mut VecDeque<oneshot::Sender<Result<Frame, NetError>>>,
    peer: Option<SocketAddr>,
) -> Result<(), NetError> {
    let mut at = 0;
    let result = loop {
        match parse_frame(&input[at..]) {
            Ok(Some((frame, used))) => {
                at += used;
                let Some(w) = waiting.pop_front() else {
                    break Err(NetError::new(
                        Op::Receive,
                        peer,
                        true,
                        io::Error::new(io::ErrorKind::InvalidData, "a reply nobody asked for"),
                    ));
                };
                let answer = match frame {
                    Frame::Error(text) => {
                        Err(NetError::new(Op::Receive, peer, true, Cause::Reply(text)))
                    }
                    frame => Ok(frame),
                };
                // The caller may have gone (its deadline, or a hedge won).
                let _ = w.send(answer);
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(NetError::new(Op::Receive, peer, true, e)),
        }
    };
    input.drain(..at);
    result
}
