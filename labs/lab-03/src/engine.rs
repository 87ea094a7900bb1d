//! The generator: event loops that send on schedule and time every phase.
//!
//! Each worker thread runs one `mio` event loop over its share of the
//! connections, like `wrk`: no locks, no channels on the hot path, one
//! `read` and one `write` per request. Three decisions make it honest:
//!
//! 1. **Open-model pacing asks what is due, not how long to sleep.** The
//!    schedule fixes every intended start time up front. A `timerfd` wakes
//!    the loop at the next one with nanosecond resolution (epoll's own
//!    timeout is whole milliseconds), and on every wake the loop sends
//!    *everything* that has come due, so a late wake-up never shifts the
//!    schedule. The achieved rate therefore stays on target as long as the
//!    generator has CPU to spare, and when it has not, the lag shows.
//! 2. **Latency starts at the intended time.** A request that waited for a
//!    free connection, or for the generator, waited all the same; its
//!    latency includes that wait. The service time (k6's duration) is kept
//!    beside it, so the two can be compared.
//! 3. **The loop measures itself.** It records how late it dispatched each
//!    request that had a connection ready (lag), how long each loop turn
//!    kept it busy (any timestamp can be late by one turn), the share of
//!    wall time it was busy, and, from the kernel, how long its thread
//!    waited for a CPU. The self-check reads these.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use rustix::time::{Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec};
use serde::Serialize;

use crate::record::{ErrorKind, Interval, Recorder, Timing};
use crate::schedule::Schedule;
use crate::workload::{Status, Workload};

/// Open or closed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// Requests arrive on a schedule, whatever the server does.
    Open,
    /// Each connection sends its next request when a reply arrives, after
    /// an optional think time.
    Closed { think: Duration },
}

/// Everything a run needs besides the workload and the schedules.
#[derive(Debug, Clone)]
pub struct Plan {
    pub load: Load,
    pub connections: usize,
    pub threads: usize,
    /// Stop starting requests after this long.
    pub duration: Option<Duration>,
    /// Stop after this many requests.
    pub requests: Option<u64>,
    /// A request unanswered this long fails as a timeout.
    pub timeout: Duration,
    /// After the window, wait this long at most for outstanding requests.
    pub drain: Duration,
    /// CPU time the generator burns per request before sending it: a
    /// stand-in for a k6 virtual user's script.
    pub script_cost: Duration,
    /// The largest response a connection buffers; a peer that sends more
    /// without completing one (a stream of garbage) is a protocol error.
    pub max_response: usize,
}

/// The default for [`Plan::max_response`]: 16 connections streaming
/// garbage hold at most this much each.
pub const MAX_RESPONSE: usize = 8 << 20;

/// A worker thread's view of itself.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ThreadStats {
    pub connections: usize,
    pub wall_ns: u64,
    /// Time outside `epoll_wait`: working.
    pub busy_ns: u64,
    /// From `/proc/thread-self/schedstat`: on a CPU, and runnable but
    /// waiting for one. `None` where the kernel does not tell.
    pub cpu_ns: Option<u64>,
    pub runqueue_ns: Option<u64>,
}

/// What a run produced.
pub struct Outcome {
    pub rec: Recorder,
    /// One entry per second of the run, all workers merged.
    pub timeline: Vec<Interval>,
    /// The window requests were started in.
    pub window: Duration,
    /// From the start to the last response (the window plus the drain).
    pub elapsed: Duration,
    pub threads: Vec<ThreadStats>,
    /// Requests whose intended start fell in the window (open model).
    pub scheduled: u64,
}

/// How long a closed-model connection waits before reconnecting after a
/// failed connect, so that a dead target does not become a busy loop.
const RECONNECT_BACKOFF_NS: u64 = 10_000_000;
/// Housekeeping (timeouts, the end of the run) runs at least this often.
const TICK: Duration = Duration::from_millis(20);
const TIMER: Token = Token(usize::MAX - 1);
/// Open model: at most this many due requests wait for a connection per
/// worker (8 MB of intended times); later ones are dropped and counted, so
/// a dead or stalled server cannot make the generator eat the machine.
const MAX_PENDING: usize = 1_000_000;

/// Runs a load test. `workload(i)` makes worker `i`'s workload;
/// `schedules` (open model) gives one schedule per worker; `progress`
/// receives each second's merged interval as it completes.
pub fn run(
    plan: &Plan,
    addr: SocketAddr,
    workload: &(dyn Fn(usize) -> Box<dyn Workload> + Sync),
    schedules: Vec<Box<dyn Schedule>>,
    progress: &mut dyn FnMut(&Interval),
) -> anyhow::Result<Outcome> {
    let threads = plan.threads.max(1);
    anyhow::ensure!(
        plan.connections >= threads,
        "--connections ({}) must be at least --threads ({threads})",
        plan.connections
    );
    anyhow::ensure!(
        plan.duration.is_some() || plan.requests.is_some(),
        "refusing an unbounded run: give --duration or --requests"
    );
    anyhow::ensure!(
        plan.load != Load::Open || schedules.len() == threads,
        "one schedule per worker thread"
    );
    let (tx, rx) = mpsc::channel::<Interval>();
    let mut schedules: Vec<Option<Box<dyn Schedule>>> = schedules.into_iter().map(Some).collect();
    schedules.resize_with(threads, || None);
    // Built here, so that a worker that cannot start (no epoll, no timer)
    // fails the run before any thread waits for it.
    let workers = schedules
        .into_iter()
        .enumerate()
        .map(|(i, schedule)| {
            let conns = plan.connections / threads + usize::from(i < plan.connections % threads);
            let budget = plan
                .requests
                .map(|n| n / threads as u64 + u64::from((i as u64) < n % threads as u64));
            Worker::new(
                plan,
                addr,
                workload(i),
                schedule,
                conns,
                budget,
                i,
                tx.clone(),
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    drop(tx);
    // Every worker connects, then all start one clock together: whoever
    // passes the barrier first sets it.
    let barrier = Barrier::new(threads + 1);
    let start_cell = OnceLock::new();

    std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .into_iter()
            .map(|mut w| {
                let (barrier, start_cell) = (&barrier, &start_cell);
                scope.spawn(move || {
                    w.connect_all();
                    barrier.wait();
                    w.run(*start_cell.get_or_init(Instant::now))
                })
            })
            .collect();
        barrier.wait();
        let start = *start_cell.get_or_init(Instant::now);
        let timeline = collect_intervals(&rx, threads, progress);
        let mut rec = Recorder::new();
        let mut stats = Vec::new();
        let mut window_ns = 0;
        let mut scheduled = 0;
        for h in handles {
            let (r, s, w, n) = h
                .join()
                .map_err(|_| anyhow::anyhow!("a worker thread panicked"))??;
            rec.merge(&r);
            stats.push(s);
            window_ns = window_ns.max(w);
            scheduled += n;
        }
        let window = plan.duration.unwrap_or(Duration::from_nanos(window_ns));
        Ok(Outcome {
            rec,
            timeline,
            window,
            elapsed: start.elapsed(),
            threads: stats,
            scheduled,
        })
    })
}

/// Merges the workers' per-second intervals as they arrive; a second is
/// complete (and shown) once every worker has reported it.
fn collect_intervals(
    rx: &Receiver<Interval>,
    workers: usize,
    progress: &mut dyn FnMut(&Interval),
) -> Vec<Interval> {
    let mut seconds: Vec<(Interval, usize)> = Vec::new();
    let mut shown = 0;
    while let Ok(iv) = rx.recv() {
        let s = iv.second as usize;
        while seconds.len() <= s {
            seconds.push((Interval::new(0, seconds.len() as u64), 0));
        }
        seconds[s].0.merge(&iv);
        seconds[s].1 += 1;
        while shown < seconds.len() && seconds[shown].1 == workers {
            progress(&seconds[shown].0);
            shown += 1;
        }
    }
    seconds.into_iter().map(|(iv, _)| iv).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Down,
    Connecting,
    Up,
}

struct Req {
    t: Timing,
    /// Byte offset (in all bytes queued on this connection) of its end.
    end: u64,
}

struct Conn {
    stream: Option<TcpStream>,
    state: State,
    connect_started: u64,
    out: Vec<u8>,
    /// Bytes queued and written so far, over the connection's life.
    queued: u64,
    written: u64,
    inflight: VecDeque<Req>,
    inbuf: Vec<u8>,
    in_start: usize,
    in_end: usize,
    /// Slots promised to a future send (think time, reconnect backoff).
    reserved: usize,
    in_spare: bool,
    dirty: bool,
    retry_at: u64,
}

impl Conn {
    fn new() -> Self {
        Self {
            stream: None,
            state: State::Down,
            connect_started: 0,
            out: Vec::with_capacity(4096),
            queued: 0,
            written: 0,
            inflight: VecDeque::new(),
            // Small replies are the rule; a big one doubles it as needed.
            // Thousands of connections should not cost 16 KiB each.
            inbuf: vec![0; 4 * 1024],
            in_start: 0,
            in_end: 0,
            reserved: 0,
            in_spare: false,
            dirty: false,
            retry_at: 0,
        }
    }
}

struct Worker<'a> {
    plan: &'a Plan,
    addr: SocketAddr,
    workload: Box<dyn Workload>,
    depth: usize,
    schedule: Option<Box<dyn Schedule>>,
    next_due: Option<u64>,
    poll: Poll,
    timer: OwnedFd,
    timer_armed: Option<u64>,
    conns: Vec<Conn>,
    spare: Vec<usize>,
    dirty: Vec<usize>,
    pending: VecDeque<u64>,
    wakes: BinaryHeap<Reverse<(u64, usize)>>,
    start: Instant,
    end_ns: u64,
    budget: Option<u64>,
    issued: u64,
    scheduled: u64,
    stopping: bool,
    last_dispatch: u64,
    rec: Recorder,
    interval: Interval,
    tx: Sender<Interval>,
    index: usize,
}

impl<'a> Worker<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        plan: &'a Plan,
        addr: SocketAddr,
        workload: Box<dyn Workload>,
        schedule: Option<Box<dyn Schedule>>,
        connections: usize,
        budget: Option<u64>,
        index: usize,
        tx: Sender<Interval>,
    ) -> anyhow::Result<Self> {
        let poll = Poll::new()?;
        let timer = rustix::time::timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        poll.registry()
            .register(&mut SourceFd(&timer.as_raw_fd()), TIMER, Interest::READABLE)?;
        let depth = workload.pipeline();
        Ok(Self {
            plan,
            addr,
            workload,
            depth,
            schedule,
            next_due: None,
            poll,
            timer,
            timer_armed: None,
            conns: (0..connections).map(|_| Conn::new()).collect(),
            spare: Vec::new(),
            dirty: Vec::new(),
            pending: VecDeque::new(),
            wakes: BinaryHeap::new(),
            start: Instant::now(),
            end_ns: u64::MAX,
            budget,
            issued: 0,
            scheduled: 0,
            stopping: false,
            last_dispatch: 0,
            rec: Recorder::new(),
            interval: Interval::new(index, 0),
            tx,
            index,
        })
    }

    /// Nanoseconds since the run started, never 0 (0 means "not yet").
    fn now(&self) -> u64 {
        ns_since(self.start)
    }

    /// Opens every connection before the clock starts, so that the first
    /// second does not measure TCP handshakes (later reconnects are timed
    /// as k6's `connecting`). Failures are left for the run to count.
    fn connect_all(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        for c in 0..self.conns.len() {
            let _ = self.connect(c, 1);
        }
        let mut events = Events::with_capacity(1024);
        while self.conns.iter().any(|c| c.state == State::Connecting) && Instant::now() < deadline {
            if self.poll.poll(&mut events, Some(TICK)).is_err() {
                break;
            }
            for ev in &events {
                let c = ev.token().0;
                if c < self.conns.len() && self.conns[c].state == State::Connecting {
                    match self.conns[c].stream.as_ref().map(connect_result) {
                        Some(Ok(true)) => self.conns[c].state = State::Up,
                        Some(Ok(false)) => {}
                        Some(Err(_)) | None => self.drop_stream(c),
                    }
                }
            }
        }
    }

    fn connect(&mut self, c: usize, now: u64) -> Result<(), ErrorKind> {
        let mut stream = TcpStream::connect(self.addr).map_err(|e| ErrorKind::of_io(&e, true))?;
        // Requests are small and latency is the point: no Nagle delay.
        let _ = stream.set_nodelay(true);
        self.poll
            .registry()
            .register(
                &mut stream,
                Token(c),
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(|e| ErrorKind::of_io(&e, true))?;
        let conn = &mut self.conns[c];
        conn.stream = Some(stream);
        conn.state = State::Connecting;
        conn.connect_started = now;
        Ok(())
    }

    fn drop_stream(&mut self, c: usize) {
        let conn = &mut self.conns[c];
        if let Some(mut s) = conn.stream.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        conn.state = State::Down;
        conn.out.clear();
        conn.queued = 0;
        conn.written = 0;
        conn.in_start = 0;
        conn.in_end = 0;
    }

    fn has_capacity(&self, c: usize) -> bool {
        let conn = &self.conns[c];
        conn.inflight.len() + conn.reserved < self.depth
    }

    fn run(mut self, start: Instant) -> anyhow::Result<(Recorder, ThreadStats, u64, u64)> {
        self.start = start;
        let sched0 = read_schedstat();
        if let Some(d) = self.plan.duration {
            self.end_ns = d.as_nanos() as u64;
        }
        let now = self.now();
        match self.plan.load {
            Load::Open => {
                self.next_due = self.advance_schedule();
                for c in (0..self.conns.len()).rev() {
                    self.conns[c].in_spare = true;
                    self.spare.push(c);
                }
            }
            Load::Closed { .. } => {
                for c in 0..self.conns.len() {
                    self.refill(c, now);
                }
                self.flush_dirty();
            }
        }
        let mut events = Events::with_capacity(1024);
        let mut busy_ns: u64 = 0;
        let mut turn_start = Instant::now();
        let mut next_tick = now + TICK.as_nanos() as u64;
        let mut drain_deadline = u64::MAX;
        loop {
            let now = self.now();
            self.release_due(now);
            self.wake_due(now);
            self.flush_dirty();
            if now >= next_tick {
                next_tick = now + TICK.as_nanos() as u64;
                self.check_timeouts(now);
            }
            self.roll_interval(now);
            if !self.stopping && self.should_stop(now) {
                self.stopping = true;
                drain_deadline = now + self.plan.drain.as_nanos() as u64;
            }
            if self.stopping {
                let idle =
                    self.pending.is_empty() && self.conns.iter().all(|c| c.inflight.is_empty());
                if idle || now >= drain_deadline {
                    self.abandon_outstanding();
                    break;
                }
            }
            let wake = self.next_wake();
            let timeout = match wake {
                Some(w) if w <= now => Duration::ZERO,
                Some(w) => {
                    self.arm_timer(w, now)?;
                    TICK
                }
                None => TICK,
            };
            let before_poll = Instant::now();
            let worked = before_poll.duration_since(turn_start).as_nanos() as u64;
            busy_ns += worked;
            self.rec.turn.saturating_record(worked);
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
            turn_start = Instant::now();
            for ev in &events {
                if ev.token() == TIMER {
                    let mut buf = [0u8; 8];
                    let _ = rustix::io::read(&self.timer, &mut buf);
                    self.timer_armed = None;
                    continue;
                }
                let c = ev.token().0;
                if c >= self.conns.len() {
                    continue;
                }
                self.on_event(
                    c,
                    ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                    ev.is_writable(),
                );
            }
        }
        let end = self.now();
        // The last partial second.
        let last = std::mem::replace(&mut self.interval, Interval::new(self.index, 0));
        let _ = self.tx.send(last);
        let sched1 = read_schedstat();
        let stats = ThreadStats {
            connections: self.conns.len(),
            wall_ns: end,
            busy_ns,
            cpu_ns: sched0.zip(sched1).map(|(a, b)| b.0.saturating_sub(a.0)),
            runqueue_ns: sched0.zip(sched1).map(|(a, b)| b.1.saturating_sub(a.1)),
        };
        let window = if self.end_ns == u64::MAX {
            self.last_dispatch
        } else {
            self.end_ns
        };
        self.rec.finish();
        Ok((self.rec, stats, window, self.scheduled))
    }

    fn should_stop(&self, now: u64) -> bool {
        match self.plan.load {
            Load::Open => self.next_due.is_none(),
            Load::Closed { .. } => {
                now >= self.end_ns || self.budget.is_some_and(|b| self.issued >= b)
            }
        }
    }

    /// The next intended start, or `None` once the window or the request
    /// budget is used up.
    fn advance_schedule(&mut self) -> Option<u64> {
        if self.budget.is_some_and(|b| self.scheduled >= b) {
            return None;
        }
        let t = self.schedule.as_mut()?.next_ns() + 1;
        if t >= self.end_ns {
            return None;
        }
        self.scheduled += 1;
        Some(t)
    }

    // ANCHOR: release_due
    /// Open model: start every request whose intended time has come, on a
    /// free connection if there is one; otherwise it waits (k6's
    /// "blocked") with its intended time kept, so the wait is measured.
    fn release_due(&mut self, now: u64) {
        while let Some(t) = self.next_due {
            if t > now {
                break;
            }
            self.next_due = self.advance_schedule();
            match self.take_spare() {
                Some(c) => self.dispatch(c, t, t),
                None if self.pending.len() < MAX_PENDING => self.pending.push_back(t),
                None => self.fail_one(ErrorKind::Dropped),
            }
        }
    }
    // ANCHOR_END: release_due

    fn take_spare(&mut self) -> Option<usize> {
        while let Some(&c) = self.spare.last() {
            if self.has_capacity(c) {
                return Some(c);
            }
            self.spare.pop();
            self.conns[c].in_spare = false;
        }
        None
    }

    /// Closed-model sends whose think time (or reconnect backoff) is over.
    fn wake_due(&mut self, now: u64) {
        while let Some(&Reverse((due, c))) = self.wakes.peek() {
            if due > now {
                break;
            }
            self.wakes.pop();
            self.conns[c].reserved -= 1;
            if self.stopping || self.should_stop(now) {
                continue;
            }
            self.dispatch(c, due, due);
        }
    }

    fn next_wake(&self) -> Option<u64> {
        let open = match self.next_due {
            Some(t) if !self.spare.is_empty() => Some(t),
            _ => None,
        };
        let closed = self.wakes.peek().map(|Reverse((t, _))| *t);
        match (open, closed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn arm_timer(&mut self, at: u64, now: u64) -> io::Result<()> {
        if self.timer_armed == Some(at) {
            return Ok(());
        }
        let d = at - now;
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: (d / 1_000_000_000) as _,
                tv_nsec: (d % 1_000_000_000) as _,
            },
        };
        rustix::time::timerfd_settime(&self.timer, TimerfdTimerFlags::empty(), &spec)?;
        self.timer_armed = Some(at);
        Ok(())
    }

    /// A slot on connection `c` is free: fill it, or remember it.
    fn refill(&mut self, c: usize, now: u64) {
        while self.has_capacity(c) {
            match self.plan.load {
                Load::Open => {
                    let Some(intended) = self.pending.pop_front() else {
                        if !self.conns[c].in_spare {
                            self.conns[c].in_spare = true;
                            self.spare.push(c);
                        }
                        return;
                    };
                    self.dispatch(c, intended, now);
                }
                Load::Closed { think } => {
                    if self.stopping || self.should_stop(now) {
                        return;
                    }
                    let due = (now + think.as_nanos() as u64).max(self.conns[c].retry_at);
                    if due <= now {
                        self.dispatch(c, now, now);
                    } else {
                        self.conns[c].reserved += 1;
                        self.wakes.push(Reverse((due, c)));
                    }
                }
            }
        }
    }

    /// Puts one request on connection `c` (connecting first if needed).
    fn dispatch(&mut self, c: usize, intended: u64, available: u64) {
        let mut now = self.now();
        if !self.plan.script_cost.is_zero() {
            let until = Instant::now() + self.plan.script_cost;
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            now = self.now();
        }
        self.issued += 1;
        self.rec.started += 1;
        self.last_dispatch = now;
        if now <= self.end_ns {
            self.rec.sent_in_window += 1;
            self.interval.sent += 1;
        }
        if self.conns[c].state == State::Down
            && let Err(kind) = self.connect(c, now)
        {
            self.fail_one(kind);
            self.conns[c].retry_at = now + RECONNECT_BACKOFF_NS;
            return;
        }
        let conn = &mut self.conns[c];
        let before = conn.out.len();
        self.workload.write_request(&mut conn.out);
        conn.queued += (conn.out.len() - before) as u64;
        conn.inflight.push_back(Req {
            t: Timing {
                intended,
                available: available.max(intended),
                dispatched: now,
                ..Timing::default()
            },
            end: conn.queued,
        });
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(c);
        }
    }

    fn flush_dirty(&mut self) {
        while let Some(c) = self.dirty.pop() {
            self.conns[c].dirty = false;
            self.flush(c);
        }
    }

    fn flush(&mut self, c: usize) {
        let conn = &mut self.conns[c];
        if conn.state != State::Up || conn.out.is_empty() {
            return;
        }
        let Some(stream) = conn.stream.as_mut() else {
            return;
        };
        let mut pos = 0;
        let result = loop {
            match stream.write(&conn.out[pos..]) {
                Ok(0) => break Err(ErrorKind::Closed),
                Ok(n) => {
                    pos += n;
                    if pos == conn.out.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(ErrorKind::of_io(&e, false)),
            }
        };
        conn.out.drain(..pos);
        conn.written += pos as u64;
        let now = self.now();
        let conn = &mut self.conns[c];
        for r in conn.inflight.iter_mut() {
            if r.t.sent != 0 {
                continue;
            }
            if r.end > conn.written {
                break;
            }
            r.t.sent = now;
        }
        if let Err(kind) = result {
            self.fail_conn(c, kind, now);
        }
    }

    fn on_event(&mut self, c: usize, readable: bool, writable: bool) {
        if self.conns[c].state == State::Connecting {
            let now = self.now();
            match self.conns[c].stream.as_ref().map(connect_result) {
                Some(Ok(true)) => {
                    let conn = &mut self.conns[c];
                    conn.state = State::Up;
                    for r in conn.inflight.iter_mut() {
                        r.t.connecting = now.saturating_sub(r.t.dispatched);
                    }
                    self.flush(c);
                }
                Some(Ok(false)) => return,
                Some(Err(e)) => {
                    self.fail_conn(c, ErrorKind::of_io(&e, true), now);
                    return;
                }
                None => return,
            }
        }
        if self.conns[c].state != State::Up {
            return;
        }
        if writable && !self.conns[c].out.is_empty() {
            self.flush(c);
        }
        if readable {
            self.read(c);
            self.flush_dirty();
        }
    }

    fn read(&mut self, c: usize) {
        let start = self.start;
        loop {
            let conn = &mut self.conns[c];
            if conn.in_end == conn.inbuf.len() {
                if conn.in_start > 0 {
                    conn.inbuf.copy_within(conn.in_start..conn.in_end, 0);
                    conn.in_end -= conn.in_start;
                    conn.in_start = 0;
                } else if conn.inbuf.len() < self.plan.max_response {
                    let n = (conn.inbuf.len() * 2).min(self.plan.max_response);
                    conn.inbuf.resize(n, 0);
                } else {
                    let now = self.now();
                    self.fail_conn(c, ErrorKind::Protocol, now);
                    return;
                }
            }
            let Some(stream) = conn.stream.as_mut() else {
                return;
            };
            let space = conn.inbuf.len() - conn.in_end;
            match stream.read(&mut conn.inbuf[conn.in_end..]) {
                Ok(0) => {
                    let now = self.now();
                    self.on_eof(c, now);
                    return;
                }
                Ok(n) => {
                    let now = ns_since(start);
                    if let Some(r) = conn.inflight.front_mut()
                        && r.t.first_byte == 0
                    {
                        r.t.first_byte = now;
                    }
                    conn.in_end += n;
                    if !self.parse(c, now) {
                        return;
                    }
                    // A short read drained the socket: with edge-triggered
                    // readiness, new data brings a new event.
                    if n < space {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let now = self.now();
                    self.fail_conn(c, ErrorKind::of_io(&e, false), now);
                    return;
                }
            }
        }
    }

    /// Takes every complete response off the buffer. Returns false if the
    /// connection is gone.
    fn parse(&mut self, c: usize, now: u64) -> bool {
        let mut freed = 0;
        let mut close = false;
        loop {
            let conn = &mut self.conns[c];
            if conn.in_start == conn.in_end {
                conn.in_start = 0;
                conn.in_end = 0;
                break;
            }
            let parsed = self.workload.parse(&conn.inbuf[conn.in_start..conn.in_end]);
            match parsed {
                Ok(Some(p)) => {
                    let Some(mut r) = conn.inflight.pop_front() else {
                        self.fail_conn(c, ErrorKind::Protocol, now);
                        return false;
                    };
                    conn.in_start += p.len;
                    if conn.in_start < conn.in_end
                        && let Some(next) = conn.inflight.front_mut()
                        && next.t.first_byte == 0
                    {
                        next.t.first_byte = now;
                    }
                    r.t.done = now;
                    self.complete(&mut r.t, p.status);
                    freed += 1;
                    if p.close || self.workload.close_after_each() {
                        close = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    self.fail_conn(c, ErrorKind::Protocol, now);
                    return false;
                }
            }
        }
        if close {
            // Anything pipelined behind a closing response is lost.
            let lost = self.conns[c].inflight.len();
            for _ in 0..lost {
                self.fail_one(ErrorKind::Closed);
            }
            self.conns[c].inflight.clear();
            self.drop_stream(c);
        }
        if freed > 0 {
            self.refill(c, now);
        }
        !close
    }

    fn on_eof(&mut self, c: usize, now: u64) {
        let conn = &mut self.conns[c];
        if let Some(p) = self
            .workload
            .parse_at_eof(&conn.inbuf[conn.in_start..conn.in_end])
            && let Some(mut r) = conn.inflight.pop_front()
        {
            r.t.done = now;
            self.complete(&mut r.t, p.status);
        }
        self.fail_conn(c, ErrorKind::Closed, now);
    }

    /// A response arrived whole: record it, or count its error.
    fn complete(&mut self, t: &mut Timing, status: Status) {
        if t.first_byte == 0 {
            t.first_byte = t.done;
        }
        if t.sent == 0 {
            // Answered before the write was seen to finish (a server that
            // replies early): the send ended no later than the first byte.
            t.sent = t.first_byte;
        }
        match status {
            Status::Ok => {
                self.rec.record(t);
                self.interval.record(t);
            }
            Status::ServerError => self.fail_one(ErrorKind::ServerError),
            Status::ClientError => self.fail_one(ErrorKind::ClientError),
        }
    }

    fn fail_one(&mut self, kind: ErrorKind) {
        self.rec.error(kind);
        self.interval.errors += 1;
    }

    /// The connection is unusable: every request on it fails with `kind`,
    /// and its slots are refilled (closed model: after a backoff if it
    /// never connected).
    fn fail_conn(&mut self, c: usize, kind: ErrorKind, now: u64) {
        let lost = self.conns[c].inflight.len();
        for _ in 0..lost {
            self.fail_one(kind);
        }
        self.conns[c].inflight.clear();
        let never_connected = self.conns[c].state == State::Connecting;
        self.drop_stream(c);
        if never_connected {
            self.conns[c].retry_at = now + RECONNECT_BACKOFF_NS;
        }
        self.refill(c, now);
    }

    fn check_timeouts(&mut self, now: u64) {
        let limit = self.plan.timeout.as_nanos() as u64;
        for c in 0..self.conns.len() {
            let late = self.conns[c]
                .inflight
                .front()
                .is_some_and(|r| now.saturating_sub(r.t.dispatched) > limit);
            if late {
                self.fail_conn(c, ErrorKind::Timeout, now);
            }
        }
    }

    fn abandon_outstanding(&mut self) {
        // Due but never sent, and sent but never answered: two different
        // failures, and only the second is one of the requests started.
        let unsent = self.pending.len();
        self.pending.clear();
        let mut unfinished = 0;
        for c in 0..self.conns.len() {
            unfinished += self.conns[c].inflight.len();
            self.conns[c].inflight.clear();
            self.drop_stream(c);
        }
        for _ in 0..unsent {
            self.fail_one(ErrorKind::Unsent);
        }
        for _ in 0..unfinished {
            self.fail_one(ErrorKind::Unfinished);
        }
    }

    fn roll_interval(&mut self, now: u64) {
        let second = now / 1_000_000_000;
        if second != self.interval.second {
            let done = std::mem::replace(&mut self.interval, Interval::new(self.index, second));
            let _ = self.tx.send(done);
        }
    }
}

/// Nanoseconds since `start`, plus one: 0 is kept to mean "not yet".
fn ns_since(start: Instant) -> u64 {
    start.elapsed().as_nanos() as u64 + 1
}

/// Whether a non-blocking connect has finished: `Ok(true)` connected,
/// `Ok(false)` still in progress.
fn connect_result(s: &TcpStream) -> io::Result<bool> {
    if let Some(e) = s.take_error()? {
        return Err(e);
    }
    match s.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

/// This thread's time on a CPU and time runnable but waiting for one, in
/// ns, from `/proc/thread-self/schedstat`.
fn read_schedstat() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut it = text.split_whitespace().map(|x| x.parse::<u64>().ok());
    Some((it.next()??, it.next()??))
}
