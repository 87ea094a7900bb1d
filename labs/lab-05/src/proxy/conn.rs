//! One client connection: two byte streams, each parsed into RESP frames,
//! queued with their delays, paced, and forwarded, in one task.
//!
//! Each direction keeps a FIFO of chunks, each with the instant it may be
//! written (read time + latency + jitter, never before the chunk ahead of
//! it). A direction reads only while fewer than [`MAX_QUEUED`] bytes wait,
//! so a slow or delayed side pushes back on its writer instead of growing.

use std::collections::VecDeque;
use std::time::Duration;

use kit::rng::Rng;
use lab_02::resp::parse_frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{Faults, ResetAt, Shared, bump};

/// Bytes asked for per read.
const READ_CHUNK: usize = 16 * 1024;
/// Bytes queued per direction before the proxy stops reading that side.
pub const MAX_QUEUED: usize = 256 * 1024;
/// The largest frame parsed; a bigger one switches the connection to
/// passthrough.
pub const MAX_FRAME: usize = 1024 * 1024;
/// How long connecting to the upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves one client until either side is done.
pub(crate) async fn serve(mut client: TcpStream, ordinal: u64, shared: &Shared) {
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(shared.upstream));
    let mut upstream = match connect.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!("proxy: upstream {}: {e}", shared.upstream);
            bump(&shared.counters.upstream_errors, 1);
            return;
        }
        Err(_) => {
            bump(&shared.counters.upstream_errors, 1);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    match pump(&mut client, &mut upstream, ordinal, shared).await {
        // Counted first: the client may look at the counters as soon as
        // it sees the reset or the end of stream.
        End::Reset => {
            bump(&shared.counters.resets, 1);
            reset(client);
        }
        End::Truncated => {
            bump(&shared.counters.truncated, 1);
            let _ = client.shutdown().await;
            let _ = upstream.shutdown().await;
        }
        End::Done | End::Gone => {}
    }
}

// ANCHOR: reset
/// Resets a connection. With `SO_LINGER` set to zero, closing the socket
/// sends RST instead of FIN and throws away anything unsent: the peer's
/// next read fails with `ECONNRESET`, not a clean end of stream.
fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}
// ANCHOR_END: reset

/// The generator of connection `ordinal`: the proxy's seed mixed with the
/// ordinal, so that connections differ and runs repeat.
fn connection_rng(seed: u64, ordinal: u64) -> Rng {
    let mut mix = Rng::new(seed ^ ordinal.wrapping_mul(0xD1B5_4A32_D192_ED03));
    Rng::new(mix.next_u64())
}

// ANCHOR: decide
/// What happens to one request.
#[derive(Debug, Clone, Copy)]
struct Decision {
    reset: bool,
    truncate: bool,
}

/// Draws the fate of the next request. Two draws per request whatever the
/// faults are, so that the i-th request of a connection meets the same
/// numbers in every run with the same seed, and changing one fault does
/// not reshuffle the others.
fn decide(rng: &mut Rng, f: &Faults) -> Decision {
    let r = rng.next_f64();
    let t = rng.next_f64();
    Decision {
        reset: r < f.reset,
        truncate: t < f.truncate,
    }
}
// ANCHOR_END: decide

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Both directions finished cleanly.
    Done,
    /// A side failed or went away.
    Gone,
    /// A chosen request or reply: reset the client.
    Reset,
    /// Half a reply was forwarded: close both sides.
    Truncated,
}

#[derive(Debug)]
enum Item {
    Data(Vec<u8>),
    /// Reset the client when this comes to the front.
    Reset,
    /// Close both sides when this comes to the front.
    Close,
}

#[derive(Debug)]
struct Queued {
    item: Item,
    at: Instant,
}

/// A piece being paced by the bandwidth limit.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: Instant,
    due: Instant,
    len: usize,
    rate: u64,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Idle,
    Wait(Instant),
    Write(usize),
    End(End),
}

/// Bytes per pacing step: a fiftieth of a second's worth.
fn quantum(rate: u64) -> usize {
    usize::try_from(rate / 50)
        .unwrap_or(usize::MAX)
        .clamp(1, 64 * 1024)
}

/// How long `len` bytes take at `rate` bytes per second.
fn transfer_time(len: usize, rate: u64) -> Duration {
    let nanos = (len as u128 * 1_000_000_000) / u128::from(rate.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// `at + d`, or far in the future if that overflows.
fn after(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(at)
}

/// One direction of a connection.
#[derive(Debug)]
struct Dir {
    queue: VecDeque<Queued>,
    /// Bytes of the front chunk already written.
    offset: usize,
    /// Bytes queued and not yet written.
    queued: usize,
    /// When the last chunk queued may be written (chunks never overtake).
    last_at: Instant,
    /// The bandwidth limit has paid for the bytes written up to here.
    paid_until: Instant,
    piece: Option<Piece>,
    jitter: Rng,
    /// Bytes read that do not yet make a whole frame.
    parse: Vec<u8>,
    /// The read side reached its end.
    eof: bool,
    /// A reset or close is queued: read no more.
    stopped: bool,
    /// The write side was shut down.
    shut: bool,
}

impl Dir {
    fn new(jitter: Rng, now: Instant) -> Self {
        Self {
            queue: VecDeque::new(),
            offset: 0,
            queued: 0,
            last_at: now,
            paid_until: now,
            piece: None,
            jitter,
            parse: Vec::new(),
            eof: false,
            stopped: false,
            shut: false,
        }
    }

    fn can_read(&self) -> bool {
        !self.eof && !self.stopped && self.queued < MAX_QUEUED
    }

    fn push(&mut self, item: Item, f: &Faults) {
        self.push_held(item, f, Duration::ZERO);
    }

    /// Queues `item` with `extra` delay on top of the faults' own.
    fn push_held(&mut self, item: Item, f: &Faults, extra: Duration) {
        if let Item::Data(d) = &item {
            if d.is_empty() {
                return;
            }
            self.queued += d.len();
        }
        let mut delay = f.latency.saturating_add(extra);
        if !f.jitter.is_zero() {
            let j = u64::try_from(f.jitter.as_nanos()).unwrap_or(u64::MAX);
            delay = delay.saturating_add(Duration::from_nanos(self.jitter.below(j)));
        }
        let at = after(Instant::now(), delay).max(self.last_at);
        self.last_at = at;
        self.queue.push_back(Queued { item, at });
    }

    fn push_data(&mut self, data: Vec<u8>, f: &Faults) {
        self.push(Item::Data(data), f);
    }

    /// What to do next on the write side.
    fn step(&mut self, now: Instant, f: &Faults) -> Step {
        let Some(head) = self.queue.front() else {
            return Step::Idle;
        };
        if head.at > now {
            return Step::Wait(head.at);
        }
        let rest = match &head.item {
            Item::Reset => return Step::End(End::Reset),
            Item::Close => return Step::End(End::Truncated),
            Item::Data(d) => d.len() - self.offset,
        };
        let Some(rate) = f.bandwidth.filter(|&r| r > 0) else {
            self.piece = None;
            return Step::Write(rest);
        };
        // Pace before writing: a piece of n bytes goes out n/rate after
        // the previous one was paid for, so N bytes take at least N/rate.
        let piece = *self.piece.get_or_insert_with(|| {
            let len = rest.min(quantum(rate));
            let start = self.paid_until.max(now);
            Piece {
                start,
                due: after(start, transfer_time(len, rate)),
                len,
                rate,
            }
        });
        if piece.due > now {
            Step::Wait(piece.due)
        } else {
            Step::Write(piece.len.min(rest))
        }
    }

    fn front(&self, len: usize) -> &[u8] {
        match self.queue.front() {
            Some(Queued {
                item: Item::Data(d),
                ..
            }) => d.get(self.offset..self.offset + len).unwrap_or(&[]),
            _ => &[],
        }
    }

    fn wrote(&mut self, n: usize) {
        self.offset += n;
        self.queued = self.queued.saturating_sub(n);
        if let Some(p) = self.piece.take() {
            self.paid_until = after(p.start, transfer_time(n, p.rate));
        }
        if let Some(Queued {
            item: Item::Data(d),
            ..
        }) = self.queue.front()
            && self.offset >= d.len()
        {
            self.queue.pop_front();
            self.offset = 0;
        }
    }
}

/// Which reply a planned fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplyFault {
    Reset,
    Truncate,
}

/// A connection's state between its two directions.
struct Conn<'a> {
    shared: &'a Shared,
    up: Dir,
    down: Dir,
    decisions: Rng,
    /// One draw per reply: is it held back?
    stalls: Rng,
    /// The black hole swallowed something here. The connection swallows
    /// everything from then on, both ways, until it closes, even once the
    /// black hole is lifted: a stream that lost bytes in the middle cannot
    /// deliver what follows them (TCP cannot either), and a RESP client
    /// would take the next reply for the one that was lost.
    holed: bool,
    /// Bytes are no longer parsed (not RESP, or a frame too big).
    passthrough: bool,
    /// Requests forwarded to the server so far.
    forwarded: u64,
    /// Replies read from the server so far.
    replies: u64,
    /// The first reply (by index) a fault waits for. Only the first
    /// matters: the connection ends there.
    reply_fault: Option<(u64, ReplyFault)>,
}

impl<'a> Conn<'a> {
    fn new(shared: &'a Shared, ordinal: u64) -> Self {
        let mut rng = connection_rng(shared.seed, ordinal);
        let decisions = Rng::new(rng.next_u64());
        let now = Instant::now();
        let up = Dir::new(Rng::new(rng.next_u64()), now);
        let down = Dir::new(Rng::new(rng.next_u64()), now);
        let stalls = Rng::new(rng.next_u64());
        Self {
            shared,
            up,
            down,
            decisions,
            stalls,
            holed: false,
            passthrough: false,
            forwarded: 0,
            replies: 0,
            reply_fault: None,
        }
    }

    /// Whether bytes are swallowed now: the black hole is on, or it has
    /// swallowed bytes of this connection before.
    fn swallowing(&mut self, f: &Faults) -> bool {
        self.holed |= f.blackhole;
        self.holed
    }

    /// Stops parsing: what waits in either parse buffer is forwarded as it
    /// is (or swallowed by a black hole).
    fn enter_passthrough(&mut self, f: &Faults) {
        if self.passthrough {
            return;
        }
        self.passthrough = true;
        bump(&self.shared.counters.passthrough, 1);
        let swallow = self.swallowing(f);
        for dir in [&mut self.up, &mut self.down] {
            let rest = std::mem::take(&mut dir.parse);
            if !swallow && !dir.stopped {
                dir.push_data(rest, f);
            }
        }
    }

    fn passthrough_chunk(&mut self, bytes: &[u8], f: &Faults, upward: bool) {
        if self.swallowing(f) {
            if upward {
                bump(&self.shared.counters.swallowed, 1);
            }
            return;
        }
        let dir = if upward { &mut self.up } else { &mut self.down };
        dir.push_data(bytes.to_vec(), f);
    }

    /// Bytes from the client: whole requests are decided on and queued.
    fn on_client_bytes(&mut self, bytes: &[u8], f: &Faults) {
        if self.passthrough {
            return self.passthrough_chunk(bytes, f, true);
        }
        let mut buf = std::mem::take(&mut self.up.parse);
        buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut pos = 0;
        let mut not_resp = false;
        while pos < buf.len() {
            let used = match parse_frame(&buf[pos..]) {
                Ok(Some((_, used))) => used,
                Ok(None) => break,
                Err(_) => {
                    not_resp = true;
                    break;
                }
            };
            let request = &buf[pos..pos + used];
            pos += used;
            bump(&self.shared.counters.requests, 1);
            let d = decide(&mut self.decisions, f);
            if self.swallowing(f) {
                bump(&self.shared.counters.swallowed, 1);
                continue;
            }
            if d.reset && f.reset_at == ResetAt::Request {
                // Everything before it goes; it and the rest never do.
                self.up.push_data(std::mem::take(&mut out), f);
                self.up.push(Item::Reset, f);
                self.up.stopped = true;
                return;
            }
            if self.reply_fault.is_none() {
                if d.reset {
                    self.reply_fault = Some((self.forwarded, ReplyFault::Reset));
                } else if d.truncate {
                    self.reply_fault = Some((self.forwarded, ReplyFault::Truncate));
                }
            }
            self.forwarded += 1;
            out.extend_from_slice(request);
        }
        buf.drain(..pos);
        self.up.push_data(out, f);
        self.up.parse = buf;
        if not_resp || self.up.parse.len() > MAX_FRAME {
            self.enter_passthrough(f);
        }
    }

    /// Bytes from the server: whole replies are matched with their
    /// requests' planned faults and queued.
    fn on_server_bytes(&mut self, bytes: &[u8], f: &Faults) {
        if self.passthrough {
            return self.passthrough_chunk(bytes, f, false);
        }
        let mut buf = std::mem::take(&mut self.down.parse);
        buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        let mut pos = 0;
        let mut not_resp = false;
        while pos < buf.len() {
            let used = match parse_frame(&buf[pos..]) {
                Ok(Some((_, used))) => used,
                Ok(None) => break,
                Err(_) => {
                    not_resp = true;
                    break;
                }
            };
            let reply = &buf[pos..pos + used];
            pos += used;
            let index = self.replies;
            self.replies += 1;
            bump(&self.shared.counters.replies, 1);
            if self.swallowing(f) {
                continue;
            }
            match self.reply_fault {
                Some((i, fault)) if i == index => {
                    let end = match fault {
                        ReplyFault::Reset => Item::Reset,
                        ReplyFault::Truncate => {
                            out.extend_from_slice(&reply[..used / 2]);
                            Item::Close
                        }
                    };
                    self.down.push_data(std::mem::take(&mut out), f);
                    self.down.push(end, f);
                    self.down.stopped = true;
                    return;
                }
                // One draw per reply whatever the faults, as for requests.
                _ if self.stalls.next_f64() < f.stall => {
                    bump(&self.shared.counters.stalled, 1);
                    self.down.push_data(std::mem::take(&mut out), f);
                    self.down
                        .push_held(Item::Data(reply.to_vec()), f, f.stall_for);
                }
                _ => out.extend_from_slice(reply),
            }
        }
        buf.drain(..pos);
        self.down.push_data(out, f);
        self.down.parse = buf;
        if not_resp || self.down.parse.len() > MAX_FRAME {
            self.enter_passthrough(f);
        }
    }

    /// A side ended: a partial frame left over goes as it is.
    fn eof(&mut self, f: &Faults, upward: bool) {
        let swallow = self.swallowing(f);
        let dir = if upward { &mut self.up } else { &mut self.down };
        dir.eof = true;
        let rest = std::mem::take(&mut dir.parse);
        if !swallow && !dir.stopped {
            dir.push_data(rest, f);
        }
    }
}

/// Moves bytes both ways until the connection ends, and says how.
async fn pump(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    ordinal: u64,
    shared: &Shared,
) -> End {
    let faults = shared.faults.subscribe();
    let (mut client_rd, mut client_wr) = client.split();
    let (mut upstream_rd, mut upstream_wr) = upstream.split();
    let mut c = Conn::new(shared, ordinal);
    let mut up_buf = vec![0u8; READ_CHUNK];
    let mut down_buf = vec![0u8; READ_CHUNK];
    // The faults now (a copy: the watch's lock is not held while working).
    let current = || faults.borrow().clone();
    loop {
        let f = current();
        let now = Instant::now();
        let up_step = c.up.step(now, &f);
        let down_step = c.down.step(now, &f);
        for step in [up_step, down_step] {
            if let Step::End(end) = step {
                return end;
            }
        }
        // An end of stream is passed on once everything before it is.
        if c.up.eof && c.up.queue.is_empty() && !c.up.shut {
            c.up.shut = true;
            let _ = upstream_wr.shutdown().await;
        }
        if c.down.eof && c.down.queue.is_empty() && !c.down.shut {
            c.down.shut = true;
            let _ = client_wr.shutdown().await;
        }
        if c.up.shut && c.down.shut {
            return End::Done;
        }
        let wake = [up_step, down_step]
            .into_iter()
            .filter_map(|s| match s {
                Step::Wait(at) => Some(at),
                _ => None,
            })
            .min();
        let up_len = match up_step {
            Step::Write(n) => n,
            _ => 0,
        };
        let down_len = match down_step {
            Step::Write(n) => n,
            _ => 0,
        };
        let can_read_up = c.up.can_read();
        let can_read_down = c.down.can_read();
        tokio::select! {
            r = client_rd.read(&mut up_buf), if can_read_up => match r {
                Ok(0) => c.eof(&current(), true),
                Ok(n) => c.on_client_bytes(&up_buf[..n], &current()),
                Err(_) => return End::Gone,
            },
            r = upstream_rd.read(&mut down_buf), if can_read_down => match r {
                Ok(0) => c.eof(&current(), false),
                Ok(n) => c.on_server_bytes(&down_buf[..n], &current()),
                Err(_) => return End::Gone,
            },
            r = upstream_wr.write(c.up.front(up_len)), if up_len > 0 => match r {
                Ok(0) | Err(_) => return End::Gone,
                Ok(n) => {
                    c.up.wrote(n);
                    bump(&shared.counters.bytes_up, n as u64);
                }
            },
            r = client_wr.write(c.down.front(down_len)), if down_len > 0 => match r {
                Ok(0) | Err(_) => return End::Gone,
                Ok(n) => {
                    c.down.wrote(n);
                    bump(&shared.counters.bytes_down, n as u64);
                }
            },
            _ = tokio::time::sleep_until(wake.unwrap_or(now)), if wake.is_some() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_and_time_arithmetic_never_overflow() {
        assert_eq!(transfer_time(1000, 1000), Duration::from_secs(1));
        assert_eq!(transfer_time(usize::MAX, 1), Duration::from_nanos(u64::MAX));
        assert_eq!(quantum(1), 1);
        assert_eq!(quantum(u64::MAX), 64 * 1024);
        let now = Instant::now();
        assert!(after(now, Duration::MAX) >= now);
    }

    #[test]
    fn decisions_repeat_for_a_seed() {
        let f = Faults {
            reset: 0.3,
            ..Faults::default()
        };
        let draw = |seed| {
            let mut rng = connection_rng(seed, 0);
            let mut d = Rng::new(rng.next_u64());
            (0..64)
                .map(|_| decide(&mut d, &f).reset)
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }
}
