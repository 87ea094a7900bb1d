//! The resilient client, two ways.
//!
//! Under tokio's paused clock, over an in-memory transport with a scripted
//! fake server ([`Fake`]): deadlines, backoff, the budget, the breaker,
//! hedges, and which failures are retried. Time only moves when every task
//! waits, so "exactly at the deadline" is exact.
//!
//! Against a real lab-02 on loopback: round trips, pipelining from many
//! tasks, error replies, and reconnection through a relay we cut.

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use lab_02::resp::{Frame, parse_frame};
use lab_05::client::breaker::State;
use lab_05::client::{
    Backoff, BreakerConfig, BudgetConfig, ClientConfig, ClientError, Connection, Connector,
    ResilientClient, Retry, Strategy,
};
use lab_05::{Cause, Class};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::sync::mpsc;
use tokio::time::Instant;

// ---------------------------------------------------------------------------
// The fake server.

/// What the next connect does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Connects.
    Accept,
    /// `ECONNREFUSED`.
    Refuse,
    /// Connects, but every write fails (`EPIPE`) before a byte leaves.
    BrokenWrite,
}

/// The client's end: a pipe that can be made to fail like a socket.
struct FakeStream {
    inner: DuplexStream,
    reset: Arc<AtomicBool>,
    broken_write: bool,
}

impl AsyncRead for FakeStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.reset.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        // The server resets by setting the flag and dropping its end, which
        // wakes this read with an EOF: report the reset instead.
        if self.reset.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        r
    }
}

impl AsyncWrite for FakeStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.broken_write || self.reset.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The server's end of one connection.
struct Peer {
    stream: DuplexStream,
    reset: Arc<AtomicBool>,
    input: Vec<u8>,
}

impl Peer {
    /// The next command, or `None` if the client closed the connection.
    /// Panics after 10 s (of the paused clock: at once, if nothing else
    /// can happen) rather than hang.
    async fn command(&mut self) -> Option<Vec<String>> {
        tokio::time::timeout(Duration::from_secs(10), self.next_command())
            .await
            .expect("no command within 10 s")
    }

    async fn next_command(&mut self) -> Option<Vec<String>> {
        loop {
            if let Some((frame, used)) = parse_frame(&self.input).unwrap() {
                self.input.drain(..used);
                let args = frame.as_array().unwrap();
                return Some(
                    args.iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect(),
                );
            }
            if self.stream.read_buf(&mut self.input).await.unwrap_or(0) == 0 {
                return None;
            }
        }
    }

    /// Expects `line` (space-separated) as the next command.
    async fn expect(&mut self, line: &str) {
        let got = self.command().await.expect("a command");
        assert_eq!(got.join(" "), line);
    }

    async fn reply(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Resets the connection (the client's next read fails with
    /// `ECONNRESET`).
    fn reset(self) {
        self.reset.store(true, Ordering::SeqCst);
    }
}

/// A scripted fake server: each connect takes the next [`Mode`] (then
/// `default`), and each accepted connection is handed to the test.
#[derive(Clone)]
struct FakeConnector {
    script: Arc<Mutex<VecDeque<Mode>>>,
    default: Arc<Mutex<Mode>>,
    connects: Arc<AtomicUsize>,
    /// When each connect happened.
    times: Arc<Mutex<Vec<Instant>>>,
    accepted: mpsc::UnboundedSender<Peer>,
}

struct Fake {
    connector: FakeConnector,
    accepted: mpsc::UnboundedReceiver<Peer>,
}

impl Fake {
    fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            connector: FakeConnector {
                script: Arc::default(),
                default: Arc::new(Mutex::new(Mode::Accept)),
                connects: Arc::default(),
                times: Arc::default(),
                accepted: tx,
            },
            accepted: rx,
        }
    }

    fn client(&self, config: ClientConfig) -> ResilientClient<FakeConnector> {
        ResilientClient::with_connector(self.connector.clone(), config)
    }

    fn then(&self, modes: &[Mode]) {
        self.connector.script.lock().unwrap().extend(modes);
    }

    fn set_default(&self, mode: Mode) {
        *self.connector.default.lock().unwrap() = mode;
    }

    fn connects(&self) -> usize {
        self.connector.connects.load(Ordering::SeqCst)
    }

    /// The next connection; panics after 10 s rather than hang.
    async fn accept(&mut self) -> Peer {
        tokio::time::timeout(Duration::from_secs(10), self.accepted.recv())
            .await
            .expect("no connection within 10 s")
            .unwrap()
    }

    /// Whether a connection was accepted and not yet taken.
    fn pending(&mut self) -> bool {
        !self.accepted.is_empty()
    }
}

impl Connector for FakeConnector {
    type Stream = FakeStream;

    async fn connect(&self) -> io::Result<FakeStream> {
        self.connects.fetch_add(1, Ordering::SeqCst);
        self.times.lock().unwrap().push(Instant::now());
        let next = self.script.lock().unwrap().pop_front();
        let mode = next.unwrap_or(*self.default.lock().unwrap());
        if mode == Mode::Refuse {
            return Err(io::ErrorKind::ConnectionRefused.into());
        }
        let (client, server) = tokio::io::duplex(1 << 16);
        let reset = Arc::new(AtomicBool::new(false));
        let _ = self.accepted.send(Peer {
            stream: server,
            reset: reset.clone(),
            input: Vec::new(),
        });
        Ok(FakeStream {
            inner: client,
            reset,
            broken_write: mode == Mode::BrokenWrite,
        })
    }

    fn peer(&self) -> Option<SocketAddr> {
        None
    }
}

fn config(strategy: Strategy) -> ClientConfig {
    ClientConfig {
        pool_size: 1,
        timeout: Duration::from_millis(100),
        ..ClientConfig::preset(strategy)
    }
}

/// `call` with the command written as one line.
async fn call<C: Connector>(client: &ResilientClient<C>, line: &str) -> Result<Frame, ClientError> {
    let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
    client.call(&args).await
}

fn spawn_call<C: Connector>(
    client: &ResilientClient<C>,
    line: &'static str,
) -> tokio::task::JoinHandle<Result<Frame, ClientError>> {
    let client = client.clone();
    tokio::spawn(async move { call(&client, line).await })
}

fn net(r: Result<Frame, ClientError>) -> lab_05::NetError {
    match r {
        Err(ClientError::Net(e)) => e,
        other => panic!("expected a network error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// One connection.

#[tokio::test(start_paused = true)]
async fn replies_match_requests_in_order_and_a_mid_frame_eof_fails_the_rest() {
    let (client, server) = tokio::io::duplex(1 << 16);
    let conn = Connection::spawn(client, None);
    let t = Duration::from_secs(1);
    let (a, b, c) = (conn.clone(), conn.clone(), conn.clone());
    let first = tokio::spawn(async move { a.call(&[b"GET", b"a"], t).await });
    tokio::task::yield_now().await;
    let second = tokio::spawn(async move { b.call(&[b"GET", b"b"], t).await });
    tokio::task::yield_now().await;
    let third = tokio::spawn(async move { c.call(&[b"GET", b"c"], t).await });
    let mut peer = Peer {
        stream: server,
        reset: Arc::default(),
        input: Vec::new(),
    };
    for key in ["a", "b", "c"] {
        peer.expect(&format!("GET {key}")).await;
    }
    // Both replies in one write, then half of the third, then close.
    peer.reply(b"$1\r\nA\r\n-ERR nope\r\n$5\r\nCC").await;
    drop(peer);
    assert_eq!(first.await.unwrap().unwrap(), Frame::bulk("A"));
    let e = second.await.unwrap().unwrap_err();
    assert!(
        matches!(&e.cause, Cause::Reply(t) if t == "ERR nope"),
        "{e}"
    );
    assert_eq!(e.class(), Class::ServerError);
    let e = third.await.unwrap().unwrap_err();
    assert!(matches!(e.cause, Cause::MidFrame { got: 6 }), "{e}");
    assert!(e.sent);
    assert_eq!(e.class(), Class::UnexpectedEof);
    assert!(conn.is_closed());
    // A request on the dead connection was never sent.
    let e = conn.call(&[b"PING"], t).await.unwrap_err();
    assert!(!e.sent, "{e}");
}

#[tokio::test(start_paused = true)]
async fn a_clean_close_is_closed_and_garbage_is_a_protocol_error() {
    let t = Duration::from_secs(1);
    for (reply, class) in [(&b""[..], Class::Closed), (b"?what\r\n", Class::Protocol)] {
        let (client, server) = tokio::io::duplex(1 << 16);
        let conn = Connection::spawn(client, None);
        let c = conn.clone();
        let call = tokio::spawn(async move { c.call(&[b"GET", b"a"], t).await });
        let mut peer = Peer {
            stream: server,
            reset: Arc::default(),
            input: Vec::new(),
        };
        peer.expect("GET a").await;
        peer.reply(reply).await;
        drop(peer);
        let e = call.await.unwrap().unwrap_err();
        assert_eq!(e.class(), class, "{e}");
        assert!(e.sent);
        assert!(conn.is_closed());
    }
}

// ---------------------------------------------------------------------------
// Deadlines.

#[tokio::test(start_paused = true)]
async fn the_deadline_fires_exactly_at_the_deadline_and_kills_the_connection() {
    let mut fake = Fake::new();
    let client = fake.client(config(Strategy::Naive));
    let start = Instant::now();
    let call1 = spawn_call(&client, "GET k");
    let mut peer = fake.accept().await;
    peer.expect("GET k").await;
    // No reply.
    let e = net(call1.await.unwrap());
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert!(matches!(e.cause, Cause::Deadline(d) if d == Duration::from_millis(100)));
    assert_eq!(e.class(), Class::Timeout);
    assert!(e.sent);
    // The connection was dropped: the late reply cannot answer the next
    // request.
    assert!(peer.command().await.is_none(), "the client closed it");
    let call2 = spawn_call(&client, "GET k");
    let mut peer = fake.accept().await;
    peer.expect("GET k").await;
    peer.reply(b"$1\r\nv\r\n").await;
    assert_eq!(call2.await.unwrap().unwrap(), Frame::bulk("v"));
    let stats = client.stats();
    assert_eq!((stats.connects, stats.reconnects), (2, 1));
    assert_eq!(stats.attempts, 2, "no retry under Naive");
}

#[tokio::test(start_paused = true)]
async fn an_error_reply_keeps_the_connection() {
    let mut fake = Fake::new();
    let client = fake.client(config(Strategy::Full));
    let c = spawn_call(&client, "INCR s");
    let mut peer = fake.accept().await;
    peer.expect("INCR s").await;
    peer.reply(b"-ERR value is not an integer\r\n").await;
    let e = net(c.await.unwrap());
    assert_eq!(e.class(), Class::ServerError);
    let c = spawn_call(&client, "SET s 1");
    peer.expect("SET s 1").await;
    peer.reply(b"+OK\r\n").await;
    assert_eq!(c.await.unwrap().unwrap(), Frame::simple("OK"));
    assert_eq!(fake.connects(), 1);
    assert_eq!(client.stats().retries, 0, "an error reply is not retried");
}

// ---------------------------------------------------------------------------
// What is retried.

#[tokio::test(start_paused = true)]
async fn a_sent_incr_whose_connection_reset_is_not_retried() {
    let mut fake = Fake::new();
    let client = fake.client(config(Strategy::Budget));
    let c = spawn_call(&client, "INCR n");
    let mut peer = fake.accept().await;
    peer.expect("INCR n").await;
    peer.reset();
    let e = net(c.await.unwrap());
    assert_eq!(e.class(), Class::Reset, "{e}");
    assert!(e.sent);
    // Nothing more reached the server: it saw the INCR exactly once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!fake.pending());
    assert_eq!(fake.connects(), 1);
    assert_eq!(client.stats().retries, 0);
}

#[tokio::test(start_paused = true)]
async fn the_naive_retrier_sends_a_sent_incr_again() {
    let mut fake = Fake::new();
    let client = fake.client(config(Strategy::Retry));
    let c = spawn_call(&client, "INCR n");
    let mut peer = fake.accept().await;
    peer.expect("INCR n").await;
    peer.reset();
    let mut peer = fake.accept().await;
    peer.expect("INCR n").await; // the second INCR: counted twice
    peer.reply(b":2\r\n").await;
    assert_eq!(c.await.unwrap().unwrap(), Frame::Integer(2));
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test(start_paused = true)]
async fn an_incr_that_was_never_sent_is_retried() {
    // Refused at connect, then a connection whose write fails before a
    // byte leaves: both times `sent` is false.
    let mut fake = Fake::new();
    fake.then(&[Mode::Refuse, Mode::BrokenWrite]);
    let client = fake.client(ClientConfig {
        retry: Retry::Safe(Backoff {
            max_attempts: 3,
            ..Backoff::default()
        }),
        ..config(Strategy::Budget)
    });
    let c = spawn_call(&client, "INCR n");
    let mut broken = fake.accept().await;
    let mut peer = fake.accept().await;
    peer.expect("INCR n").await;
    peer.reply(b":1\r\n").await;
    assert_eq!(c.await.unwrap().unwrap(), Frame::Integer(1));
    assert!(
        broken.command().await.is_none(),
        "nothing reached the server"
    );
    let stats = client.stats();
    assert_eq!((stats.attempts, stats.retries, stats.connects), (3, 2, 3));
}

#[tokio::test(start_paused = true)]
async fn a_get_whose_connection_reset_is_retried() {
    let mut fake = Fake::new();
    let client = fake.client(config(Strategy::Budget));
    let c = spawn_call(&client, "GET k");
    let mut peer = fake.accept().await;
    peer.expect("GET k").await;
    peer.reset();
    let mut peer = fake.accept().await;
    peer.expect("GET k").await;
    peer.reply(b"$1\r\nv\r\n").await;
    assert_eq!(c.await.unwrap().unwrap(), Frame::bulk("v"));
    let stats = client.stats();
    assert_eq!((stats.attempts, stats.retries, stats.reconnects), (2, 1, 1));
}

// ---------------------------------------------------------------------------
// When: backoff and the budget.

#[tokio::test(start_paused = true)]
async fn retries_wait_out_the_jittered_backoff_schedule() {
    let fake = Fake::new();
    fake.set_default(Mode::Refuse);
    let backoff = Backoff {
        min: Duration::from_millis(10),
        max: Duration::from_millis(40),
        factor: 2.0,
        max_attempts: 5,
    };
    let cfg = ClientConfig {
        retry: Retry::Safe(backoff),
        seed: 42,
        ..config(Strategy::Budget)
    };
    let client = fake.client(cfg.clone());
    let e = net(call(&client, "GET k").await);
    assert_eq!(e.class(), Class::Refused);
    assert!(!e.sent);
    let times = fake.connector.times.lock().unwrap().clone();
    assert_eq!(times.len(), 5);
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // The first call's jitter is seeded with the config's seed.
    let want: Vec<Duration> = backoff.delays(42).collect();
    // tokio's timer counts whole milliseconds: a sleep ends on the next
    // millisecond at or after its deadline.
    assert_eq!(gaps.len(), want.len());
    for (g, w) in gaps.iter().zip(&want) {
        assert!(
            *g >= *w && *g - *w < Duration::from_millis(1),
            "{g:?} ≈ {w:?}"
        );
    }
    let ceilings: Vec<Duration> = backoff.ceilings().collect();
    for (w, c) in want.iter().zip(&ceilings) {
        assert!(w < c, "{w:?} < {c:?}");
    }
    // The same seed, the same run.
    let fake2 = Fake::new();
    fake2.set_default(Mode::Refuse);
    let client2 = fake2.client(cfg);
    let _ = call(&client2, "GET k").await;
    let times2 = fake2.connector.times.lock().unwrap().clone();
    let gaps2: Vec<Duration> = times2.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, gaps2);
}

#[tokio::test(start_paused = true)]
async fn the_budget_refuses_retries_once_empty_and_refills_with_requests() {
    let fake = Fake::new();
    fake.set_default(Mode::Refuse);
    let client = fake.client(ClientConfig {
        budget: Some(BudgetConfig {
            ratio: 0.5,
            cap: 1.0,
        }),
        ..config(Strategy::Budget)
    });
    // A full bucket: one retry, then refused.
    let _ = call(&client, "GET k").await;
    let s = client.stats();
    assert_eq!((s.attempts, s.retries, s.budget_refusals), (2, 1, 1));
    // Half a token: refused at once.
    let _ = call(&client, "GET k").await;
    let s = client.stats();
    assert_eq!((s.attempts, s.retries, s.budget_refusals), (3, 1, 2));
    // A whole token again: one retry.
    let _ = call(&client, "GET k").await;
    let s = client.stats();
    assert_eq!((s.attempts, s.retries, s.budget_refusals), (5, 2, 3));
    // The bound: retries ≤ ratio × requests + cap.
    for _ in 0..50 {
        let _ = call(&client, "GET k").await;
    }
    let s = client.stats();
    assert!(s.retries as f64 <= 0.5 * s.requests as f64 + 1.0, "{s:?}");
}

// ---------------------------------------------------------------------------
// The breaker.

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_fails_fast_half_opens_and_closes_or_reopens() {
    let mut fake = Fake::new();
    fake.set_default(Mode::Refuse);
    let client = fake.client(ClientConfig {
        retry: Retry::Never,
        breaker: Some(BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(1),
            probes: 1,
        }),
        hedge_after: None,
        ..config(Strategy::Full)
    });
    for _ in 0..3 {
        assert_eq!(
            call(&client, "GET k").await.unwrap_err().class(),
            Some(Class::Refused)
        );
    }
    assert!(matches!(client.breaker_state(), Some(State::Open { .. })));
    // Open: fails fast, without connecting.
    let start = Instant::now();
    assert!(matches!(
        call(&client, "GET k").await,
        Err(ClientError::BreakerOpen)
    ));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(fake.connects(), 3);
    tokio::time::advance(Duration::from_millis(999)).await;
    assert!(matches!(
        call(&client, "GET k").await,
        Err(ClientError::BreakerOpen)
    ));
    assert_eq!(client.stats().breaker_rejections, 2);
    // Half-open after open_for: one probe goes through, fails, reopens.
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        call(&client, "GET k").await.unwrap_err().class(),
        Some(Class::Refused)
    );
    assert_eq!(fake.connects(), 4);
    assert!(matches!(client.breaker_state(), Some(State::Open { .. })));
    assert!(matches!(
        call(&client, "GET k").await,
        Err(ClientError::BreakerOpen)
    ));
    // The server is back: the next probe succeeds and closes it.
    fake.set_default(Mode::Accept);
    tokio::time::advance(Duration::from_secs(1)).await;
    let c = spawn_call(&client, "GET k");
    let mut peer = fake.accept().await;
    peer.expect("GET k").await;
    peer.reply(b"$1\r\nv\r\n").await;
    assert_eq!(c.await.unwrap().unwrap(), Frame::bulk("v"));
    assert_eq!(client.breaker_state(), Some(State::Closed { failures: 0 }));
}

// ---------------------------------------------------------------------------
// Hedges.

#[tokio::test(start_paused = true)]
async fn a_slow_read_is_hedged_after_hedge_after_and_the_first_reply_wins() {
    let mut fake = Fake::new();
    let client = fake.client(ClientConfig {
        pool_size: 2,
        timeout: Duration::from_secs(1),
        hedge_after: Some(Duration::from_millis(20)),
        ..config(Strategy::Full)
    });
    let start = Instant::now();
    let c = spawn_call(&client, "GET k");
    let mut slow = fake.accept().await;
    slow.expect("GET k").await;
    // No reply on the first connection; the hedge comes on the second.
    let mut fast = fake.accept().await;
    assert_eq!(start.elapsed(), Duration::from_millis(20));
    fast.expect("GET k").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    fast.reply(b"$4\r\nfast\r\n").await;
    assert_eq!(c.await.unwrap().unwrap(), Frame::bulk("fast"));
    assert_eq!(start.elapsed(), Duration::from_millis(25));
    let s = client.stats();
    assert_eq!((s.attempts, s.hedges), (2, 1));
    assert_eq!(client.budget_tokens(), Some(9.0), "the hedge took a token");
    // The loser's late reply is matched to the abandoned request and
    // dropped: the slow connection stays in step.
    slow.reply(b"$4\r\nlate\r\n").await;
    let c1 = spawn_call(&client, "GET x"); // round-robin: the second connection
    fast.expect("GET x").await;
    fast.reply(b"$1\r\nx\r\n").await;
    assert_eq!(c1.await.unwrap().unwrap(), Frame::bulk("x"));
    let c2 = spawn_call(&client, "GET y"); // the first connection
    slow.expect("GET y").await;
    slow.reply(b"$1\r\ny\r\n").await;
    assert_eq!(c2.await.unwrap().unwrap(), Frame::bulk("y"));
    assert_eq!(client.stats().hedges, 1, "fast replies are not hedged");
}

#[tokio::test(start_paused = true)]
async fn writes_are_never_hedged() {
    let mut fake = Fake::new();
    let client = fake.client(ClientConfig {
        pool_size: 2,
        timeout: Duration::from_secs(1),
        hedge_after: Some(Duration::from_millis(20)),
        ..config(Strategy::Full)
    });
    let c = spawn_call(&client, "SET k v");
    let mut peer = fake.accept().await;
    peer.expect("SET k v").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!fake.pending(), "no second connection");
    peer.reply(b"+OK\r\n").await;
    assert_eq!(c.await.unwrap().unwrap(), Frame::simple("OK"));
    assert_eq!(client.stats().hedges, 0);
}

// ---------------------------------------------------------------------------
// Against a real lab-02.

fn lab02() -> lab_02::server::Server {
    lab_02::server::start(lab_02::config::Config::ephemeral(
        lab_02::config::Model::TaskPerConnection,
    ))
    .unwrap()
}

fn real_config(strategy: Strategy) -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        ..ClientConfig::preset(strategy)
    }
}

#[tokio::test]
async fn round_trips_against_lab_02() {
    let server = lab02();
    let client = ResilientClient::new(server.addr(), real_config(Strategy::Full));
    assert_eq!(call(&client, "PING").await.unwrap(), Frame::simple("PONG"));
    assert_eq!(call(&client, "SET k v").await.unwrap(), Frame::simple("OK"));
    assert_eq!(call(&client, "GET k").await.unwrap(), Frame::bulk("v"));
    assert_eq!(call(&client, "INCR n").await.unwrap(), Frame::Integer(1));
    assert_eq!(
        call(&client, "GET missing").await.unwrap(),
        Frame::Bulk(None)
    );
    // An error reply, and the connection stays.
    let e = call(&client, "INCR k").await.unwrap_err();
    assert_eq!(e.class(), Some(Class::ServerError), "{e}");
    assert_eq!(call(&client, "DEL k").await.unwrap(), Frame::Integer(1));
    let s = client.stats();
    assert_eq!((s.connects, s.reconnects, s.retries), (2, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_tasks_pipeline_on_two_connections() {
    let server = lab02();
    let client = ResilientClient::new(server.addr(), real_config(Strategy::Budget));
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                for j in 0..20 {
                    let key = format!("k{i}");
                    let value = format!("{i}-{j}");
                    let set = client
                        .call(&[b"SET", key.as_bytes(), value.as_bytes()])
                        .await
                        .unwrap();
                    assert_eq!(set, Frame::simple("OK"));
                    let got = client.call(&[b"GET", key.as_bytes()]).await.unwrap();
                    assert_eq!(
                        got,
                        Frame::bulk(value),
                        "a reply matched to the wrong request"
                    );
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let s = client.stats();
    assert_eq!(s.requests, 4000);
    assert_eq!((s.connects, s.attempts), (2, 4000));
}

/// A TCP relay to `upstream` whose connections the test can cut.
struct Relay {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let links: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (a, l) = (accepted.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let link = tokio::spawn(async move {
                    let mut up = tokio::net::TcpStream::connect(upstream).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                });
                l.lock().unwrap().push(link.abort_handle());
            }
        });
        Self {
            addr,
            accepted,
            links,
        }
    }

    /// Closes every relayed connection (both sockets are dropped).
    fn cut(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

#[tokio::test]
async fn a_connection_the_server_side_closed_is_opened_again() {
    let server = lab02();
    let relay = Relay::start(server.addr()).await;
    let client = ResilientClient::new(
        relay.addr,
        ClientConfig {
            pool_size: 1,
            ..real_config(Strategy::Budget)
        },
    );
    assert_eq!(call(&client, "SET k v").await.unwrap(), Frame::simple("OK"));
    relay.cut();
    // Whether the client notices the close before sending (a lazy reconnect)
    // or after (a GET is retried on a new connection), the call works.
    assert_eq!(call(&client, "GET k").await.unwrap(), Frame::bulk("v"));
    assert_eq!(call(&client, "GET k").await.unwrap(), Frame::bulk("v"));
    assert_eq!(relay.accepted.load(Ordering::SeqCst), 2);
    let s = client.stats();
    assert_eq!((s.connects, s.reconnects), (2, 1));
}
