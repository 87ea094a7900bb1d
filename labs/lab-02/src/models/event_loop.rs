//! Model 1: the event loop. One thread owns all the data and serves every
//! connection, as Redis does.
//!
//! Each turn: wait for readiness (epoll, through mio); read from every
//! ready client and run whatever complete commands arrived, buffering the
//! replies; write the append-only file once for the whole turn (and sync
//! it, under `always`); then send the replies. Because one thread does
//! everything, the keyspace needs no lock, and one slow command delays
//! every other client: the price of the design, measured in the chapter.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::accept::AcceptErrors;
use super::keyspace::{Keyspace, OwnedParts};
use crate::conn::{self, Conn, Next, READ_CHUNK, Work};
use crate::shared::{MAX_CLIENTS_REPLY, Shared};
use crate::steps;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const FIRST_CLIENT: usize = 2;
/// How often housekeeping runs (active expiry, idle clients, counters).
const CRON: Duration = Duration::from_millis(100);
/// Keys active expiry may look at per housekeeping round.
const EXPIRE_BUDGET: usize = 200;
/// Reads of up to 16 KiB one client gets per turn before the loop moves on.
const READS_PER_TURN: usize = 4;

struct Client {
    stream: TcpStream,
    conn: Conn,
    /// The socket may hold unread bytes (mio is edge-triggered: no new
    /// event comes for bytes that were already there).
    readable: bool,
    /// WRITABLE interest is registered (output did not fit in the socket).
    want_write: bool,
}

pub fn run(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
    keyspace: Keyspace,
    ready: Sender<Result<()>>,
) -> Result<()> {
    let Keyspace::Owned { mut stores, hasher } = keyspace else {
        bail!("the event loop needs an owned store");
    };
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::from_std(listener);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    shared.shutdown.on_trigger(move || {
        let _ = waker.wake();
    });
    let limits = shared.config.limits();
    let query_limit = shared.config.client_query_buffer_limit;
    let aof = shared.aof.clone();
    let mut clients: Vec<Option<Client>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut to_write: Vec<usize> = Vec::new();
    let mut to_read: Vec<usize> = Vec::new();
    let mut read_buf = vec![0u8; READ_CHUNK];
    let mut carry: Vec<usize> = Vec::new();
    let mut next_cron = Instant::now() + CRON;
    // Set while `accept` fails (out of descriptors): when to try again. The
    // waiting connections sit in the backlog, and no new event may come.
    let mut accept_errors = AcceptErrors::default();
    let mut accept_again: Option<Instant> = None;
    let _ = ready.send(Ok(()));

    while !shared.shutdown.requested() {
        // Clients with bytes still unread (paused by backpressure) must not
        // wait for an event that will not come.
        let timeout = if !to_read.is_empty() {
            Duration::ZERO
        } else {
            let wake = accept_again.map_or(next_cron, |at| at.min(next_cron));
            wake.saturating_duration_since(Instant::now())
        };
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        let mut parts = OwnedParts::new(
            &mut stores,
            &hasher,
            aof.as_deref(),
            shared.log(),
            Some(&shared.watches),
        );
        let mut accept_now = accept_again.is_some_and(|at| Instant::now() >= at);
        for event in events.iter() {
            match event.token() {
                LISTENER => accept_now = true,
                WAKER => {}
                Token(t) => {
                    let Some(Some(c)) = clients.get_mut(t - FIRST_CLIENT) else {
                        continue;
                    };
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        c.readable = true;
                        to_read.push(t - FIRST_CLIENT);
                    }
                    if event.is_writable() {
                        to_write.push(t - FIRST_CLIENT);
                    }
                }
            }
        }
        // Which connections this turn found ready, for a recording (off
        // unless lab-07 records: see `steps`).
        if tracing::enabled!(target: steps::TARGET, tracing::Level::TRACE) {
            trace_ready(&events, &clients);
        }
        if accept_now {
            accept_again = accept_all(
                &shared,
                &poll,
                &mut listener,
                &mut clients,
                &mut free,
                &mut accept_errors,
            )
            .map(|pause| Instant::now() + pause);
        }
        // ANCHOR: event-loop-turn
        // Read and run: only the clients that are ready, so ten thousand
        // idle connections cost nothing per turn.
        to_read.sort_unstable();
        to_read.dedup();
        for i in to_read.drain(..) {
            let Some(c) = clients[i].as_mut() else {
                continue;
            };
            if !c.conn.wants_input() {
                continue;
            }
            let next = read_and_run(c, &mut read_buf, &limits, query_limit, &shared, &mut parts);
            if next == Next::Shutdown {
                shared.shutdown.trigger();
            }
            if c.conn.pending_output() > 0 || c.conn.closing {
                to_write.push(i);
            } else if c.readable {
                // Stopped for fairness with bytes still in the socket.
                carry.push(i);
            }
        }
        // Log before replying: a write is acknowledged only once the
        // append-only file has it.
        let logged = parts.logged_upto;
        drop(parts);
        if let Some(aof) = &aof
            && logged > 0
            && let Err(e) = aof.flush(logged)
        {
            tracing::error!("append-only file write failed, dropping unacknowledged replies: {e}");
            for &i in &to_write {
                if let Some(c) = clients[i].as_mut() {
                    c.conn.output.clear();
                    c.conn.output_start = 0;
                    c.conn.closing = true;
                }
            }
        }
        // Reply.
        to_write.sort_unstable();
        to_write.dedup();
        for i in to_write.drain(..) {
            let Some(c) = clients[i].as_mut() else {
                continue;
            };
            let done = match write_out(c) {
                Ok(done) => done,
                Err(_) => {
                    close(&shared, &poll, &mut clients, &mut free, i);
                    continue;
                }
            };
            if done && c.conn.closing {
                close(&shared, &poll, &mut clients, &mut free, i);
            } else if let Err(e) = set_interest(&poll, c, i, !done) {
                tracing::debug!("reregister failed: {e}");
                close(&shared, &poll, &mut clients, &mut free, i);
            } else if c.conn.wants_input()
                && (c.readable || conn::has_complete_request(&mut c.conn, &limits))
            {
                // Output drained below the limit with input still waiting in
                // the socket or the buffer: go on next turn without waiting
                // for an event that will not come.
                to_read.push(i);
            }
        }
        to_read.append(&mut carry);
        // ANCHOR_END: event-loop-turn
        if Instant::now() >= next_cron {
            next_cron = Instant::now() + CRON;
            cron(&shared, &poll, &mut clients, &mut free, &mut stores);
        }
    }
    // Graceful stop: no new clients; replies already computed are sent
    // (bounded), the log is synced by the caller, then every socket closes.
    drop(listener);
    if let Some(aof) = &aof {
        let _ = aof.sync();
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    for i in 0..clients.len() {
        if let Some(c) = clients[i].as_mut() {
            while c.conn.pending_output() > 0 && Instant::now() < deadline {
                match write_out(c) {
                    Ok(true) | Err(_) => break,
                    Ok(false) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        }
        close(&shared, &poll, &mut clients, &mut free, i);
    }
    Ok(())
}

/// Accepts every waiting connection. Returns how long to pause before
/// trying again if `accept` failed (out of descriptors, typically): the
/// loop keeps serving the clients it has meanwhile.
fn accept_all(
    shared: &Shared,
    poll: &Poll,
    listener: &mut TcpListener,
    clients: &mut Vec<Option<Client>>,
    free: &mut Vec<usize>,
    errors: &mut AcceptErrors,
) -> Option<Duration> {
    loop {
        let (mut stream, addr) = match listener.accept() {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Some(errors.failed(&e)),
        };
        errors.succeeded();
        if !shared.admit() {
            let _ = stream.write(MAX_CLIENTS_REPLY);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let i = free.pop().unwrap_or_else(|| {
            clients.push(None);
            clients.len() - 1
        });
        if let Err(e) =
            poll.registry()
                .register(&mut stream, Token(i + FIRST_CLIENT), Interest::READABLE)
        {
            tracing::warn!("cannot register a client: {e}");
            shared.release(0);
            free.push(i);
            continue;
        }
        clients[i] = Some(Client {
            stream,
            conn: Conn::new(conn::new_session(shared, addr)),
            // mio reports the first readiness as an event of its own.
            readable: false,
            want_write: false,
        });
    }
}

/// Reads what the socket has (until it would block or output backs up)
/// and runs every complete command.
fn read_and_run(
    c: &mut Client,
    read_buf: &mut [u8],
    limits: &crate::resp::Limits,
    query_limit: usize,
    shared: &Shared,
    parts: &mut OwnedParts,
) -> Next {
    let mut next = Next::Continue;
    let id = c.conn.session.id;
    // ANCHOR: step-event
    let mut run = |work: Work<'_, '_>, out: &mut Vec<u8>| {
        let command = match &work {
            Work::Command(spec, args) => Some((*spec, *args)),
            Work::Exec(_) => None,
        };
        parts.work(work, out);
        // Recorded after it ran: the gap since the read is its run time.
        // With nobody recording, the fields below are never evaluated.
        tracing::trace!(
            target: steps::TARGET,
            lane = "event loop",
            kind = command.map_or("data", |(spec, _)| steps::command_kind(spec)),
            label = %format_args!(
                "runs {} for conn {id}",
                command.map_or(steps::Command(&[b"EXEC"]), |(_, args)| steps::Command(args))
            ),
            conn = id,
            queued = out.len() as u64,
        );
    };
    // ANCHOR_END: step-event
    // Fairness: at most this many reads per client per turn, then the
    // others get theirs (Redis reads once per event).
    let mut reads = 0;
    while c.conn.wants_input() && reads < READS_PER_TURN {
        if !c.readable {
            // Nothing new in the socket, but requests may wait in the
            // buffer (a pipeline paused by backpressure): run them.
            if c.conn.pending_input() > 0 {
                next = conn::process(&mut c.conn, limits, shared, &mut run);
            }
            break;
        }
        reads += 1;
        c.conn.compact_input();
        // Read into the loop's one scratch buffer and copy what came: cheaper
        // than growing the connection's buffer by 16 KiB of zeros per read
        // (safe Rust cannot read into uninitialised memory), which profiled
        // at a third of the loop's instructions under pipelined SETs.
        match c.stream.read(read_buf) {
            Ok(0) => {
                c.conn.closing = true;
                c.readable = false;
                break;
            }
            Ok(n) => {
                c.conn.input.extend_from_slice(&read_buf[..n]);
                c.conn.last_active = Instant::now();
                tracing::trace!(
                    target: steps::TARGET,
                    lane = "event loop",
                    kind = "recv",
                    label = %format_args!("reads {n} bytes from conn {}", c.conn.session.id),
                    conn = c.conn.session.id,
                    answers = steps::request(steps::port(&c.conn.session.addr)),
                );
            }
            Err(e) => {
                match e.kind() {
                    io::ErrorKind::WouldBlock => c.readable = false,
                    io::ErrorKind::Interrupted => continue,
                    _ => {
                        c.conn.closing = true;
                        c.readable = false;
                    }
                }
                // Run what did arrive before stopping.
            }
        }
        next = conn::process(&mut c.conn, limits, shared, &mut run);
        if next != Next::Continue {
            break;
        }
        if conn::input_over_limit(&c.conn, query_limit) {
            tracing::warn!(
                "closing client {}: query buffer over the limit ({} bytes)",
                c.conn.session.addr,
                query_limit
            );
            c.conn.closing = true;
            break;
        }
    }
    c.conn.shrink_input();
    next
}

/// Writes buffered output; `Ok(true)` when all of it went out.
fn write_out(c: &mut Client) -> io::Result<bool> {
    // Recorded before the write, so that the client's step that reads
    // the reply always comes after it.
    let pending = c.conn.pending_output();
    if pending > 0 {
        tracing::trace!(
            target: steps::TARGET,
            lane = "event loop",
            kind = "send",
            label = %format_args!("writes {pending} bytes to conn {}", c.conn.session.id),
            conn = c.conn.session.id,
            emits = steps::reply(steps::port(&c.conn.session.addr)),
        );
    }
    while c.conn.pending_output() > 0 {
        match c.stream.write(&c.conn.output[c.conn.output_start..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => c.conn.sent(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // All sent: an idle client keeps only small buffers.
    c.conn.release_idle();
    Ok(true)
}

fn set_interest(poll: &Poll, c: &mut Client, i: usize, want_write: bool) -> io::Result<()> {
    if want_write != c.want_write {
        let interest = if want_write {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        poll.registry()
            .reregister(&mut c.stream, Token(i + FIRST_CLIENT), interest)?;
        c.want_write = want_write;
    }
    Ok(())
}

fn close(
    shared: &Shared,
    poll: &Poll,
    clients: &mut [Option<Client>],
    free: &mut Vec<usize>,
    i: usize,
) {
    if let Some(mut c) = clients[i].take() {
        let _ = poll.registry().deregister(&mut c.stream);
        shared.release(c.conn.commands);
        free.push(i);
    }
}

/// Housekeeping: active expiry, idle clients, INFO counters.
fn cron(
    shared: &Shared,
    poll: &Poll,
    clients: &mut [Option<Client>],
    free: &mut Vec<usize>,
    stores: &mut [crate::db::Store],
) {
    let mut keys = 0;
    for s in stores.iter_mut() {
        s.expire_step(EXPIRE_BUDGET);
        keys += s.len();
    }
    shared
        .keys
        .store(keys as u64, std::sync::atomic::Ordering::Relaxed);
    let idle = shared.config.idle_timeout();
    for i in 0..clients.len() {
        let Some(c) = clients[i].as_mut() else {
            continue;
        };
        shared.commands_processed.fetch_add(
            std::mem::take(&mut c.conn.commands),
            std::sync::atomic::Ordering::Relaxed,
        );
        if let Some(t) = idle
            && c.conn.last_active.elapsed() > t
            && c.conn.pending_output() == 0
        {
            close(shared, poll, clients, free, i);
        }
    }
}

/// Records which clients this turn's events found readable (only called
/// while a recording is on).
fn trace_ready(events: &Events, clients: &[Option<Client>]) {
    let ready: Vec<String> = events
        .iter()
        .filter(|e| e.is_readable() || e.is_read_closed())
        .filter_map(|e| e.token().0.checked_sub(FIRST_CLIENT))
        .filter_map(|i| clients.get(i)?.as_ref())
        .map(|c| format!("conn {}", c.conn.session.id))
        .collect();
    if ready.is_empty() {
        return;
    }
    let ready = ready.join(", ");
    tracing::trace!(
        target: steps::TARGET,
        lane = "event loop",
        kind = "ready",
        label = %format_args!("epoll: {ready} readable"),
        ready = ready.as_str(),
    );
}
