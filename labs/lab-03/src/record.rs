//! What a run remembers about every request.
//!
//! Each worker thread owns a [`Recorder`]: HDR histograms (three
//! significant digits, 1 ns to 100 s) for the corrected latency, the
//! service time and each phase, the generator's own lateness, and error
//! counts by kind. Recording is a few array increments, so it costs
//! nothing next to a system call. Once a second a worker also hands the
//! main thread an [`Interval`]: that second's counts and a coarser
//! latency histogram, for the progress line, the throughput-over-time
//! table and the HdrHistogram log.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The slowest latency a histogram can hold (longer ones are clamped).
pub const MAX_NS: u64 = 100_000_000_000;

/// Values [`Recorder::record`] counts when they are zero instead of
/// recording them (blocked, connecting, receiving, lag).
pub const RARE: usize = 4;

/// Histogram entries one good request makes: both clocks, every phase and
/// the lag in its worker's [`Recorder`], both clocks again in its second's
/// [`Interval`]. A test recounts them.
pub const ENTRIES_PER_REQUEST: usize = 10;

/// Why a request did not get a good response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// Nothing listens on the port.
    ConnectRefused,
    /// Any other failure to connect (unreachable, out of ports, …).
    ConnectFailed,
    /// The peer reset the connection.
    Reset,
    /// The peer closed the connection with this request unanswered.
    Closed,
    /// No complete response within `--timeout`.
    Timeout,
    /// A response the generator could not frame.
    Protocol,
    /// A RESP error reply or an HTTP 5xx.
    ServerError,
    /// An HTTP 4xx.
    ClientError,
    /// Sent, and still unanswered when the run's drain time ran out.
    Unfinished,
    /// Open model: due, but no connection was free before the run ended,
    /// so never sent.
    Unsent,
    /// Open model: due while a million earlier requests already waited for
    /// a connection, so never sent (k6's `dropped_iterations`).
    Dropped,
    /// Any other I/O error.
    Io,
}

impl ErrorKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::ConnectRefused => "connect-refused",
            Self::ConnectFailed => "connect-failed",
            Self::Reset => "reset",
            Self::Closed => "closed",
            Self::Timeout => "timeout",
            Self::Protocol => "protocol",
            Self::ServerError => "server-error",
            Self::ClientError => "client-error",
            Self::Unfinished => "unfinished",
            Self::Unsent => "unsent",
            Self::Dropped => "dropped",
            Self::Io => "io",
        }
    }

    pub fn of_io(e: &std::io::Error, connecting: bool) -> Self {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => Self::ConnectRefused,
            K::ConnectionReset | K::ConnectionAborted => Self::Reset,
            K::BrokenPipe | K::UnexpectedEof => Self::Closed,
            _ if connecting => Self::ConnectFailed,
            _ => Self::Io,
        }
    }
}

/// Times of one finished request, in ns since the run started.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    /// When the schedule meant it to start (open model), or when its
    /// connection became free plus think time (closed model).
    pub intended: u64,
    /// When a connection could take it (later than `intended` when every
    /// connection was busy: that wait is k6's `blocked`).
    pub available: u64,
    /// When the generator put it into a connection's output buffer.
    pub dispatched: u64,
    /// How long connecting took, if this request had to wait for a connect.
    pub connecting: u64,
    /// When its last byte was written.
    pub sent: u64,
    /// When the first byte of its response was read.
    pub first_byte: u64,
    /// When its last byte was read.
    pub done: u64,
}

// ANCHOR: phases
impl Timing {
    /// k6's `http_req_blocked`: waiting for a free connection.
    pub fn blocked(&self) -> u64 {
        self.available.saturating_sub(self.intended)
    }
    /// How late the generator itself was: it had a connection but had not
    /// sent yet (busy with other work, or not given a CPU).
    pub fn lag(&self) -> u64 {
        self.dispatched.saturating_sub(self.available)
    }
    /// k6's `http_req_sending`: writing the request.
    pub fn sending(&self) -> u64 {
        self.sent.saturating_sub(self.dispatched + self.connecting)
    }
    /// k6's `http_req_waiting`: time to first byte.
    pub fn waiting(&self) -> u64 {
        self.first_byte.saturating_sub(self.sent)
    }
    /// k6's `http_req_receiving`: first byte to last.
    pub fn receiving(&self) -> u64 {
        self.done.saturating_sub(self.first_byte)
    }
    /// k6's `http_req_duration` = sending + waiting + receiving: the service
    /// time, measured from the actual send. Blind to coordinated omission.
    pub fn service(&self) -> u64 {
        self.sending() + self.waiting() + self.receiving()
    }
    /// Latency from the intended start: what a user arriving on schedule
    /// would have waited. Corrected for coordinated omission.
    pub fn latency(&self) -> u64 {
        self.done.saturating_sub(self.intended)
    }
}
// ANCHOR_END: phases

fn hist(digits: u8) -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_NS, digits) {
        Ok(h) => h,
        // The bounds are constants that the crate accepts; no input reaches this.
        Err(e) => unreachable!("histogram bounds: {e}"),
    }
}

/// The histograms and counters of one worker (or, merged, of a run).
#[derive(Debug, Clone)]
pub struct Recorder {
    pub latency: Histogram<u64>,
    pub service: Histogram<u64>,
    pub blocked: Histogram<u64>,
    pub connecting: Histogram<u64>,
    pub sending: Histogram<u64>,
    pub waiting: Histogram<u64>,
    pub receiving: Histogram<u64>,
    pub lag: Histogram<u64>,
    /// How long each event-loop turn kept the worker busy: any timestamp
    /// can be late by up to one turn.
    pub turn: Histogram<u64>,
    pub ok: u64,
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Requests sent (written out) before the end of the run's window.
    pub sent_in_window: u64,
    /// Requests started in all, the window's and the drain's: every error
    /// but `unsent` and `dropped` belongs to one of them.
    pub started: u64,
    /// Zeros not yet recorded into blocked, connecting, receiving and lag:
    /// most requests have them, and counting is cheaper than recording
    /// (see [`Recorder::finish`]).
    zeros: [u64; RARE],
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            latency: hist(3),
            service: hist(3),
            blocked: hist(3),
            connecting: hist(3),
            sending: hist(3),
            waiting: hist(3),
            receiving: hist(3),
            lag: hist(3),
            turn: hist(3),
            ok: 0,
            errors: BTreeMap::new(),
            sent_in_window: 0,
            started: 0,
            zeros: [0; RARE],
        }
    }

    pub fn record(&mut self, t: &Timing) {
        self.ok += 1;
        self.latency.saturating_record(t.latency().max(1));
        self.service.saturating_record(t.service().max(1));
        self.sending.saturating_record(t.sending());
        self.waiting.saturating_record(t.waiting());
        // At 500k requests per second, recording costs more than the rest
        // of a request's user-space work; these four are usually zero.
        let rare: [u64; RARE] = [t.blocked(), t.connecting, t.receiving(), t.lag()];
        let hists: [&mut Histogram<u64>; RARE] = [
            &mut self.blocked,
            &mut self.connecting,
            &mut self.receiving,
            &mut self.lag,
        ];
        for ((v, h), z) in rare.into_iter().zip(hists).zip(&mut self.zeros) {
            if v == 0 {
                *z += 1;
            } else {
                h.saturating_record(v);
            }
        }
    }

    /// Records the zeros counted so far. Call before reading or merging.
    pub fn finish(&mut self) {
        let hists = [
            &mut self.blocked,
            &mut self.connecting,
            &mut self.receiving,
            &mut self.lag,
        ];
        for (h, z) in hists.into_iter().zip(&mut self.zeros) {
            if *z > 0 {
                let _ = h.record_n(0, *z);
                *z = 0;
            }
        }
    }

    pub fn error(&mut self, kind: ErrorKind) {
        *self.errors.entry(kind).or_insert(0) += 1;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Adds `other`, which must be [`finish`](Recorder::finish)ed.
    pub fn merge(&mut self, other: &Recorder) {
        self.finish();
        let pairs = [
            (&mut self.latency, &other.latency),
            (&mut self.service, &other.service),
            (&mut self.blocked, &other.blocked),
            (&mut self.connecting, &other.connecting),
            (&mut self.sending, &other.sending),
            (&mut self.waiting, &other.waiting),
            (&mut self.receiving, &other.receiving),
            (&mut self.lag, &other.lag),
            (&mut self.turn, &other.turn),
        ];
        for (a, b) in pairs {
            // Same bounds on both sides, so adding cannot fail.
            let _ = a.add(b);
        }
        self.ok += other.ok;
        for (k, v) in &other.errors {
            *self.errors.entry(*k).or_insert(0) += v;
        }
        self.sent_in_window += other.sent_in_window;
        self.started += other.started;
    }
}

/// One second of one worker, for the timeline and the progress line.
#[derive(Debug, Clone)]
pub struct Interval {
    pub worker: usize,
    /// Which second of the run (0 = the first).
    pub second: u64,
    pub ok: u64,
    pub errors: u64,
    pub sent: u64,
    /// Corrected latency and service time, two significant digits.
    pub latency: Histogram<u64>,
    pub service: Histogram<u64>,
}

impl Interval {
    pub fn new(worker: usize, second: u64) -> Self {
        Self {
            worker,
            second,
            ok: 0,
            errors: 0,
            sent: 0,
            latency: hist(2),
            service: hist(2),
        }
    }

    pub fn record(&mut self, t: &Timing) {
        self.ok += 1;
        self.latency.saturating_record(t.latency().max(1));
        self.service.saturating_record(t.service().max(1));
    }

    pub fn merge(&mut self, other: &Interval) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.sent += other.sent;
        let _ = self.latency.add(&other.latency);
        let _ = self.service.add(&other.service);
    }
}

/// Percentiles of one histogram, in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub min_us: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub p9999_us: f64,
    pub max_us: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        let us = |ns: u64| ns as f64 / 1_000.0;
        let q = |q: f64| us(h.value_at_quantile(q));
        Self {
            count: h.len(),
            min_us: us(h.min()),
            mean_us: h.mean() / 1_000.0,
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p999_us: q(0.999),
            p9999_us: q(0.9999),
            max_us: us(h.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_add_up_to_the_service_time() {
        let t = Timing {
            intended: 1_000,
            available: 3_000,
            dispatched: 3_500,
            connecting: 0,
            sent: 4_000,
            first_byte: 10_000,
            done: 12_000,
        };
        assert_eq!(t.blocked(), 2_000);
        assert_eq!(t.lag(), 500);
        assert_eq!(t.sending(), 500);
        assert_eq!(t.waiting(), 6_000);
        assert_eq!(t.receiving(), 2_000);
        assert_eq!(t.service(), 8_500);
        assert_eq!(t.latency(), 11_000);
        // Latency = blocked + lag + service (+ connecting).
        assert_eq!(t.latency(), t.blocked() + t.lag() + t.service());
    }

    #[test]
    fn a_connect_is_not_counted_as_sending() {
        let t = Timing {
            intended: 0,
            available: 0,
            dispatched: 0,
            connecting: 700,
            sent: 1_000,
            first_byte: 2_000,
            done: 2_000,
        };
        assert_eq!(t.sending(), 300);
        assert_eq!(t.latency(), t.connecting + t.service());
    }

    #[test]
    fn one_request_makes_the_stated_number_of_entries() {
        let t = Timing {
            intended: 1_000,
            available: 2_000,
            dispatched: 3_000,
            connecting: 500,
            sent: 4_000,
            first_byte: 5_000,
            done: 6_000,
        };
        let mut rec = Recorder::new();
        let mut second = Interval::new(0, 0);
        rec.record(&t);
        second.record(&t);
        rec.finish();
        let per_request = [
            &rec.latency,
            &rec.service,
            &rec.blocked,
            &rec.connecting,
            &rec.sending,
            &rec.waiting,
            &rec.receiving,
            &rec.lag,
            &second.latency,
            &second.service,
        ];
        let entries: u64 = per_request.iter().map(|h| h.len()).sum();
        assert_eq!(entries as usize, ENTRIES_PER_REQUEST);
        assert_eq!(
            rec.turn.len(),
            0,
            "turns are per loop pass, not per request"
        );
    }

    #[test]
    fn merging_adds_counts() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        let t = Timing {
            done: 5_000,
            ..Timing::default()
        };
        a.record(&t);
        b.record(&t);
        b.error(ErrorKind::Reset);
        b.finish();
        a.merge(&b);
        assert_eq!(a.blocked.len(), 2, "zeros are recorded");
        assert_eq!(a.ok, 2);
        assert_eq!(a.latency.len(), 2);
        assert_eq!(a.errors.get(&ErrorKind::Reset), Some(&1));
    }
}
